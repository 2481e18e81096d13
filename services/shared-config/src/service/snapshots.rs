//! Snapshots: a trust's actual build, imported as evidence, and exports.

use super::*;

impl SharedConfig {
    /// Checks that `ctx` may import a snapshot of `new`'s trust under `parent` (the ICS, the
    /// trust, the caller's scope), so that a stream of parts is refused before it is read.
    pub async fn check_import(
        &self,
        ctx: &RequestContext,
        parent: &str,
        new: NewSnapshot,
    ) -> Result<ImportTarget> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        if new.trust.is_empty() {
            return Err(invalid("snapshot.trust", "is required"));
        }
        self.require_known_trust("snapshot.trust", &ics, &new.trust)?;
        self.require_writer(ctx, &LayerId::Trust(new.trust.clone()), parent)
            .await?;
        Ok(ImportTarget { ics, new })
    }

    /// Imports a trust's actual build, `items` (from [`add_bundle`]), as the snapshot `target`
    /// names.
    pub async fn import_snapshot<R: Reply>(
        &self,
        ctx: &RequestContext,
        target: ImportTarget,
        items: BTreeMap<Key, Value>,
        request_id: &str,
        reply: impl FnOnce(&Snapshot) -> R,
    ) -> Result<R> {
        let ImportTarget {
            ics,
            new:
                NewSnapshot {
                    trust,
                    display_name,
                    taken_time,
                },
        } = target;
        let trust = trust.as_str();
        let kinds = compile_kinds(&store::kinds(self.db().conn(), &ics).await?);
        let nonconforming = items
            .iter()
            .filter(|(k, v)| !conforms(&kinds, k, v))
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
                let name = format!("icss/{ics}/snapshots/{}", snapshot.id);
                w.event(
                    &ics,
                    &name,
                    SNAPSHOT_IMPORTED,
                    (self.encode.snapshot)(&snapshot),
                );
                w.audit(
                    "snapshot.import",
                    &name,
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

    /// One page of a layer, an effective configuration or a snapshot as a JSON bundle, at the
    /// revision and content hash the first page read (the page token carries them and the export
    /// time, so every page has the same header).
    pub async fn export(&self, ctx: &RequestContext, q: &ExportQuery<'_>) -> Result<ExportPage> {
        let limit = page_limit(q.page_size, 10_000, 20_000)?;
        if q.revision < 0 {
            return Err(invalid("revision", "must not be negative"));
        }
        let resume = match self.decode_token(q.page_token)? {
            Some(t) => {
                if t["name"] != json!(q.name) {
                    return Err(invalid("page_token", "belongs to another query"));
                }
                let rev = t["revision"].as_i64().unwrap_or_default();
                if q.revision != 0 && q.revision != rev {
                    return Err(invalid(
                        "revision",
                        format!("must be the page token's revision, {rev}"),
                    ));
                }
                let time = t["time"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|d| d.with_timezone(&Utc))
                    .ok_or_else(|| invalid("page_token", "is not a token this export returned"))?;
                Some(Resume {
                    revision: rev,
                    hash: t["hash"].as_str().unwrap_or_default().to_owned(),
                    time,
                    after: Key::new(
                        t["kind"].as_str().unwrap_or_default(),
                        t["key"].as_str().unwrap_or_default(),
                    ),
                })
            }
            None => None,
        };
        let revision = resume.as_ref().map_or(q.revision, |r| r.revision);
        let after = resume.as_ref().map(|r| &r.after);
        let source = self
            .export_source(ctx, q.name, revision, after, limit)
            .await?;
        if let Some(r) = &resume
            && r.hash != source.hash
        {
            return Err(invalid(
                "page_token",
                "the revision it pages is no longer stored as it was; start again",
            ));
        }
        let time = resume
            .as_ref()
            .map_or_else(|| self.writer.clock().now().trunc_subsecs(6), |r| r.time);
        let header = json!({
            "format": "concordat.config.v1",
            "source": q.name,
            "revision": source.revision,
            "content_hash": source.hash,
            "exported_time": time.to_rfc3339(),
        })
        .to_string();
        let (bundle, cut) = write_bundle(&header, source.items);
        let next = cut.or(source.next);
        let next_page_token = next.map_or(String::new(), |k| {
            self.encode_token(&json!({
                "name": q.name, "revision": source.revision, "hash": source.hash,
                "time": time.to_rfc3339(), "kind": k.kind, "key": k.key,
            }))
        });
        Ok(ExportPage {
            bundle_json: bundle,
            content_hash: source.hash,
            export_time: time,
            next_page_token,
        })
    }

    /// The items of what `name` names, after `after`: at most `limit`, each as its bundle object.
    async fn export_source(
        &self,
        ctx: &RequestContext,
        name: &str,
        revision: i64,
        after: Option<&Key>,
        limit: u64,
    ) -> Result<ExportSource> {
        let c = self.db().conn();
        let parts: Vec<&str> = name.split('/').collect();
        match parts.as_slice() {
            ["icss", _, "layers", _] => {
                let (ics, layer) = self.layer_in_scope(ctx, "name", name).await?;
                let rev = self.at_revision(&ics, &layer, revision, "revision").await?;
                let hash = match store::revision(c, &ics, &layer, rev).await? {
                    Some(r) => r.content_hash,
                    None => entries_hash(&Content::new()),
                };
                let content =
                    store::content(c, &ics, &layer, rev, None, after, Some(limit + 1)).await?;
                let items = content.into_iter().map(|(k, p)| {
                    let mut item = p.entry.canonical();
                    item["kind"] = json!(k.kind);
                    item["key"] = json!(k.key);
                    item["revision"] = json!(p.provenance.revision);
                    item["change_request"] = json!(p.provenance.change_request);
                    (k, item.to_string())
                });
                Ok(ExportSource::limited(rev, hash, items.collect(), limit))
            }
            ["icss", ics, "trusts", trust, "effectiveConfig"] => {
                let parent = format!("icss/{ics}");
                let ics = self.trust_in_scope(ctx, &parent, trust).await?;
                let Some(record) = store::effective_head(c, &ics, trust, revision).await? else {
                    if revision > 0 {
                        return Err(ConfigError::NotFound(format!(
                            "{} revision {revision}",
                            effective_name(&ics, trust)
                        )));
                    }
                    return Ok(ExportSource::limited(
                        0,
                        content_hash(&BTreeMap::new()),
                        Vec::new(),
                        limit,
                    ));
                };
                let (page, next) = self
                    .effective_page(&ics, &record, None, after, limit, &|_, _| 0)
                    .await?;
                let items = page
                    .into_iter()
                    .map(|(k, r)| {
                        let line = serde_json::to_string(&EffectiveLine::of(&k, &r))?;
                        Ok((k, line))
                    })
                    .collect::<std::result::Result<Vec<_>, serde_json::Error>>()
                    .map_err(|e| StoreError::Corrupt("item value", e.to_string()))?;
                Ok(ExportSource {
                    revision: record.revision,
                    hash: record.content_hash,
                    items,
                    next,
                })
            }
            ["icss", _, "snapshots", _] => {
                let snapshot = self.get_snapshot(ctx, name).await?;
                let items =
                    store::snapshot_items(c, &snapshot.ics, &snapshot.id, after, Some(limit + 1))
                        .await?;
                // An item whose kind is unknown or whose value breaks its kind's schema is marked,
                // so a reader (convergence) counts it as the import did.
                let kinds = compile_kinds(&store::kinds(c, &snapshot.ics).await?);
                let items = items.into_iter().map(|(k, v)| {
                    let mut item = json!({"kind": k.kind, "key": k.key, "value": v});
                    if !conforms(&kinds, &k, &item["value"]) {
                        item["nonconforming"] = json!(true);
                    }
                    (k, item.to_string())
                });
                Ok(ExportSource::limited(
                    0,
                    snapshot.content_hash,
                    items.collect(),
                    limit,
                ))
            }
            _ => Err(invalid(
                "name",
                "must be `icss/{ics}/layers/{layer}`, `icss/{ics}/trusts/{trust}/effectiveConfig` or `icss/{ics}/snapshots/{id}`",
            )),
        }
    }
}

/// Whether a snapshot's `value` at `key` is of a registered kind and satisfies its schema.
fn conforms(kinds: &BTreeMap<String, ConfigKind>, key: &Key, value: &Value) -> bool {
    kinds
        .get(&key.kind)
        .is_some_and(|kind| kind.check("", value).is_empty())
}

/// A bundle of `header` (a JSON object) with `items` last, one item per line, ending before it
/// passes [`PAGE_BYTES`] (with one item at least): the bundle, and the last key written if it
/// ended before the last item.
fn write_bundle(header: &str, items: Vec<(Key, String)>) -> (String, Option<Key>) {
    let mut bundle = String::with_capacity(header.len() + 16);
    bundle.push_str(header.strip_suffix('}').unwrap_or(header));
    bundle.push_str(",\"items\":[");
    let mut last = None;
    for (key, line) in items {
        // `,\n` before the item and `\n]}` after the last.
        if last.is_some() && bundle.len() + line.len() + 5 > PAGE_BYTES {
            bundle.push_str("\n]}");
            return (bundle, last);
        }
        bundle.push_str(if last.is_some() { ",\n" } else { "\n" });
        bundle.push_str(&line);
        last = Some(key);
    }
    bundle.push_str("\n]}");
    (bundle, None)
}

/// An effective item as an export writes it: serialised straight from the resolved item, without
/// building a JSON object per item first. Fields in the order a JSON object of them is written
/// (alphabetical), so the line is the same as one.
#[derive(serde::Serialize)]
struct EffectiveLine<'a> {
    change_request: &'a str,
    key: &'a str,
    kind: &'a str,
    layer_revision: u64,
    source: &'static str,
    value: &'a Value,
}

impl<'a> EffectiveLine<'a> {
    fn of(k: &'a Key, r: &'a resolve::Resolved) -> Self {
        Self {
            change_request: &r.provenance.change_request,
            key: &k.key,
            kind: &k.kind,
            layer_revision: r.provenance.revision,
            source: match r.source {
                resolve::Source::Baseline => "baseline",
                resolve::Source::Override => "override",
                resolve::Source::LocalOnly => "local-only",
            },
            value: &r.value,
        }
    }
}

/// Where a later page of an export resumes.
struct Resume {
    revision: i64,
    hash: String,
    time: DateTime<Utc>,
    after: Key,
}

/// A page of an export's source, before it is written.
struct ExportSource {
    /// The layer or effective revision (0 for a snapshot).
    revision: i64,
    /// Its content hash.
    hash: String,
    /// The items, each as its bundle object written as one line of JSON.
    items: Vec<(Key, String)>,
    /// The key to continue after, when more are left.
    next: Option<Key>,
}

impl ExportSource {
    /// From `items` read with one more than `limit`.
    fn limited(revision: i64, hash: String, mut items: Vec<(Key, String)>, limit: u64) -> Self {
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|(k, _)| k.clone())
        } else {
            None
        };
        Self {
            revision,
            hash,
            items,
            next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(n: usize, value_bytes: usize) -> Vec<(Key, String)> {
        (0..n)
            .map(|i| {
                let key = Key::new("alert-rule", &format!("k-{i:03}"));
                let item =
                    json!({"kind": "alert-rule", "key": key.key, "value": "x".repeat(value_bytes)});
                (key, item.to_string())
            })
            .collect()
    }

    #[test]
    fn an_effective_line_is_the_json_object_of_its_fields() {
        let key = Key::new("alert-rule", "allergy");
        let resolved = resolve::Resolved {
            value: json!({"interruptive": true, "severity": ["high"]}),
            source: resolve::Source::Override,
            provenance: crate::domain::layer::Provenance {
                revision: 4,
                change_request: "icss/QUE/changeRequests/7".into(),
            },
            ignored: None,
            variation: crate::domain::layer::Variation::default(),
        };
        let object = json!({
            "kind": "alert-rule", "key": "allergy", "source": "override", "layer_revision": 4,
            "change_request": "icss/QUE/changeRequests/7",
            "value": {"interruptive": true, "severity": ["high"]},
        });
        assert_eq!(
            serde_json::to_string(&EffectiveLine::of(&key, &resolved)).unwrap(),
            object.to_string()
        );
    }

    #[test]
    fn a_bundle_page_ends_before_its_byte_budget_one_item_per_line() {
        let header = json!({"format": "concordat.config.v1", "revision": 3}).to_string();
        let (bundle, cut) = write_bundle(&header, items(30, 100_000));
        assert!(bundle.len() <= PAGE_BYTES, "{} bytes", bundle.len());
        let parsed: Value = serde_json::from_str(&bundle).unwrap();
        let written = parsed["items"].as_array().unwrap().len();
        assert!(written > 15 && written < 30, "{written} items");
        assert_eq!(
            cut,
            Some(Key::new("alert-rule", &format!("k-{:03}", written - 1)))
        );
        assert_eq!(parsed["revision"], 3);
        // The header's line, each item's, and the closing line.
        assert_eq!(bundle.lines().count(), written + 2);

        let (small, cut) = write_bundle(&header, items(3, 10));
        assert_eq!(cut, None);
        let parsed: Value = serde_json::from_str(&small).unwrap();
        assert_eq!(parsed["items"].as_array().unwrap().len(), 3);
        // One item larger than the budget is still written, alone.
        let (big, cut) = write_bundle(&header, items(2, PAGE_BYTES));
        assert!(big.len() > PAGE_BYTES);
        assert_eq!(cut, Some(Key::new("alert-rule", "k-000")));
        let (empty, cut) = write_bundle(&header, Vec::new());
        assert_eq!(
            (
                serde_json::from_str::<Value>(&empty).unwrap()["items"]
                    .as_array()
                    .unwrap()
                    .len(),
                cut
            ),
            (0, None)
        );
    }
}
