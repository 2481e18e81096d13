//! The change request lifecycle: states and the moves between them.

use std::fmt;

/// Where a change request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// Being written.
    Draft,
    /// Awaiting the chair.
    Submitted,
    /// Affected trusts assess.
    ImpactAssessment,
    /// Member trusts vote.
    DaReview,
    /// Awaiting the programme board.
    BoardReview,
    /// Approved.
    Approved,
    /// In a release.
    Scheduled,
    /// Deployed everywhere.
    Implemented,
    /// Done.
    Closed,
    /// Rejected.
    Rejected,
    /// Withdrawn.
    Withdrawn,
    /// Put aside.
    Deferred,
}

/// Every state.
pub const ALL_STATES: [State; 12] = [
    State::Draft,
    State::Submitted,
    State::ImpactAssessment,
    State::DaReview,
    State::BoardReview,
    State::Approved,
    State::Scheduled,
    State::Implemented,
    State::Closed,
    State::Rejected,
    State::Withdrawn,
    State::Deferred,
];

impl State {
    /// The API name, e.g. `DA_REVIEW`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "DRAFT",
            State::Submitted => "SUBMITTED",
            State::ImpactAssessment => "IMPACT_ASSESSMENT",
            State::DaReview => "DA_REVIEW",
            State::BoardReview => "BOARD_REVIEW",
            State::Approved => "APPROVED",
            State::Scheduled => "SCHEDULED",
            State::Implemented => "IMPLEMENTED",
            State::Closed => "CLOSED",
            State::Rejected => "REJECTED",
            State::Withdrawn => "WITHDRAWN",
            State::Deferred => "DEFERRED",
        }
    }

    /// Parses an API name.
    pub fn parse(s: &str) -> Option<State> {
        ALL_STATES.into_iter().find(|st| st.as_str() == s)
    }

    /// True while the request may still be edited.
    pub fn editable(self) -> bool {
        matches!(
            self,
            State::Draft
                | State::Submitted
                | State::ImpactAssessment
                | State::DaReview
                | State::Deferred
        )
    }

    /// True once nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(self, State::Closed | State::Rejected | State::Withdrawn)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A move of the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Move {
    /// Submit a draft (a standard change is approved at once).
    Submit {
        /// From an approved standard template.
        standard: bool,
    },
    /// Start impact assessment.
    StartAssessment,
    /// Open voting.
    OpenVoting,
    /// The design authority decided.
    Decide {
        /// Approved.
        approved: bool,
        /// The charter sends it to the board.
        board: bool,
    },
    /// Voting closed short of quorum.
    NoQuorum,
    /// The board decided.
    BoardDecide {
        /// Approved.
        approved: bool,
    },
    /// Emergency approval by the chair.
    ApproveEmergency,
    /// Scheduled into a release.
    Schedule,
    /// Every affected trust deployed.
    Implement,
    /// Closed.
    Close,
    /// Withdrawn by the requester.
    Withdraw,
    /// Deferred by the chair.
    Defer,
    /// Reopened after deferral.
    Reopen,
}

/// What a caller asks of a change request that its state must allow: each lifecycle move, and
/// the work done on a change request in a state (assessing it, logging a hazard, voting). The
/// adapter names the API method of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Submit the draft.
    Submit,
    /// Start impact assessment.
    StartAssessment,
    /// Open voting.
    OpenVoting,
    /// Close voting (a decision, or no quorum).
    CloseVoting,
    /// Record the board's decision.
    BoardDecision,
    /// Approve as an emergency.
    ApproveEmergency,
    /// Schedule into a release.
    Schedule,
    /// Report a trust's deployment.
    ReportDeployment,
    /// Close.
    Close,
    /// Withdraw.
    Withdraw,
    /// Defer.
    Defer,
    /// Reopen.
    Reopen,
    /// Submit an impact assessment.
    Assess,
    /// Log a hazard.
    LogHazard,
    /// Cast a vote.
    Vote,
}

impl Move {
    /// The step that makes the move.
    pub fn step(self) -> Step {
        match self {
            Move::Submit { .. } => Step::Submit,
            Move::StartAssessment => Step::StartAssessment,
            Move::OpenVoting => Step::OpenVoting,
            Move::Decide { .. } | Move::NoQuorum => Step::CloseVoting,
            Move::BoardDecide { .. } => Step::BoardDecision,
            Move::ApproveEmergency => Step::ApproveEmergency,
            Move::Schedule => Step::Schedule,
            Move::Implement => Step::ReportDeployment,
            Move::Close => Step::Close,
            Move::Withdraw => Step::Withdraw,
            Move::Defer => Step::Defer,
            Move::Reopen => Step::Reopen,
        }
    }

    /// One of each kind of move, for listing what a state allows.
    pub const KINDS: [Move; 13] = [
        Move::Submit { standard: false },
        Move::StartAssessment,
        Move::OpenVoting,
        Move::Decide {
            approved: true,
            board: false,
        },
        Move::NoQuorum,
        Move::BoardDecide { approved: true },
        Move::ApproveEmergency,
        Move::Schedule,
        Move::Implement,
        Move::Close,
        Move::Withdraw,
        Move::Defer,
        Move::Reopen,
    ];
}

/// A step the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step:?} is not allowed in state {from}; allowed: {allowed:?}")]
pub struct InvalidTransition {
    /// The current state.
    pub from: State,
    /// The refused step.
    pub step: Step,
    /// The moves the state allows, as steps.
    pub allowed: Vec<Step>,
}

impl InvalidTransition {
    /// `step` refused in state `from`.
    pub fn new(from: State, step: Step) -> Self {
        Self {
            from,
            step,
            allowed: allowed_steps(from),
        }
    }
}

/// The state after `mv` from `from`, or why not.
pub fn apply(from: State, mv: Move) -> Result<State, InvalidTransition> {
    next(from, mv).ok_or_else(|| InvalidTransition::new(from, mv.step()))
}

/// The state after `mv` from `from`, when the move is allowed.
fn next(from: State, mv: Move) -> Option<State> {
    use State::*;
    match (from, mv) {
        (Draft, Move::Submit { standard: true }) => Some(Approved),
        (Draft, Move::Submit { standard: false }) => Some(Submitted),
        (Submitted, Move::StartAssessment) => Some(ImpactAssessment),
        (ImpactAssessment, Move::OpenVoting) => Some(DaReview),
        (
            DaReview,
            Move::Decide {
                approved: false, ..
            },
        ) => Some(Rejected),
        (
            DaReview,
            Move::Decide {
                approved: true,
                board: true,
            },
        ) => Some(BoardReview),
        (
            DaReview,
            Move::Decide {
                approved: true,
                board: false,
            },
        ) => Some(Approved),
        (DaReview, Move::NoQuorum) => Some(Deferred),
        (BoardReview, Move::BoardDecide { approved: true }) => Some(Approved),
        (BoardReview, Move::BoardDecide { approved: false }) => Some(Rejected),
        (Submitted | ImpactAssessment | DaReview, Move::ApproveEmergency) => Some(Approved),
        (Approved, Move::Schedule) => Some(Scheduled),
        (Scheduled, Move::Implement) => Some(Implemented),
        (Implemented, Move::Close) => Some(Closed),
        (Draft | Submitted | ImpactAssessment | DaReview | Deferred, Move::Withdraw) => {
            Some(Withdrawn)
        }
        (Submitted | ImpactAssessment | DaReview, Move::Defer) => Some(Deferred),
        (Deferred, Move::Reopen) => Some(Submitted),
        _ => None,
    }
}

/// The steps that move a change request on from `state`, in lifecycle order.
pub fn allowed_steps(state: State) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let variants = |m: Move| -> Vec<Move> {
        match m {
            Move::Submit { .. } => vec![
                Move::Submit { standard: false },
                Move::Submit { standard: true },
            ],
            Move::Decide { .. } => vec![
                Move::Decide {
                    approved: true,
                    board: false,
                },
                Move::Decide {
                    approved: true,
                    board: true,
                },
                Move::Decide {
                    approved: false,
                    board: false,
                },
            ],
            Move::BoardDecide { .. } => {
                vec![
                    Move::BoardDecide { approved: true },
                    Move::BoardDecide { approved: false },
                ]
            }
            other => vec![other],
        }
    };
    for kind in Move::KINDS {
        if variants(kind).into_iter().any(|m| next(state, m).is_some())
            && !steps.contains(&kind.step())
        {
            steps.push(kind.step());
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use State::*;

    /// The whole table: every (state, move) pair that is allowed, with its result. Everything
    /// else must be refused.
    fn expected() -> Vec<(State, Move, State)> {
        vec![
            (Draft, Move::Submit { standard: false }, Submitted),
            (Draft, Move::Submit { standard: true }, Approved),
            (Submitted, Move::StartAssessment, ImpactAssessment),
            (ImpactAssessment, Move::OpenVoting, DaReview),
            (
                DaReview,
                Move::Decide {
                    approved: true,
                    board: false,
                },
                Approved,
            ),
            (
                DaReview,
                Move::Decide {
                    approved: true,
                    board: true,
                },
                BoardReview,
            ),
            (
                DaReview,
                Move::Decide {
                    approved: false,
                    board: false,
                },
                Rejected,
            ),
            (
                DaReview,
                Move::Decide {
                    approved: false,
                    board: true,
                },
                Rejected,
            ),
            (DaReview, Move::NoQuorum, Deferred),
            (BoardReview, Move::BoardDecide { approved: true }, Approved),
            (BoardReview, Move::BoardDecide { approved: false }, Rejected),
            (Submitted, Move::ApproveEmergency, Approved),
            (ImpactAssessment, Move::ApproveEmergency, Approved),
            (DaReview, Move::ApproveEmergency, Approved),
            (Approved, Move::Schedule, Scheduled),
            (Scheduled, Move::Implement, Implemented),
            (Implemented, Move::Close, Closed),
            (Draft, Move::Withdraw, Withdrawn),
            (Submitted, Move::Withdraw, Withdrawn),
            (ImpactAssessment, Move::Withdraw, Withdrawn),
            (DaReview, Move::Withdraw, Withdrawn),
            (Deferred, Move::Withdraw, Withdrawn),
            (Submitted, Move::Defer, Deferred),
            (ImpactAssessment, Move::Defer, Deferred),
            (DaReview, Move::Defer, Deferred),
            (Deferred, Move::Reopen, Submitted),
        ]
    }

    fn every_move() -> Vec<Move> {
        let mut moves = vec![
            Move::Submit { standard: false },
            Move::Submit { standard: true },
        ];
        for approved in [true, false] {
            for board in [true, false] {
                moves.push(Move::Decide { approved, board });
            }
            moves.push(Move::BoardDecide { approved });
        }
        moves.extend([
            Move::StartAssessment,
            Move::OpenVoting,
            Move::NoQuorum,
            Move::ApproveEmergency,
            Move::Schedule,
            Move::Implement,
            Move::Close,
            Move::Withdraw,
            Move::Defer,
            Move::Reopen,
        ]);
        moves
    }

    #[test]
    fn every_allowed_and_forbidden_transition() {
        let table = expected();
        let mut checked = 0;
        for from in ALL_STATES {
            for mv in every_move() {
                let want = table
                    .iter()
                    .find(|(f, m, _)| *f == from && *m == mv)
                    .map(|(_, _, to)| *to);
                match (apply(from, mv), want) {
                    (Ok(to), Some(want)) => assert_eq!(to, want, "{from} {mv:?}"),
                    (Err(err), None) => {
                        assert_eq!(err.from, from);
                        assert_eq!(err.allowed, allowed_steps(from));
                    }
                    (got, want) => panic!("{from} {mv:?}: got {got:?}, want {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 12 * 18, "every state against every move");
    }

    #[test]
    fn a_refusal_names_the_state_and_the_allowed_steps() {
        let err = apply(Draft, Move::OpenVoting).unwrap_err();
        assert_eq!(
            err,
            InvalidTransition {
                from: Draft,
                step: Step::OpenVoting,
                allowed: vec![Step::Submit, Step::Withdraw],
            }
        );
        assert_eq!(
            apply(Closed, Move::Withdraw).unwrap_err().allowed,
            Vec::<Step>::new()
        );
    }

    #[test]
    fn finished_states_allow_nothing() {
        for state in ALL_STATES.into_iter().filter(|s| s.is_final()) {
            assert!(allowed_steps(state).is_empty(), "{state}");
        }
    }

    #[test]
    fn state_names_round_trip() {
        for state in ALL_STATES {
            assert_eq!(State::parse(state.as_str()), Some(state));
        }
    }
}
