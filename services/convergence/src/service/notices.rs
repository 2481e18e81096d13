//! Notices on WatchConvergence: each trust's variations lapsing within the ICS's notice period,
//! and plan milestones projected past their due dates — each announced once for each instant it
//! is about, in a write that records it (audited and evented together).

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::domain::plan;
use crate::domain::plans::{self as rules};
use crate::store;
use crate::upstream::Caller;

/// The kind of the event announcing a variation lapsing within the notice period.
pub const VARIATION_EXPIRING: &str = "variation.expiring";

/// The kind of the event announcing a milestone projected past its due date.
pub const MILESTONE_AT_RISK: &str = "milestone.at_risk";

/// Something WatchConvergence announces.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A trust's variation lapsing within the notice period.
    Expiring {
        /// The trust.
        trust: String,
        /// The item's kind.
        kind: String,
        /// The item's key.
        key: String,
        /// The change request that approved it.
        change_request: String,
        /// When it lapses.
        expire_time: DateTime<Utc>,
    },
    /// A milestone projected past its due date.
    AtRisk {
        /// The plan's name.
        plan: String,
        /// The milestone.
        milestone: String,
        /// Its trust.
        trust: String,
        /// Its domain.
        domain: String,
        /// When it is due.
        due_time: DateTime<Utc>,
        /// Its earliest finish.
        early_finish: DateTime<Utc>,
    },
}

impl Notice {
    /// The event kind, the subject and the instant it is about (what makes it once only), and
    /// the resource it is audited on.
    fn key(&self, ics: &str) -> (&'static str, String, DateTime<Utc>, String) {
        match self {
            Notice::Expiring {
                trust,
                kind,
                key,
                expire_time,
                ..
            } => (
                VARIATION_EXPIRING,
                format!("{trust}/{kind}/{key}"),
                *expire_time,
                format!("icss/{ics}/layers/{trust}"),
            ),
            Notice::AtRisk {
                plan,
                milestone,
                due_time,
                ..
            } => (
                MILESTONE_AT_RISK,
                format!("{plan}/{milestone}"),
                *due_time,
                plan.clone(),
            ),
        }
    }

    fn summary(&self) -> String {
        match self {
            Notice::Expiring {
                trust,
                kind,
                key,
                change_request,
                expire_time,
            } => format!(
                "{trust}'s variation of {kind}/{key} (approved under {change_request}) lapses at {}",
                expire_time.to_rfc3339()
            ),
            Notice::AtRisk {
                milestone,
                trust,
                domain,
                due_time,
                early_finish,
                ..
            } => format!(
                "milestone {milestone} ({trust} {domain}) due {} finishes at the earliest {}",
                due_time.to_rfc3339(),
                early_finish.to_rfc3339()
            ),
        }
    }
}

impl Convergence {
    /// What is due to be announced in `ics` now, read as `caller`.
    async fn notices_due(&self, ics: &str, caller: &Caller) -> Result<Vec<Notice>> {
        let c = self.db().conn();
        let settings = store::settings(c, ics).await?;
        let now = self.writer.clock().now();
        let horizon = now + Duration::days(i64::from(settings.notice_days));
        let mut out = Vec::new();
        for trust in self.trusts_of(ics) {
            let revision = self.shared.revision_at(ics, &trust, now, caller).await?;
            for ((kind, key), item) in self
                .shared
                .layer_items(ics, &trust, revision, caller)
                .await?
            {
                if let Some(expire_time) = item.expire_time.filter(|e| now < *e && *e <= horizon) {
                    out.push(Notice::Expiring {
                        trust: trust.clone(),
                        kind,
                        key,
                        change_request: item.change_request,
                        expire_time,
                    });
                }
            }
        }
        for p in store::plans(c, ics, None, 10_000).await? {
            let Ok(schedule) = plan::schedule(&rules::network(&p), &p.dependencies, |m| {
                m.estimate.most_likely
            }) else {
                continue;
            };
            for (m, e) in p.milestones.iter().zip(&schedule.entries) {
                let early_finish = rules::date_after(p.start_time, e.early_finish);
                if let Some(due_time) = m
                    .due_time
                    .filter(|due| m.achieved.is_none() && early_finish > *due)
                {
                    out.push(Notice::AtRisk {
                        plan: concordat_api::names::ConvergencePlanName::new(&p.ics, &p.id)
                            .to_string(),
                        milestone: m.id.clone(),
                        trust: m.trust.clone(),
                        domain: m.domain.clone(),
                        due_time,
                        early_finish,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Announces, in one write, what is due in `ics` and was not announced before. Returns how
    /// many notices it gave.
    pub(super) async fn announce(&self, ics: &str) -> Result<u32> {
        let caller = self.service_caller().await?;
        let due = self.notices_due(ics, &caller).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let ctx = system_context(ics);
        self.writer
            .write(&ctx, "", |w| async move {
                w.lock(&format!("convergence.notices:{ics}")).await?;
                let mut given = 0u32;
                for notice in &due {
                    let (kind, subject, at, resource) = notice.key(ics);
                    if store::record_notice(w.txn(), ics, (kind, &subject, at), w.now()).await? {
                        w.audit("convergence.notice", &resource, notice.summary());
                        w.event(ics, &resource, kind, (self.encode.notice)(notice));
                        given += 1;
                    }
                }
                Ok::<_, ConvergenceError>(given)
            })
            .await
    }
}
