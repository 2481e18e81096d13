//! A measurement cell (one benefit, one trust, one month) and its states: DRAFT → SUBMITTED →
//! TRUST_VALIDATED (by that trust's benefits analyst or digital lead, not the submitter) →
//! ICS_ACCEPTED (by the ICS), with RETURNED and a reason at each step. A validated or accepted
//! cell is locked; reopening it (this one cell) needs a reason.

use std::fmt;

/// The state of a measurement cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Being written by the trust.
    Draft,
    /// Submitted for the trust's validation.
    Submitted,
    /// Validated by the trust: locked.
    TrustValidated,
    /// Accepted by the ICS: locked, and counted.
    IcsAccepted,
    /// Sent back with a reason, to be corrected and submitted again.
    Returned,
}

/// What someone does to a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Write or correct the value (draft or returned cells).
    Edit,
    /// Submit it for validation.
    Submit,
    /// Validate it for the trust.
    Validate,
    /// Accept it for the ICS.
    Accept,
    /// Send it back, with a reason.
    Return(String),
    /// Reopen a locked cell, with a reason: it becomes a draft again.
    Reopen(String),
}

/// Who acts, as the rules see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The subject (issuer and subject, as one key).
    pub subject: String,
    /// The trust they act for (`None`: ICS-level staff).
    pub trust: Option<String>,
    /// A benefits analyst or digital lead of their trust.
    pub trust_validator: bool,
    /// ICS-level staff who accept measurements.
    pub ics_acceptor: bool,
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not allowed in this state: the state and the actions that are.
    InvalidTransition(State, &'static [&'static str]),
    /// The cell is another trust's.
    TrustScope,
    /// Only the trust's benefits analyst or digital lead validates.
    NotValidator,
    /// The submitter cannot validate their own cell.
    OwnSubmission,
    /// Only the ICS accepts.
    NotAcceptor,
    /// A return or reopening needs a reason.
    ReasonRequired,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Draft => "DRAFT",
            State::Submitted => "SUBMITTED",
            State::TrustValidated => "TRUST_VALIDATED",
            State::IcsAccepted => "ICS_ACCEPTED",
            State::Returned => "RETURNED",
        })
    }
}

impl State {
    /// The state written as [`fmt::Display`] writes it.
    pub fn parse(name: &str) -> Option<State> {
        [
            State::Draft,
            State::Submitted,
            State::TrustValidated,
            State::IcsAccepted,
            State::Returned,
        ]
        .into_iter()
        .find(|s| s.to_string() == name)
    }
}

fn allowed(state: State) -> &'static [&'static str] {
    match state {
        State::Draft | State::Returned => &["Edit", "Submit"],
        State::Submitted => &["Validate", "Return"],
        State::TrustValidated => &["Accept", "Return", "Reopen"],
        State::IcsAccepted => &["Reopen"],
    }
}

/// The state after `actor` does `action` to a cell of `trust` in `state`, submitted by
/// `submitter` (if it was).
pub fn transition(
    state: State,
    (trust, submitter): (&str, Option<&str>),
    actor: &Actor,
    action: &Action,
) -> Result<State, Refusal> {
    let own_trust = actor.trust.as_deref() == Some(trust);
    let refuse = || Refusal::InvalidTransition(state, allowed(state));
    match (state, action) {
        (State::Draft | State::Returned, Action::Edit | Action::Submit) => {
            if !own_trust {
                return Err(Refusal::TrustScope);
            }
            Ok(if matches!(action, Action::Submit) {
                State::Submitted
            } else {
                state
            })
        }
        (State::Submitted, Action::Validate) => {
            if !own_trust {
                Err(Refusal::TrustScope)
            } else if !actor.trust_validator {
                Err(Refusal::NotValidator)
            } else if submitter == Some(actor.subject.as_str()) {
                Err(Refusal::OwnSubmission)
            } else {
                Ok(State::TrustValidated)
            }
        }
        (State::Submitted, Action::Return(reason)) => {
            if !own_trust || !actor.trust_validator {
                Err(if own_trust {
                    Refusal::NotValidator
                } else {
                    Refusal::TrustScope
                })
            } else if reason.trim().is_empty() {
                Err(Refusal::ReasonRequired)
            } else {
                Ok(State::Returned)
            }
        }
        (State::TrustValidated, Action::Accept) => {
            if actor.ics_acceptor {
                Ok(State::IcsAccepted)
            } else {
                Err(Refusal::NotAcceptor)
            }
        }
        (State::TrustValidated, Action::Return(reason)) => {
            if !actor.ics_acceptor {
                Err(Refusal::NotAcceptor)
            } else if reason.trim().is_empty() {
                Err(Refusal::ReasonRequired)
            } else {
                Ok(State::Returned)
            }
        }
        (State::TrustValidated | State::IcsAccepted, Action::Reopen(reason)) => {
            if !(actor.ics_acceptor || (own_trust && actor.trust_validator)) {
                Err(Refusal::NotValidator)
            } else if reason.trim().is_empty() {
                Err(Refusal::ReasonRequired)
            } else {
                Ok(State::Draft)
            }
        }
        _ => Err(refuse()),
    }
}

/// Whether a cell in `state` counts in a rollup: accepted, or validated where the ICS counts
/// validated cells too.
pub fn counts(state: State, validated_counts: bool) -> bool {
    state == State::IcsAccepted || (validated_counts && state == State::TrustValidated)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(subject: &str, trust: Option<&str>, validator: bool, acceptor: bool) -> Actor {
        Actor {
            subject: subject.into(),
            trust: trust.map(str::to_owned),
            trust_validator: validator,
            ics_acceptor: acceptor,
        }
    }

    #[test]
    fn a_cell_goes_from_draft_to_accepted_by_the_right_people() {
        let clerk = person("clerk", Some("RGT"), false, false);
        let analyst = person("analyst", Some("RGT"), true, false);
        let ics = person("ics", None, false, true);
        let cell = ("RGT", Some("clerk"));
        let s = transition(State::Draft, ("RGT", None), &clerk, &Action::Submit);
        assert_eq!(s, Ok(State::Submitted));
        assert_eq!(
            transition(State::Submitted, cell, &clerk, &Action::Validate),
            Err(Refusal::NotValidator)
        );
        let own = person("clerk", Some("RGT"), true, false);
        assert_eq!(
            transition(State::Submitted, cell, &own, &Action::Validate),
            Err(Refusal::OwnSubmission)
        );
        assert_eq!(
            transition(State::Submitted, cell, &analyst, &Action::Validate),
            Ok(State::TrustValidated)
        );
        assert_eq!(
            transition(State::TrustValidated, cell, &analyst, &Action::Accept),
            Err(Refusal::NotAcceptor)
        );
        assert_eq!(
            transition(State::TrustValidated, cell, &ics, &Action::Accept),
            Ok(State::IcsAccepted)
        );
        // Locked: editing an accepted cell is refused; reopening needs a reason.
        assert!(matches!(
            transition(State::IcsAccepted, cell, &clerk, &Action::Edit),
            Err(Refusal::InvalidTransition(State::IcsAccepted, _))
        ));
        assert_eq!(
            transition(State::IcsAccepted, cell, &ics, &Action::Reopen(" ".into())),
            Err(Refusal::ReasonRequired)
        );
        assert_eq!(
            transition(
                State::IcsAccepted,
                cell,
                &ics,
                &Action::Reopen("coding error".into())
            ),
            Ok(State::Draft)
        );
    }

    #[test]
    fn returns_need_a_reason_and_go_back_to_the_trust() {
        let analyst = person("analyst", Some("RGT"), true, false);
        let other = person("x", Some("RGM"), true, false);
        let ics = person("ics", None, false, true);
        let cell = ("RGT", Some("clerk"));
        assert_eq!(
            transition(State::Submitted, cell, &other, &Action::Return("no".into())),
            Err(Refusal::TrustScope)
        );
        assert_eq!(
            transition(
                State::Submitted,
                cell,
                &analyst,
                &Action::Return(String::new())
            ),
            Err(Refusal::ReasonRequired)
        );
        assert_eq!(
            transition(
                State::TrustValidated,
                cell,
                &ics,
                &Action::Return("evidence missing".into())
            ),
            Ok(State::Returned)
        );
        let clerk = person("clerk", Some("RGT"), false, false);
        assert_eq!(
            transition(State::Returned, cell, &clerk, &Action::Submit),
            Ok(State::Submitted)
        );
        assert!(counts(State::IcsAccepted, false));
        assert!(!counts(State::TrustValidated, false));
        assert!(counts(State::TrustValidated, true));
        assert!(!counts(State::Returned, true));
    }
}
