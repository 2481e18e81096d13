//! Convergence's errors as the client sees them: the one mapping from [`ConvergenceError`] to the
//! platform's [`ApiError`], every reason a value of the proto's generated `ErrorReason`.

use concordat_platform::error::{ApiError, reason_name};
use concordat_proto::convergence::v1::ErrorReason as R;
use tonic::Code;

use crate::service::{ConvergenceError, DOMAIN};
use crate::upstream::UpstreamError;

fn reason_of(r: R) -> &'static str {
    reason_name(r.as_str_name())
}

impl From<ConvergenceError> for ApiError {
    fn from(err: ConvergenceError) -> Self {
        match err {
            ConvergenceError::Invalid(violations) => ApiError::invalid_fields(DOMAIN, violations),
            ConvergenceError::NotFound(name) => ApiError::not_found(DOMAIN, &name),
            ConvergenceError::NoSnapshot { trust, at } => ApiError::failed_precondition(
                DOMAIN,
                reason_of(R::NoSnapshot),
                &trust,
                format!(
                    "{trust} had no snapshot imported by {}: import one, or ask for a later time",
                    at.to_rfc3339()
                ),
            ),
            ConvergenceError::AlreadyExists(name) => ApiError::new(
                Code::AlreadyExists,
                DOMAIN,
                reason_of(R::AlreadyExists),
                format!("{name} already exists"),
            )
            .with_metadata("resource", name),
            ConvergenceError::EtagMismatch(name) => ApiError::new(
                Code::Aborted,
                DOMAIN,
                reason_of(R::EtagMismatch),
                format!(
                    "{name} has changed since it was read: read it again and reapply the change"
                ),
            ),
            ConvergenceError::ChangeControl(status) => {
                // Change control's own refusal, as it answered (its code and message), with its
                // field violations named as this request names them.
                let mut e = ApiError::new(
                    status.code(),
                    DOMAIN,
                    reason_of(R::UpstreamRefused),
                    format!("change control refused the draft: {}", status.message()),
                );
                if let Some(bad) = tonic_types::StatusExt::get_details_bad_request(&status) {
                    for v in bad.field_violations {
                        let field = v.field.trim_start_matches("change_request.").to_owned();
                        e = e.with_field_violation(&field, v.description);
                    }
                }
                e
            }
            ConvergenceError::Upstream(UpstreamError::Refused { subject, message }) => {
                ApiError::new(
                    Code::FailedPrecondition,
                    DOMAIN,
                    reason_of(R::UpstreamRefused),
                    format!("shared configuration refused a read of {subject}: {message}"),
                )
                .with_precondition_violation(
                    reason_of(R::UpstreamRefused),
                    &subject,
                    message,
                )
            }
            ConvergenceError::Upstream(other) => ApiError::new(
                Code::Unavailable,
                DOMAIN,
                reason_of(R::UpstreamUnavailable),
                format!("shared configuration could not be read: {other}"),
            )
            .with_retry_after(std::time::Duration::from_secs(1)),
            ConvergenceError::Denied(api) => api,
            ConvergenceError::Store(other) => ApiError::internal(other),
            ConvergenceError::Write(err) => err.into(),
        }
    }
}
