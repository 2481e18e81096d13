//! What a client makes of a failed call: the status with its `google.rpc` details decoded.
//!
//! The server attaches `ErrorInfo` (the reason from the service's `ErrorReason` enum and its
//! domain), `BadRequest` field violations, `PreconditionFailure` for state conflicts and
//! `RetryInfo` where a retry makes sense. [`ErrorReport`] gathers them into one value a client
//! can match on (by reason, never by message text) and print for a person.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use tonic_types::StatusExt as _;

use crate::violation::FieldViolation;

/// A failed call as a client needs it: the code and message, and every detail the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorReport {
    /// The gRPC status code.
    pub code: tonic::Code,
    /// The server's message, for people; programs should use `reason`.
    pub message: String,
    /// `ErrorInfo.reason`, an UPPER_SNAKE value of the service's `ErrorReason` enum (e.g.
    /// `ETAG_MISMATCH`); `None` when the status had no `ErrorInfo` or an empty reason.
    pub reason: Option<String>,
    /// `ErrorInfo.domain`, the service that chose the reason (e.g. `changecontrol.concordat`);
    /// `None` when absent or empty.
    pub domain: Option<String>,
    /// `ErrorInfo.metadata`, in key order so it prints the same way every time.
    pub metadata: BTreeMap<String, String>,
    /// `BadRequest.field_violations`: which request fields were wrong and why.
    pub field_violations: Vec<FieldViolation>,
    /// `PreconditionFailure.violations` as (type, subject, description): which state stopped
    /// the call, e.g. a change request that is not open for votes.
    pub precondition_violations: Vec<(String, String, String)>,
    /// `RetryInfo.retry_delay`: how long to wait before retrying; `None` when the server did
    /// not suggest retrying.
    pub retry_after: Option<Duration>,
}

impl ErrorReport {
    /// Decodes `status` and its `google.rpc` details. Details the client does not know are
    /// ignored, so a server that sends more still yields a report.
    pub fn from_status(status: &tonic::Status) -> Self {
        let details = status.get_error_details();
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let info = details.error_info();
        Self {
            code: status.code(),
            message: status.message().to_owned(),
            reason: info.and_then(|i| non_empty(&i.reason)),
            domain: info.and_then(|i| non_empty(&i.domain)),
            metadata: info
                .map(|i| {
                    i.metadata
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            field_violations: details
                .bad_request()
                .map(|b| {
                    b.field_violations
                        .iter()
                        .map(|v| FieldViolation::new(&v.field, &v.description))
                        .collect()
                })
                .unwrap_or_default(),
            precondition_violations: details
                .precondition_failure()
                .map(|p| {
                    p.violations
                        .iter()
                        .map(|v| (v.r#type.clone(), v.subject.clone(), v.description.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            retry_after: details.retry_info().and_then(|r| r.retry_delay),
        }
    }
}

impl From<&tonic::Status> for ErrorReport {
    fn from(status: &tonic::Status) -> Self {
        Self::from_status(status)
    }
}

impl From<tonic::Status> for ErrorReport {
    fn from(status: tonic::Status) -> Self {
        Self::from_status(&status)
    }
}

/// The canonical name of a status code (`NOT_FOUND`), as the gRPC docs and other languages
/// print it.
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// For people: the code and message on the first line, then the reason (with its domain), each
/// field violation, each precondition violation and the retry delay, one per line.
impl fmt::Display for ErrorReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", code_name(self.code), self.message)?;
        if let Some(reason) = &self.reason {
            write!(f, "\nreason: {reason}")?;
            if let Some(domain) = &self.domain {
                write!(f, " ({domain})")?;
            }
        }
        for violation in &self.field_violations {
            write!(f, "\nfield {violation}")?;
        }
        for (kind, subject, description) in &self.precondition_violations {
            write!(f, "\nprecondition {kind} {subject}: {description}")?;
        }
        if let Some(delay) = self.retry_after {
            write!(f, "\nretry after {:.3}s", delay.as_secs_f64())?;
        }
        Ok(())
    }
}

impl std::error::Error for ErrorReport {}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use tonic_types::ErrorDetails;

    fn rich_status() -> tonic::Status {
        let mut details = ErrorDetails::with_error_info(
            "INVALID_FIELD",
            "changecontrol.concordat",
            HashMap::from([
                ("field".to_owned(), "parent".to_owned()),
                ("alpha".to_owned(), "1".to_owned()),
            ]),
        );
        details
            .add_bad_request_violation("parent", "must be `icss/{ics}`")
            .add_bad_request_violation("page_size", "must not be negative")
            .add_precondition_failure_violation(
                "STATE",
                "icss/QUE/changeRequests/42",
                "is not open for votes",
            )
            .set_retry_info(Some(Duration::from_millis(1500)));
        tonic::Status::with_error_details(tonic::Code::InvalidArgument, "bad request", details)
    }

    #[test]
    fn details_are_decoded() {
        let report = ErrorReport::from_status(&rich_status());
        assert_eq!(report.code, tonic::Code::InvalidArgument);
        assert_eq!(report.message, "bad request");
        assert_eq!(report.reason.as_deref(), Some("INVALID_FIELD"));
        assert_eq!(report.domain.as_deref(), Some("changecontrol.concordat"));
        assert_eq!(
            report.metadata,
            BTreeMap::from([
                ("alpha".to_owned(), "1".to_owned()),
                ("field".to_owned(), "parent".to_owned()),
            ])
        );
        assert_eq!(
            report.field_violations,
            [
                FieldViolation::new("parent", "must be `icss/{ics}`"),
                FieldViolation::new("page_size", "must not be negative"),
            ]
        );
        assert_eq!(
            report.precondition_violations,
            [(
                "STATE".to_owned(),
                "icss/QUE/changeRequests/42".to_owned(),
                "is not open for votes".to_owned()
            )]
        );
        assert_eq!(report.retry_after, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn display_puts_each_detail_on_its_own_line() {
        assert_eq!(
            ErrorReport::from(rich_status()).to_string(),
            "INVALID_ARGUMENT: bad request\n\
             reason: INVALID_FIELD (changecontrol.concordat)\n\
             field parent must be `icss/{ics}`\n\
             field page_size must not be negative\n\
             precondition STATE icss/QUE/changeRequests/42: is not open for votes\n\
             retry after 1.500s"
        );
    }

    #[test]
    fn a_plain_status_has_no_details() {
        let report = ErrorReport::from_status(&tonic::Status::not_found("no such thing"));
        assert_eq!(
            report,
            ErrorReport {
                code: tonic::Code::NotFound,
                message: "no such thing".to_owned(),
                reason: None,
                domain: None,
                metadata: BTreeMap::new(),
                field_violations: vec![],
                precondition_violations: vec![],
                retry_after: None,
            }
        );
        assert_eq!(report.to_string(), "NOT_FOUND: no such thing");
    }

    #[test]
    fn undecodable_details_are_ignored() {
        let status = tonic::Status::with_details(
            tonic::Code::Internal,
            "oops",
            bytes_of(b"\xff\xff\xff not a google.rpc.Status"),
        );
        let report = ErrorReport::from_status(&status);
        assert_eq!(report.code, tonic::Code::Internal);
        assert_eq!(report.reason, None);
        assert!(report.field_violations.is_empty());
    }

    fn bytes_of(b: &'static [u8]) -> tonic::codegen::Bytes {
        tonic::codegen::Bytes::from_static(b)
    }
}
