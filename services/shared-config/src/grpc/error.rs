//! Shared configuration's errors as the client sees them: the one mapping from [`ConfigError`] to
//! the platform's [`ApiError`], every reason a value of the proto's generated `ErrorReason`.

use concordat_platform::error::{ApiError, reason_name};
use concordat_proto::sharedconfig::v1::ErrorReason as R;
use tonic::{Code, Status};

use crate::domain::publish::Refusal;
use crate::service::{ConfigError, DOMAIN, RefusalReason};
use crate::store::StoreError;
use crate::upstream::UpstreamError;

/// A shared-configuration reason as its `ErrorInfo` reason.
fn reason_of(r: R) -> &'static str {
    reason_name(r.as_str_name())
}

/// The `ErrorInfo` domain and reason of a refusal found inside a write.
pub fn name_reason(reason: RefusalReason) -> (&'static str, &'static str) {
    match reason {
        RefusalReason::NotAuthor => (DOMAIN, reason_of(R::NotAuthor)),
    }
}

impl From<ConfigError> for ApiError {
    fn from(err: ConfigError) -> Self {
        match err {
            ConfigError::Invalid(violations) => ApiError::invalid_fields(DOMAIN, violations),
            ConfigError::NotFound(name) => ApiError::not_found(DOMAIN, &name),
            ConfigError::AlreadyExists(name) | ConfigError::Store(StoreError::AlreadyExists(name)) => {
                ApiError::new(Code::AlreadyExists, DOMAIN, reason_of(R::AlreadyExists), format!("{name} already exists"))
                    .with_metadata("resource", name)
            }
            ConfigError::ChangesetClosed { subject, message } => {
                ApiError::failed_precondition(DOMAIN, reason_of(R::ChangesetClosed), &subject, message)
            }
            ConfigError::NotAuthor(refusal) => refusal.into(),
            ConfigError::Refused(cr, Refusal::NotApproved(state)) => ApiError::failed_precondition(
                DOMAIN,
                reason_of(R::ChangeRequestNotApproved),
                &cr,
                format!("{cr} is {state}: configuration is published only under an APPROVED or SCHEDULED change request"),
            )
            .with_metadata("state", state),
            ConfigError::Refused(cr, Refusal::Domain(kind, domain)) => ApiError::failed_precondition(
                DOMAIN,
                reason_of(R::ChangeRequestDomain),
                &cr,
                format!("kind {kind} belongs to the {domain} domain; {cr} is of another domain"),
            )
            .with_metadata("kind", kind),
            ConfigError::Refused(cr, Refusal::DoesNotCover(trusts)) => {
                let mut e = ApiError::new(
                    Code::FailedPrecondition,
                    DOMAIN,
                    reason_of(R::ChangeRequestDoesNotCover),
                    format!(
                        "the publish changes the configuration of {} but {cr} does not affect {}",
                        trusts.join(", "),
                        if trusts.len() == 1 { "it" } else { "them" }
                    ),
                )
                .with_metadata("trusts", trusts.join(","));
                for t in &trusts {
                    e = e.with_precondition_violation(
                        reason_of(R::ChangeRequestDoesNotCover),
                        t,
                        format!("{t} is not among the affected trusts of {cr}"),
                    );
                }
                e
            }
            ConfigError::StaleBase { layer, base, head } => ApiError::new(
                Code::Aborted,
                DOMAIN,
                reason_of(R::StaleBase),
                format!("the changeset was written against revision {base} of {layer}, which is now at {head}: review it against the newest revision, or publish with rebase"),
            )
            .with_metadata("base_revision", base.to_string())
            .with_metadata("head_revision", head.to_string()),
            ConfigError::StaleHead { layer, expected, head } => ApiError::new(
                Code::Aborted,
                DOMAIN,
                reason_of(R::StaleBase),
                format!("the rollback expected {layer} at revision {expected}, but its newest revision is {head}: read the layer again and decide whether to roll back from there"),
            )
            .with_metadata("expected_head_revision", expected.to_string())
            .with_metadata("head_revision", head.to_string()),
            ConfigError::RebaseConflict(keys) => {
                let names: Vec<String> = keys.iter().map(ToString::to_string).collect();
                let mut e = ApiError::new(
                    Code::Aborted,
                    DOMAIN,
                    reason_of(R::RebaseConflict),
                    format!("cannot rebase: {} changed since the changeset's base", names.join(", ")),
                );
                for n in &names {
                    e = e.with_precondition_violation(reason_of(R::RebaseConflict), n, format!("{n} changed since the base"));
                }
                e
            }
            ConfigError::Upstream(UpstreamError::Unknown { subject, message }) => ApiError::new(
                Code::FailedPrecondition,
                DOMAIN,
                reason_of(R::ChangeRequestUnknown),
                format!("the change request cannot be read: {subject}: {message}"),
            )
            .with_precondition_violation(reason_of(R::ChangeRequestUnknown), &subject, message),
            ConfigError::Upstream(UpstreamError::Unavailable(message)) => ApiError::new(
                Code::Unavailable,
                DOMAIN,
                reason_of(R::UpstreamUnavailable),
                format!("change control could not be asked about the change request: {message}"),
            )
            .with_retry_after(std::time::Duration::from_secs(1)),
            ConfigError::Denied(api) => api,
            ConfigError::Store(other) => ApiError::internal(other),
            ConfigError::Write(err) => err.into(),
        }
    }
}

impl From<ConfigError> for Status {
    fn from(err: ConfigError) -> Self {
        ApiError::from(err).into_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason shared configuration can send under its domain is listed in its enum.
    #[test]
    fn every_reason_sent_is_listed_in_the_proto() {
        let mut sent = vec![name_reason(RefusalReason::NotAuthor)];
        sent.extend(
            concordat_platform::error::HELPER_REASONS
                .iter()
                .map(|r| (DOMAIN, *r)),
        );
        concordat_platform::testkit::assert_reasons_listed(&sent);
    }
}
