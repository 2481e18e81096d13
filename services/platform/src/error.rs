//! The one mapping from errors to `tonic::Status`.
//!
//! Every layer has its own `thiserror` enum; each converts into [`ApiError`], which says what
//! the client should learn: the gRPC code, an `ErrorInfo` reason from the service's documented
//! `ErrorReason` enum (always present), and, where they fit, `BadRequest` field violations,
//! `PreconditionFailure` violations and `RetryInfo`. Internal errors are logged once, inside the
//! request's span (so with its request id), and the client sees only a generic message.

use std::collections::HashMap;
use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

/// The `ErrorInfo` domain of platform errors.
pub const PLATFORM_DOMAIN: &str = "platform.concordat";

/// The reasons the helpers below ([`ApiError::invalid_field`], [`ApiError::invalid_fields`],
/// [`ApiError::not_found`], [`ApiError::etag_mismatch`]) give under the domain they are called
/// with: every service's `ErrorReason` enum lists them.
pub const HELPER_REASONS: &[&str] = &["INVALID_ARGUMENT", "NOT_FOUND", "ETAG_MISMATCH"];

/// The `ErrorInfo` reason of a generated `ErrorReason` value, from its proto name
/// (`ERROR_REASON_NOT_THE_CHAIR` → `NOT_THE_CHAIR`): services name reasons only through their
/// generated enums.
pub fn reason_name(proto_name: &'static str) -> &'static str {
    proto_name
        .strip_prefix("ERROR_REASON_")
        .unwrap_or(proto_name)
}

/// The database error inside `err`, through the platform's wrappers and the source chain.
fn database_of<'a>(
    err: &'a (dyn std::error::Error + Send + Sync + 'static),
) -> Option<&'a sea_orm::DbErr> {
    use crate::db::StoreError;
    use crate::write::WriteError;
    if let Some(db) = err.downcast_ref::<sea_orm::DbErr>() {
        return Some(db);
    }
    if let Some(StoreError::Db(db)) = err.downcast_ref::<StoreError>() {
        return Some(db);
    }
    if let Some(WriteError::Db(db)) = err.downcast_ref::<WriteError>() {
        return Some(db);
    }
    let mut cause = err.source();
    while let Some(c) = cause {
        if let Some(db) = c.downcast_ref::<sea_orm::DbErr>() {
            return Some(db);
        }
        cause = c.source();
    }
    None
}

/// The most violations of each kind a status carries (the request checks' bound too).
pub const MAX_VIOLATIONS: usize = concordat_proto::limits::MAX_VIOLATIONS;

/// `text` cut to at most `max` characters, with `…` where it was cut.
pub(crate) fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// An error as the client will see it.
#[derive(Debug)]
pub struct ApiError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    code: Code,
    domain: &'static str,
    reason: &'static str,
    message: String,
    metadata: HashMap<String, String>,
    field_violations: Vec<FieldViolation>,
    precondition_violations: Vec<PreconditionViolation>,
    retry_after: Option<Duration>,
    internal: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ApiError {
    /// An error with `code`, an `ErrorInfo` of `domain`/`reason`, and a message for people.
    pub fn new(
        code: Code,
        domain: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self(Box::new(Inner {
            code,
            domain,
            reason,
            message: message.into(),
            metadata: HashMap::new(),
            field_violations: Vec::new(),
            precondition_violations: Vec::new(),
            retry_after: None,
            internal: None,
        }))
    }

    /// INVALID_ARGUMENT with one field violation.
    pub fn invalid_field(
        domain: &'static str,
        field: &str,
        description: impl Into<String>,
    ) -> Self {
        let description = description.into();
        Self::new(
            Code::InvalidArgument,
            domain,
            "INVALID_ARGUMENT",
            format!("{field}: {description}"),
        )
        .with_field_violation(field, description)
    }

    /// INVALID_ARGUMENT for a field violation found by the API primitives (names, paging, times).
    pub fn violation(domain: &'static str, v: concordat_api::FieldViolation) -> Self {
        Self::invalid_field(domain, &v.field, v.description)
    }

    /// INVALID_ARGUMENT with several field violations `(field, description)`.
    pub fn invalid_fields(domain: &'static str, violations: Vec<(String, String)>) -> Self {
        let message = violations
            .iter()
            .map(|(f, d)| format!("{f}: {d}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut err = Self::new(Code::InvalidArgument, domain, "INVALID_ARGUMENT", message);
        for (field, description) in violations {
            err = err.with_field_violation(&field, description);
        }
        err
    }

    /// NOT_FOUND for a resource name.
    pub fn not_found(domain: &'static str, resource: &str) -> Self {
        Self::new(
            Code::NotFound,
            domain,
            "NOT_FOUND",
            format!("{resource} not found"),
        )
        .with_metadata("resource", resource)
    }

    /// PERMISSION_DENIED with a reason.
    pub fn permission_denied(
        domain: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self::new(Code::PermissionDenied, domain, reason, message)
    }

    /// FAILED_PRECONDITION with one violation `(type, subject, description)`.
    pub fn failed_precondition(
        domain: &'static str,
        reason: &'static str,
        subject: &str,
        description: impl Into<String>,
    ) -> Self {
        let description = description.into();
        Self::new(
            Code::FailedPrecondition,
            domain,
            reason,
            description.clone(),
        )
        .with_precondition_violation(reason, subject, description)
    }

    /// ABORTED because the sent etag is not the current one (AIP-154).
    pub fn etag_mismatch(domain: &'static str, resource: &str) -> Self {
        Self::new(
            Code::Aborted,
            domain,
            "ETAG_MISMATCH",
            format!("{resource} was changed by someone else: read it again and retry"),
        )
        .with_metadata("resource", resource)
    }

    /// INTERNAL: `source` is logged, never shown. A database that cannot be reached is not an
    /// internal error: it is UNAVAILABLE `DATABASE_UNAVAILABLE` with RetryInfo.
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let source = source.into();
        if database_of(source.as_ref()).is_some_and(crate::db::is_unavailable) {
            tracing::warn!(error = %source, "the database does not answer");
            return Self::new(
                Code::Unavailable,
                PLATFORM_DOMAIN,
                "DATABASE_UNAVAILABLE",
                "the database does not answer; retry",
            )
            .with_retry_after(Duration::from_secs(1));
        }
        let mut err = Self::new(
            Code::Internal,
            PLATFORM_DOMAIN,
            "INTERNAL",
            "internal error",
        );
        err.0.internal = Some(source);
        err
    }

    /// Adds an `ErrorInfo` metadata entry.
    pub fn with_metadata(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.metadata.insert(key.to_owned(), value.into());
        self
    }

    /// Adds a `BadRequest` field violation.
    pub fn with_field_violation(mut self, field: &str, description: impl Into<String>) -> Self {
        self.0
            .field_violations
            .push(FieldViolation::new(field, description));
        self
    }

    /// Adds a `PreconditionFailure` violation.
    pub fn with_precondition_violation(
        mut self,
        kind: &str,
        subject: &str,
        description: impl Into<String>,
    ) -> Self {
        self.0
            .precondition_violations
            .push(PreconditionViolation::new(kind, subject, description));
        self
    }

    /// Adds `RetryInfo`: the client may retry after `delay`.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.0.retry_after = Some(delay);
        self
    }

    /// The gRPC code.
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The `ErrorInfo` reason.
    pub fn reason(&self) -> &'static str {
        self.0.reason
    }

    /// The message shown to the client.
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The status sent to the client. Internal causes are logged here, in the request's span.
    ///
    /// Whatever the request held, the status stays small enough for any client's trailer limit
    /// (grpcio's default is 16 KiB): at most [`MAX_VIOLATIONS`] violations of each kind (the
    /// number left out in metadata `violations_omitted`), and the message, each field, subject,
    /// description and metadata value cut to a bounded length, so input is never echoed whole.
    pub fn into_status(self) -> Status {
        let mut this = *self.0;
        let omitted = this.field_violations.len().saturating_sub(MAX_VIOLATIONS)
            + this
                .precondition_violations
                .len()
                .saturating_sub(MAX_VIOLATIONS);
        this.field_violations.truncate(MAX_VIOLATIONS);
        this.precondition_violations.truncate(MAX_VIOLATIONS);
        for v in &mut this.field_violations {
            v.field = bounded(&v.field, 200);
            v.description = bounded(&v.description, 300);
        }
        for v in &mut this.precondition_violations {
            v.r#type = bounded(&v.r#type, 100);
            v.subject = bounded(&v.subject, 200);
            v.description = bounded(&v.description, 300);
        }
        for value in this.metadata.values_mut() {
            *value = bounded(value, 200);
        }
        this.message = bounded(&this.message, 1000);
        if omitted > 0 {
            this.message.push_str(&format!(" (and {omitted} more)"));
            this.metadata
                .insert("violations_omitted".into(), omitted.to_string());
        }
        if let Some(source) = &this.internal {
            let mut chain = source.to_string();
            let mut cause = source.source();
            while let Some(c) = cause {
                chain.push_str(": ");
                chain.push_str(&c.to_string());
                cause = c.source();
            }
            tracing::error!(error = %chain, "internal error");
        }
        let mut details = ErrorDetails::with_error_info(this.reason, this.domain, this.metadata);
        if !this.field_violations.is_empty() {
            details.set_bad_request(this.field_violations);
        }
        if !this.precondition_violations.is_empty() {
            details.set_precondition_failure(this.precondition_violations);
        }
        if let Some(delay) = this.retry_after {
            details.set_retry_info(Some(delay));
        }
        Status::with_error_details(this.code, this.message, details)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} {}: {}", self.0.code, self.0.reason, self.0.message)
    }
}

impl std::error::Error for ApiError {}

impl From<ApiError> for Status {
    fn from(err: ApiError) -> Self {
        err.into_status()
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::internal(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause() {
        let status =
            ApiError::internal(std::io::Error::other("SELECT secret FROM t")).into_status();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("SELECT"));
        let details = status.get_error_details();
        assert_eq!(details.error_info().unwrap().reason, "INTERNAL");
    }

    #[test]
    fn field_violations_and_error_info_reach_the_status() {
        let status = ApiError::invalid_fields(
            PLATFORM_DOMAIN,
            vec![
                ("title".into(), "must not be empty".into()),
                ("trust".into(), "unknown".into()),
            ],
        )
        .into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let fields: Vec<_> = details
            .bad_request()
            .unwrap()
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["title", "trust"]);
        assert_eq!(details.error_info().unwrap().domain, PLATFORM_DOMAIN);
    }

    #[test]
    fn retry_info_is_attached_when_asked() {
        let status = ApiError::new(
            Code::ResourceExhausted,
            PLATFORM_DOMAIN,
            "OVERLOADED",
            "busy",
        )
        .with_retry_after(Duration::from_millis(250))
        .into_status();
        let details = status.get_error_details();
        assert_eq!(
            details.retry_info().unwrap().retry_delay,
            Some(Duration::from_millis(250))
        );
    }
}
