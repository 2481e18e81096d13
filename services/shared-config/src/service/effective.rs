//! Effective configuration: a trust's baseline with its overlay applied, read, diffed, watched.

use super::*;

impl SharedConfig {
    pub(super) async fn trust_in_scope(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
    ) -> Result<String> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        if trust.is_empty() {
            return Err(invalid("trust", "is required"));
        }
        self.require_known_trust("trust", &ics, trust)?;
        Ok(ics)
    }

    /// One page of a trust's effective configuration, at the revision the first page read, each
    /// item rendered as `R`. With the baseline in `baselines`, only the trust's overlay rows are
    /// read; with the cache off, both layers' rows of the page.
    pub async fn get_effective<R: RenderItem>(
        &self,
        ctx: &RequestContext,
        q: &EffectiveQuery<'_>,
        baselines: &BaselineCache<R>,
    ) -> Result<EffectiveRead<R>> {
        let ics = self.trust_in_scope(ctx, q.parent, q.trust).await?;
        let limit = page_limit(q.page_size, 1_000, 10_000)?;
        if q.revision < 0 {
            return Err(invalid("revision", "must not be negative"));
        }
        let token = self.decode_token(q.page_token)?;
        let (record, after) = match &token {
            Some(t) => {
                if t["parent"] != json!(q.parent)
                    || t["trust"] != json!(q.trust)
                    || t["filter"] != json!(q.kind)
                {
                    return Err(invalid("page_token", "belongs to another query"));
                }
                let rev = t["revision"].as_i64().unwrap_or_default();
                if q.revision != 0 && q.revision != rev {
                    return Err(invalid(
                        "revision",
                        format!("must be the page token's revision, {rev}"),
                    ));
                }
                let record = store::effective_head(self.db().conn(), &ics, q.trust, rev)
                    .await?
                    .filter(|r| t["hash"] == json!(r.content_hash))
                    .ok_or_else(|| {
                        invalid(
                            "page_token",
                            "the revision it pages is no longer stored as it was; start again",
                        )
                    })?;
                let after = Key::new(
                    t["kind"].as_str().unwrap_or_default(),
                    t["key"].as_str().unwrap_or_default(),
                );
                (Some(record), Some(after))
            }
            None => {
                let record =
                    store::effective_head(self.db().conn(), &ics, q.trust, q.revision).await?;
                if record.is_none() && q.revision > 0 {
                    return Err(ConfigError::NotFound(format!(
                        "{} revision {}",
                        effective_name(&ics, q.trust),
                        q.revision
                    )));
                }
                let current = record.as_ref().map_or(0, |r| r.revision);
                if !q.if_none_match.is_empty()
                    && q.revision == 0
                    && concordat_api::etag_is_current(q.if_none_match, current)
                {
                    return Ok(EffectiveRead::NotModified);
                }
                (record, None)
            }
        };
        let Some(record) = record else {
            return Ok(EffectiveRead::Page(
                Box::new(EffectiveView {
                    revision: None,
                    trust: q.trust.to_owned(),
                    content_hash: content_hash(&BTreeMap::new()),
                    items: Vec::new(),
                }),
                String::new(),
            ));
        };
        let filter = (!q.kind.is_empty()).then_some(q.kind);
        let after = after.as_ref();
        let held = self
            .held_baseline(baselines, &ics, record.baseline_revision)
            .await?;
        let (items, next) = match held {
            Some(baseline) => {
                self.held_page(&ics, &record, &baseline, filter, after, limit)
                    .await?
            }
            None => {
                let (items, next) = self
                    .effective_page(&ics, &record, filter, after, limit, &R::resolved_len)
                    .await?;
                let items = items.iter().map(|(k, r)| R::render(k, r)).collect();
                (items, next)
            }
        };
        let next = next.as_ref().map_or(String::new(), |k| {
            self.encode_token(&json!({
                "parent": q.parent, "trust": q.trust, "filter": q.kind,
                "revision": record.revision, "hash": record.content_hash,
                "kind": k.kind, "key": k.key,
            }))
        });
        Ok(EffectiveRead::Page(
            Box::new(EffectiveView {
                trust: q.trust.to_owned(),
                content_hash: record.content_hash.clone(),
                items,
                revision: Some(record),
            }),
            next,
        ))
    }

    /// The items of an effective revision after `after`: at most `limit`, and no more than
    /// [`PAGE_BYTES`] as `size` measures them; with the key to continue after, if any. Reads one
    /// page of the baseline and one of the overlay, in key order, and resolves the keys both
    /// cover.
    pub(super) async fn effective_page(
        &self,
        ics: &str,
        record: &EffectiveRevision,
        kind_filter: Option<&str>,
        after: Option<&Key>,
        limit: u64,
        size: &(dyn Fn(&Key, &resolve::Resolved) -> usize + Sync),
    ) -> Result<(Vec<(Key, resolve::Resolved)>, Option<Key>)> {
        let c = self.db().conn();
        let fetch = limit + 1;
        let baseline = store::resolving_rows(
            c,
            ics,
            &LayerId::Baseline,
            record.baseline_revision,
            kind_filter,
            after,
            Some(fetch),
        )
        .await?;
        let overlay = self
            .overlay_rows(ics, record, kind_filter, after, fetch)
            .await?;
        // Keys up to the last one of a side that filled its page are complete on both sides;
        // beyond it, the next page reads on.
        let bound = [&baseline, &overlay]
            .into_iter()
            .filter(|side| side.len() as u64 == fetch)
            .filter_map(|side| side.last().map(|(k, _)| k))
            .min()
            .cloned();
        // Both sides come in key order: merged as they come, the page is built in order without
        // a map of either side or of the result.
        let mut page: Vec<(Key, resolve::Resolved)> = Vec::new();
        let mut bytes = 0;
        for (key, item) in publish::resolve_placed(baseline, overlay, record.publish_time) {
            if bound.as_ref().is_some_and(|b| &key > b) {
                break;
            }
            let n = size(&key, &item);
            if page.len() as u64 == limit || (!page.is_empty() && bytes + n > PAGE_BYTES) {
                let last = page.last().map(|(k, _)| k.clone());
                return Ok((page, last));
            }
            bytes += n;
            page.push((key, item));
        }
        Ok((page, bound))
    }

    /// At most `fetch` rows of the overlay an effective revision combines, after `after`, in key
    /// order.
    pub(super) async fn overlay_rows(
        &self,
        ics: &str,
        record: &EffectiveRevision,
        kind_filter: Option<&str>,
        after: Option<&Key>,
        fetch: u64,
    ) -> Result<Vec<(Key, Placed)>> {
        let layer = LayerId::Trust(record.trust.clone());
        let revision = record.overlay_revision;
        let c = self.db().conn();
        Ok(
            store::resolving_rows(c, ics, &layer, revision, kind_filter, after, Some(fetch))
                .await?,
        )
    }

    /// One page of what changed in a trust's effective configuration between two effective
    /// revisions. From the empty configuration (`from` 0) it is the newer one, paged; otherwise
    /// the changes each revision after `from` recorded, composed key by key: the cost is in
    /// proportion to what changed, not to the configuration.
    pub async fn diff_effective(
        &self,
        ctx: &RequestContext,
        q: &DiffQuery<'_>,
        size: DiffSize,
    ) -> Result<DiffPage> {
        let ics = self.trust_in_scope(ctx, q.parent, q.trust).await?;
        let limit = page_limit(q.page_size, 1_000, 10_000)?;
        let c = self.db().conn();
        let (from, to, after) = match self.decode_token(q.page_token)? {
            Some(t) => {
                if t["parent"] != json!(q.parent) || t["trust"] != json!(q.trust) {
                    return Err(invalid("page_token", "belongs to another query"));
                }
                let (from, to, after) = diff_resume(&t, q.from_revision, q.to_revision)?;
                (from, to, Some(after))
            }
            None => {
                if q.to_revision < 0 {
                    return Err(invalid("to_revision", "must not be negative"));
                }
                let to = match store::effective_head(c, &ics, q.trust, q.to_revision).await? {
                    Some(r) => r.revision,
                    None if q.to_revision > 0 => {
                        return Err(ConfigError::NotFound(format!(
                            "{} revision {}",
                            effective_name(&ics, q.trust),
                            q.to_revision
                        )));
                    }
                    None => 0,
                };
                if q.from_revision < 0 || q.from_revision > to {
                    return Err(invalid(
                        "from_revision",
                        format!("must be between 0 and {to}"),
                    ));
                }
                (q.from_revision, to, None)
            }
        };
        let (changes, next) = if from == to {
            (Vec::new(), None)
        } else if from == 0 {
            let record = store::effective_head(c, &ics, q.trust, to)
                .await?
                .ok_or_else(|| ConfigError::NotFound(effective_name(&ics, q.trust)))?;
            let (items, next) = self
                .effective_page(&ics, &record, None, after.as_ref(), limit, &|k, r| {
                    size(k, None, Some(&r.value))
                })
                .await?;
            let changes = items
                .into_iter()
                .map(|(key, r)| Difference {
                    key,
                    before: None,
                    after: Some(r.value),
                })
                .collect();
            (changes, next)
        } else {
            self.composed_changes(&ics, q.trust, from, to, after.as_ref(), limit, size)
                .await?
        };
        let next_page_token = next.map_or(String::new(), |k| {
            self.encode_token(&json!({
                "parent": q.parent, "trust": q.trust, "from": from, "to": to,
                "kind": k.kind, "key": k.key,
            }))
        });
        Ok(DiffPage {
            changes,
            from_revision: from,
            to_revision: to,
            next_page_token,
        })
    }

    /// The net differences of a trust's effective revisions after `from` up to `to`, of keys after
    /// `after`: at most `limit` and [`PAGE_BYTES`], with the key to continue after, if any.
    #[allow(clippy::too_many_arguments)]
    async fn composed_changes(
        &self,
        ics: &str,
        trust: &str,
        from: i64,
        to: i64,
        after: Option<&Key>,
        limit: u64,
        size: DiffSize,
    ) -> Result<(Vec<Difference>, Option<Key>)> {
        let mut net: BTreeMap<Key, (Option<Value>, Option<Value>)> = BTreeMap::new();
        let mut last = from;
        while last < to {
            let batch = store::effective_after(self.db().conn(), ics, trust, last, 16).await?;
            let done = batch.len() < 16 || batch.last().is_some_and(|e| e.revision >= to);
            for e in batch.into_iter().take_while(|e| e.revision <= to) {
                last = e.revision;
                for d in e.changes.iter() {
                    if after.is_some_and(|a| &d.key <= a) {
                        continue;
                    }
                    net.entry(d.key.clone())
                        .and_modify(|(_, now)| now.clone_from(&d.after))
                        .or_insert_with(|| (d.before.clone(), d.after.clone()));
                }
            }
            if done {
                break;
            }
        }
        let net = net
            .into_iter()
            .filter(|(_, (b, a))| b != a)
            .map(|(key, (before, after))| Difference { key, before, after });
        let (page, more) = changesets::bounded_page(net, limit, |d| {
            size(&d.key, d.before.as_ref(), d.after.as_ref())
        });
        let next = more.and(page.last().map(|d| d.key.clone()));
        Ok((page, next))
    }

    /// Streams every event of an ICS (new effective revisions, imported snapshots) after
    /// `cursor`: the retained backlog, then live.
    pub async fn watch_events(
        &self,
        ctx: &RequestContext,
        parent: &str,
        cursor: i64,
    ) -> Result<concordat_platform::events::EventStream> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        if cursor < 0 {
            return Err(invalid("cursor", "must not be negative"));
        }
        Ok(self.writer.outbox().watch(ics, cursor).await?)
    }

    /// Streams a trust's effective revisions after `from`, then new ones as they commit, each as
    /// `stored` makes it of a stored revision. A revision published after the watch began is
    /// taken from its event's payload by `published` (its revision number and message), so
    /// hundreds of watchers do not each query the table on every publish; the table is read
    /// again only when an event does not follow on from the last revision sent.
    pub async fn watch<T: Send + 'static>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        from: i64,
        stored: fn(&EffectiveRevision) -> T,
        published: fn(&[u8]) -> Option<(i64, T)>,
    ) -> Result<impl Stream<Item = Result<T, ApiError>> + Send + 'static> {
        let ics = self.trust_in_scope(ctx, parent, trust).await?;
        if from < 0 {
            return Err(invalid("from_revision", "must not be negative"));
        }
        // Subscribe first, then read the backlog: nothing committed in between is missed.
        let head = self.writer.outbox().head().await?;
        let mut events = self.writer.outbox().watch(ics.clone(), head).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let db = self.db().clone();
        let resource = effective_name(&ics, trust);
        let trust = trust.to_owned();
        tokio::spawn(async move {
            use futures::StreamExt;
            let mut last = from;
            loop {
                loop {
                    match store::effective_after(db.conn(), &ics, &trust, last, 256).await {
                        Ok(batch) if batch.is_empty() => break,
                        Ok(batch) => {
                            for e in batch {
                                last = e.revision;
                                if tx.send(Ok(stored(&e))).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(err) => {
                            let _ = tx.send(Err(ApiError::internal(err))).await;
                            return;
                        }
                    }
                }
                loop {
                    tokio::select! {
                        event = events.next() => match event {
                            Some(Ok(e)) if e.resource == resource => {
                                let next = (e.kind == PUBLISHED)
                                    .then(|| published(&e.payload))
                                    .flatten();
                                match next {
                                    Some((revision, _)) if revision <= last => {}
                                    Some((revision, message)) if revision == last + 1 => {
                                        last = revision;
                                        if tx.send(Ok(message)).await.is_err() {
                                            return;
                                        }
                                    }
                                    // A gap (or a payload this version cannot read): the table.
                                    _ => break,
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(err)) => {
                                let _ = tx.send(Err(err)).await;
                                return;
                            }
                            None => return,
                        },
                        _ = tx.closed() => return,
                    }
                }
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
    }
}
