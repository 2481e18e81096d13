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

    /// A page of a layer's items: at most `page_size` and no more than [`PAGE_BYTES`] as `size`
    /// measures them; `(items, revision, next token)`.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_items(
        &self,
        ctx: &RequestContext,
        parent: &str,
        revision: i64,
        kind_filter: &str,
        page_size: i32,
        page_token: &str,
        size: fn(&Key, &Placed) -> usize,
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
        let (items, more) = changesets::bounded_page(items, limit, |(k, p)| size(k, p));
        let next = match (more, items.last()) {
            (Some(_), Some((k, _))) => self.encode_token(&json!({
                "parent": parent, "filter": kind_filter, "revision": rev,
                "kind": k.kind, "key": k.key,
            })),
            _ => String::new(),
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

    /// One page of what changed in a layer between two revisions (whole entries, as JSON). From
    /// the empty layer (`from` 0) it is the newer revision's content, paged; otherwise the keys
    /// the revisions between changed, read a page at a time and compared at both ends.
    pub async fn diff_revisions(
        &self,
        ctx: &RequestContext,
        q: &RevisionDiffQuery<'_>,
        size: DiffSize,
    ) -> Result<DiffPage> {
        let (ics, layer) = self.layer_in_scope(ctx, "layer", q.layer).await?;
        let limit = page_limit(q.page_size, 1_000, 10_000)?;
        let (from, to, after) = match self.decode_token(q.page_token)? {
            Some(t) => {
                if t["layer"] != json!(q.layer) {
                    return Err(invalid("page_token", "belongs to another query"));
                }
                let (from, to, after) = diff_resume(&t, q.from_revision, q.to_revision)?;
                (from, to, Some(after))
            }
            None => {
                let to = self
                    .at_revision(&ics, &layer, q.to_revision, "to_revision")
                    .await?;
                // 0 means the empty layer here, not the newest revision.
                let from = match q.from_revision {
                    0 => 0,
                    f => self.at_revision(&ics, &layer, f, "from_revision").await?,
                };
                (from, to, None)
            }
        };
        let c = self.db().conn();
        let canonical = |p: Placed| p.entry.canonical();
        let (changes, next) = if from == to {
            (Vec::new(), None)
        } else if from == 0 {
            // From the empty layer: every item of `to`, a page of it. (`to` is never 0 here: a
            // layer without revisions has no `from` either.)
            let content =
                store::content(c, &ics, &layer, to, None, after.as_ref(), Some(limit + 1)).await?;
            let all = content.into_iter().map(|(key, p)| Difference {
                key,
                before: None,
                after: Some(canonical(p)),
            });
            let (page, more) = changesets::bounded_page(all, limit, |d| {
                size(&d.key, d.before.as_ref(), d.after.as_ref())
            });
            let next = more.and(page.last().map(|d| d.key.clone()));
            (page, next)
        } else {
            let keys = store::keys_changed_page(
                c,
                &ics,
                &layer,
                (from.min(to), from.max(to)),
                after.as_ref(),
                limit,
            )
            .await?;
            let wanted: BTreeSet<Key> = keys.iter().cloned().collect();
            let mut before = store::content_of_keys(c, &ics, &layer, from, &wanted).await?;
            let mut now = store::content_of_keys(c, &ics, &layer, to, &wanted).await?;
            let net = keys.iter().filter_map(|key| {
                let b = before.remove(key).map(canonical);
                let a = now.remove(key).map(canonical);
                (b != a).then(|| Difference {
                    key: key.clone(),
                    before: b,
                    after: a,
                })
            });
            let (page, more) = changesets::bounded_page(net, limit, |d| {
                size(&d.key, d.before.as_ref(), d.after.as_ref())
            });
            let next = match more {
                Some(_) => page.last().map(|d| d.key.clone()),
                None if keys.len() as u64 == limit => keys.last().cloned(),
                None => None,
            };
            (page, next)
        };
        let next_page_token = next.map_or(String::new(), |k| {
            self.encode_token(&json!({
                "layer": q.layer, "from": from, "to": to, "kind": k.kind, "key": k.key,
            }))
        });
        Ok(DiffPage {
            changes,
            from_revision: from,
            to_revision: to,
            next_page_token,
        })
    }
}
