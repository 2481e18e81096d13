//! Votes: a member trust's vote, the chair's disposition of an objection, and the decision the
//! last vote needed makes.

use std::collections::BTreeMap;

use concordat_platform::authz::RequestContext;
use concordat_platform::write::{Reply, Write};

use super::{ChangeControl, ChangeError, Reason, Result, actor, invalid, parse_child, parse_name};
use crate::domain::change_request::{
    self as cr_domain, ChangeRequest, Decision, DesignAuthority, Disposition, Vote,
};
use crate::domain::decision::{self, Ballot, Choice, Outcome};
use crate::domain::lifecycle::{self, InvalidTransition, Move, State, Step};
use crate::store::{self, StoreError};

/// What a vote or disposition led to.
pub struct VoteResult {
    /// The vote.
    pub vote: Vote,
    /// The change request afterwards.
    pub change_request: ChangeRequest,
}

impl ChangeControl {
    /// Tries to decide a change request in DA_REVIEW after a vote or disposition, inside `w`.
    /// Returns the decided CR (not yet written) or `None` when it must wait.
    pub(super) async fn try_decide(
        &self,
        w: &Write,
        cr: &ChangeRequest,
        da: &DesignAuthority,
        closing: bool,
    ) -> Result<Option<(ChangeRequest, String)>> {
        let charter = store::charter_version(w.txn(), &cr.ics, &da.id, cr.charter_version)
            .await?
            .unwrap_or_else(|| da.charter.clone());
        let votes = store::votes(w.txn(), &cr.ics, &cr.id).await?;
        let counted: BTreeMap<String, Choice> = votes
            .iter()
            .filter(|v| !v.stale)
            .map(|v| (v.trust.clone(), v.choice))
            .collect();
        let members = da.member_trusts();
        let rule = charter.rule(cr.change_class);
        let outcome = decision::decide(&Ballot {
            members: &members,
            votes: &counted,
            threshold: rule.threshold,
            quorum_percent: charter.quorum_percent,
            silence: charter.silence,
            closing,
        });
        let undisposed: Vec<&str> = votes
            .iter()
            .filter(|v| !v.stale && v.choice == Choice::Reject && v.disposition.is_none())
            .map(|v| v.trust.as_str())
            .collect();
        let mut next = cr.clone();
        let summary = match outcome {
            Outcome::Pending => return Ok(None),
            Outcome::NoQuorum { rule } => {
                next.state = lifecycle::apply(cr.state, Move::NoQuorum)?;
                let count = |choice: Choice| {
                    let n = votes
                        .iter()
                        .filter(|v| !v.stale && v.choice == choice)
                        .count();
                    u32::try_from(n).unwrap_or(u32::MAX)
                };
                // Deferred, not decided: the decision records why, with the votes cast.
                next.decision = Some(Decision {
                    approved: false,
                    rule: format!("deferred: {rule}"),
                    approvals: count(Choice::Approve),
                    rejections: count(Choice::Reject),
                    abstentions: count(Choice::Abstain),
                    charter_version: charter.version,
                    decide_time: w.now(),
                });
                format!("{} deferred: {rule}", cr.number)
            }
            Outcome::Decided {
                approved,
                tally,
                rule: why,
            } => {
                if !undisposed.is_empty() {
                    if closing {
                        return Err(ChangeError::Precondition {
                            reason: Reason::ObjectionUndisposed,
                            subject: cr.name(),
                            message: format!(
                                "the objections of {} await the chair's disposition",
                                undisposed.join(", ")
                            ),
                        });
                    }
                    return Ok(None);
                }
                if approved {
                    let hazards = store::hazards(w.txn(), &cr.ics, &cr.id).await?;
                    let blockers = cr_domain::safety_blockers(cr, &charter, &hazards);
                    if !blockers.is_empty() {
                        if closing {
                            return Err(ChangeError::Precondition {
                                reason: Reason::SafetyNotCleared,
                                subject: cr.name(),
                                message: blockers.join("; "),
                            });
                        }
                        return Ok(None);
                    }
                }
                let board =
                    approved && charter.needs_board(cr.residual_risk, cr.cost_estimate_pence);
                next.state = lifecycle::apply(cr.state, Move::Decide { approved, board })?;
                next.decision = Some(Decision {
                    approved,
                    rule: why.clone(),
                    approvals: tally.approvals,
                    rejections: tally.rejections,
                    abstentions: tally.abstentions,
                    charter_version: charter.version,
                    decide_time: w.now(),
                });
                format!(
                    "{} {} by {} ({why}){}",
                    cr.number,
                    if approved { "approved" } else { "rejected" },
                    da.display_name,
                    if board {
                        "; the programme board must also approve"
                    } else {
                        ""
                    }
                )
            }
        };
        Ok(Some((next, summary)))
    }

    /// Casts the caller's trust's vote; the last vote needed decides.
    #[allow(clippy::too_many_arguments)]
    pub async fn cast_vote<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        choice: Choice,
        reason: String,
        comment: String,
        request_id: &str,
        reply: impl FnOnce(&VoteResult) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        if choice == Choice::Reject && reason.trim().is_empty() {
            return Err(invalid(
                "reason",
                "a rejection states its reason: it is an objection the chair must answer",
            ));
        }
        let Some(trust) = ctx.principal.trust.clone() else {
            return Err(ChangeError::Precondition {
                reason: Reason::TrustNotInvolved,
                subject: ctx.principal.subject.clone(),
                message: "votes are cast for a trust: your token names none".into(),
            });
        };
        self.writer
            .write(ctx, request_id, |w| async move {
                let cr = self.load_cr(w.txn(), &ics, &id, true).await?;
                let da = self.load_da(w.txn(), &ics, &cr.design_authority).await?;
                actor(ctx)
                    .may_vote(&da, &trust)
                    .map_err(|r| self.refuse(&w, parent, r))?;
                if cr.state == State::DaReview && cr.voting_deadline.is_some_and(|d| d <= w.now()) {
                    return Err(ChangeError::Precondition {
                        reason: Reason::VotingClosed,
                        subject: parent.to_owned(),
                        message: format!(
                            "voting on {} closed at its deadline; the chair closes the vote",
                            cr.number
                        ),
                    });
                }
                if cr.state != State::DaReview {
                    return Err(ChangeError::Transition(InvalidTransition::new(
                        cr.state,
                        Step::Vote,
                    )));
                }
                let vote = Vote {
                    trust: trust.clone(),
                    voter: ctx.principal.person(),
                    choice,
                    reason,
                    comment,
                    stale: false,
                    disposition: None,
                    disposition_note: String::new(),
                    cast_time: w.now(),
                };
                match store::insert_vote(w.txn(), &ics, &id, &vote).await {
                    Err(StoreError::AlreadyExists(_)) => {
                        return Err(ChangeError::AlreadyVoted(trust, cr.name()));
                    }
                    other => other?,
                }
                let (mut change_request, outcome, kind) =
                    match self.try_decide(&w, &cr, &da, false).await? {
                        Some((decided, summary)) => {
                            let kind = Self::state_kind(&decided);
                            (decided, summary, kind)
                        }
                        None => (
                            cr.clone(),
                            format!("{} vote by {trust}: {choice:?}", cr.number),
                            "changeRequest.voted".into(),
                        ),
                    };
                self.save(&w, &mut change_request, cr.version, &kind)
                    .await?;
                w.audit(
                    "vote.cast",
                    &format!("{}/votes/{trust}", cr.name()),
                    format!("{trust} voted {choice:?} on {}; {outcome}", cr.number),
                );
                Ok(reply(&VoteResult {
                    vote,
                    change_request,
                }))
            })
            .await
    }

    /// The chair's disposition of an objection; the last one the decision waited for decides.
    pub async fn dispose_objection<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        disposition: Disposition,
        note: String,
        request_id: &str,
        reply: impl FnOnce(&VoteResult) -> R,
    ) -> Result<R> {
        let (ics, id, trust) = parse_child("name", name, "votes")?;
        self.require_ics(ctx, &ics, name).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let (cr, da) = self
                    .chaired(&w, ctx, (&ics, &id), name, "disposes of objections")
                    .await?;
                let mut vote = store::votes(w.txn(), &ics, &id)
                    .await?
                    .into_iter()
                    .find(|v| v.trust == trust)
                    .ok_or_else(|| ChangeError::NotFound(name.to_owned()))?;
                if vote.choice != Choice::Reject {
                    return Err(ChangeError::Precondition {
                        reason: Reason::NotAnObjection,
                        subject: name.to_owned(),
                        message: "only a rejecting vote is an objection".into(),
                    });
                }
                vote.disposition = Some(disposition);
                vote.disposition_note = note;
                store::dispose(w.txn(), &ics, &id, &vote).await?;
                let decided = if cr.state == State::DaReview {
                    self.try_decide(&w, &cr, &da, false).await?
                } else {
                    None
                };
                let (mut change_request, kind) = match decided {
                    Some((decided, _)) => {
                        let kind = Self::state_kind(&decided);
                        (decided, kind)
                    }
                    None => (cr.clone(), "changeRequest.objectionDisposed".to_owned()),
                };
                self.save(&w, &mut change_request, cr.version, &kind)
                    .await?;
                w.audit(
                    "vote.dispose",
                    name,
                    format!(
                        "objection of {trust} on {} disposed of: {disposition:?}",
                        cr.number
                    ),
                );
                Ok(reply(&VoteResult {
                    vote,
                    change_request,
                }))
            })
            .await
    }

    /// The votes on a change request.
    pub async fn list_votes(&self, ctx: &RequestContext, parent: &str) -> Result<Vec<Vote>> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        self.load_cr(self.db().conn(), &ics, &id, false).await?;
        Ok(store::votes(self.db().conn(), &ics, &id).await?)
    }
}
