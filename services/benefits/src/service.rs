//! The use cases of benefits: each takes the caller's [`RequestContext`], checks ICS and trust
//! scope (refusals are audited), and writes through the platform's write path (one transaction
//! with its audit entry and outbox event). Reads of rollups and charts are computed from the
//! stored cells on each call.

mod attributions;
mod cards;
mod measurements;
mod profiles;
mod rollups;
mod settings;

pub use cards::CardInput;
pub use measurements::{CellWrite, MeasurementList};
pub use profiles::ProfileInput;
pub use rollups::{
    Amount, BusinessCase, Chart, ChartPoint, ChrFigure, Period, RebaseAt, Rollup, RollupRow, Totals,
};

use std::sync::Arc;

use concordat_platform::authz::RequestContext;
use concordat_platform::db::Database;
use concordat_platform::error::ApiError;
use concordat_platform::identity::{Federation, Principal, Role};
use concordat_platform::paging::PageTokens;
use concordat_platform::upstream::Caller;
use concordat_platform::write::{Refusal, Write, WriteError, Writer};

use crate::domain::measurement::{Actor, State};
use crate::domain::profile::Profile;
use crate::domain::records::{AttributionRecord, CardRecord, Measurement, Settings};
use crate::store::StoreError;
use crate::upstream::{ChangeRequests, Publishes, UpstreamError};

/// The `ErrorInfo` domain of benefits errors.
pub const DOMAIN: &str = "benefits.concordat";

/// The idempotency namespace of benefits' request ids.
pub const SERVICE: &str = "benefits";

/// A field and what is wrong with it.
pub type Violation = (String, String);

/// Why a caller is refused inside a write, as the proto's `ErrorReason` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Another trust's cell.
    TrustScope,
    /// Not the trust's benefits analyst or digital lead.
    NotAValidator,
    /// Validating one's own submission.
    OwnSubmission,
    /// Not ICS-level staff.
    NotAnAcceptor,
}

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum BenefitsError {
    /// Fields are wrong.
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    /// No such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// A resource of that name exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The etag sent is not the resource's.
    #[error("{0} has changed since it was read")]
    EtagMismatch(String),
    /// The measurement's state does not allow the action.
    #[error("{action} is not allowed in state {state}")]
    InvalidTransition {
        /// The measurement.
        resource: String,
        /// What was asked.
        action: &'static str,
        /// Its state.
        state: State,
        /// What its state allows.
        allowed: &'static [&'static str],
    },
    /// The rate card cannot value the benefit: the benefit, and why.
    #[error("{message}")]
    NotValued {
        /// The benefit (or the ICS's totals).
        subject: String,
        /// Why.
        message: String,
    },
    /// Refused inside a write (already audited).
    #[error(transparent)]
    Refused(Refusal),
    /// Change control or shared configuration did not answer as asked.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Refused (already audited).
    #[error("{0}")]
    Denied(ApiError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The write path failed.
    #[error(transparent)]
    Write(WriteError),
}

impl From<WriteError> for BenefitsError {
    fn from(err: WriteError) -> Self {
        BenefitsError::Write(err)
    }
}

impl From<sea_orm::DbErr> for BenefitsError {
    fn from(err: sea_orm::DbErr) -> Self {
        BenefitsError::Store(StoreError::Db(err))
    }
}

impl From<ApiError> for BenefitsError {
    fn from(err: ApiError) -> Self {
        BenefitsError::Denied(err)
    }
}

impl From<concordat_api::FieldViolation> for BenefitsError {
    fn from(v: concordat_api::FieldViolation) -> Self {
        BenefitsError::Invalid(vec![(v.field, v.description)])
    }
}

type Result<T, E = BenefitsError> = std::result::Result<T, E>;

fn invalid(field: &str, reason: impl Into<String>) -> BenefitsError {
    BenefitsError::Invalid(vec![(field.to_owned(), reason.into())])
}

/// How the adapter encodes what events carry, and names refusal reasons.
#[derive(Clone, Copy)]
pub struct Encoders {
    /// A measurement.
    pub measurement: fn(&Measurement) -> Vec<u8>,
    /// A benefit profile.
    pub benefit: fn(&Profile) -> Vec<u8>,
    /// A rate card version.
    pub card: fn(&CardRecord) -> Vec<u8>,
    /// An attribution.
    pub attribution: fn(&AttributionRecord) -> Vec<u8>,
    /// An ICS's settings.
    pub settings: fn(&Settings) -> Vec<u8>,
    /// A refusal's `ErrorInfo` reason.
    pub reason: fn(Reason) -> &'static str,
}

/// The use cases of benefits.
pub struct Benefits {
    writer: Writer,
    tokens: PageTokens,
    federation: Arc<Federation>,
    change_control: Arc<dyn ChangeRequests>,
    shared: Arc<dyn Publishes>,
    encode: Encoders,
}

/// Whom the rules of a measurement see in `p`: a trust's validator is its benefits analyst or
/// digital lead; the ICS accepts through ics-admins and benefits analysts of no trust.
pub fn actor(p: &Principal) -> Actor {
    Actor {
        subject: format!("{}#{}", p.issuer, p.subject),
        trust: p.trust.clone(),
        trust_validator: p.trust.is_some()
            && p.has_any(&[Role::BenefitsAnalyst, Role::TrustDigitalLead]),
        ics_acceptor: p.trust.is_none() && p.has_any(&[Role::IcsAdmin, Role::BenefitsAnalyst]),
    }
}

impl Benefits {
    /// The use cases writing through `writer`, checking change requests with `change_control`
    /// and reading publishes from `shared`.
    pub fn new(
        writer: Writer,
        tokens: PageTokens,
        federation: Arc<Federation>,
        (change_control, shared): (Arc<dyn ChangeRequests>, Arc<dyn Publishes>),
        encode: Encoders,
    ) -> Self {
        Self {
            writer,
            tokens,
            federation,
            change_control,
            shared,
            encode,
        }
    }

    fn db(&self) -> &Database {
        self.writer.db()
    }

    async fn require_ics(&self, ctx: &RequestContext, ics: &str, resource: &str) -> Result<()> {
        ctx.require_ics(self.db(), ics, resource)
            .await
            .map_err(BenefitsError::Denied)
    }

    fn trusts_of(&self, ics: &str) -> Vec<String> {
        self.federation
            .ics(ics)
            .map(|i| i.trusts.iter().map(|t| t.ods.clone()).collect())
            .unwrap_or_default()
    }

    fn is_trust(&self, ics: &str, trust: &str) -> bool {
        self.federation.is_trust_of(trust, ics)
    }

    /// Refuses inside a write: the refusal alone is audited after the rollback.
    fn refuse(&self, w: &Write, resource: &str, reason: Reason, message: String) -> BenefitsError {
        BenefitsError::Refused(w.refuse(DOMAIN, (self.encode.reason)(reason), resource, message))
    }

    fn page_limit(requested: i32, default: u64, max: u64) -> Result<u64> {
        Ok(concordat_api::paging::page_size_within(
            "page_size",
            requested,
            default,
            max,
        )?)
    }

    /// The JSON position a page token of `query` holds.
    fn decode_token(&self, token: &str, query: &str) -> Result<Option<serde_json::Value>> {
        let cursor = self
            .tokens
            .decode_cursor("page_token", token, SERVICE)
            .map_err(|v| BenefitsError::Invalid(vec![(v.field, v.description)]))?;
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let parsed: serde_json::Value = serde_json::from_str(&cursor)
            .map_err(|_| invalid("page_token", "is not a token this list returned"))?;
        if parsed["query"] != query {
            return Err(invalid("page_token", "belongs to another query"));
        }
        Ok(Some(parsed["at"].clone()))
    }

    fn next_token(&self, query: &str, at: serde_json::Value) -> String {
        self.tokens.encode_cursor(
            SERVICE,
            &serde_json::json!({"query": query, "at": at}).to_string(),
        )
    }

    /// The profile `id` of `ics`, or NOT_FOUND naming `name`.
    async fn profile(&self, ics: &str, id: &str, name: &str) -> Result<Profile> {
        crate::store::profile(self.db().conn(), ics, id)
            .await?
            .ok_or_else(|| BenefitsError::NotFound(name.to_owned()))
    }

    /// Checks that change control knows each of `names` (fields `field[i]`), as `caller`.
    async fn check_change_requests(
        &self,
        names: &[String],
        field: &str,
        caller: &Caller,
    ) -> Result<()> {
        let mut violations = Vec::new();
        for (i, name) in names.iter().enumerate() {
            match self.change_control.get(name, caller).await {
                Ok(_) => {}
                Err(UpstreamError::Refused { message, .. }) => violations.push((
                    format!("{field}[{i}]"),
                    format!("change control does not know it: {message}"),
                )),
                Err(other) => return Err(other.into()),
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(BenefitsError::Invalid(violations))
        }
    }
}
