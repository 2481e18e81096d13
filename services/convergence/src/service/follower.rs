//! The follower: for each ICS, a task that watches shared configuration's events as the service's
//! own client and records an assessment for each imported snapshot and for each new effective
//! revision of a trust that has a snapshot. Its cursor moves in the same transaction as what it
//! records, under a lock per ICS, so an event is recorded once however often it is seen again
//! (after a restart, or by another replica).

use std::time::Duration;

use futures::StreamExt;

use super::assessments::Point;
use super::*;
use crate::domain::records::{Divergence, TrustState};
use crate::store;
use crate::upstream::{Caller, ConfigEvent, SnapshotRef};

/// Starts the follower, until the server drains: it follows the ICS the service's own client
/// acts in (its token's principal), retrying with a growing pause while that cannot be had or
/// the stream fails; and the round of notices, after each event and each minute.
pub fn spawn_followers(cases: Arc<Convergence>, drain: concordat_platform::drain::Drain) {
    // Notices fall due with time alone too: a round each minute.
    let (notices, notices_drain) = (cases.clone(), drain.clone());
    tokio::spawn(async move {
        let minute = Duration::from_secs(60);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + minute, minute);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = notices_drain.started() => return,
                _ = tick.tick() => notices.announce_own_ics().await,
            }
        }
    });
    tokio::spawn(async move {
        let mut backoff = Duration::from_secs(1);
        loop {
            tokio::select! {
                _ = drain.started() => return,
                result = cases.follow_own_ics() => match result {
                    Ok(()) => backoff = Duration::from_secs(1),
                    Err(err) => {
                        tracing::warn!(error = %err, "following shared configuration failed; retrying");
                    }
                },
            }
            tokio::select! {
                _ = drain.started() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    });
}

/// What an event changes of a trust, and the assessment it leads to.
struct Handled {
    trust: String,
    state: TrustState,
    assessment: Option<(Assessment, Vec<Divergence>)>,
}

impl Convergence {
    /// The follower's credentials: the service's own token.
    pub(super) async fn service_caller(&self) -> Result<Caller> {
        let source = self.service_tokens.as_ref().ok_or_else(|| {
            UpstreamError::Unavailable(
                "no service client is configured, so shared configuration's events cannot be followed"
                    .into(),
            )
        })?;
        let token = source
            .token()
            .await
            .map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
        Ok(Caller {
            authorization: format!("Bearer {token}"),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
    }

    /// The ICS the service's own client acts in.
    async fn own_ics(&self) -> Result<String> {
        let caller = self.service_caller().await?;
        let token = caller.authorization.trim_start_matches("Bearer ");
        let principal = self
            .verifier
            .verify(token)
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("the service's own token: {e}")))?;
        Ok(principal.ics.clone())
    }

    /// Follows the ICS the service's client acts in.
    async fn follow_own_ics(&self) -> Result<()> {
        let ics = self.own_ics().await?;
        self.follow(&ics).await
    }

    /// Announces what is due in the ICS the service's client acts in; a failure is logged, and
    /// the next round tries again.
    async fn announce_own_ics(&self) {
        let result = match self.own_ics().await {
            Ok(ics) => self.announce(&ics).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(0) => {}
            Ok(n) => tracing::info!(notices = n, "convergence notices given"),
            Err(err) => tracing::warn!(error = %err, "convergence notices could not be given"),
        }
    }

    /// Follows the events of `ics` from the stored cursor until the stream ends or fails.
    async fn follow(&self, ics: &str) -> Result<()> {
        let cursor = store::follow_cursor(self.db().conn(), ics).await?;
        let caller = self.service_caller().await?;
        let mut events = match self.shared.watch(ics, cursor, &caller).await {
            Err(UpstreamError::CursorExpired(pruned)) => {
                tracing::warn!(ics = %ics, cursor, pruned, "events were pruned before the follower read them; assessing every trust afresh");
                return self.resync(ics, pruned).await;
            }
            other => other?,
        };
        while let Some(event) = events.next().await {
            let (seq, event) = event?;
            let caller = self.service_caller().await?;
            self.handle(ics, seq, event, &caller).await?;
            // A new revision or plan evidence may bring a notice due now.
            self.announce_own_ics().await;
        }
        Ok(())
    }

    /// Handles the event at `seq`: keeps what it says of its trust and records the assessment it
    /// leads to, unless the cursor has passed it already.
    async fn handle(&self, ics: &str, seq: i64, event: ConfigEvent, caller: &Caller) -> Result<()> {
        let c = self.db().conn();
        if store::follow_cursor(c, ics).await? >= seq {
            return Ok(());
        }
        let trust = match &event {
            ConfigEvent::Effective(e) => e.trust.clone(),
            ConfigEvent::Snapshot(s) => s.trust.clone(),
        };
        let mut state = store::trust_state(c, ics, &trust)
            .await?
            .unwrap_or_default();
        let trigger = match &event {
            ConfigEvent::Effective(e) => {
                state.baseline_revision = e.baseline_revision;
                state.overlay_revision = e.overlay_revision;
                state.effective_time = Some(e.publish_time);
                "effectiveConfig.published"
            }
            ConfigEvent::Snapshot(s) => {
                if state.effective_time.is_none() {
                    // The trust's revisions from before the retained events: as of the import.
                    state.baseline_revision = self
                        .shared
                        .revision_at(ics, "baseline", s.import_time, caller)
                        .await?;
                    state.overlay_revision = self
                        .shared
                        .revision_at(ics, &trust, s.import_time, caller)
                        .await?;
                }
                state.snapshot = s.name.clone();
                state.snapshot_time = Some(s.import_time);
                "snapshot.imported"
            }
        };
        let assessment = self
            .assess_state(ics, &trust, &state, caller, (trigger, seq))
            .await?;
        self.record(
            ics,
            Some(seq),
            Handled {
                trust,
                state,
                assessment,
            },
        )
        .await
    }

    /// The assessment of `trust` in `state` (none without a snapshot), at the later of its
    /// snapshot's import and its effective revision.
    async fn assess_state(
        &self,
        ics: &str,
        trust: &str,
        state: &TrustState,
        caller: &Caller,
        trigger: (&str, i64),
    ) -> Result<Option<(Assessment, Vec<Divergence>)>> {
        let Some(snapshot_time) = state.snapshot_time.filter(|_| !state.snapshot.is_empty()) else {
            return Ok(None);
        };
        let snapshot = SnapshotRef {
            name: state.snapshot.clone(),
            trust: trust.to_owned(),
            import_time: snapshot_time,
        };
        let point = Point {
            ics,
            trust,
            snapshot: &snapshot,
            baseline_revision: state.baseline_revision,
            overlay_revision: state.overlay_revision,
            at: state
                .effective_time
                .map_or(snapshot_time, |t| t.max(snapshot_time)),
        };
        Ok(Some(self.compute(&point, caller, trigger).await?))
    }

    /// Writes what an event led to and moves the cursor to `seq`, in one transaction under the
    /// ICS's follower lock; nothing if the cursor is there already. Without a `seq` (a resync),
    /// writes and leaves the cursor.
    async fn record(&self, ics: &str, seq: Option<i64>, handled: Handled) -> Result<()> {
        let ctx = system_context(ics);
        let _: u32 = self
            .writer
            .write(&ctx, "", |w| async move {
                w.lock(&format!("convergence.follow:{ics}")).await?;
                let c = w.txn();
                if let Some(seq) = seq
                    && store::follow_cursor(c, ics).await? >= seq
                {
                    return Ok::<_, ConvergenceError>(0);
                }
                let Handled {
                    trust,
                    state,
                    assessment,
                } = handled;
                store::set_trust_state(c, ics, &trust, &state).await?;
                let recorded = match assessment {
                    Some((mut a, divergences)) => {
                        a.id = uuid::Uuid::now_v7().simple().to_string();
                        a.record_time = Some(w.now());
                        store::insert_assessment(c, &a, &divergences).await?;
                        let settings = store::settings(c, ics).await?;
                        let name = super::assessments::assessment_name(&a);
                        let total = crate::domain::assessment::score(
                            &a.total().counts(&settings.weights),
                            &settings.grid,
                        );
                        w.audit(
                            "convergence.assess",
                            &name,
                            format!(
                                "{trust}'s snapshot {} assessed against baseline revision {} and overlay revision {}: {} keys, convergence {:.3}, {} divergences",
                                a.snapshot,
                                a.baseline_revision,
                                a.overlay_revision,
                                a.key_count,
                                total.convergence,
                                divergences.len()
                            ),
                        );
                        w.event(ics, &name, ASSESSMENT_RECORDED, (self.encode.assessment)(&a, &settings));
                        self.achieve_milestones(&w, &a, &name, &settings).await?;
                        1
                    }
                    None => 0,
                };
                if let Some(seq) = seq {
                    store::set_follow_cursor(c, ics, seq, w.now()).await?;
                }
                Ok(recorded)
            })
            .await?;
        Ok(())
    }

    /// After the events the follower had not read were pruned: assesses every trust of `ics` at
    /// its newest snapshot and revisions now, and moves the cursor to `pruned`.
    async fn resync(&self, ics: &str, pruned: i64) -> Result<()> {
        let caller = self.service_caller().await?;
        let now = self.writer.clock().now();
        for trust in self.trusts_of(ics) {
            let Some(snapshot) = self.shared.snapshot_at(ics, &trust, now, &caller).await? else {
                continue;
            };
            let state = TrustState {
                baseline_revision: self
                    .shared
                    .revision_at(ics, "baseline", now, &caller)
                    .await?,
                overlay_revision: self.shared.revision_at(ics, &trust, now, &caller).await?,
                effective_time: Some(now),
                snapshot: snapshot.name,
                snapshot_time: Some(snapshot.import_time),
            };
            let assessment = self
                .assess_state(ics, &trust, &state, &caller, ("resync", 0))
                .await?;
            self.record(
                ics,
                None,
                Handled {
                    trust,
                    state,
                    assessment,
                },
            )
            .await?;
        }
        let ctx = system_context(ics);
        let _: u32 = self
            .writer
            .write(&ctx, "", |w| async move {
                store::set_follow_cursor(w.txn(), ics, pruned, w.now()).await?;
                Ok::<_, ConvergenceError>(0)
            })
            .await?;
        Ok(())
    }
}
