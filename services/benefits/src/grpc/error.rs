//! Benefits' errors as the client sees them: the one mapping from [`BenefitsError`] to the
//! platform's [`ApiError`], every reason a value of the proto's generated `ErrorReason`.

use concordat_platform::error::{ApiError, reason_name};
use concordat_proto::benefits::v1::ErrorReason as R;
use tonic::Code;

use crate::service::{BenefitsError, DOMAIN, Reason};
use crate::upstream::UpstreamError;

fn reason_of(r: R) -> &'static str {
    reason_name(r.as_str_name())
}

/// A refusal's `ErrorInfo` reason.
pub fn name_reason(reason: Reason) -> &'static str {
    reason_of(match reason {
        Reason::TrustScope => R::TrustScope,
        Reason::NotAValidator => R::NotAValidator,
        Reason::OwnSubmission => R::OwnSubmission,
        Reason::NotAnAcceptor => R::NotAnAcceptor,
    })
}

impl From<BenefitsError> for ApiError {
    fn from(err: BenefitsError) -> Self {
        match err {
            BenefitsError::Invalid(violations) => ApiError::invalid_fields(DOMAIN, violations),
            BenefitsError::NotFound(name) => ApiError::not_found(DOMAIN, &name),
            BenefitsError::AlreadyExists(name) => ApiError::new(
                Code::AlreadyExists,
                DOMAIN,
                reason_of(R::AlreadyExists),
                format!("{name} already exists"),
            )
            .with_metadata("resource", name),
            BenefitsError::EtagMismatch(name) => ApiError::new(
                Code::Aborted,
                DOMAIN,
                reason_of(R::EtagMismatch),
                format!(
                    "{name} has changed since it was read: read it again and reapply the change"
                ),
            ),
            BenefitsError::InvalidTransition {
                resource,
                action,
                state,
                allowed,
            } => {
                let allowed: Vec<&str> = allowed
                    .iter()
                    .map(|a| if *a == "Edit" { "Save" } else { a })
                    .collect();
                ApiError::new(
                    Code::FailedPrecondition,
                    DOMAIN,
                    reason_of(R::InvalidTransition),
                    format!(
                        "{action} is not allowed on a {state} measurement; allowed: {}",
                        allowed.join(", ")
                    ),
                )
                .with_precondition_violation(
                    "STATE",
                    &resource,
                    format!("the measurement is {state}"),
                )
            }
            BenefitsError::NotValued { subject, message } => ApiError::new(
                Code::FailedPrecondition,
                DOMAIN,
                reason_of(R::NotValued),
                message.clone(),
            )
            .with_precondition_violation(reason_of(R::NotValued), &subject, message),
            BenefitsError::Refused(refusal) => refusal.into(),
            BenefitsError::Upstream(UpstreamError::Refused { subject, message }) => ApiError::new(
                Code::FailedPrecondition,
                DOMAIN,
                reason_of(R::UpstreamRefused),
                format!("an upstream refused a read: {subject}: {message}"),
            )
            .with_precondition_violation(reason_of(R::UpstreamRefused), &subject, message),
            BenefitsError::Upstream(UpstreamError::Unavailable(message)) => ApiError::new(
                Code::Unavailable,
                DOMAIN,
                reason_of(R::UpstreamUnavailable),
                format!("change control or shared configuration could not be read: {message}"),
            )
            .with_retry_after(std::time::Duration::from_secs(1)),
            BenefitsError::Denied(api) => api,
            BenefitsError::Store(other) => ApiError::internal(other),
            BenefitsError::Write(err) => err.into(),
        }
    }
}
