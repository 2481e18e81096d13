//! The use cases of change control: each takes the caller's [`RequestContext`], opens one write
//! transaction, loads what it needs, applies the domain rules, writes, appends the audit entry and
//! the outbox event, and commits. Trust and ICS scope are checked here; refusals are audited.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, Utc};
use concordat_platform::audit::{self, Actor, NewEntry};
use concordat_platform::authz::{RequestContext, deny_in};
use concordat_platform::db::{Database, WriteTxn};
use concordat_platform::error::ApiError;
use concordat_platform::events::{EventStream, Outbox};
use concordat_platform::idempotency::{self, Key};
use concordat_platform::identity::{Federation, Role};
use tonic::Code;

use crate::domain::change_request::{
    self as cr_domain, BoardDecision, ChangeRequest, ChangeType, Decision, Deployment,
    DesignAuthority, Disposition, Hazard, ImpactAssessment, StandardTemplate, Violation, Vote,
};
use crate::domain::charter::Charter;
use crate::domain::decision::{self, Ballot, Choice, Outcome};
use crate::domain::lifecycle::{self, InvalidTransition, Move, State};
use crate::domain::release::Release;
use crate::store::{self, ListQuery, StoreError};

/// The `ErrorInfo` domain of change-control errors.
pub const DOMAIN: &str = "changecontrol.concordat";
const SERVICE: &str = "changecontrol";

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
    /// Refused (already audited).
    #[error("{0}")]
    Denied(ApiError),
    /// Scheduling conflicts `(kind, subject, description)`.
    #[error("release conflicts")]
    Conflicts(Vec<(String, String, String)>),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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

impl From<ChangeError> for ApiError {
    fn from(err: ChangeError) -> Self {
        match err {
            ChangeError::Invalid(violations) => ApiError::invalid_fields(DOMAIN, violations),
            ChangeError::NotFound(name) => ApiError::not_found(DOMAIN, &name),
            ChangeError::Transition(t) => {
                let mut e = ApiError::new(Code::FailedPrecondition, DOMAIN, "INVALID_TRANSITION", t.to_string())
                    .with_metadata("state", t.from.as_str())
                    .with_metadata("allowed", t.allowed.join(","))
                    .with_precondition_violation("STATE", t.from.as_str(), t.to_string());
                for method in &t.allowed {
                    e = e.with_precondition_violation("ALLOWED", method, format!("{method} is allowed in {}", t.from));
                }
                e
            }
            ChangeError::AlreadyVoted(trust, cr) => ApiError::new(
                Code::AlreadyExists,
                DOMAIN,
                "ALREADY_VOTED",
                format!("{trust} already voted on {cr}; a trust votes once (again only if its vote went stale)"),
            )
            .with_metadata("trust", trust),
            ChangeError::AlreadyExists(name) => {
                ApiError::new(Code::AlreadyExists, DOMAIN, "ALREADY_EXISTS", format!("{name} already exists"))
                    .with_metadata("resource", name)
            }
            ChangeError::EtagMismatch(name) => ApiError::etag_mismatch(DOMAIN, &name),
            ChangeError::Precondition { reason, subject, message } => {
                ApiError::failed_precondition(DOMAIN, reason, &subject, message)
            }
            ChangeError::Denied(api) => api,
            ChangeError::Conflicts(conflicts) => {
                let message = conflicts.iter().map(|(_, _, d)| d.as_str()).collect::<Vec<_>>().join("; ");
                let mut e = ApiError::new(Code::FailedPrecondition, DOMAIN, "RELEASE_CONFLICT", message);
                for (kind, subject, description) in conflicts {
                    e = e.with_precondition_violation(&kind, &subject, description);
                }
                e
            }
            ChangeError::Store(StoreError::AlreadyExists(name)) => {
                ChangeError::AlreadyExists(name).into()
            }
            ChangeError::Store(StoreError::Conflict(name)) => ApiError::new(
                Code::Aborted,
                DOMAIN,
                "CONCURRENT_CHANGE",
                format!("{name} was changed concurrently; read it again and retry"),
            )
            .with_retry_after(std::time::Duration::from_millis(50)),
            ChangeError::Store(other) => ApiError::internal(other),
        }
    }
}

type Result<T, E = ChangeError> = std::result::Result<T, E>;

/// A use case's result, or the stored response of an earlier call with the same `request_id`.
pub enum Replayable<T> {
    /// Done now.
    Fresh(T),
    /// Done before: the encoded response of the first call.
    Replay(Vec<u8>),
}

/// Encodes a change request for events (the gRPC message), supplied by the adapter.
pub type EncodeChangeRequest = fn(&ChangeRequest) -> Vec<u8>;

/// What a vote or disposition led to.
pub struct VoteResult {
    /// The vote.
    pub vote: Vote,
    /// The change request afterwards.
    pub change_request: ChangeRequest,
}

/// The change-control use cases.
pub struct ChangeControl {
    db: Database,
    outbox: Outbox,
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

/// The ICS-relative id of a design authority named `icss/{ics}/designAuthorities/{id}`.
pub fn design_authority_id(ics: &str, name: &str) -> Result<String> {
    let (da_ics, id) = parse_name("change_request.design_authority", name, "designAuthorities")?;
    if da_ics != ics {
        return Err(invalid(
            "change_request.design_authority",
            "must be a design authority of the same ICS",
        ));
    }
    Ok(id)
}

/// The fields of a new change request (from `CreateChangeRequest`).
pub struct NewChangeRequest {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Rationale.
    pub rationale: String,
    /// Domain.
    pub domain: String,
    /// Design authority name.
    pub design_authority: String,
    /// Affected trusts.
    pub affected_trusts: Vec<String>,
    /// Type.
    pub change_type: ChangeType,
    /// Class.
    pub change_class: Option<crate::domain::charter::ChangeClass>,
    /// Template name.
    pub standard_template: String,
    /// Cost.
    pub cost_estimate_pence: i64,
    /// Effort.
    pub effort_days: i32,
    /// Release name.
    pub target_release: String,
    /// Changesets.
    pub configuration_links: Vec<String>,
    /// Items.
    pub configuration_items: Vec<String>,
    /// Benefits.
    pub benefit_links: Vec<String>,
}

/// Editable fields sent with `UpdateChangeRequest`, and which of them to replace.
pub struct ChangeRequestEdit {
    /// The new values (only masked fields are used).
    pub values: NewChangeRequest,
    /// Field names to replace.
    pub mask: Vec<String>,
    /// The etag the caller read.
    pub etag: String,
}

impl ChangeControl {
    /// The use cases over `db`, announcing changes in `outbox`.
    pub fn new(
        db: Database,
        outbox: Outbox,
        federation: Arc<Federation>,
        encode: EncodeChangeRequest,
    ) -> Self {
        Self {
            db,
            outbox,
            federation,
            encode,
        }
    }

    fn known_trust<'a>(&'a self, ics: &'a str) -> impl Fn(&str) -> bool + 'a {
        move |t: &str| self.federation.is_trust_of(t, ics)
    }

    /// Opens the write transaction, or finds the stored response of an earlier identical request.
    async fn begin(
        &self,
        ctx: &RequestContext,
        method: &str,
        request_id: &str,
    ) -> Result<(WriteTxn, Option<Vec<u8>>)> {
        let txn = self.db.begin_write().await?;
        let key = Key {
            service: SERVICE,
            subject: &subject_key(ctx),
            request_id,
            method,
        };
        match idempotency::lookup(&*txn, key).await? {
            Some(Ok(bytes)) => Ok((txn, Some(bytes))),
            Some(Err(reused)) => Err(invalid("request_id", reused.to_string())),
            None => Ok((txn, None)),
        }
    }

    /// Audits, records the event and the response, and commits.
    #[allow(clippy::too_many_arguments)]
    async fn commit(
        &self,
        txn: WriteTxn,
        ctx: &RequestContext,
        method: &str,
        request_id: &str,
        response: Vec<u8>,
        action: &str,
        resource: &str,
        summary: String,
        event: Option<(&ChangeRequest, &str)>,
    ) -> Result<()> {
        audit::append(
            &*txn,
            NewEntry {
                ics: &ctx.principal.ics,
                actor: Actor::of(&ctx.principal),
                action,
                resource,
                request_id: &ctx.request_id,
                summary,
            },
        )
        .await?;
        if let Some((cr, kind)) = event {
            self.outbox
                .append(&txn, &cr.ics, &cr.name(), kind, (self.encode)(cr))
                .await?;
        }
        let key = Key {
            service: SERVICE,
            subject: &subject_key(ctx),
            request_id,
            method,
        };
        idempotency::record(&*txn, key, response).await?;
        self.outbox.commit(txn).await?;
        Ok(())
    }

    /// Refuses inside `txn`: the denial is audited and committed; nothing else was written.
    async fn refuse(
        &self,
        txn: WriteTxn,
        ctx: &RequestContext,
        resource: &str,
        reason: &'static str,
        message: String,
    ) -> ChangeError {
        match deny_in(
            &*txn,
            refusal_domain(reason),
            &ctx.principal,
            &ctx.request_id,
            resource,
            reason,
            message,
        )
        .await
        {
            Ok(err) => match txn.commit().await {
                Ok(()) => ChangeError::Denied(err),
                Err(db) => db.into(),
            },
            Err(db) => db.into(),
        }
    }

    async fn require_ics(&self, ctx: &RequestContext, ics: &str, resource: &str) -> Result<()> {
        ctx.require_ics(&self.db, ics, resource)
            .await
            .map_err(ChangeError::Denied)
    }

    async fn load_da(
        &self,
        c: &impl sea_orm::ConnectionTrait,
        ics: &str,
        id: &str,
    ) -> Result<DesignAuthority> {
        store::design_authority(c, ics, id)
            .await?
            .ok_or_else(|| ChangeError::NotFound(format!("icss/{ics}/designAuthorities/{id}")))
    }

    async fn load_cr(
        &self,
        c: &impl sea_orm::ConnectionTrait,
        ics: &str,
        id: &str,
        lock: bool,
    ) -> Result<ChangeRequest> {
        store::change_request(c, ics, id, lock)
            .await?
            .ok_or_else(|| ChangeError::NotFound(format!("icss/{ics}/changeRequests/{id}")))
    }

    // ---- design authorities ------------------------------------------------------------------

    /// Creates a design authority with charter version 1.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_design_authority(
        &self,
        ctx: &RequestContext,
        parent: &str,
        id: &str,
        display_name: String,
        domains: Vec<String>,
        members: BTreeMap<String, BTreeSet<String>>,
        chair: String,
        mut charter: Charter,
        request_id: &str,
        encode: impl FnOnce(&DesignAuthority) -> Vec<u8>,
    ) -> Result<Replayable<DesignAuthority>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        charter.version = 1;
        cr_domain::validate_design_authority(
            id,
            &display_name,
            &members,
            &chair,
            &charter,
            self.known_trust(&ics),
        )
        .map_err(ChangeError::Invalid)?;
        let (txn, replay) = self.begin(ctx, "CreateDesignAuthority", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let now = Utc::now();
        let da = DesignAuthority {
            ics: ics.clone(),
            id: id.to_owned(),
            display_name,
            domains,
            members,
            chair,
            charter,
            version: 1,
            create_time: now,
            update_time: now,
        };
        store::insert_design_authority(&*txn, &da).await?;
        let name = da.name();
        let summary = format!(
            "design authority {} created, chair {}",
            da.display_name, da.chair
        );
        self.commit(
            txn,
            ctx,
            "CreateDesignAuthority",
            request_id,
            encode(&da),
            "designAuthority.create",
            &name,
            summary,
            None,
        )
        .await?;
        Ok(Replayable::Fresh(da))
    }

    /// Reads a design authority.
    pub async fn get_design_authority(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<DesignAuthority> {
        let (ics, id) = parse_name("name", name, "designAuthorities")?;
        self.require_ics(ctx, &ics, name).await?;
        self.load_da(self.db.conn(), &ics, &id).await
    }

    /// Lists the design authorities of an ICS.
    pub async fn list_design_authorities(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<Vec<DesignAuthority>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        Ok(store::design_authorities(self.db.conn(), &ics).await?)
    }

    // ---- change requests ---------------------------------------------------------------------

    /// Raises a change request in DRAFT for the caller's trust.
    pub async fn create_change_request(
        &self,
        ctx: &RequestContext,
        parent: &str,
        new: NewChangeRequest,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let Some(trust) = ctx.principal.trust.clone() else {
            return Err(ChangeError::Precondition {
                reason: "TRUST_NOT_INVOLVED",
                subject: ctx.principal.subject.clone(),
                message: "a change request is raised by a trust: your token names none".into(),
            });
        };
        let da_id = design_authority_id(&ics, &new.design_authority)?;
        let now = Utc::now();
        let mut cr = ChangeRequest {
            ics: ics.clone(),
            id: uuid::Uuid::now_v7().simple().to_string(),
            number: String::new(),
            title: new.title,
            description: new.description,
            rationale: new.rationale,
            requesting_trust: trust,
            requester: ctx.principal.subject.clone(),
            domain: new.domain,
            design_authority: da_id.clone(),
            affected_trusts: new.affected_trusts.into_iter().collect(),
            change_type: new.change_type,
            change_class: new
                .change_class
                .unwrap_or(crate::domain::charter::ChangeClass::Significant),
            standard_template: new.standard_template,
            cost_estimate_pence: new.cost_estimate_pence,
            effort_days: new.effort_days,
            target_release: new.target_release,
            configuration_links: new.configuration_links,
            configuration_items: new.configuration_items,
            benefit_links: new.benefit_links,
            state: State::Draft,
            charter_version: 0,
            assessment_deadline: None,
            voting_deadline: None,
            residual_risk: 0,
            decision: None,
            board_decision: None,
            missing_assessment_trusts: Vec::new(),
            deployments: Vec::new(),
            retrospective_review_deadline: None,
            retrospective_review_time: None,
            version: 1,
            create_time: now,
            update_time: now,
        };
        let mut violations = cr
            .validate(self.known_trust(&ics))
            .err()
            .unwrap_or_default();
        if new.change_class.is_none() {
            violations.push(("change_request.change_class".into(), "must be set".into()));
        }
        if !violations.is_empty() {
            return Err(ChangeError::Invalid(violations));
        }
        let da = store::design_authority(self.db.conn(), &ics, &da_id).await?;
        match da {
            None => {
                return Err(invalid(
                    "change_request.design_authority",
                    format!("{} does not exist", new.design_authority),
                ));
            }
            Some(da) if !da.domains.iter().any(|d| d == &cr.domain) => {
                return Err(invalid(
                    "change_request.domain",
                    format!(
                        "{} decides {}, not {}",
                        da.display_name,
                        da.domains.join(", "),
                        cr.domain
                    ),
                ));
            }
            Some(_) => {}
        }
        if cr.change_type == ChangeType::Standard {
            let (t_ics, t_id) = parse_name(
                "change_request.standard_template",
                &cr.standard_template,
                "standardTemplates",
            )?;
            let template = store::template(self.db.conn(), &t_ics, &t_id).await?;
            match template {
                Some(t) if t.ics == ics && t.design_authority == da_id => {
                    cr.standard_template = t_id
                }
                _ => {
                    return Err(ChangeError::Precondition {
                        reason: "TEMPLATE_NOT_APPROVED",
                        subject: cr.standard_template.clone(),
                        message: format!(
                            "{} is not a standard template approved by {}",
                            cr.standard_template, new.design_authority
                        ),
                    });
                }
            }
        }
        let (txn, replay) = self.begin(ctx, "CreateChangeRequest", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let seq = store::next_sequence(&*txn, &ics, now.year()).await?;
        cr.number = cr_domain::number(now.year(), seq);
        store::insert_change_request(&*txn, &cr).await?;
        let summary = format!(
            "{} raised by {}: {}",
            cr.number, cr.requesting_trust, cr.title
        );
        self.commit(
            txn,
            ctx,
            "CreateChangeRequest",
            request_id,
            encode(&cr),
            "changeRequest.create",
            &cr.name(),
            summary,
            Some((&cr, "changeRequest.created")),
        )
        .await?;
        Ok(Replayable::Fresh(cr))
    }

    /// Reads a change request.
    pub async fn get_change_request(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<ChangeRequest> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        self.load_cr(self.db.conn(), &ics, &id, false).await
    }

    /// Lists change requests.
    pub async fn list_change_requests(
        &self,
        ctx: &RequestContext,
        parent: &str,
        query: ListQuery,
    ) -> Result<(Vec<ChangeRequest>, u64)> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        Ok(store::list_change_requests(self.db.conn(), &ics, &query).await?)
    }

    /// Edits a change request; a change of substance after voting opened makes the votes stale.
    pub async fn update_change_request(
        &self,
        ctx: &RequestContext,
        name: &str,
        edit: ChangeRequestEdit,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("change_request.name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if edit.mask.is_empty() {
            return Err(invalid("update_mask", "name the fields to replace"));
        }
        if edit.etag.is_empty() {
            return Err(invalid(
                "change_request.etag",
                "an edit needs the etag of the version it changes",
            ));
        }
        let (txn, replay) = self.begin(ctx, "UpdateChangeRequest", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let current = self.load_cr(&*txn, &ics, &id, true).await?;
        if !ctx.principal.acts_for(&current.requesting_trust) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "TRUST_SCOPE",
                    format!(
                        "only {} edits its change requests",
                        current.requesting_trust
                    ),
                )
                .await);
        }
        if current.etag() != edit.etag {
            return Err(ChangeError::EtagMismatch(name.to_owned()));
        }
        if !current.state.editable() {
            return Err(ChangeError::Precondition {
                reason: "INVALID_TRANSITION",
                subject: current.state.as_str().into(),
                message: format!(
                    "a change request in {} can no longer be edited",
                    current.state
                ),
            });
        }
        let mut next = current.clone();
        let v = edit.values;
        for field in &edit.mask {
            match field.as_str() {
                "title" => next.title = v.title.clone(),
                "description" => next.description = v.description.clone(),
                "rationale" => next.rationale = v.rationale.clone(),
                "affected_trusts" => {
                    next.affected_trusts = v.affected_trusts.iter().cloned().collect()
                }
                "change_class" => {
                    next.change_class = v
                        .change_class
                        .ok_or_else(|| invalid("change_request.change_class", "must be set"))?
                }
                "cost_estimate_pence" => next.cost_estimate_pence = v.cost_estimate_pence,
                "effort_days" => next.effort_days = v.effort_days,
                "target_release" => next.target_release = v.target_release.clone(),
                "configuration_links" => next.configuration_links = v.configuration_links.clone(),
                "configuration_items" => next.configuration_items = v.configuration_items.clone(),
                "benefit_links" => next.benefit_links = v.benefit_links.clone(),
                other => {
                    return Err(invalid(
                        "update_mask",
                        format!("`{other}` cannot be edited"),
                    ));
                }
            }
        }
        next.validate(self.known_trust(&ics))
            .map_err(ChangeError::Invalid)?;
        let stale = current.state == State::DaReview && current.substance_changed(&next);
        if stale {
            store::mark_votes_stale(&*txn, &ics, &id).await?;
        }
        next.version += 1;
        next.update_time = Utc::now();
        store::update_change_request(&*txn, &next, current.version).await?;
        let summary = format!(
            "{} edited ({}){}",
            next.number,
            edit.mask.join(", "),
            if stale {
                "; the substance changed, so earlier votes are stale"
            } else {
                ""
            }
        );
        self.commit(
            txn,
            ctx,
            "UpdateChangeRequest",
            request_id,
            encode(&next),
            "changeRequest.update",
            name,
            summary,
            Some((&next, "changeRequest.updated")),
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    /// Applies a lifecycle move that needs only the CR and its design authority: submit, start
    /// assessment, open voting, defer, reopen, withdraw.
    #[allow(clippy::too_many_arguments)]
    pub async fn transition(
        &self,
        ctx: &RequestContext,
        method: &'static str,
        name: &str,
        etag: &str,
        deadline: Option<DateTime<Utc>>,
        reason: &str,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if deadline.is_some_and(|d| d <= Utc::now()) {
            return Err(invalid("deadline", "must be in the future"));
        }
        let (txn, replay) = self.begin(ctx, method, request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let current = self.load_cr(&*txn, &ics, &id, true).await?;
        if !etag.is_empty() && etag != current.etag() {
            return Err(ChangeError::EtagMismatch(name.to_owned()));
        }
        let da = self.load_da(&*txn, &ics, &current.design_authority).await?;
        let is_chair = da.chair == ctx.principal.subject && ctx.principal.has(Role::DaChair);
        let is_requester = ctx.principal.acts_for(&current.requesting_trust);
        let now = Utc::now();
        let mut next = current.clone();
        let (mv, action, summary) = match method {
            "SubmitChangeRequest" => {
                if !is_requester {
                    return Err(self
                        .refuse(
                            txn,
                            ctx,
                            name,
                            "TRUST_SCOPE",
                            format!(
                                "only {} submits its change requests",
                                current.requesting_trust
                            ),
                        )
                        .await);
                }
                let standard = current.change_type == ChangeType::Standard;
                if standard {
                    next.decision = Some(Decision {
                        approved: true,
                        rule: format!(
                            "standard change from the pre-approved template {}",
                            current.standard_template
                        ),
                        approvals: 0,
                        rejections: 0,
                        abstentions: 0,
                        charter_version: da.charter.version,
                        decide_time: now,
                    });
                }
                let note = if standard {
                    " (standard change: approved)"
                } else {
                    ""
                };
                (
                    Move::Submit { standard },
                    "changeRequest.submit",
                    format!("{} submitted to {}{note}", current.number, da.display_name),
                )
            }
            "WithdrawChangeRequest" => {
                if !is_requester {
                    return Err(self
                        .refuse(
                            txn,
                            ctx,
                            name,
                            "TRUST_SCOPE",
                            format!(
                                "only {} withdraws its change requests",
                                current.requesting_trust
                            ),
                        )
                        .await);
                }
                (
                    Move::Withdraw,
                    "changeRequest.withdraw",
                    format!("{} withdrawn: {reason}", current.number),
                )
            }
            "ReopenChangeRequest" => {
                if !is_requester && !is_chair {
                    return Err(self
                        .refuse(
                            txn,
                            ctx,
                            name,
                            "NOT_THE_CHAIR",
                            "only the requesting trust or the chair reopens".into(),
                        )
                        .await);
                }
                (
                    Move::Reopen,
                    "changeRequest.reopen",
                    format!("{} reopened", current.number),
                )
            }
            chair_method => {
                if !is_chair {
                    return Err(self
                        .refuse(
                            txn,
                            ctx,
                            name,
                            "NOT_THE_CHAIR",
                            format!(
                                "only the chair of {} ({}) may do this",
                                da.display_name, da.chair
                            ),
                        )
                        .await);
                }
                match chair_method {
                    "StartImpactAssessment" => {
                        let due = deadline
                            .unwrap_or(now + Duration::days(da.charter.assessment_days.into()));
                        next.assessment_deadline = Some(due);
                        (
                            Move::StartAssessment,
                            "changeRequest.startImpactAssessment",
                            format!(
                                "{} impact assessment started, due {}",
                                current.number,
                                due.format("%Y-%m-%d")
                            ),
                        )
                    }
                    "OpenVoting" => {
                        // The state first: a refused move is explained as such.
                        lifecycle::apply(current.state, Move::OpenVoting)?;
                        let hazards = store::hazards(&*txn, &ics, &id).await?;
                        let blockers = cr_domain::safety_blockers(&current, &da.charter, &hazards);
                        if !blockers.is_empty() {
                            return Err(ChangeError::Precondition {
                                reason: "SAFETY_NOT_CLEARED",
                                subject: name.to_owned(),
                                message: blockers.join("; "),
                            });
                        }
                        let assessed: BTreeSet<String> = store::assessments(&*txn, &ics, &id)
                            .await?
                            .into_iter()
                            .map(|a| a.trust)
                            .collect();
                        let missing: Vec<String> = current
                            .affected_trusts
                            .iter()
                            .filter(|t| !assessed.contains(*t))
                            .cloned()
                            .collect();
                        let deadline_passed = current.assessment_deadline.is_some_and(|d| d <= now);
                        if !missing.is_empty() && !deadline_passed {
                            return Err(ChangeError::Precondition {
                                reason: "ASSESSMENTS_OUTSTANDING",
                                subject: name.to_owned(),
                                message: format!(
                                    "impact assessments outstanding from {} until the deadline",
                                    missing.join(", ")
                                ),
                            });
                        }
                        next.missing_assessment_trusts = missing;
                        next.charter_version = da.charter.version;
                        let due =
                            deadline.unwrap_or(now + Duration::days(da.charter.voting_days.into()));
                        next.voting_deadline = Some(due);
                        (
                            Move::OpenVoting,
                            "changeRequest.openVoting",
                            format!(
                                "{} voting opened under charter v{}",
                                current.number, da.charter.version
                            ),
                        )
                    }
                    "DeferChangeRequest" => (
                        Move::Defer,
                        "changeRequest.defer",
                        format!("{} deferred: {reason}", current.number),
                    ),
                    other => return Err(invalid("method", format!("{other} is not a transition"))),
                }
            }
        };
        next.state = lifecycle::apply(current.state, mv)?;
        next.version += 1;
        next.update_time = now;
        store::update_change_request(&*txn, &next, current.version).await?;
        let kind = format!("changeRequest.{}", next.state.as_str().to_lowercase());
        self.commit(
            txn,
            ctx,
            method,
            request_id,
            encode(&next),
            action,
            name,
            summary,
            Some((&next, &kind)),
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    /// Tries to decide a change request in DA_REVIEW after a vote or disposition, inside `txn`.
    /// Returns the decided CR (not yet written) or `None` when it must wait.
    async fn try_decide(
        &self,
        txn: &WriteTxn,
        cr: &ChangeRequest,
        da: &DesignAuthority,
        closing: bool,
    ) -> Result<Option<(ChangeRequest, String)>> {
        let charter = store::charter_version(&**txn, &cr.ics, &da.id, cr.charter_version)
            .await?
            .unwrap_or_else(|| da.charter.clone());
        let votes = store::votes(&**txn, &cr.ics, &cr.id).await?;
        let counted: BTreeMap<String, Choice> = votes
            .iter()
            .filter(|v| !v.stale)
            .map(|v| (v.trust.clone(), v.choice))
            .collect();
        let members = da.member_trusts();
        let rule = charter.rule(cr.change_class);
        let outcome = decision::decide(&Ballot {
            members: &members,
            votes: &counted,
            threshold: rule.threshold,
            quorum_percent: charter.quorum_percent,
            silence: charter.silence,
            closing,
        });
        let undisposed: Vec<&str> = votes
            .iter()
            .filter(|v| !v.stale && v.choice == Choice::Reject && v.disposition.is_none())
            .map(|v| v.trust.as_str())
            .collect();
        let now = Utc::now();
        let mut next = cr.clone();
        let summary = match outcome {
            Outcome::Pending => return Ok(None),
            Outcome::NoQuorum { rule } => {
                next.state = lifecycle::apply(cr.state, Move::NoQuorum)?;
                format!("{} deferred: {rule}", cr.number)
            }
            Outcome::Decided {
                approved,
                tally,
                rule: why,
            } => {
                if !undisposed.is_empty() {
                    if closing {
                        return Err(ChangeError::Precondition {
                            reason: "OBJECTION_UNDISPOSED",
                            subject: cr.name(),
                            message: format!(
                                "the objections of {} await the chair's disposition",
                                undisposed.join(", ")
                            ),
                        });
                    }
                    return Ok(None);
                }
                if approved {
                    let hazards = store::hazards(&**txn, &cr.ics, &cr.id).await?;
                    let blockers = cr_domain::safety_blockers(cr, &charter, &hazards);
                    if !blockers.is_empty() {
                        if closing {
                            return Err(ChangeError::Precondition {
                                reason: "SAFETY_NOT_CLEARED",
                                subject: cr.name(),
                                message: blockers.join("; "),
                            });
                        }
                        return Ok(None);
                    }
                }
                let board =
                    approved && charter.needs_board(cr.residual_risk, cr.cost_estimate_pence);
                next.state = lifecycle::apply(cr.state, Move::Decide { approved, board })?;
                next.decision = Some(Decision {
                    approved,
                    rule: why.clone(),
                    approvals: tally.approvals,
                    rejections: tally.rejections,
                    abstentions: tally.abstentions,
                    charter_version: charter.version,
                    decide_time: now,
                });
                format!(
                    "{} {} by {} ({why}){}",
                    cr.number,
                    if approved { "approved" } else { "rejected" },
                    da.display_name,
                    if board {
                        "; the programme board must also approve"
                    } else {
                        ""
                    }
                )
            }
        };
        next.version += 1;
        next.update_time = now;
        Ok(Some((next, summary)))
    }

    /// Casts the caller's trust's vote; the last vote needed decides.
    #[allow(clippy::too_many_arguments)]
    pub async fn cast_vote(
        &self,
        ctx: &RequestContext,
        parent: &str,
        choice: Choice,
        reason: String,
        comment: String,
        request_id: &str,
        encode: impl FnOnce(&VoteResult) -> Vec<u8>,
    ) -> Result<Replayable<VoteResult>> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        if choice == Choice::Reject && reason.trim().is_empty() {
            return Err(invalid(
                "reason",
                "a rejection states its reason: it is an objection the chair must answer",
            ));
        }
        let Some(trust) = ctx.principal.trust.clone() else {
            return Err(ChangeError::Precondition {
                reason: "TRUST_NOT_INVOLVED",
                subject: ctx.principal.subject.clone(),
                message: "votes are cast for a trust: your token names none".into(),
            });
        };
        let (txn, replay) = self.begin(ctx, "CastVote", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let da = self.load_da(&*txn, &ics, &cr.design_authority).await?;
        if !da.members.contains_key(&trust) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    parent,
                    "TRUST_NOT_INVOLVED",
                    format!("{trust} is not a member of {}", da.display_name),
                )
                .await);
        }
        if !da.may_vote(&trust, &ctx.principal.subject) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    parent,
                    "NOT_A_VOTING_MEMBER",
                    format!(
                        "{} is not a voting member for {trust}",
                        ctx.principal.subject
                    ),
                )
                .await);
        }
        if cr.state == State::DaReview && cr.voting_deadline.is_some_and(|d| d <= Utc::now()) {
            return Err(ChangeError::Precondition {
                reason: "VOTING_CLOSED",
                subject: parent.to_owned(),
                message: format!(
                    "voting on {} closed at its deadline; the chair closes the vote",
                    cr.number
                ),
            });
        }
        if cr.state != State::DaReview {
            return Err(ChangeError::Transition(InvalidTransition {
                from: cr.state,
                method: "CastVote",
                allowed: lifecycle::allowed_methods(cr.state),
            }));
        }
        let vote = Vote {
            trust: trust.clone(),
            voter: ctx.principal.subject.clone(),
            choice,
            reason,
            comment,
            stale: false,
            disposition: None,
            disposition_note: String::new(),
            cast_time: Utc::now(),
        };
        match store::insert_vote(&*txn, &ics, &id, &vote).await {
            Err(StoreError::AlreadyExists(_)) => {
                return Err(ChangeError::AlreadyVoted(trust, cr.name()));
            }
            other => other?,
        }
        let (change_request, summary, kind) = match self.try_decide(&txn, &cr, &da, false).await? {
            Some((decided, summary)) => {
                store::update_change_request(&*txn, &decided, cr.version).await?;
                let kind = format!("changeRequest.{}", decided.state.as_str().to_lowercase());
                (decided, summary, kind)
            }
            None => {
                let mut touched = cr.clone();
                touched.version += 1;
                touched.update_time = Utc::now();
                store::update_change_request(&*txn, &touched, cr.version).await?;
                (
                    touched,
                    format!("{} vote by {trust}: {choice:?}", cr.number),
                    "changeRequest.voted".into(),
                )
            }
        };
        let result = VoteResult {
            vote,
            change_request,
        };
        let name = format!("{}/votes/{trust}", cr.name());
        let summary = format!(
            "{trust} voted {:?} on {}; {summary}",
            result.vote.choice, cr.number
        );
        self.commit(
            txn,
            ctx,
            "CastVote",
            request_id,
            encode(&result),
            "vote.cast",
            &name,
            summary,
            Some((&result.change_request, &kind)),
        )
        .await?;
        Ok(Replayable::Fresh(result))
    }

    /// The chair's disposition of an objection; the last one the decision waited for decides.
    pub async fn dispose_objection(
        &self,
        ctx: &RequestContext,
        name: &str,
        disposition: Disposition,
        note: String,
        request_id: &str,
        encode: impl FnOnce(&VoteResult) -> Vec<u8>,
    ) -> Result<Replayable<VoteResult>> {
        let (ics, id, trust) = parse_child("name", name, "votes")?;
        self.require_ics(ctx, &ics, name).await?;
        let (txn, replay) = self.begin(ctx, "DisposeObjection", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let da = self.load_da(&*txn, &ics, &cr.design_authority).await?;
        if !(da.chair == ctx.principal.subject && ctx.principal.has(Role::DaChair)) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "NOT_THE_CHAIR",
                    format!(
                        "only the chair of {} disposes of objections",
                        da.display_name
                    ),
                )
                .await);
        }
        let mut vote = store::votes(&*txn, &ics, &id)
            .await?
            .into_iter()
            .find(|v| v.trust == trust)
            .ok_or_else(|| ChangeError::NotFound(name.to_owned()))?;
        if vote.choice != Choice::Reject {
            return Err(ChangeError::Precondition {
                reason: "NOT_AN_OBJECTION",
                subject: name.to_owned(),
                message: "only a rejecting vote is an objection".into(),
            });
        }
        vote.disposition = Some(disposition);
        vote.disposition_note = note;
        store::dispose(&*txn, &ics, &id, &vote).await?;
        let mut change_request = cr.clone();
        let mut kind = "changeRequest.objectionDisposed".to_owned();
        if cr.state == State::DaReview
            && let Some((decided, _)) = self.try_decide(&txn, &cr, &da, false).await?
        {
            kind = format!("changeRequest.{}", decided.state.as_str().to_lowercase());
            change_request = decided;
        } else {
            change_request.version += 1;
            change_request.update_time = Utc::now();
        }
        store::update_change_request(&*txn, &change_request, cr.version).await?;
        let result = VoteResult {
            vote,
            change_request,
        };
        let summary = format!(
            "objection of {trust} on {} disposed of: {disposition:?}",
            cr.number
        );
        self.commit(
            txn,
            ctx,
            "DisposeObjection",
            request_id,
            encode(&result),
            "vote.dispose",
            name,
            summary,
            Some((&result.change_request, &kind)),
        )
        .await?;
        Ok(Replayable::Fresh(result))
    }

    /// Closes voting at or after the deadline, applying the silence policy. The chair.
    pub async fn close_voting(
        &self,
        ctx: &RequestContext,
        name: &str,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        let (txn, replay) = self.begin(ctx, "CloseVoting", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let da = self.load_da(&*txn, &ics, &cr.design_authority).await?;
        if !(da.chair == ctx.principal.subject && ctx.principal.has(Role::DaChair)) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "NOT_THE_CHAIR",
                    format!("only the chair of {} closes voting", da.display_name),
                )
                .await);
        }
        lifecycle::apply(cr.state, Move::NoQuorum)?;
        if cr.voting_deadline.is_some_and(|d| d > Utc::now()) {
            return Err(ChangeError::Precondition {
                reason: "VOTING_OPEN",
                subject: name.to_owned(),
                message: format!(
                    "voting is open until {}",
                    cr.voting_deadline
                        .map(|d| d.to_rfc3339())
                        .unwrap_or_default()
                ),
            });
        }
        let Some((decided, summary)) = self.try_decide(&txn, &cr, &da, true).await? else {
            return Err(ChangeError::Precondition {
                reason: "VOTING_OPEN",
                subject: name.to_owned(),
                message: "voting cannot close yet".into(),
            });
        };
        store::update_change_request(&*txn, &decided, cr.version).await?;
        let kind = format!("changeRequest.{}", decided.state.as_str().to_lowercase());
        self.commit(
            txn,
            ctx,
            "CloseVoting",
            request_id,
            encode(&decided),
            "changeRequest.closeVoting",
            name,
            summary,
            Some((&decided, &kind)),
        )
        .await?;
        Ok(Replayable::Fresh(decided))
    }

    /// The programme board's decision.
    pub async fn record_board_decision(
        &self,
        ctx: &RequestContext,
        name: &str,
        approved: bool,
        minutes_reference: String,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if minutes_reference.trim().is_empty() {
            return Err(invalid(
                "minutes_reference",
                "a board decision cites its minutes",
            ));
        }
        let (txn, replay) = self.begin(ctx, "RecordBoardDecision", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let mut next = cr.clone();
        next.state = lifecycle::apply(cr.state, Move::BoardDecide { approved })?;
        let now = Utc::now();
        next.board_decision = Some(BoardDecision {
            approved,
            minutes_reference: minutes_reference.clone(),
            recorded_by: ctx.principal.subject.clone(),
            decide_time: now,
        });
        next.version += 1;
        next.update_time = now;
        store::update_change_request(&*txn, &next, cr.version).await?;
        let summary = format!(
            "{} {} by the programme board ({minutes_reference})",
            cr.number,
            if approved { "approved" } else { "rejected" }
        );
        let kind = format!("changeRequest.{}", next.state.as_str().to_lowercase());
        self.commit(
            txn,
            ctx,
            "RecordBoardDecision",
            request_id,
            encode(&next),
            "changeRequest.boardDecision",
            name,
            summary,
            Some((&next, &kind)),
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    // ---- assessments, hazards, votes ---------------------------------------------------------

    /// Records the caller's trust's impact assessment.
    pub async fn submit_assessment(
        &self,
        ctx: &RequestContext,
        parent: &str,
        mut assessment: ImpactAssessment,
        request_id: &str,
        encode: impl FnOnce(&ImpactAssessment) -> Vec<u8>,
    ) -> Result<Replayable<ImpactAssessment>> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        if assessment.trust.is_empty() {
            return Err(invalid("impact_assessment.trust", "must name your trust"));
        }
        assessment.validate().map_err(ChangeError::Invalid)?;
        let resource = format!("{parent}/impactAssessments/{}", assessment.trust);
        ctx.require_trust(&self.db, &assessment.trust, &resource)
            .await
            .map_err(ChangeError::Denied)?;
        let (txn, replay) = self
            .begin(ctx, "SubmitImpactAssessment", request_id)
            .await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        if !cr.affected_trusts.contains(&assessment.trust) {
            return Err(ChangeError::Precondition {
                reason: "TRUST_NOT_INVOLVED",
                subject: assessment.trust.clone(),
                message: format!("{} is not affected by {}", assessment.trust, cr.number),
            });
        }
        if cr.state != State::ImpactAssessment {
            return Err(ChangeError::Transition(InvalidTransition {
                from: cr.state,
                method: "SubmitImpactAssessment",
                allowed: lifecycle::allowed_methods(cr.state),
            }));
        }
        assessment.assessor = ctx.principal.subject.clone();
        assessment.update_time = Utc::now();
        store::upsert_assessment(&*txn, &ics, &id, &assessment).await?;
        let mut touched = cr.clone();
        touched.version += 1;
        touched.update_time = assessment.update_time;
        store::update_change_request(&*txn, &touched, cr.version).await?;
        let summary = format!(
            "{} assessed {}: {:?}",
            assessment.trust, cr.number, assessment.recommendation
        );
        self.commit(
            txn,
            ctx,
            "SubmitImpactAssessment",
            request_id,
            encode(&assessment),
            "impactAssessment.submit",
            &resource,
            summary,
            Some((&touched, "changeRequest.assessed")),
        )
        .await?;
        Ok(Replayable::Fresh(assessment))
    }

    /// The assessments received and the affected trusts still missing.
    pub async fn list_assessments(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<(Vec<ImpactAssessment>, Vec<String>)> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        let cr = self.load_cr(self.db.conn(), &ics, &id, false).await?;
        let assessments = store::assessments(self.db.conn(), &ics, &id).await?;
        let done: BTreeSet<&str> = assessments.iter().map(|a| a.trust.as_str()).collect();
        let missing = cr
            .affected_trusts
            .iter()
            .filter(|t| !done.contains(t.as_str()))
            .cloned()
            .collect();
        Ok((assessments, missing))
    }

    /// Adds a hazard; the CR's residual risk follows the highest. During voting this is a change
    /// of substance: votes go stale.
    pub async fn create_hazard(
        &self,
        ctx: &RequestContext,
        parent: &str,
        hazard: Hazard,
        request_id: &str,
        encode: impl FnOnce(&Hazard) -> Vec<u8>,
    ) -> Result<Replayable<Hazard>> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        let mut hazard = hazard.assess().map_err(ChangeError::Invalid)?;
        hazard.signed_off_by.clear();
        hazard.signed_off_trust.clear();
        hazard.sign_off_time = None;
        let (txn, replay) = self.begin(ctx, "CreateHazard", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let involved = ctx
            .principal
            .trust
            .as_ref()
            .is_some_and(|t| cr.affected_trusts.contains(t) || *t == cr.requesting_trust);
        if !involved {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    parent,
                    "TRUST_SCOPE",
                    format!("only trusts involved in {} log its hazards", cr.number),
                )
                .await);
        }
        if !cr.state.editable() {
            return Err(ChangeError::Transition(InvalidTransition {
                from: cr.state,
                method: "CreateHazard",
                allowed: lifecycle::allowed_methods(cr.state),
            }));
        }
        hazard.id = uuid::Uuid::now_v7().simple().to_string();
        store::insert_hazard(&*txn, &ics, &id, &hazard).await?;
        let mut next = cr.clone();
        next.residual_risk = next.residual_risk.max(hazard.residual_risk);
        if cr.state == State::DaReview {
            store::mark_votes_stale(&*txn, &ics, &id).await?;
        }
        next.version += 1;
        next.update_time = Utc::now();
        store::update_change_request(&*txn, &next, cr.version).await?;
        let resource = format!("{parent}/hazards/{}", hazard.id);
        let summary = format!(
            "hazard logged on {}: {} (risk {} → {})",
            cr.number, hazard.description, hazard.initial_risk, hazard.residual_risk
        );
        self.commit(
            txn,
            ctx,
            "CreateHazard",
            request_id,
            encode(&hazard),
            "hazard.create",
            &resource,
            summary,
            Some((&next, "changeRequest.hazardLogged")),
        )
        .await?;
        Ok(Replayable::Fresh(hazard))
    }

    /// The hazard log.
    pub async fn list_hazards(&self, ctx: &RequestContext, parent: &str) -> Result<Vec<Hazard>> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        self.load_cr(self.db.conn(), &ics, &id, false).await?;
        Ok(store::hazards(self.db.conn(), &ics, &id).await?)
    }

    /// A CSO of an affected trust signs a hazard off.
    pub async fn sign_off_hazard(
        &self,
        ctx: &RequestContext,
        name: &str,
        request_id: &str,
        encode: impl FnOnce(&Hazard) -> Vec<u8>,
    ) -> Result<Replayable<Hazard>> {
        let (ics, id, hazard_id) = parse_child("name", name, "hazards")?;
        self.require_ics(ctx, &ics, name).await?;
        let (txn, replay) = self.begin(ctx, "SignOffHazard", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let Some(trust) = ctx
            .principal
            .trust
            .clone()
            .filter(|t| cr.affected_trusts.contains(t))
        else {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "TRUST_SCOPE",
                    format!(
                        "a CSO of a trust affected by {} signs its hazards off",
                        cr.number
                    ),
                )
                .await);
        };
        let mut hazard = store::hazards(&*txn, &ics, &id)
            .await?
            .into_iter()
            .find(|h| h.id == hazard_id)
            .ok_or_else(|| ChangeError::NotFound(name.to_owned()))?;
        if !hazard.signed_off_by.is_empty() {
            return Err(ChangeError::Precondition {
                reason: "ALREADY_SIGNED_OFF",
                subject: name.to_owned(),
                message: format!("signed off by {} already", hazard.signed_off_by),
            });
        }
        hazard.signed_off_by = ctx.principal.subject.clone();
        hazard.signed_off_trust = trust.clone();
        hazard.sign_off_time = Some(Utc::now());
        store::sign_off_hazard(&*txn, &ics, &id, &hazard).await?;
        let mut touched = cr.clone();
        touched.version += 1;
        touched.update_time = Utc::now();
        store::update_change_request(&*txn, &touched, cr.version).await?;
        let summary = format!(
            "hazard on {} signed off by {} of {trust}",
            cr.number, hazard.signed_off_by
        );
        self.commit(
            txn,
            ctx,
            "SignOffHazard",
            request_id,
            encode(&hazard),
            "hazard.signOff",
            name,
            summary,
            Some((&touched, "changeRequest.hazardSignedOff")),
        )
        .await?;
        Ok(Replayable::Fresh(hazard))
    }

    /// The votes on a change request.
    pub async fn list_votes(&self, ctx: &RequestContext, parent: &str) -> Result<Vec<Vote>> {
        let (ics, id) = parse_name("parent", parent, "changeRequests")?;
        self.require_ics(ctx, &ics, parent).await?;
        self.load_cr(self.db.conn(), &ics, &id, false).await?;
        Ok(store::votes(self.db.conn(), &ics, &id).await?)
    }

    /// Streams change-request events of an ICS from `cursor`.
    pub async fn watch(
        &self,
        ctx: &RequestContext,
        parent: &str,
        cursor: i64,
    ) -> Result<EventStream> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        if cursor < 0 {
            return Err(invalid("cursor", "must not be negative"));
        }
        Ok(self.outbox.watch(ics, cursor).await?)
    }
}

impl ChangeControl {
    fn is_chair(ctx: &RequestContext, da: &DesignAuthority) -> bool {
        da.chair == ctx.principal.subject && ctx.principal.has(Role::DaChair)
    }

    /// Replaces a design authority's charter with a new version.
    pub async fn update_charter(
        &self,
        ctx: &RequestContext,
        name: &str,
        mut charter: Charter,
        etag: &str,
        request_id: &str,
        encode: impl FnOnce(&DesignAuthority) -> Vec<u8>,
    ) -> Result<Replayable<DesignAuthority>> {
        let (ics, id) = parse_name("name", name, "designAuthorities")?;
        self.require_ics(ctx, &ics, name).await?;
        if etag.is_empty() {
            return Err(invalid(
                "etag",
                "a charter update needs the design authority's etag",
            ));
        }
        charter.validate().map_err(ChangeError::Invalid)?;
        let (txn, replay) = self.begin(ctx, "UpdateCharter", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let current = self.load_da(&*txn, &ics, &id).await?;
        if !(ctx.principal.has(Role::IcsAdmin) || Self::is_chair(ctx, &current)) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "NOT_THE_CHAIR",
                    format!(
                        "only an ICS admin or the chair of {} changes its charter",
                        current.display_name
                    ),
                )
                .await);
        }
        if current.version.to_string() != etag {
            return Err(ChangeError::EtagMismatch(name.to_owned()));
        }
        charter.version = current.charter.version + 1;
        let mut next = current.clone();
        next.charter = charter;
        next.version += 1;
        next.update_time = Utc::now();
        store::update_charter(&*txn, &next, current.version).await?;
        let summary = format!(
            "charter of {} is now version {}",
            next.display_name, next.charter.version
        );
        self.commit(
            txn,
            ctx,
            "UpdateCharter",
            request_id,
            encode(&next),
            "designAuthority.updateCharter",
            name,
            summary,
            None,
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    /// Creates a pre-approved standard template (the design authority's chair).
    pub async fn create_standard_template(
        &self,
        ctx: &RequestContext,
        parent: &str,
        mut template: StandardTemplate,
        design_authority: &str,
        request_id: &str,
        encode: impl FnOnce(&StandardTemplate) -> Vec<u8>,
    ) -> Result<Replayable<StandardTemplate>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let mut v: Vec<Violation> = Vec::new();
        if !cr_domain::valid_id(&template.id) {
            v.push((
                "standard_template_id".into(),
                "must be 1–63 lowercase letters, digits or hyphens, starting with a letter".into(),
            ));
        }
        if template.display_name.trim().is_empty() {
            v.push((
                "standard_template.display_name".into(),
                "must not be empty".into(),
            ));
        }
        if template.description.trim().is_empty() {
            v.push((
                "standard_template.description".into(),
                "must say what changes it covers".into(),
            ));
        }
        if !v.is_empty() {
            return Err(ChangeError::Invalid(v));
        }
        let da_id = parse_name(
            "standard_template.design_authority",
            design_authority,
            "designAuthorities",
        )?
        .1;
        let (txn, replay) = self
            .begin(ctx, "CreateStandardTemplate", request_id)
            .await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let da = self.load_da(&*txn, &ics, &da_id).await?;
        if !Self::is_chair(ctx, &da) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    parent,
                    "NOT_THE_CHAIR",
                    format!(
                        "only the chair of {} approves its standard templates",
                        da.display_name
                    ),
                )
                .await);
        }
        template.ics = ics;
        template.design_authority = da_id;
        template.creator = ctx.principal.subject.clone();
        template.create_time = Utc::now();
        store::insert_template(&*txn, &template).await?;
        let name = template.name();
        let summary = format!(
            "standard template {} approved by the chair of {}",
            template.display_name, da.display_name
        );
        self.commit(
            txn,
            ctx,
            "CreateStandardTemplate",
            request_id,
            encode(&template),
            "standardTemplate.create",
            &name,
            summary,
            None,
        )
        .await?;
        Ok(Replayable::Fresh(template))
    }

    /// The chair approves an emergency change; every hazard must be signed off by a CSO.
    pub async fn approve_emergency(
        &self,
        ctx: &RequestContext,
        name: &str,
        justification: &str,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if justification.trim().is_empty() {
            return Err(invalid(
                "justification",
                "say why the change cannot wait for the design authority",
            ));
        }
        let (txn, replay) = self
            .begin(ctx, "ApproveEmergencyChange", request_id)
            .await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let da = self.load_da(&*txn, &ics, &cr.design_authority).await?;
        if !Self::is_chair(ctx, &da) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "NOT_THE_CHAIR",
                    format!("only the chair of {} approves emergencies", da.display_name),
                )
                .await);
        }
        if cr.change_type != ChangeType::Emergency {
            return Err(ChangeError::Precondition {
                reason: "INVALID_TRANSITION",
                subject: name.to_owned(),
                message: format!("{} is not an emergency change", cr.number),
            });
        }
        let state = lifecycle::apply(cr.state, Move::ApproveEmergency)?;
        let hazards = store::hazards(&*txn, &ics, &id).await?;
        let mut blockers: Vec<String> = Vec::new();
        if hazards.is_empty() {
            blockers.push(
                "an emergency change needs a hazard log signed off by a clinical safety officer"
                    .into(),
            );
        }
        blockers.extend(
            hazards
                .iter()
                .filter(|h| h.signed_off_by.is_empty())
                .map(|h| format!("hazard {} has no CSO sign-off", h.id)),
        );
        if cr.residual_risk > da.charter.max_residual_risk {
            blockers.push(format!(
                "residual risk {} is above the charter's limit of {}",
                cr.residual_risk, da.charter.max_residual_risk
            ));
        }
        if !blockers.is_empty() {
            return Err(ChangeError::Precondition {
                reason: "SAFETY_NOT_CLEARED",
                subject: name.to_owned(),
                message: blockers.join("; "),
            });
        }
        let now = Utc::now();
        let mut next = cr.clone();
        next.state = state;
        next.decision = Some(Decision {
            approved: true,
            rule: format!(
                "emergency approval by the chair of {}: {justification}",
                da.display_name
            ),
            approvals: 0,
            rejections: 0,
            abstentions: 0,
            charter_version: da.charter.version,
            decide_time: now,
        });
        next.retrospective_review_deadline =
            Some(now + Duration::days(da.charter.emergency_review_days.into()));
        next.version += 1;
        next.update_time = now;
        store::update_change_request(&*txn, &next, cr.version).await?;
        let summary = format!(
            "{} approved as an emergency by {}: {justification}",
            cr.number, ctx.principal.subject
        );
        self.commit(
            txn,
            ctx,
            "ApproveEmergencyChange",
            request_id,
            encode(&next),
            "changeRequest.approveEmergency",
            name,
            summary,
            Some((&next, "changeRequest.approved")),
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    /// The chair records an emergency change's retrospective review.
    pub async fn complete_review(
        &self,
        ctx: &RequestContext,
        name: &str,
        review: &str,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        if review.trim().is_empty() {
            return Err(invalid("summary", "record the review's conclusion"));
        }
        let (txn, replay) = self
            .begin(ctx, "CompleteRetrospectiveReview", request_id)
            .await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let da = self.load_da(&*txn, &ics, &cr.design_authority).await?;
        if !Self::is_chair(ctx, &da) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "NOT_THE_CHAIR",
                    format!("only the chair of {} reviews emergencies", da.display_name),
                )
                .await);
        }
        if cr.retrospective_review_deadline.is_none() || cr.retrospective_review_time.is_some() {
            return Err(ChangeError::Precondition {
                reason: "NO_REVIEW_DUE",
                subject: name.to_owned(),
                message: format!("no retrospective review is due for {}", cr.number),
            });
        }
        let now = Utc::now();
        let late = cr.retrospective_review_deadline.is_some_and(|d| d < now);
        let mut next = cr.clone();
        next.retrospective_review_time = Some(now);
        next.version += 1;
        next.update_time = now;
        store::update_change_request(&*txn, &next, cr.version).await?;
        let summary = format!(
            "{} retrospective review completed{}: {review}",
            cr.number,
            if late { " after its deadline" } else { "" }
        );
        self.commit(
            txn,
            ctx,
            "CompleteRetrospectiveReview",
            request_id,
            encode(&next),
            "changeRequest.retrospectiveReview",
            name,
            summary,
            Some((&next, "changeRequest.reviewed")),
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    /// Creates a release window.
    pub async fn create_release(
        &self,
        ctx: &RequestContext,
        parent: &str,
        mut release: Release,
        request_id: &str,
        encode: impl FnOnce(&Release) -> Vec<u8>,
    ) -> Result<Replayable<Release>> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        release.ics = ics.clone();
        release
            .validate(self.known_trust(&ics))
            .map_err(ChangeError::Invalid)?;
        let (txn, replay) = self.begin(ctx, "CreateRelease", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        release.create_time = Utc::now();
        store::insert_release(&*txn, &release).await?;
        let name = release.name();
        let summary = format!(
            "release {} from {} to {} with {} freeze(s)",
            release.display_name,
            release.window_start.format("%Y-%m-%d"),
            release.window_end.format("%Y-%m-%d"),
            release.freezes.len()
        );
        self.commit(
            txn,
            ctx,
            "CreateRelease",
            request_id,
            encode(&release),
            "release.create",
            &name,
            summary,
            None,
        )
        .await?;
        Ok(Replayable::Fresh(release))
    }

    /// A release and the change requests in it.
    pub async fn get_release(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<(Release, Vec<ChangeRequest>)> {
        let (ics, id) = parse_name("name", name, "releases")?;
        self.require_ics(ctx, &ics, name).await?;
        let release = store::release(self.db.conn(), &ics, &id)
            .await?
            .ok_or_else(|| ChangeError::NotFound(name.to_owned()))?;
        let members = store::release_members(self.db.conn(), &ics, &id)
            .await?
            .into_iter()
            .filter(|c| {
                matches!(
                    c.state,
                    State::Scheduled | State::Implemented | State::Closed
                )
            })
            .collect();
        Ok((release, members))
    }

    /// Schedules an approved change into a release, refusing with every conflict.
    #[allow(clippy::too_many_arguments)]
    pub async fn schedule(
        &self,
        ctx: &RequestContext,
        name: &str,
        release_name: &str,
        validate_only: bool,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        let (r_ics, r_id) = parse_name("release", release_name, "releases")?;
        self.require_ics(ctx, &ics, name).await?;
        if r_ics != ics {
            return Err(invalid("release", "must be a release of the same ICS"));
        }
        let (txn, replay) = self.begin(ctx, "ScheduleChangeRequest", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let da = self.load_da(&*txn, &ics, &cr.design_authority).await?;
        let allowed = ctx.principal.has(Role::IcsAdmin)
            || Self::is_chair(ctx, &da)
            || (ctx.principal.has(Role::TrustDigitalLead)
                && ctx.principal.acts_for(&cr.requesting_trust));
        if !allowed {
            return Err(self.refuse(txn, ctx, name, "TRUST_SCOPE", format!("the requesting trust's digital lead, the chair or an ICS admin schedules {}", cr.number)).await);
        }
        let state = lifecycle::apply(cr.state, Move::Schedule)?;
        let release = store::release(&*txn, &ics, &r_id)
            .await?
            .ok_or_else(|| ChangeError::NotFound(release_name.to_owned()))?;
        let members = store::release_members(&*txn, &ics, &r_id).await?;
        let conflicts = crate::domain::release::conflicts(&cr, &release, &members);
        if !conflicts.is_empty() {
            return Err(ChangeError::Conflicts(
                conflicts
                    .into_iter()
                    .map(|(k, s, d)| (k.to_owned(), s, d))
                    .collect(),
            ));
        }
        if validate_only {
            drop(txn);
            return Ok(Replayable::Fresh(cr));
        }
        let mut next = cr.clone();
        next.state = state;
        next.target_release = r_id;
        next.version += 1;
        next.update_time = Utc::now();
        store::update_change_request(&*txn, &next, cr.version).await?;
        let summary = format!(
            "{} scheduled into release {}",
            cr.number, release.display_name
        );
        self.commit(
            txn,
            ctx,
            "ScheduleChangeRequest",
            request_id,
            encode(&next),
            "changeRequest.schedule",
            name,
            summary,
            Some((&next, "changeRequest.scheduled")),
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    /// Records the caller's trust's deployment report; IMPLEMENTED when every trust deployed.
    pub async fn report_deployment(
        &self,
        ctx: &RequestContext,
        name: &str,
        deployed: bool,
        note: String,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        let (txn, replay) = self.begin(ctx, "ReportDeployment", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let Some(trust) = ctx
            .principal
            .trust
            .clone()
            .filter(|t| cr.affected_trusts.contains(t))
        else {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "TRUST_SCOPE",
                    format!(
                        "only trusts affected by {} report its deployment",
                        cr.number
                    ),
                )
                .await);
        };
        if cr.state != State::Scheduled {
            return Err(ChangeError::Transition(InvalidTransition {
                from: cr.state,
                method: "ReportDeployment",
                allowed: lifecycle::allowed_methods(cr.state),
            }));
        }
        let now = Utc::now();
        let mut next = cr.clone();
        next.report_deployment(Deployment {
            trust: trust.clone(),
            deployed,
            note,
            reported_by: ctx.principal.subject.clone(),
            report_time: now,
        });
        let mut kind = "changeRequest.deploymentReported".to_owned();
        if next.deployed_everywhere() {
            next.state = lifecycle::apply(cr.state, Move::Implement)?;
            kind = "changeRequest.implemented".into();
        }
        next.version += 1;
        next.update_time = now;
        store::update_change_request(&*txn, &next, cr.version).await?;
        let summary = format!(
            "{} {} at {trust}{}",
            cr.number,
            if deployed { "deployed" } else { "rolled back" },
            if next.state == State::Implemented {
                "; now deployed at every affected trust"
            } else {
                ""
            }
        );
        self.commit(
            txn,
            ctx,
            "ReportDeployment",
            request_id,
            encode(&next),
            "changeRequest.reportDeployment",
            name,
            summary,
            Some((&next, &kind)),
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    /// IMPLEMENTED → CLOSED by the chair.
    pub async fn close(
        &self,
        ctx: &RequestContext,
        name: &str,
        request_id: &str,
        encode: impl FnOnce(&ChangeRequest) -> Vec<u8>,
    ) -> Result<Replayable<ChangeRequest>> {
        let (ics, id) = parse_name("name", name, "changeRequests")?;
        self.require_ics(ctx, &ics, name).await?;
        let (txn, replay) = self.begin(ctx, "CloseChangeRequest", request_id).await?;
        if let Some(bytes) = replay {
            return Ok(Replayable::Replay(bytes));
        }
        let cr = self.load_cr(&*txn, &ics, &id, true).await?;
        let da = self.load_da(&*txn, &ics, &cr.design_authority).await?;
        if !Self::is_chair(ctx, &da) {
            return Err(self
                .refuse(
                    txn,
                    ctx,
                    name,
                    "NOT_THE_CHAIR",
                    format!(
                        "only the chair of {} closes its change requests",
                        da.display_name
                    ),
                )
                .await);
        }
        let mut next = cr.clone();
        next.state = lifecycle::apply(cr.state, Move::Close)?;
        next.version += 1;
        next.update_time = Utc::now();
        store::update_change_request(&*txn, &next, cr.version).await?;
        let summary = format!("{} closed", cr.number);
        self.commit(
            txn,
            ctx,
            "CloseChangeRequest",
            request_id,
            encode(&next),
            "changeRequest.close",
            name,
            summary,
            Some((&next, "changeRequest.closed")),
        )
        .await?;
        Ok(Replayable::Fresh(next))
    }

    /// What awaits the caller in an ICS, soonest due first.
    pub async fn my_actions(
        &self,
        ctx: &RequestContext,
        parent: &str,
    ) -> Result<Vec<(ChangeRequest, crate::domain::actions::Action)>> {
        use crate::domain::actions::{Actor, actions};
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let p = &ctx.principal;
        let actor = Actor {
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
        };
        let c = self.db.conn();
        let mut authorities: BTreeMap<String, DesignAuthority> = BTreeMap::new();
        let now = Utc::now();
        let mut out = Vec::new();
        for cr in store::active_change_requests(c, &ics).await? {
            if !authorities.contains_key(&cr.design_authority) {
                let da = self.load_da(c, &ics, &cr.design_authority).await?;
                authorities.insert(cr.design_authority.clone(), da);
            }
            let Some(da) = authorities.get(&cr.design_authority) else {
                continue;
            };
            let assessments = if cr.state == State::ImpactAssessment {
                store::assessments(c, &ics, &cr.id).await?
            } else {
                Vec::new()
            };
            let votes = if cr.state == State::DaReview {
                store::votes(c, &ics, &cr.id).await?
            } else {
                Vec::new()
            };
            let hazards = if actor.cso && cr.state.editable() {
                store::hazards(c, &ics, &cr.id).await?
            } else {
                Vec::new()
            };
            for action in actions(&actor, &cr, da, &assessments, &hazards, &votes, now) {
                out.push((cr.clone(), action));
            }
        }
        out.sort_by_key(|(cr, a)| (a.due.is_none(), a.due, cr.number.clone()));
        Ok(out)
    }
}

fn subject_key(ctx: &RequestContext) -> String {
    format!("{}#{}", ctx.principal.issuer, ctx.principal.subject)
}

/// Scope refusals keep the platform's reasons; change control's own refusals its domain.
fn refusal_domain(reason: &str) -> &'static str {
    if matches!(reason, "TRUST_SCOPE" | "ICS_SCOPE") {
        concordat_platform::error::PLATFORM_DOMAIN
    } else {
        DOMAIN
    }
}
