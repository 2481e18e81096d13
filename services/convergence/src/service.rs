//! The use cases of convergence planning: each takes the caller's [`RequestContext`], checks ICS
//! scope (refusals are audited), reads shared configuration through [`SharedConfigReads`] where
//! it must, and writes through the platform's write path (one transaction with its audit entry
//! and outbox event). The follower records assessments as shared configuration's events arrive.

mod assessments;
mod follower;
mod notices;
mod plans;
mod proposals;
mod settings;

pub use assessments::{DivergenceQuery, UNREGISTERED, assessment_name};
pub use follower::spawn_followers;
pub use notices::{MILESTONE_AT_RISK, Notice, VARIATION_EXPIRING};
pub use plans::{Forecasted, MILESTONE_ACHIEVED, PLAN_UPDATED, PlanInput, Scheduled};
pub use proposals::Proposal;
pub use settings::{MAX_BANDS, SettingsUpdate};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use concordat_platform::authz::RequestContext;
use concordat_platform::db::Database;
use concordat_platform::error::ApiError;
use concordat_platform::identity::service_client::TokenSource;
use concordat_platform::identity::{Federation, Principal, PrincipalKind, Verifier};
use concordat_platform::paging::PageTokens;
use concordat_platform::write::{WriteError, Writer};
use serde_json::{Value, json};

use crate::domain::records::{Assessment, Settings};
use crate::store::StoreError;
use crate::upstream::{ChangeRequestDrafts, SharedConfigReads, UpstreamError};

/// The `ErrorInfo` domain of convergence errors.
pub const DOMAIN: &str = "convergence.concordat";

/// The idempotency namespace of convergence's request ids.
pub const SERVICE: &str = "convergence";

/// The kind of the event each recorded assessment is announced by.
pub const ASSESSMENT_RECORDED: &str = "assessment.recorded";

/// The kind of the event each change of an ICS's settings is announced by.
pub const SETTINGS_UPDATED: &str = "settings.updated";

/// A field and what is wrong with it.
pub type Violation = (String, String);

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ConvergenceError {
    /// Fields are wrong.
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    /// No such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// The trust had no snapshot by the time asked.
    #[error("{trust} has no snapshot imported by {at}")]
    NoSnapshot {
        /// The trust.
        trust: String,
        /// The time asked.
        at: DateTime<Utc>,
    },
    /// A resource of that name exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The etag sent is not the resource's.
    #[error("{0} has changed since it was read")]
    EtagMismatch(String),
    /// Change control refused to draft the change request (its status, as it answered).
    #[error("change control: {0}")]
    ChangeControl(tonic::Status),
    /// Shared configuration did not answer as asked.
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

impl From<WriteError> for ConvergenceError {
    fn from(err: WriteError) -> Self {
        ConvergenceError::Write(err)
    }
}

impl From<sea_orm::DbErr> for ConvergenceError {
    fn from(err: sea_orm::DbErr) -> Self {
        ConvergenceError::Store(StoreError::Db(err))
    }
}

impl From<ApiError> for ConvergenceError {
    fn from(err: ApiError) -> Self {
        ConvergenceError::Denied(err)
    }
}

impl From<concordat_api::FieldViolation> for ConvergenceError {
    fn from(v: concordat_api::FieldViolation) -> Self {
        ConvergenceError::Invalid(vec![(v.field, v.description)])
    }
}

type Result<T, E = ConvergenceError> = std::result::Result<T, E>;

fn invalid(field: &str, reason: impl Into<String>) -> ConvergenceError {
    ConvergenceError::Invalid(vec![(field.to_owned(), reason.into())])
}

fn page_limit(requested: i32, default: u64, max: u64) -> Result<u64> {
    Ok(concordat_api::paging::page_size_within(
        "page_size",
        requested,
        default,
        max,
    )?)
}

/// How the adapter encodes what events carry.
#[derive(Clone, Copy)]
pub struct Encoders {
    /// A recorded assessment, scored under the ICS's settings.
    pub assessment: fn(&Assessment, &Settings) -> Vec<u8>,
    /// An ICS's settings.
    pub settings: fn(&Settings) -> Vec<u8>,
    /// A convergence plan.
    pub plan: fn(&crate::domain::plans::Plan) -> Vec<u8>,
    /// A notice: a variation expiring, a milestone at risk.
    pub notice: fn(&Notice) -> Vec<u8>,
}

/// The context the service's own writes run in (assessments the follower records): the server,
/// acting in `ics`.
fn system_context(ics: &str) -> RequestContext {
    RequestContext {
        principal: Arc::new(Principal {
            issuer: "concordat".into(),
            subject: "convergence".into(),
            name: Some("Concordat convergence".into()),
            kind: PrincipalKind::Service,
            ics: ics.to_owned(),
            trust: None,
            roles: Default::default(),
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
        method: "RecordAssessment".into(),
    }
}

/// The use cases of convergence planning.
pub struct Convergence {
    writer: Writer,
    tokens: PageTokens,
    federation: Arc<Federation>,
    shared: Arc<dyn SharedConfigReads>,
    change_control: Arc<dyn ChangeRequestDrafts>,
    service_tokens: Option<Arc<dyn TokenSource>>,
    verifier: Arc<Verifier>,
    encode: Encoders,
}

impl Convergence {
    /// The use cases writing through `writer`, reading shared configuration through `shared`
    /// (as the caller, or for the follower with `service_tokens`, whose principal `verifier`
    /// says).
    pub fn new(
        writer: Writer,
        tokens: PageTokens,
        federation: Arc<Federation>,
        (shared, change_control): (Arc<dyn SharedConfigReads>, Arc<dyn ChangeRequestDrafts>),
        (service_tokens, verifier): (Option<Arc<dyn TokenSource>>, Arc<Verifier>),
        encode: Encoders,
    ) -> Self {
        Self {
            writer,
            tokens,
            federation,
            shared,
            change_control,
            service_tokens,
            verifier,
            encode,
        }
    }

    fn db(&self) -> &Database {
        self.writer.db()
    }

    async fn require_ics(&self, ctx: &RequestContext, ics: &str, resource: &str) -> Result<()> {
        ctx.require_ics(self.db(), ics, resource)
            .await
            .map_err(ConvergenceError::Denied)
    }

    fn trusts_of(&self, ics: &str) -> Vec<String> {
        self.federation
            .ics(ics)
            .map(|i| i.trusts.iter().map(|t| t.ods.clone()).collect())
            .unwrap_or_default()
    }

    /// Parses `icss/{ics}/trusts/{trust}` sent in `field`, of a trust of the ICS, in the caller's
    /// ICS.
    async fn trust_in_scope(
        &self,
        ctx: &RequestContext,
        field: &str,
        name: &str,
    ) -> Result<(String, String)> {
        let parsed = concordat_api::names::TrustName::parse(field, name)?;
        self.require_ics(ctx, &parsed.ics, name).await?;
        if !self.federation.is_trust_of(&parsed.trust, &parsed.ics) {
            return Err(invalid(
                field,
                format!("{} is not a trust of ICS {}", parsed.trust, parsed.ics),
            ));
        }
        Ok((parsed.ics, parsed.trust))
    }

    fn encode_token(&self, v: &Value) -> String {
        self.tokens.encode_cursor(SERVICE, &v.to_string())
    }

    /// The JSON a page token of this service holds, if it is one of `query`'s.
    fn decode_token(&self, token: &str, query: &Value) -> Result<Option<Value>> {
        let cursor = self
            .tokens
            .decode_cursor("page_token", token, SERVICE)
            .map_err(|v| ConvergenceError::Invalid(vec![(v.field, v.description)]))?;
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let parsed: Value = serde_json::from_str(&cursor)
            .map_err(|_| invalid("page_token", "is not a token this list returned"))?;
        if &parsed["query"] != query {
            return Err(invalid("page_token", "belongs to another query"));
        }
        Ok(Some(parsed))
    }

    fn next_token(&self, query: &Value, position: Value) -> String {
        self.encode_token(&json!({"query": query, "at": position}))
    }
}
