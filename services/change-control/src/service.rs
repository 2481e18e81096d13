//! The use cases of change control, one module per resource family. Each takes the caller's
//! [`RequestContext`], checks ICS scope, and runs its change through the platform's one write
//! path ([`Writer::write`]): the transaction, the `request_id`, the audit entry and the outbox
//! event are the kit's; the use case loads, asks the domain, and writes. Trust and ICS scope are
//! checked here; refusals are audited.

mod actions;
mod assessments;
mod change_requests;
mod design_authorities;
mod hazards;
mod lifecycle;
mod releases;
mod votes;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use concordat_platform::authz::RequestContext;
use concordat_platform::db::Database;
use concordat_platform::error::{ApiError, PLATFORM_DOMAIN};
use concordat_platform::identity::{Federation, Role};
use concordat_platform::write::{Refusal, Write, WriteError, Writer};
use sea_orm::ConnectionTrait;

pub use change_requests::{ChangeRequestEdit, NewChangeRequest};
pub use design_authorities::{NewDesignAuthority, NewStandardTemplate};
pub use lifecycle::{Command, Moving};
pub use votes::VoteResult;

use crate::domain::change_request::{ChangeRequest, DesignAuthority, Violation};
use crate::domain::lifecycle::InvalidTransition;
use crate::domain::standing::{self, Actor, Refused};
use crate::store::{self, StoreError};

/// The `ErrorInfo` domain of change-control errors.
pub const DOMAIN: &str = "changecontrol.concordat";

/// The idempotency namespace of change control's request ids.
pub const SERVICE: &str = "changecontrol";

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// Fields are wrong.
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    /// No such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// The lifecycle does not allow the move.
    #[error(transparent)]
    Transition(#[from] InvalidTransition),
    /// The trust already voted.
    #[error("{0} already voted on {1}")]
    AlreadyVoted(String, String),
    /// The resource exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The etag is not the current one.
    #[error("etag mismatch on {0}")]
    EtagMismatch(String),
    /// A precondition of the domain failed.
    #[error("{message}")]
    Precondition {
        /// The `ErrorReason`.
        reason: &'static str,
        /// The subject of the violation.
        subject: String,
        /// What is wrong.
        message: String,
    },
    /// Refused before the write began (already audited).
    #[error("{0}")]
    Denied(ApiError),
    /// Refused inside the write (audited by the write path).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// Scheduling conflicts `(kind, subject, description)`.
    #[error("release conflicts")]
    Conflicts(Vec<(String, String, String)>),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The write path failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl From<sea_orm::DbErr> for ChangeError {
    fn from(err: sea_orm::DbErr) -> Self {
        ChangeError::Store(StoreError::Db(err))
    }
}

impl From<ApiError> for ChangeError {
    fn from(err: ApiError) -> Self {
        ChangeError::Denied(err)
    }
}

type Result<T, E = ChangeError> = std::result::Result<T, E>;

/// Encodes a change request for events (the gRPC message), supplied by the adapter.
pub type EncodeChangeRequest = fn(&ChangeRequest) -> Vec<u8>;

/// The change-control use cases.
pub struct ChangeControl {
    writer: Writer,
    federation: Arc<Federation>,
    encode: EncodeChangeRequest,
}

fn invalid(field: &str, reason: impl Into<String>) -> ChangeError {
    ChangeError::Invalid(vec![(field.to_owned(), reason.into())])
}

/// Parses `icss/{ics}`.
pub fn parse_parent(field: &str, name: &str) -> Result<String> {
    match name.strip_prefix("icss/") {
        Some(ics) if !ics.is_empty() && !ics.contains('/') => Ok(ics.to_owned()),
        _ => Err(invalid(field, "must be `icss/{ics}`")),
    }
}

/// Parses `icss/{ics}/{collection}/{id}`.
pub fn parse_name(field: &str, name: &str, collection: &str) -> Result<(String, String)> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["icss", ics, c, id] if *c == collection && !ics.is_empty() && !id.is_empty() => {
            Ok(((*ics).to_owned(), (*id).to_owned()))
        }
        _ => Err(invalid(
            field,
            format!("must be `icss/{{ics}}/{collection}/{{id}}`"),
        )),
    }
}

/// Parses `icss/{ics}/changeRequests/{cr}/{collection}/{id}`.
pub fn parse_child(field: &str, name: &str, collection: &str) -> Result<(String, String, String)> {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        ["icss", ics, "changeRequests", cr, c, id]
            if *c == collection && !ics.is_empty() && !cr.is_empty() && !id.is_empty() =>
        {
            Ok(((*ics).to_owned(), (*cr).to_owned(), (*id).to_owned()))
        }
        _ => Err(invalid(
            field,
            format!("must be `icss/{{ics}}/changeRequests/{{id}}/{collection}/{{id}}`"),
        )),
    }
}

/// The caller as the domain's rules see them.
fn actor(ctx: &RequestContext) -> Actor<'_> {
    let p = &ctx.principal;
    Actor {
        subject: &p.subject,
        trust: p.trust.as_deref(),
        assessor: p.has_any(&[
            Role::TrustDigitalLead,
            Role::TrustEngineer,
            Role::ClinicalSafetyOfficer,
        ]),
        da_member: p.has(Role::DaMember),
        da_chair: p.has(Role::DaChair),
        cso: p.has(Role::ClinicalSafetyOfficer),
        board: p.has_any(&[Role::BoardChair, Role::BoardMember]),
        deployer: p.has_any(&[
            Role::TrustEngineer,
            Role::TrustDigitalLead,
            Role::Automation,
        ]),
        digital_lead: p.has(Role::TrustDigitalLead),
        ics_admin: p.has(Role::IcsAdmin),
    }
}

/// A domain refusal as the write path records it: scope refusals keep the platform's reasons,
/// change control's own refusals its domain.
fn refusal(w: &Write, resource: &str, refused: Refused) -> ChangeError {
    let (domain, reason) = match refused.reason {
        standing::Refusal::TrustScope => (PLATFORM_DOMAIN, "TRUST_SCOPE"),
        standing::Refusal::NotTheChair => (DOMAIN, "NOT_THE_CHAIR"),
        standing::Refusal::TrustNotInvolved => (DOMAIN, "TRUST_NOT_INVOLVED"),
        standing::Refusal::NotAVotingMember => (DOMAIN, "NOT_A_VOTING_MEMBER"),
    };
    w.refuse(domain, reason, resource, refused.message).into()
}

impl ChangeControl {
    /// The use cases writing through `writer`.
    pub fn new(writer: Writer, federation: Arc<Federation>, encode: EncodeChangeRequest) -> Self {
        Self {
            writer,
            federation,
            encode,
        }
    }

    fn db(&self) -> &Database {
        self.writer.db()
    }

    fn now(&self) -> DateTime<Utc> {
        self.writer.clock().now()
    }

    fn known_trust<'a>(&'a self, ics: &'a str) -> impl Fn(&str) -> bool + 'a {
        move |t: &str| self.federation.is_trust_of(t, ics)
    }

    async fn require_ics(&self, ctx: &RequestContext, ics: &str, resource: &str) -> Result<()> {
        ctx.require_ics(self.db(), ics, resource)
            .await
            .map_err(ChangeError::Denied)
    }

    async fn load_da(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        id: &str,
    ) -> Result<DesignAuthority> {
        store::design_authority(c, ics, id)
            .await?
            .ok_or_else(|| ChangeError::NotFound(format!("icss/{ics}/designAuthorities/{id}")))
    }

    async fn load_cr(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        id: &str,
        lock: bool,
    ) -> Result<ChangeRequest> {
        store::change_request(c, ics, id, lock)
            .await?
            .ok_or_else(|| ChangeError::NotFound(format!("icss/{ics}/changeRequests/{id}")))
    }

    /// Writes the next version of a change request read at `read_version` and announces it as
    /// `kind` on the watch stream.
    async fn save(
        &self,
        w: &Write,
        next: &mut ChangeRequest,
        read_version: i64,
        kind: &str,
    ) -> Result<()> {
        next.version = read_version + 1;
        next.update_time = w.now();
        store::update_change_request(w.txn(), next, read_version).await?;
        w.event(&next.ics, &next.name(), kind, (self.encode)(next));
        Ok(())
    }

    /// The watch-stream kind of a change request that reached its current state.
    fn state_kind(cr: &ChangeRequest) -> String {
        format!("changeRequest.{}", cr.state.as_str().to_lowercase())
    }
}
