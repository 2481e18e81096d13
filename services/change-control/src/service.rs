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
use concordat_api::names;
use concordat_platform::authz::RequestContext;
use concordat_platform::db::Database;
use concordat_platform::error::ApiError;
use concordat_platform::identity::{Federation, Role};
use concordat_platform::write::{Refusal, Write, WriteError, Writer};
use sea_orm::ConnectionTrait;

pub use change_requests::{ChangeRequestEdit, NewChangeRequest};
pub use design_authorities::{DesignAuthorityEdit, NewDesignAuthority, NewStandardTemplate};
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
        /// Why.
        reason: Reason,
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

/// Why a use case refuses or cannot go on. Each is a value of change control's (or, for trust
/// scope, the platform's) `ErrorReason` enum in the proto; the adapter names them
/// ([`NameReason`]), so no reason is a string written here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The caller's trust takes no part, or the token names no trust.
    TrustNotInvolved,
    /// A standard change names a template its design authority did not approve.
    TemplateNotApproved,
    /// The state does not allow the move.
    InvalidTransition,
    /// Safety is not cleared (hazard log, CSO sign-off, residual risk).
    SafetyNotCleared,
    /// Impact assessments are outstanding before the deadline.
    AssessmentsOutstanding,
    /// Voting is still open.
    VotingOpen,
    /// Voting closed at its deadline.
    VotingClosed,
    /// An objection awaits the chair's disposition.
    ObjectionUndisposed,
    /// Only a rejecting vote is an objection.
    NotAnObjection,
    /// The hazard is signed off already.
    AlreadySignedOff,
    /// No retrospective review is due.
    NoReviewDue,
    /// Not the chair of the design authority.
    NotTheChair,
    /// Not a voting member for the trust.
    NotAVotingMember,
    /// Acting for another trust (a platform reason).
    TrustScope,
}

impl Reason {
    /// Every reason, for the test that each is listed in the proto.
    pub const ALL: [Reason; 14] = [
        Reason::TrustNotInvolved,
        Reason::TemplateNotApproved,
        Reason::InvalidTransition,
        Reason::SafetyNotCleared,
        Reason::AssessmentsOutstanding,
        Reason::VotingOpen,
        Reason::VotingClosed,
        Reason::ObjectionUndisposed,
        Reason::NotAnObjection,
        Reason::AlreadySignedOff,
        Reason::NoReviewDue,
        Reason::NotTheChair,
        Reason::NotAVotingMember,
        Reason::TrustScope,
    ];
}

/// The `ErrorInfo` domain and reason of a [`Reason`], supplied by the adapter from the proto's
/// generated enums.
pub type NameReason = fn(Reason) -> (&'static str, &'static str);

/// Encodes a change request for events (the gRPC message), supplied by the adapter.
pub type EncodeChangeRequest = fn(&ChangeRequest) -> Vec<u8>;

/// The change-control use cases.
pub struct ChangeControl {
    writer: Writer,
    federation: Arc<Federation>,
    encode: EncodeChangeRequest,
    name_reason: NameReason,
}

fn invalid(field: &str, reason: impl Into<String>) -> ChangeError {
    ChangeError::Invalid(vec![(field.to_owned(), reason.into())])
}

impl From<concordat_api::FieldViolation> for ChangeError {
    fn from(v: concordat_api::FieldViolation) -> Self {
        ChangeError::Invalid(vec![(v.field, v.description)])
    }
}

/// Parses `icss/{ics}` (sent in `field`).
pub fn parse_parent(field: &str, name: &str) -> Result<String> {
    Ok(names::IcsName::parse(field, name)?.ics)
}

/// Parses `icss/{ics}/{collection}/{id}`.
pub fn parse_name(field: &str, name: &str, collection: &str) -> Result<(String, String)> {
    Ok(names::ics_child(field, name, collection)?)
}

/// Parses `icss/{ics}/changeRequests/{cr}/{collection}/{id}`.
pub fn parse_child(field: &str, name: &str, collection: &str) -> Result<(String, String, String)> {
    Ok(names::change_request_child(field, name, collection)?)
}

/// The caller as the domain's rules see them.
fn actor(ctx: &RequestContext) -> Actor<'_> {
    let p = &ctx.principal;
    Actor {
        person: p.person(),
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

/// A domain refusal as the write path records it (audited, with its proto reason).
fn refusal(name: NameReason, w: &Write, resource: &str, refused: Refused) -> ChangeError {
    let reason = match refused.reason {
        standing::Refusal::TrustScope => Reason::TrustScope,
        standing::Refusal::NotTheChair => Reason::NotTheChair,
        standing::Refusal::TrustNotInvolved => Reason::TrustNotInvolved,
        standing::Refusal::NotAVotingMember => Reason::NotAVotingMember,
    };
    let (domain, reason) = name(reason);
    w.refuse(domain, reason, resource, refused.message).into()
}

impl ChangeControl {
    /// The use cases writing through `writer`; `encode` and `name_reason` come from the adapter.
    pub fn new(
        writer: Writer,
        federation: Arc<Federation>,
        encode: EncodeChangeRequest,
        name_reason: NameReason,
    ) -> Self {
        Self {
            writer,
            federation,
            encode,
            name_reason,
        }
    }

    /// Refuses inside a write: see [`refusal`].
    fn refuse(&self, w: &Write, resource: &str, refused: Refused) -> ChangeError {
        refusal(self.name_reason, w, resource, refused)
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

    /// Inside a write: change request `id` (locked) and its design authority, refused (and
    /// audited) unless the caller chairs it; `what` says what only the chair does.
    async fn chaired(
        &self,
        w: &Write,
        ctx: &RequestContext,
        (ics, id): (&str, &str),
        name: &str,
        what: &str,
    ) -> Result<(ChangeRequest, DesignAuthority)> {
        let cr = self.load_cr(w.txn(), ics, id, true).await?;
        let da = self.load_da(w.txn(), ics, &cr.design_authority).await?;
        actor(ctx)
            .must_chair(&da, what)
            .map_err(|r| self.refuse(w, name, r))?;
        Ok((cr, da))
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
