//! "My actions": what awaits a person, derived from the state of each change request.

use chrono::{DateTime, Utc};

use super::change_request::{ChangeRequest, DesignAuthority, Hazard, ImpactAssessment, Vote};
use super::decision::Choice;
use super::lifecycle::State;

pub use super::standing::Actor;

/// A kind of action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Assess for your trust.
    Assess,
    /// Vote for your trust.
    Vote,
    /// Sign a hazard off.
    SignOffHazard,
    /// Dispose of an objection.
    DisposeObjection,
    /// A chair's move is due.
    Chair,
    /// The board's decision is due.
    BoardDecision,
    /// Report deployment.
    ReportDeployment,
    /// Complete a retrospective review.
    RetrospectiveReview,
}

/// One thing awaiting the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// What.
    pub kind: ActionKind,
    /// Due.
    pub due: Option<DateTime<Utc>>,
    /// For people.
    pub description: String,
}

/// What a change request asks of `actor`.
pub fn actions(
    actor: &Actor<'_>,
    cr: &ChangeRequest,
    da: &DesignAuthority,
    assessments: &[ImpactAssessment],
    hazards: &[Hazard],
    votes: &[Vote],
    now: DateTime<Utc>,
) -> Vec<Action> {
    let mut out = Vec::new();
    let mut add = |kind, due, description: String| {
        out.push(Action {
            kind,
            due,
            description,
        })
    };
    let own = actor.trust.filter(|t| cr.affected_trusts.contains(*t));
    let is_chair = actor.chairs(da);
    match cr.state {
        State::Submitted if is_chair => {
            add(ActionKind::Chair, None, "start impact assessment".into())
        }
        State::ImpactAssessment => {
            if let Some(trust) = own
                && actor.assessor
                && !assessments.iter().any(|a| a.trust == trust)
            {
                add(
                    ActionKind::Assess,
                    cr.assessment_deadline,
                    format!("assess for {trust}"),
                );
            }
            let all_in = cr
                .affected_trusts
                .iter()
                .all(|t| assessments.iter().any(|a| &a.trust == t));
            let overdue = cr.assessment_deadline.is_some_and(|d| d <= now);
            if is_chair && (all_in || overdue) {
                add(ActionKind::Chair, None, "open voting".into());
            }
        }
        State::DaReview => {
            if let Some(trust) = actor.trust
                && actor.da_member
                && da.may_vote(trust, &actor.person)
                && !votes.iter().any(|v| v.trust == trust && !v.stale)
            {
                let again = votes.iter().any(|v| v.trust == trust && v.stale);
                let what = if again {
                    "vote again (your earlier vote went stale)"
                } else {
                    "vote"
                };
                add(
                    ActionKind::Vote,
                    cr.voting_deadline,
                    format!("{what} for {trust}"),
                );
            }
            if is_chair {
                for v in votes
                    .iter()
                    .filter(|v| !v.stale && v.choice == Choice::Reject && v.disposition.is_none())
                {
                    add(
                        ActionKind::DisposeObjection,
                        None,
                        format!("dispose of the objection of {}", v.trust),
                    );
                }
                if cr.voting_deadline.is_some_and(|d| d <= now) {
                    add(
                        ActionKind::Chair,
                        None,
                        "close voting: the deadline has passed".into(),
                    );
                }
            }
        }
        State::BoardReview if actor.board => add(
            ActionKind::BoardDecision,
            None,
            "decide as the programme board".into(),
        ),
        State::Scheduled => {
            if let Some(trust) = own
                && actor.deployer
                && !cr
                    .deployments
                    .iter()
                    .any(|d| d.trust == trust && d.deployed)
            {
                add(
                    ActionKind::ReportDeployment,
                    None,
                    format!("report deployment at {trust}"),
                );
            }
        }
        _ => {}
    }
    if own.is_some() && actor.cso && cr.state.editable() {
        for h in hazards.iter().filter(|h| h.signed_off_by.is_none()) {
            add(
                ActionKind::SignOffHazard,
                None,
                format!("sign off hazard: {}", h.description),
            );
        }
    }
    if is_chair
        && cr.retrospective_review_deadline.is_some()
        && cr.retrospective_review_time.is_none()
    {
        add(
            ActionKind::RetrospectiveReview,
            cr.retrospective_review_deadline,
            "complete the retrospective review".into(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::change_request::tests::{sample, who};
    use crate::domain::charter::tests::medicines;
    use std::collections::{BTreeMap, BTreeSet};

    fn da() -> DesignAuthority {
        let now = Utc::now();
        DesignAuthority {
            ics: "QUE".into(),
            id: "medicines".into(),
            display_name: "Medicines".into(),
            domains: vec!["medicines".into()],
            members: BTreeMap::from([
                ("RGT".into(), BTreeSet::from([who("v-rgt")])),
                ("RGM".into(), BTreeSet::from([who("v-rgm")])),
            ]),
            chair: who("chair"),
            charter: medicines(),
            version: 1,
            create_time: now,
            update_time: now,
        }
    }

    fn actor<'a>(subject: &'a str, trust: Option<&'a str>) -> Actor<'a> {
        Actor {
            person: who(subject),
            trust,
            assessor: false,
            da_member: false,
            da_chair: false,
            cso: false,
            board: false,
            deployer: false,
            digital_lead: false,
            ics_admin: false,
        }
    }

    #[test]
    fn a_voting_member_is_asked_to_vote_until_they_have() {
        let mut cr = sample();
        cr.state = State::DaReview;
        let mut a = actor("v-rgm", Some("RGM"));
        a.da_member = true;
        let got = actions(&a, &cr, &da(), &[], &[], &[], Utc::now());
        assert_eq!(got.len(), 1);
        assert_eq!(
            (got[0].kind, got[0].description.as_str()),
            (ActionKind::Vote, "vote for RGM")
        );
        let vote = Vote {
            trust: "RGM".into(),
            voter: who("v-rgm"),
            choice: Choice::Approve,
            reason: String::new(),
            comment: String::new(),
            stale: false,
            disposition: None,
            disposition_note: String::new(),
            cast_time: Utc::now(),
        };
        assert!(
            actions(
                &a,
                &cr,
                &da(),
                &[],
                &[],
                std::slice::from_ref(&vote),
                Utc::now()
            )
            .is_empty()
        );
        let stale = Vote {
            stale: true,
            ..vote
        };
        let got = actions(&a, &cr, &da(), &[], &[], &[stale], Utc::now());
        assert!(got[0].description.contains("again"));
    }

    #[test]
    fn the_chair_is_asked_for_objections_and_overdue_closes_only() {
        let mut cr = sample();
        cr.state = State::DaReview;
        let mut chair = actor("chair", Some("RGT"));
        chair.da_chair = true;
        assert!(actions(&chair, &cr, &da(), &[], &[], &[], Utc::now()).is_empty());
        cr.voting_deadline = Some(Utc::now() - chrono::Duration::hours(1));
        let got = actions(&chair, &cr, &da(), &[], &[], &[], Utc::now());
        assert_eq!(got[0].kind, ActionKind::Chair);
        let mut other_chair = actor("someone", Some("RGT"));
        other_chair.da_chair = true;
        assert!(
            actions(&other_chair, &cr, &da(), &[], &[], &[], Utc::now()).is_empty(),
            "only this authority's chair"
        );
    }
}
