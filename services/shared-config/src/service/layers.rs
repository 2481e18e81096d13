//! Layers: the baseline and each trust's overlay, their items and numbered revisions.

use super::*;

impl SharedConfig {
    pub(super) async fn layer_in_scope(
        &self,
        ctx: &RequestContext,
        field: &str,
        name: &str,
    ) -> Result<(String, LayerId)> {
        let (ics, layer) = parse_layer(field, name)?;
        self.require_ics(ctx, &ics, name).await?;
        if let LayerId::Trust(t) = &layer {
            self.require_known_trust(field, &ics, t)?;
        }
        Ok((ics, layer))
    }

    pub(super) async fn head_revision(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
    ) -> Result<i64> {
        Ok(store::head(c, ics, layer).await?.map_or(0, |r| r.revision))
    }

    pub(super) async fn at_revision(
        &self,
        ics: &str,
        layer: &LayerId,
        revision: i64,
        field: &str,
    ) -> Result<i64> {
        let head = self.head_revision(self.db().conn(), ics, layer).await?;
        match revision {
            r if r < 0 => Err(invalid(field, "must not be negative")),
            0 => Ok(head),
            r if r > head => Err(ConfigError::NotFound(format!(
                "{}/revisions/{r}",
                layer_name(ics, layer)
            ))),
            r => Ok(r),
        }
    }

    /// A layer at its newest or a given revision: `(layer, revision record)`.
    pub async fn get_layer(
        &self,
        ctx: &RequestContext,
        name: &str,
        revision: i64,
    ) -> Result<(String, LayerId, Option<Revision>)> {
        let (ics, layer) = self.layer_in_scope(ctx, "name", name).await?;
        let rev = self.at_revision(&ics, &layer, revision, "revision").await?;
        let record = store::revision(self.db().conn(), &ics, &layer, rev).await?;
        Ok((ics, layer, record))
    }

    /// A page of a layer's items: `(items, revision, next token)`.
    pub async fn list_items(
        &self,
        ctx: &RequestContext,
        parent: &str,
        revision: i64,
        kind_filter: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Content, i64, String)> {
        let (ics, layer) = self.layer_in_scope(ctx, "parent", parent).await?;
        let limit = page_limit(page_size, 500, 5000)?;
        let token = self.decode_token(page_token)?;
        let (rev, after) = match &token {
            Some(t) => {
                let rev = t["revision"].as_i64().unwrap_or_default();
                let key = Key::new(
                    t["kind"].as_str().unwrap_or_default(),
                    t["key"].as_str().unwrap_or_default(),
                );
                if t["parent"] != json!(parent) || t["filter"] != json!(kind_filter) {
                    return Err(invalid("page_token", "belongs to another query"));
                }
                (rev, Some(key))
            }
            None => (
                self.at_revision(&ics, &layer, revision, "revision").await?,
                None,
            ),
        };
        let filter = (!kind_filter.is_empty()).then_some(kind_filter);
        let items = store::content(
            self.db().conn(),
            &ics,
            &layer,
            rev,
            filter,
            after.as_ref(),
            Some(limit + 1),
        )
        .await?;
        let mut items: Vec<(Key, Placed)> = items.into_iter().collect();
        let next = if items.len() as u64 > limit {
            items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            items.last().map_or(String::new(), |(k, _)| {
                self.encode_token(&json!({"parent": parent, "filter": kind_filter, "revision": rev, "kind": k.kind, "key": k.key}))
            })
        } else {
            String::new()
        };
        Ok((items.into_iter().collect(), rev, next))
    }

    /// A page of a layer's revisions, newest first.
    pub async fn list_revisions(
        &self,
        ctx: &RequestContext,
        parent: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Revision>, String)> {
        let (ics, layer) = self.layer_in_scope(ctx, "parent", parent).await?;
        let limit = page_limit(page_size, 50, 500)?;
        let before = match self.decode_token(page_token)? {
            Some(t) if t["parent"] == json!(parent) => t["before"].as_i64(),
            Some(_) => return Err(invalid("page_token", "belongs to another query")),
            None => None,
        };
        let mut revisions =
            store::revisions(self.db().conn(), &ics, &layer, before, limit + 1).await?;
        let next = if revisions.len() as u64 > limit {
            revisions.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            revisions.last().map_or(String::new(), |r| {
                self.encode_token(&json!({"parent": parent, "before": r.revision}))
            })
        } else {
            String::new()
        };
        Ok((revisions, next))
    }

    /// One revision.
    pub async fn get_revision(&self, ctx: &RequestContext, name: &str) -> Result<Revision> {
        let (layer_part, rev) = name
            .rsplit_once("/revisions/")
            .and_then(|(l, r)| r.parse::<i64>().ok().map(|r| (l, r)))
            .ok_or_else(|| {
                invalid(
                    "name",
                    "must be `icss/{ics}/layers/{layer}/revisions/{revision}`",
                )
            })?;
        let (ics, layer) = self.layer_in_scope(ctx, "name", layer_part).await?;
        store::revision(self.db().conn(), &ics, &layer, rev)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))
    }

    /// What changed in a layer between two revisions (whole entries, as JSON).
    pub async fn diff_revisions(
        &self,
        ctx: &RequestContext,
        layer_name_: &str,
        from: i64,
        to: i64,
    ) -> Result<(Vec<Difference>, i64, i64)> {
        let (ics, layer) = self.layer_in_scope(ctx, "layer", layer_name_).await?;
        let to = self.at_revision(&ics, &layer, to, "to_revision").await?;
        // 0 means the empty layer here, not the newest revision.
        let from = match from {
            0 => 0,
            f => self.at_revision(&ics, &layer, f, "from_revision").await?,
        };
        let canonical = |c: Content| -> BTreeMap<Key, Value> {
            c.into_iter()
                .map(|(k, p)| (k, p.entry.canonical()))
                .collect()
        };
        let before = canonical(
            store::content(self.db().conn(), &ics, &layer, from, None, None, None).await?,
        );
        let after =
            canonical(store::content(self.db().conn(), &ics, &layer, to, None, None, None).await?);
        Ok((diff(&before, &after), from, to))
    }
}
