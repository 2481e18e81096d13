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

    pub(super) async fn effective_at(
        &self,
        ics: &str,
        trust: &str,
        revision: i64,
        kind_filter: Option<&str>,
    ) -> Result<EffectiveView> {
        if revision < 0 {
            return Err(invalid("revision", "must not be negative"));
        }
        let record = store::effective(self.db().conn(), ics, trust, revision).await?;
        let Some(record) = record else {
            if revision > 0 {
                return Err(ConfigError::NotFound(format!(
                    "{} revision {revision}",
                    effective_name(ics, trust)
                )));
            }
            return Ok(EffectiveView {
                revision: None,
                trust: trust.to_owned(),
                content_hash: content_hash(&BTreeMap::new()),
                items: Effective::new(),
            });
        };
        let c = self.db().conn();
        let baseline = store::content(
            c,
            ics,
            &LayerId::Baseline,
            record.baseline_revision,
            kind_filter,
            None,
            None,
        )
        .await?;
        let overlay = store::content(
            c,
            ics,
            &LayerId::Trust(trust.to_owned()),
            record.overlay_revision,
            kind_filter,
            None,
            None,
        )
        .await?;
        let items = resolve(&as_baseline(&baseline), &as_overlay(&overlay));
        let content_hash = if kind_filter.is_some() {
            content_hash(&values_of(&items))
        } else {
            record.content_hash.clone()
        };
        Ok(EffectiveView {
            trust: trust.to_owned(),
            content_hash,
            items,
            revision: Some(record),
        })
    }

    /// A trust's effective configuration.
    pub async fn get_effective(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        revision: i64,
        if_none_match: &str,
        kind_filter: &str,
    ) -> Result<EffectiveRead> {
        let ics = self.trust_in_scope(ctx, parent, trust).await?;
        if !if_none_match.is_empty() && revision == 0 && kind_filter.is_empty() {
            let current = store::effective(self.db().conn(), &ics, trust, 0).await?;
            let revision = current.map_or(0, |e| e.revision);
            if concordat_api::etag_is_current(if_none_match, revision) {
                return Ok(EffectiveRead::NotModified);
            }
        }
        let filter = (!kind_filter.is_empty()).then_some(kind_filter);
        let view = self.effective_at(&ics, trust, revision, filter).await?;
        Ok(EffectiveRead::Config(Box::new(view)))
    }

    /// What changed in a trust's effective configuration between two effective revisions.
    pub async fn diff_effective(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        from: i64,
        to: i64,
    ) -> Result<(Vec<Difference>, i64, i64)> {
        let ics = self.trust_in_scope(ctx, parent, trust).await?;
        let after = self.effective_at(&ics, trust, to, None).await?;
        let to = after.revision.as_ref().map_or(0, |r| r.revision);
        if from < 0 || from > to {
            return Err(invalid(
                "from_revision",
                format!("must be between 0 and {to}"),
            ));
        }
        let before = if from == 0 {
            Effective::new()
        } else {
            self.effective_at(&ics, trust, from, None).await?.items
        };
        Ok((
            diff(&values_of(&before), &values_of(&after.items)),
            from,
            to,
        ))
    }

    /// Streams a trust's effective revisions after `from`, then new ones as they commit.
    pub async fn watch(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        from: i64,
    ) -> Result<impl Stream<Item = Result<EffectiveRevision, ApiError>> + Send + 'static> {
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
                                if tx.send(Ok(e)).await.is_err() {
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
                            Some(Ok(e)) if e.resource == resource => break,
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
