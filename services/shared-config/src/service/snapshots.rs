//! Snapshots: a trust's actual build, imported as evidence, and exports.

use super::*;

impl SharedConfig {
    /// Imports a trust's actual build as a snapshot.
    pub async fn import_snapshot<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        new: NewSnapshot,
        bundle_json: &str,
        request_id: &str,
        reply: impl FnOnce(&Snapshot) -> R,
    ) -> Result<R> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let NewSnapshot {
            trust,
            display_name,
            taken_time,
        } = new;
        let trust = trust.as_str();
        if trust.is_empty() {
            return Err(invalid("snapshot.trust", "is required"));
        }
        self.require_known_trust("snapshot.trust", &ics, trust)?;
        self.require_writer(ctx, &LayerId::Trust(trust.to_owned()), parent)
            .await?;
        let items = parse_bundle(bundle_json)?;
        let kinds = compile_kinds(&store::kinds(self.db().conn(), &ics).await?);
        let nonconforming = items
            .iter()
            .filter(|(k, v)| {
                kinds
                    .get(&k.kind)
                    .is_none_or(|kind| !kind.check("", v).is_empty())
            })
            .count();
        self.writer
            .write(ctx, request_id, |w| async move {
                let now = w.now();
                let snapshot = Snapshot {
                    ics: ics.clone(),
                    id: uuid::Uuid::now_v7().simple().to_string(),
                    trust: trust.to_owned(),
                    display_name,
                    taken_time: taken_time.unwrap_or(now),
                    content_hash: content_hash(&items),
                    item_count: i64::try_from(items.len()).unwrap_or(i64::MAX),
                    nonconforming_count: i64::try_from(nonconforming).unwrap_or(i64::MAX),
                    importer: ctx.principal.person(),
                    import_time: now,
                };
                store::insert_snapshot(w.txn(), &snapshot, &items).await?;
                w.audit(
                    "snapshot.import",
                    &format!("icss/{ics}/snapshots/{}", snapshot.id),
                    format!(
                        "snapshot of {trust}'s build imported: {} items, {} nonconforming",
                        snapshot.item_count, snapshot.nonconforming_count
                    ),
                );
                Ok(reply(&snapshot))
            })
            .await
    }

    /// Reads a snapshot.
    pub async fn get_snapshot(&self, ctx: &RequestContext, name: &str) -> Result<Snapshot> {
        let (ics, id) = parse_name("name", name, "snapshots")?;
        self.require_ics(ctx, &ics, name).await?;
        store::snapshot(self.db().conn(), &ics, &id)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))
    }

    /// Lists snapshots, newest first.
    pub async fn list_snapshots(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Snapshot>, String)> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let limit = page_limit(page_size, 50, 500)?;
        let query = json!({"parent": parent, "trust": trust});
        let after = self.decode_time_cursor(page_token, &query)?;
        let filter = (!trust.is_empty()).then_some(trust);
        let mut list = store::snapshots(self.db().conn(), &ics, filter, after, limit + 1).await?;
        let next = self.time_cursor_page(&mut list, limit, &query, |s| (s.import_time, &s.id));
        Ok((list, next))
    }

    /// Exports a layer, an effective configuration or a snapshot as a JSON bundle:
    /// `(bundle, content hash, export time)`.
    pub async fn export(
        &self,
        ctx: &RequestContext,
        name: &str,
        revision: i64,
    ) -> Result<(String, String, DateTime<Utc>)> {
        let now = self.writer.clock().now();
        let parts: Vec<&str> = name.split('/').collect();
        let (source_rev, hash, items): (i64, String, Vec<Value>) = match parts.as_slice() {
            ["icss", _, "layers", _] => {
                let (ics, layer) = self.layer_in_scope(ctx, "name", name).await?;
                let rev = self.at_revision(&ics, &layer, revision, "revision").await?;
                let content =
                    store::content(self.db().conn(), &ics, &layer, rev, None, None, None).await?;
                let hash = entries_hash(&content);
                let items = content
                    .into_iter()
                    .map(|(k, p)| {
                        let mut item = p.entry.canonical();
                        item["kind"] = json!(k.kind);
                        item["key"] = json!(k.key);
                        item["revision"] = json!(p.provenance.revision);
                        item["change_request"] = json!(p.provenance.change_request);
                        item
                    })
                    .collect();
                (rev, hash, items)
            }
            ["icss", ics, "trusts", trust, "effectiveConfig"] => {
                let parent = format!("icss/{ics}");
                let ics = self.trust_in_scope(ctx, &parent, trust).await?;
                let view = self.effective_at(&ics, trust, revision).await?;
                let items = view
                    .items
                    .into_iter()
                    .map(|(k, r)| {
                        json!({
                            "kind": k.kind, "key": k.key, "value": r.value,
                            "source": match r.source { resolve::Source::Baseline => "baseline", resolve::Source::Override => "override", resolve::Source::LocalOnly => "local-only" },
                            "layer_revision": r.provenance.revision,
                            "change_request": r.provenance.change_request,
                        })
                    })
                    .collect();
                (
                    view.revision.map_or(0, |r| r.revision),
                    view.content_hash,
                    items,
                )
            }
            ["icss", _, "snapshots", _] => {
                let snapshot = self.get_snapshot(ctx, name).await?;
                let items =
                    store::snapshot_items(self.db().conn(), &snapshot.ics, &snapshot.id).await?;
                let items = items
                    .into_iter()
                    .map(|(k, v)| json!({"kind": k.kind, "key": k.key, "value": v}))
                    .collect();
                (0, snapshot.content_hash, items)
            }
            _ => {
                return Err(invalid(
                    "name",
                    "must be `icss/{ics}/layers/{layer}`, `icss/{ics}/trusts/{trust}/effectiveConfig` or `icss/{ics}/snapshots/{id}`",
                ));
            }
        };
        let bundle = json!({
            "format": "concordat.config.v1",
            "source": name,
            "revision": source_rev,
            "content_hash": hash,
            "exported_time": now.to_rfc3339(),
            "items": items,
        });
        Ok((
            serde_json::to_string_pretty(&bundle).unwrap_or_default(),
            hash,
            now,
        ))
    }
}
