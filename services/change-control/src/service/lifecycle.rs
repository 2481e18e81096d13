//! Moving a change request through its lifecycle: submit, assess, vote, defer, reopen, withdraw,
//! the board's decision, emergency approval and review, and closing.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use concordat_platform::authz::RequestContext;
use concordat_platform::write::{Reply, Write};

use super::{ChangeControl, ChangeError, Reason, Result, actor, invalid, parse_name};
use crate::domain::change_request::{
    self as cr_domain, BoardDecision, ChangeRequest, ChangeType, Decision, DesignAuthority,
};
use crate::domain::lifecycle::{self, Move};
use crate::store;

/// A lifecycle move asked for by a caller.
#[derive(Debug, Clone)]
pub enum Command {
    /// DRAFT → SUBMITTED (a standard change is approved at once). The requesting trust.
    Submit,
    /// SUBMITTED → IMPACT_ASSESSMENT, due at the deadline or after the charter's days. The chair.
    StartAssessment {
        /// When assessments are due.
        deadline: Option<DateTime<Utc>>,
    },
    /// IMPACT_ASSESSMENT → DA_REVIEW once safety is cleared and assessments are in. The chair.
    OpenVoting {
        /// When voting closes.
        deadline: Option<DateTime<Utc>>,
    },
    /// Put aside. The chair.
    Defer {
        /// Why.
        reason: String,
    },
    /// DEFERRED → SUBMITTED. The requesting trust or the chair.
    Reopen,
    /// Withdrawn. The requesting trust.
    Withdraw {
        /// Why.
        reason: String,
    },
    /// DA_REVIEW → decided, at or after the deadline, applying the silence policy. The chair.
    CloseVoting,
    /// BOARD_REVIEW → APPROVED or REJECTED. The programme board.
    BoardDecision {
        /// Approved.
        approved: bool,
        /// The board minutes that record it.
        minutes_reference: String,
    },
    /// An emergency change approved at once, every hazard signed off. The chair.
    ApproveEmergency {
        /// Why it cannot wait for the design authority.
        justification: String,
    },
    /// An emergency change's retrospective review. The chair.
    CompleteReview {
        /// The review's conclusion.
        summary: String,
    },
    /// IMPLEMENTED → CLOSED. The chair.
    Close,
}

/// A [`Command`] for a change request.
pub struct Moving {
    /// The change request's name.
    pub name: String,
    /// The etag read (empty: any version).
    pub etag: String,
    /// The move.
    pub command: Command,
    /// Retry key.
    pub request_id: String,
}

/// The commands decided on the change request and its design authority alone.
#[derive(Debug, Clone)]
enum Plain {
    Submit,
    StartAssessment { deadline: Option<DateTime<Utc>> },
    OpenVoting { deadline: Option<DateTime<Utc>> },
    Defer { reason: String },
    Reopen,
    Withdraw { reason: String },
}

impl Plain {
    fn deadline(&self) -> Option<DateTime<Utc>> {
        match self {
            Plain::StartAssessment { deadline } | Plain::OpenVoting { deadline } => *deadline,
            _ => None,
        }
    }
}

impl ChangeControl {
    /// Applies a [`Command`].
    pub async fn move_change_request<R: Reply>(
        &self,
        ctx: &RequestContext,
        moving: Moving,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let Moving {
            name,
            etag,
            command,
            request_id,
        } = moving;
        let (name, request_id) = (name.as_str(), request_id.as_str());
        match command {
            Command::CloseVoting => self.close_voting(ctx, name, request_id, reply).await,
            Command::BoardDecision {
                approved,
                minutes_reference,
            } => {
                self.record_board_decision(
                    ctx,
                    name,
                    (approved, minutes_reference),
                    request_id,
                    reply,
                )
                .await
            }
            Command::ApproveEmergency { justification } => {
                self.approve_emergency(ctx, name, &justification, request_id, reply)
                    .await
            }
            Command::CompleteReview { summary } => {
                self.complete_review(ctx, name, &summary, request_id, reply)
                    .await
            }
            Command::Close => self.close(ctx, name, request_id, reply).await,
            Command::Submit => {
                self.plain(ctx, (name, &etag), Plain::Submit, request_id, reply)
                    .await
            }
            Command::StartAssessment { deadline } => {
                let plain = Plain::StartAssessment { deadline };
                self.plain(ctx, (name, &etag), plain, request_id, reply)
                    .await
            }
            Command::OpenVoting { deadline } => {
                let plain = Plain::OpenVoting { deadline };
                self.plain(ctx, (name, &etag), plain, request_id, reply)
                    .await
            }
            Command::Defer { reason } => {
                let plain = Plain::Defer { reason };
                self.plain(ctx, (name, &etag), plain, request_id, reply)
                    .await
            }
            Command::Reopen => {
                self.plain(ctx, (name, &etag), Plain::Reopen, request_id, reply)
                    .await
            }
            Command::Withdraw { reason } => {
                let plain = Plain::Withdraw { reason };
                self.plain(ctx, (name, &etag), plain, request_id, reply)
                    .await
            }
        }
    }

    /// A move decided on the change request and its design authority alone.
    async fn plain<R: Reply>(
        &self,
        ctx: &RequestContext,
        (name, etag): (&str, &str),
        command: Plain,
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if command.deadline().is_some_and(|d| d <= self.now()) {
            return Err(invalid("deadline", "must be in the future"));
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let current = self.load_cr(w.txn(), &ics, &id, true).await?;
                if !concordat_api::etag_matches(etag, current.version) {
                    return Err(ChangeError::EtagMismatch(name.to_owned()));
                }
                let da = self
                    .load_da(w.txn(), &ics, &current.design_authority)
                    .await?;
                let mut next = current.clone();
                let (mv, action, summary) = self
                    .command(&w, ctx, name, &current, &da, &mut next, command)
                    .await?;
                next.state = lifecycle::apply(current.state, mv)?;
                let kind = Self::state_kind(&next);
                self.save(&w, &mut next, current.version, &kind).await?;
                w.audit(action, name, summary);
                Ok(reply(&next))
            })
            .await
    }

    /// Who may make the move, what it changes beyond the state, and how it is audited.
    #[allow(clippy::too_many_arguments)]
    async fn command(
        &self,
        w: &Write,
        ctx: &RequestContext,
        name: &str,
        current: &ChangeRequest,
        da: &DesignAuthority,
        next: &mut ChangeRequest,
        command: Plain,
    ) -> Result<(Move, &'static str, String)> {
        let who = actor(ctx);
        let now = w.now();
        let allowed = match &command {
            Plain::Submit => who.must_request(current, "submits"),
            Plain::Withdraw { .. } => who.must_request(current, "withdraws"),
            Plain::Reopen => who.may_reopen(current, da),
            Plain::StartAssessment { .. } | Plain::OpenVoting { .. } | Plain::Defer { .. } => {
                who.must_chair(da, "may do this")
            }
        };
        allowed.map_err(|r| self.refuse(w, name, r))?;
        let number = &current.number;
        Ok(match command {
            Plain::Submit => {
                let standard = current.change_type == ChangeType::Standard;
                if standard {
                    // The state first: a refused move is explained as such.
                    lifecycle::apply(current.state, Move::Submit { standard })?;
                    let hazards = store::hazards(w.txn(), &current.ics, &current.id).await?;
                    let blockers = cr_domain::standard_blockers(current, &da.charter, &hazards);
                    if !blockers.is_empty() {
                        return Err(ChangeError::Precondition {
                            reason: Reason::TemplateNotApproved,
                            subject: name.to_owned(),
                            message: format!(
                                "a standard change is approved without a vote only when routine, \
                                 within the charter's safety limits and below its board \
                                 thresholds: {}; raise it as a normal change",
                                blockers.join("; ")
                            ),
                        });
                    }
                    next.decision = Some(Decision {
                        approved: true,
                        rule: format!(
                            "standard change from the pre-approved template {}",
                            current.standard_template
                        ),
                        approvals: 0,
                        rejections: 0,
                        abstentions: 0,
                        charter_version: da.charter.version,
                        decide_time: now,
                    });
                }
                let note = if standard {
                    " (standard change: approved)"
                } else {
                    ""
                };
                (
                    Move::Submit { standard },
                    "changeRequest.submit",
                    format!("{number} submitted to {}{note}", da.display_name),
                )
            }
            Plain::Withdraw { reason } => (
                Move::Withdraw,
                "changeRequest.withdraw",
                format!("{number} withdrawn: {reason}"),
            ),
            Plain::Reopen => (
                Move::Reopen,
                "changeRequest.reopen",
                format!("{number} reopened"),
            ),
            Plain::Defer { reason } => (
                Move::Defer,
                "changeRequest.defer",
                format!("{number} deferred: {reason}"),
            ),
            Plain::StartAssessment { deadline } => {
                let due =
                    deadline.unwrap_or(now + Duration::days(da.charter.assessment_days.into()));
                next.assessment_deadline = Some(due);
                (
                    Move::StartAssessment,
                    "changeRequest.startImpactAssessment",
                    format!(
                        "{number} impact assessment started, due {}",
                        due.format("%Y-%m-%d")
                    ),
                )
            }
            Plain::OpenVoting { deadline } => {
                // The state first: a refused move is explained as such.
                lifecycle::apply(current.state, Move::OpenVoting)?;
                let hazards = store::hazards(w.txn(), &current.ics, &current.id).await?;
                let blockers = cr_domain::safety_blockers(current, &da.charter, &hazards);
                if !blockers.is_empty() {
                    return Err(ChangeError::Precondition {
                        reason: Reason::SafetyNotCleared,
                        subject: name.to_owned(),
                        message: blockers.join("; "),
                    });
                }
                let assessed: BTreeSet<String> =
                    store::assessments(w.txn(), &current.ics, &current.id)
                        .await?
                        .into_iter()
                        .map(|a| a.trust)
                        .collect();
                let missing: Vec<String> = current
                    .affected_trusts
                    .iter()
                    .filter(|t| !assessed.contains(*t))
                    .cloned()
                    .collect();
                let deadline_passed = current.assessment_deadline.is_some_and(|d| d <= now);
                if !missing.is_empty() && !deadline_passed {
                    return Err(ChangeError::Precondition {
                        reason: Reason::AssessmentsOutstanding,
                        subject: name.to_owned(),
                        message: format!(
                            "impact assessments outstanding from {} until the deadline",
                            missing.join(", ")
                        ),
                    });
                }
                next.missing_assessment_trusts = missing;
                next.charter_version = da.charter.version;
                next.voting_deadline =
                    Some(deadline.unwrap_or(now + Duration::days(da.charter.voting_days.into())));
                (
                    Move::OpenVoting,
                    "changeRequest.openVoting",
                    format!(
                        "{number} voting opened under charter v{}",
                        da.charter.version
                    ),
                )
            }
        })
    }

    /// Closes voting at or after the deadline, applying the silence policy. The chair.
    async fn close_voting<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let (cr, da) = self
                    .chaired(&w, ctx, (&ics, &id), name, "closes voting")
                    .await?;
                lifecycle::apply(cr.state, Move::NoQuorum)?;
                if let Some(deadline) = cr.voting_deadline.filter(|d| *d > w.now()) {
                    return Err(ChangeError::Precondition {
                        reason: Reason::VotingOpen,
                        subject: name.to_owned(),
                        message: format!("voting is open until {}", deadline.to_rfc3339()),
                    });
                }
                let Some((mut decided, summary)) = self.try_decide(&w, &cr, &da, true).await?
                else {
                    return Err(ChangeError::Precondition {
                        reason: Reason::VotingOpen,
                        subject: name.to_owned(),
                        message: "voting cannot close yet".into(),
                    });
                };
                let kind = Self::state_kind(&decided);
                self.save(&w, &mut decided, cr.version, &kind).await?;
                w.audit("changeRequest.closeVoting", name, summary);
                Ok(reply(&decided))
            })
            .await
    }

    /// The programme board's decision.
    async fn record_board_decision<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        (approved, minutes_reference): (bool, String),
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if minutes_reference.trim().is_empty() {
            return Err(invalid(
                "minutes_reference",
                "a board decision cites its minutes",
            ));
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let cr = self.load_cr(w.txn(), &ics, &id, true).await?;
                let mut next = cr.clone();
                next.state = lifecycle::apply(cr.state, Move::BoardDecide { approved })?;
                let summary = format!(
                    "{} {} by the programme board ({minutes_reference})",
                    cr.number,
                    if approved { "approved" } else { "rejected" }
                );
                next.board_decision = Some(BoardDecision {
                    approved,
                    minutes_reference,
                    recorded_by: ctx.principal.person(),
                    decide_time: w.now(),
                });
                let kind = Self::state_kind(&next);
                self.save(&w, &mut next, cr.version, &kind).await?;
                w.audit("changeRequest.boardDecision", name, summary);
                Ok(reply(&next))
            })
            .await
    }

    /// The chair approves an emergency change; every hazard must be signed off by a CSO.
    async fn approve_emergency<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        justification: &str,
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if justification.trim().is_empty() {
            return Err(invalid(
                "justification",
                "say why the change cannot wait for the design authority",
            ));
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let (cr, da) = self
                    .chaired(&w, ctx, (&ics, &id), name, "approves emergencies")
                    .await?;
                if cr.change_type != ChangeType::Emergency {
                    return Err(ChangeError::Precondition {
                        reason: Reason::InvalidTransition,
                        subject: name.to_owned(),
                        message: format!("{} is not an emergency change", cr.number),
                    });
                }
                let state = lifecycle::apply(cr.state, Move::ApproveEmergency)?;
                let hazards = store::hazards(w.txn(), &ics, &id).await?;
                let blockers = cr_domain::emergency_blockers(&cr, &da.charter, &hazards);
                if !blockers.is_empty() {
                    return Err(ChangeError::Precondition {
                        reason: Reason::SafetyNotCleared,
                        subject: name.to_owned(),
                        message: blockers.join("; "),
                    });
                }
                let now = w.now();
                let mut next = cr.clone();
                next.state = state;
                next.decision = Some(Decision {
                    approved: true,
                    rule: format!(
                        "emergency approval by the chair of {}: {justification}",
                        da.display_name
                    ),
                    approvals: 0,
                    rejections: 0,
                    abstentions: 0,
                    charter_version: da.charter.version,
                    decide_time: now,
                });
                next.retrospective_review_deadline =
                    Some(now + Duration::days(da.charter.emergency_review_days.into()));
                self.save(&w, &mut next, cr.version, "changeRequest.approved")
                    .await?;
                w.audit(
                    "changeRequest.approveEmergency",
                    name,
                    format!(
                        "{} approved as an emergency by {}: {justification}",
                        cr.number,
                        ctx.principal.person()
                    ),
                );
                Ok(reply(&next))
            })
            .await
    }

    /// The chair records an emergency change's retrospective review.
    async fn complete_review<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        review: &str,
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if review.trim().is_empty() {
            return Err(invalid("summary", "record the review's conclusion"));
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let (cr, _) = self
                    .chaired(&w, ctx, (&ics, &id), name, "reviews emergencies")
                    .await?;
                if cr.retrospective_review_deadline.is_none()
                    || cr.retrospective_review_time.is_some()
                {
                    return Err(ChangeError::Precondition {
                        reason: Reason::NoReviewDue,
                        subject: name.to_owned(),
                        message: format!("no retrospective review is due for {}", cr.number),
                    });
                }
                let now = w.now();
                let late = cr.retrospective_review_deadline.is_some_and(|d| d < now);
                let mut next = cr.clone();
                next.retrospective_review_time = Some(now);
                self.save(&w, &mut next, cr.version, "changeRequest.reviewed")
                    .await?;
                let late = if late { " after its deadline" } else { "" };
                w.audit(
                    "changeRequest.retrospectiveReview",
                    name,
                    format!(
                        "{} retrospective review completed{late}: {review}",
                        cr.number
                    ),
                );
                Ok(reply(&next))
            })
            .await
    }

    /// IMPLEMENTED → CLOSED by the chair.
    async fn close<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        request_id: &str,
        reply: impl FnOnce(&ChangeRequest) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let (cr, _) = self
                    .chaired(&w, ctx, (&ics, &id), name, "closes its change requests")
                    .await?;
                let mut next = cr.clone();
                next.state = lifecycle::apply(cr.state, Move::Close)?;
                self.save(&w, &mut next, cr.version, "changeRequest.closed")
                    .await?;
                w.audit("changeRequest.close", name, format!("{} closed", cr.number));
                Ok(reply(&next))
            })
            .await
    }
}
