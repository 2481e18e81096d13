//! Change control's errors as the client sees them: the one mapping from [`ChangeError`] to the
//! platform's [`ApiError`] (and so to a `tonic::Status` with its details).

use concordat_platform::error::ApiError;
use tonic::{Code, Status};

use crate::service::{ChangeError, DOMAIN};
use crate::store::StoreError;

impl From<ChangeError> for ApiError {
    fn from(err: ChangeError) -> Self {
        match err {
            ChangeError::Invalid(violations) => ApiError::invalid_fields(DOMAIN, violations),
            ChangeError::NotFound(name) => ApiError::not_found(DOMAIN, &name),
            ChangeError::Transition(t) => {
                let mut e = ApiError::new(
                    Code::FailedPrecondition,
                    DOMAIN,
                    "INVALID_TRANSITION",
                    t.to_string(),
                )
                .with_metadata("state", t.from.as_str())
                .with_metadata("allowed", t.allowed.join(","))
                .with_precondition_violation("STATE", t.from.as_str(), t.to_string());
                for method in &t.allowed {
                    e = e.with_precondition_violation(
                        "ALLOWED",
                        method,
                        format!("{method} is allowed in {}", t.from),
                    );
                }
                e
            }
            ChangeError::AlreadyVoted(trust, cr) => ApiError::new(
                Code::AlreadyExists,
                DOMAIN,
                "ALREADY_VOTED",
                format!(
                    "{trust} already voted on {cr}; a trust votes once (again only if its vote went stale)"
                ),
            )
            .with_metadata("trust", trust),
            ChangeError::AlreadyExists(name) | ChangeError::Store(StoreError::AlreadyExists(name)) => {
                ApiError::new(
                    Code::AlreadyExists,
                    DOMAIN,
                    "ALREADY_EXISTS",
                    format!("{name} already exists"),
                )
                .with_metadata("resource", name)
            }
            ChangeError::EtagMismatch(name) => ApiError::etag_mismatch(DOMAIN, &name),
            ChangeError::Precondition {
                reason,
                subject,
                message,
            } => ApiError::failed_precondition(DOMAIN, reason, &subject, message),
            ChangeError::Denied(api) => api,
            ChangeError::Refused(refusal) => refusal.into(),
            ChangeError::Conflicts(conflicts) => {
                let message = conflicts
                    .iter()
                    .map(|(_, _, d)| d.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut e =
                    ApiError::new(Code::FailedPrecondition, DOMAIN, "RELEASE_CONFLICT", message);
                for (kind, subject, description) in conflicts {
                    e = e.with_precondition_violation(&kind, &subject, description);
                }
                e
            }
            ChangeError::Store(StoreError::Conflict(name)) => ApiError::new(
                Code::Aborted,
                DOMAIN,
                "CONCURRENT_CHANGE",
                format!("{name} was changed concurrently; read it again and retry"),
            )
            .with_retry_after(std::time::Duration::from_millis(50)),
            ChangeError::Store(other) => ApiError::internal(other),
            ChangeError::Write(err) => err.into(),
        }
    }
}

impl From<ChangeError> for Status {
    fn from(err: ChangeError) -> Self {
        ApiError::from(err).into_status()
    }
}
