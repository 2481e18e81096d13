//! Change control's errors as the client sees them: the one mapping from [`ChangeError`] to the
//! platform's [`ApiError`] (and so to a `tonic::Status` with its details).

use concordat_platform::error::{ApiError, PLATFORM_DOMAIN, reason_name};
use concordat_proto::changecontrol::v1::ErrorReason as R;
use concordat_proto::platform::v1::ErrorReason as PlatformReason;
use tonic::{Code, Status};

use crate::domain::lifecycle::{InvalidTransition, Step};
use crate::service::{ChangeError, DOMAIN, Reason};
use crate::store::StoreError;

/// A change-control reason as its `ErrorInfo` reason.
fn reason_of(r: R) -> &'static str {
    reason_name(r.as_str_name())
}

/// The `ErrorInfo` domain and reason of a use case's [`Reason`]: values of the generated enums.
pub fn name_reason(reason: Reason) -> (&'static str, &'static str) {
    let r = match reason {
        Reason::TrustScope => {
            return (
                PLATFORM_DOMAIN,
                reason_name(PlatformReason::TrustScope.as_str_name()),
            );
        }
        Reason::TrustNotInvolved => R::TrustNotInvolved,
        Reason::TemplateNotApproved => R::TemplateNotApproved,
        Reason::InvalidTransition => R::InvalidTransition,
        Reason::SafetyNotCleared => R::SafetyNotCleared,
        Reason::AssessmentsOutstanding => R::AssessmentsOutstanding,
        Reason::VotingOpen => R::VotingOpen,
        Reason::VotingClosed => R::VotingClosed,
        Reason::ObjectionUndisposed => R::ObjectionUndisposed,
        Reason::NotAnObjection => R::NotAnObjection,
        Reason::AlreadySignedOff => R::AlreadySignedOff,
        Reason::NoReviewDue => R::NoReviewDue,
        Reason::NotTheChair => R::NotTheChair,
        Reason::NotAVotingMember => R::NotAVotingMember,
    };
    (DOMAIN, reason_of(r))
}

impl From<ChangeError> for ApiError {
    fn from(err: ChangeError) -> Self {
        match err {
            ChangeError::Invalid(violations) => ApiError::invalid_fields(DOMAIN, violations),
            ChangeError::NotFound(name) => ApiError::not_found(DOMAIN, &name),
            ChangeError::Transition(t) => transition(&t),
            ChangeError::AlreadyVoted(trust, cr) => ApiError::new(
                Code::AlreadyExists,
                DOMAIN,
                reason_of(R::AlreadyVoted),
                format!(
                    "{trust} already voted on {cr}; a trust votes once (again only if its vote went stale)"
                ),
            )
            .with_metadata("trust", trust),
            ChangeError::AlreadyExists(name) | ChangeError::Store(StoreError::AlreadyExists(name)) => {
                ApiError::new(
                    Code::AlreadyExists,
                    DOMAIN,
                    reason_of(R::AlreadyExists),
                    format!("{name} already exists"),
                )
                .with_metadata("resource", name)
            }
            ChangeError::EtagMismatch(name) => ApiError::etag_mismatch(DOMAIN, &name),
            ChangeError::Precondition {
                reason,
                subject,
                message,
            } => {
                let (domain, reason) = name_reason(reason);
                ApiError::failed_precondition(domain, reason, &subject, message)
            }
            ChangeError::Denied(api) => api,
            ChangeError::Refused(refusal) => refusal.into(),
            ChangeError::Conflicts(conflicts) => {
                let message = conflicts
                    .iter()
                    .map(|(_, _, d)| d.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut e =
                    ApiError::new(Code::FailedPrecondition, DOMAIN, reason_of(R::ReleaseConflict), message);
                for (kind, subject, description) in conflicts {
                    e = e.with_precondition_violation(&kind, &subject, description);
                }
                e
            }
            ChangeError::Store(StoreError::Conflict(name)) => ApiError::new(
                Code::Aborted,
                DOMAIN,
                reason_of(R::ConcurrentChange),
                format!("{name} was changed concurrently; read it again and retry"),
            )
            .with_retry_after(std::time::Duration::from_millis(50)),
            ChangeError::Store(other) => ApiError::internal(other),
            ChangeError::Write(err) => err.into(),
        }
    }
}

/// The API method that takes `step`.
pub(super) fn method(step: Step) -> &'static str {
    match step {
        Step::Submit => "SubmitChangeRequest",
        Step::StartAssessment => "StartImpactAssessment",
        Step::OpenVoting => "OpenVoting",
        Step::CloseVoting => "CloseVoting",
        Step::BoardDecision => "RecordBoardDecision",
        Step::ApproveEmergency => "ApproveEmergencyChange",
        Step::Schedule => "ScheduleChangeRequest",
        Step::ReportDeployment => "ReportDeployment",
        Step::Close => "CloseChangeRequest",
        Step::Withdraw => "WithdrawChangeRequest",
        Step::Defer => "DeferChangeRequest",
        Step::Reopen => "ReopenChangeRequest",
        Step::Assess => "SubmitImpactAssessment",
        Step::LogHazard => "CreateHazard",
        Step::Vote => "CastVote",
    }
}

/// A refused step: FAILED_PRECONDITION naming the state and the methods it allows.
fn transition(t: &InvalidTransition) -> ApiError {
    let allowed: Vec<&str> = t.allowed.iter().map(|s| method(*s)).collect();
    let message = format!(
        "{} is not allowed in state {}; allowed: {}",
        method(t.step),
        t.from,
        if allowed.is_empty() {
            "none (the change request is finished)".to_owned()
        } else {
            allowed.join(", ")
        }
    );
    let mut e = ApiError::new(
        Code::FailedPrecondition,
        DOMAIN,
        reason_of(R::InvalidTransition),
        message.clone(),
    )
    .with_metadata("state", t.from.as_str())
    .with_metadata("allowed", allowed.join(","))
    .with_precondition_violation("STATE", t.from.as_str(), message);
    for m in allowed {
        e = e.with_precondition_violation("ALLOWED", m, format!("{m} is allowed in {}", t.from));
    }
    e
}

impl From<ChangeError> for Status {
    fn from(err: ChangeError) -> Self {
        ApiError::from(err).into_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A refusal names the state and, by their API methods, the moves it allows.
    #[test]
    fn a_refusal_names_the_state_and_the_allowed_methods() {
        use crate::domain::lifecycle::{Move, State, apply};
        let status = transition(&apply(State::Draft, Move::OpenVoting).unwrap_err()).into_status();
        assert_eq!(
            status.message(),
            "OpenVoting is not allowed in state DRAFT; allowed: SubmitChangeRequest, WithdrawChangeRequest"
        );
        let status = transition(&apply(State::Closed, Move::Withdraw).unwrap_err()).into_status();
        assert!(
            status
                .message()
                .ends_with("none (the change request is finished)")
        );
    }

    /// Every reason change control can send is a value of its `ErrorReason` enum (or, under the
    /// platform's domain, of the platform's).
    #[test]
    fn every_reason_sent_is_listed_in_the_proto() {
        let mut sent: Vec<(&str, &str)> = Reason::ALL.iter().map(|r| name_reason(*r)).collect();
        sent.extend(
            concordat_platform::error::HELPER_REASONS
                .iter()
                .map(|r| (DOMAIN, *r)),
        );
        concordat_platform::testkit::assert_reasons_listed(&sent);
    }
}
