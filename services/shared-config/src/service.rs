//! The use cases of shared configuration: each takes the caller's [`RequestContext`], checks ICS
//! and trust scope (refusals are audited), opens one write transaction for a change, applies the
//! domain rules, writes, appends the audit entry and the outbox events, and commits. Publishing
//! asks change control about the change request first, through [`ChangeRequests`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use concordat_platform::authz::RequestContext;
use concordat_platform::db::Database;
use concordat_platform::error::ApiError;
use concordat_platform::identity::{Federation, Role};
use concordat_platform::paging::PageTokens;
use concordat_platform::write::{self, Reply, Write, WriteError, Writer};
use futures::Stream;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::domain::changeset::{self, Change};
use crate::domain::kind::{self, ConfigKind, Violation};
use crate::domain::layer::{Entry, Key, LayerId, Provenance};
use crate::domain::publish::{
    self, ChangeRequestFacts, Content, Placed, Refusal, as_baseline, as_overlay,
};
use crate::domain::records::{
    Changeset, ChangesetState, EffectiveRevision, KindRecord, Revision, Snapshot,
};
use crate::domain::resolve::{self, Difference, Effective, content_hash, diff, resolve};
use crate::store::{self, StoreError};
use crate::upstream::{Caller, ChangeRequests, UpstreamError};

/// The `ErrorInfo` domain of shared-configuration errors.
pub const DOMAIN: &str = "sharedconfig.concordat";

/// The idempotency namespace of shared configuration's request ids.
pub const SERVICE: &str = "sharedconfig";

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Fields are wrong.
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    /// No such resource.
    #[error("{0} not found")]
    NotFound(String),
    /// The resource exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The changeset is no longer open.
    #[error("{message}")]
    ChangesetClosed {
        /// The changeset.
        subject: String,
        /// What is wrong.
        message: String,
    },
    /// Only the author (or an ICS admin) may do this; refused inside the write and audited.
    #[error("{0}")]
    NotAuthor(write::Refusal),
    /// The change request does not allow the publish.
    #[error("change request refused")]
    Refused(String, Refusal),
    /// The changeset's base is not the layer's newest revision.
    #[error("stale base")]
    StaleBase {
        /// The layer.
        layer: String,
        /// The changeset's base.
        base: i64,
        /// The layer's newest revision.
        head: i64,
    },
    /// A rebase would overwrite changes made since the base.
    #[error("rebase conflict")]
    RebaseConflict(Vec<Key>),
    /// Change control did not answer.
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

impl From<WriteError> for ConfigError {
    fn from(err: WriteError) -> Self {
        ConfigError::Write(err)
    }
}

impl From<write::Refusal> for ConfigError {
    fn from(refusal: write::Refusal) -> Self {
        ConfigError::Denied(refusal.into())
    }
}

impl From<sea_orm::DbErr> for ConfigError {
    fn from(err: sea_orm::DbErr) -> Self {
        ConfigError::Store(StoreError::Db(err))
    }
}

impl From<ApiError> for ConfigError {
    fn from(err: ApiError) -> Self {
        ConfigError::Denied(err)
    }
}

/// A refusal found inside a write, named by the adapter from the proto's generated enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// Only a changeset's author (or an ICS admin) discards it.
    NotAuthor,
}

/// The `ErrorInfo` domain and reason of a [`RefusalReason`], supplied by the adapter.
pub type NameReason = fn(RefusalReason) -> (&'static str, &'static str);

type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// Encodes an effective revision for the outbox (the gRPC message), supplied by the adapter.
pub type EncodeEffective = fn(&EffectiveRevision) -> Vec<u8>;

/// A changeset and what it would do to each trust's effective configuration.
pub struct Rendered {
    /// The changeset.
    pub changeset: Changeset,
    /// The layer's newest revision the diffs were rendered against.
    pub head_revision: i64,
    /// Per trust whose effective configuration changes, the differences.
    pub trust_diffs: BTreeMap<String, Vec<Difference>>,
}

/// The fields of a new changeset.
pub struct NewChangeset {
    /// `icss/{ics}/layers/{layer}`.
    pub layer: String,
    /// The base revision (0: newest).
    pub base_revision: i64,
    /// `icss/{ics}/changeRequests/{id}`.
    pub change_request: String,
    /// Description.
    pub description: String,
    /// The changes.
    pub changes: Vec<Change<Entry>>,
}

/// A trust's effective configuration at one effective revision.
pub struct EffectiveView {
    /// The revision record (`None` before anything was published).
    pub revision: Option<EffectiveRevision>,
    /// The trust.
    pub trust: String,
    /// The content hash.
    pub content_hash: String,
    /// The items.
    pub items: Effective,
}

/// What GetEffectiveConfig answers.
pub enum EffectiveRead {
    /// The caller's etag is current.
    NotModified,
    /// The configuration.
    Config(Box<EffectiveView>),
}

/// The etag of an effective revision.
pub fn etag(revision: i64, content_hash: &str) -> String {
    format!(
        "\"{revision}-{}\"",
        &content_hash[..content_hash.len().min(16)]
    )
}

/// The shared-configuration use cases.
pub struct SharedConfig {
    name_reason: NameReason,
    writer: Writer,
    tokens: PageTokens,
    federation: Arc<Federation>,
    change_requests: Arc<dyn ChangeRequests>,
    encode: EncodeEffective,
}

fn invalid(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(vec![(field.to_owned(), reason.into())])
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

/// Parses `icss/{ics}/layers/{baseline|trust}`.
pub fn parse_layer(field: &str, name: &str) -> Result<(String, LayerId)> {
    let (ics, id) = parse_name(field, name, "layers")?;
    let layer = LayerId::parse(&id)
        .ok_or_else(|| invalid(field, "the layer is `baseline` or a trust's ODS code"))?;
    Ok((ics, layer))
}

/// `icss/{ics}/layers/{layer}`.
pub fn layer_name(ics: &str, layer: &LayerId) -> String {
    format!("icss/{ics}/layers/{}", layer.as_str())
}

/// `icss/{ics}/trusts/{trust}/effectiveConfig`.
pub fn effective_name(ics: &str, trust: &str) -> String {
    format!("icss/{ics}/trusts/{trust}/effectiveConfig")
}

fn page_limit(requested: i32, default: u64, max: u64) -> Result<u64> {
    match requested {
        n if n < 0 => Err(invalid("page_size", "must not be negative")),
        0 => Ok(default),
        n => Ok(u64::try_from(n).unwrap_or(max).min(max)),
    }
}

/// The lock that serialises publishing within an ICS across replicas.
fn publishing_scope(ics: &str) -> String {
    format!("sharedconfig.publish:{ics}")
}

fn values_of(effective: &Effective) -> BTreeMap<Key, Value> {
    resolve::values(effective.iter().map(|(k, r)| (k, &r.value)))
}

fn entries_hash(content: &Content) -> String {
    content_hash(
        &content
            .iter()
            .map(|(k, p)| (k.clone(), p.entry.canonical()))
            .collect(),
    )
}

fn compile_kinds(records: &[KindRecord]) -> BTreeMap<String, ConfigKind> {
    records
        .iter()
        .filter_map(|k| {
            ConfigKind::new(&k.name, &k.domain, k.schema.clone())
                .ok()
                .map(|c| (k.name.clone(), c))
        })
        .collect()
}

impl SharedConfig {
    /// The use cases writing through `writer`, asking change control through `change_requests`.
    pub fn new(
        name_reason: NameReason,
        writer: Writer,
        tokens: PageTokens,
        federation: Arc<Federation>,
        change_requests: Arc<dyn ChangeRequests>,
        encode: EncodeEffective,
    ) -> Self {
        Self {
            name_reason,
            writer,
            tokens,
            federation,
            change_requests,
            encode,
        }
    }

    fn db(&self) -> &Database {
        self.writer.db()
    }

    /// A signed page token carrying `v` (the query it belongs to and where to resume).
    fn encode_token(&self, v: &Value) -> String {
        self.tokens.encode_cursor(SERVICE, &v.to_string())
    }

    /// The cursor of a page token this service signed; a forged or altered one is refused.
    fn decode_token(&self, token: &str) -> Result<Option<Value>> {
        let cursor = self
            .tokens
            .decode_cursor("page_token", token, SERVICE)
            .map_err(|v| ConfigError::Invalid(vec![(v.field, v.description)]))?;
        cursor
            .map(|c| {
                serde_json::from_str(&c)
                    .map_err(|_| invalid("page_token", "is not a token this list returned"))
            })
            .transpose()
    }

    fn trusts_of(&self, ics: &str) -> Vec<String> {
        self.federation
            .ics(ics)
            .map(|i| i.trusts.iter().map(|t| t.ods.clone()).collect())
            .unwrap_or_default()
    }

    fn require_known_trust(&self, field: &str, ics: &str, trust: &str) -> Result<()> {
        if self.federation.is_trust_of(trust, ics) {
            Ok(())
        } else {
            Err(invalid(
                field,
                format!("{trust} is not a trust of ICS {ics}"),
            ))
        }
    }

    async fn require_ics(&self, ctx: &RequestContext, ics: &str, resource: &str) -> Result<()> {
        ctx.require_ics(self.db(), ics, resource)
            .await
            .map_err(ConfigError::Denied)
    }

    /// A trust's layer and snapshots are written by the trust's own people (or ics-admin).
    async fn require_writer(
        &self,
        ctx: &RequestContext,
        layer: &LayerId,
        resource: &str,
    ) -> Result<()> {
        match layer {
            LayerId::Trust(t) if !ctx.principal.has(Role::IcsAdmin) => ctx
                .require_trust(self.db(), t, resource)
                .await
                .map_err(ConfigError::Denied),
            _ => Ok(()),
        }
    }

    // ---- kinds -----------------------------------------------------------------------------------

    /// Registers a kind.
    #[allow(clippy::too_many_arguments)]
    pub async fn create_kind<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        id: &str,
        domain: String,
        schema: Value,
        description: String,
        request_id: &str,
        reply: impl FnOnce(&KindRecord) -> R,
    ) -> Result<R> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let mut violations = Vec::new();
        if !kind::valid_name(id) {
            violations.push((
                "config_kind_id".to_owned(),
                "must be 1–63 lowercase letters, digits or hyphens, starting with a letter"
                    .to_owned(),
            ));
        }
        if let Err(v) = ConfigKind::new(
            if kind::valid_name(id) { id } else { "x" },
            &domain,
            schema.clone(),
        ) {
            violations.extend(v.into_iter().filter(|(f, _)| f != "config_kind.name"));
        }
        if !violations.is_empty() {
            return Err(ConfigError::Invalid(violations));
        }
        self.writer
            .write(ctx, request_id, |w| async move {
                let record = KindRecord {
                    ics: ics.clone(),
                    name: id.to_owned(),
                    domain,
                    schema,
                    description,
                    creator: ctx.principal.subject.clone(),
                    create_time: w.now(),
                };
                store::insert_kind(w.txn(), &record).await?;
                w.audit(
                    "configKind.create",
                    &format!("icss/{ics}/configKinds/{id}"),
                    format!("kind {id} registered for the {} domain", record.domain),
                );
                Ok(reply(&record))
            })
            .await
    }

    /// Reads a kind.
    pub async fn get_kind(&self, ctx: &RequestContext, name: &str) -> Result<KindRecord> {
        let (ics, id) = parse_name("name", name, "configKinds")?;
        self.require_ics(ctx, &ics, name).await?;
        store::kind(self.db().conn(), &ics, &id)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))
    }

    /// Lists the kinds of an ICS, a page at a time.
    pub async fn list_kinds(
        &self,
        ctx: &RequestContext,
        parent: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<KindRecord>, String)> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let kinds = store::kinds(self.db().conn(), &ics).await?;
        concordat_platform::paging::page(
            &self.tokens,
            &format!("{}|{parent}", ctx.method),
            page_size,
            page_token,
            kinds,
        )
        .map_err(|v| ConfigError::Invalid(vec![(v.field, v.description)]))
    }

    // ---- layers ----------------------------------------------------------------------------------

    async fn layer_in_scope(
        &self,
        ctx: &RequestContext,
        field: &str,
        name: &str,
    ) -> Result<(String, LayerId)> {
        let (ics, layer) = parse_layer(field, name)?;
        self.require_ics(ctx, &ics, name).await?;
        if let LayerId::Trust(t) = &layer {
            self.require_known_trust(field, &ics, t)?;
        }
        Ok((ics, layer))
    }

    async fn head_revision(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
    ) -> Result<i64> {
        Ok(store::head(c, ics, layer).await?.map_or(0, |r| r.revision))
    }

    async fn at_revision(
        &self,
        ics: &str,
        layer: &LayerId,
        revision: i64,
        field: &str,
    ) -> Result<i64> {
        let head = self.head_revision(self.db().conn(), ics, layer).await?;
        match revision {
            r if r < 0 => Err(invalid(field, "must not be negative")),
            0 => Ok(head),
            r if r > head => Err(ConfigError::NotFound(format!(
                "{}/revisions/{r}",
                layer_name(ics, layer)
            ))),
            r => Ok(r),
        }
    }

    /// A layer at its newest or a given revision: `(layer, revision record)`.
    pub async fn get_layer(
        &self,
        ctx: &RequestContext,
        name: &str,
        revision: i64,
    ) -> Result<(String, LayerId, Option<Revision>)> {
        let (ics, layer) = self.layer_in_scope(ctx, "name", name).await?;
        let rev = self.at_revision(&ics, &layer, revision, "revision").await?;
        let record = store::revision(self.db().conn(), &ics, &layer, rev).await?;
        Ok((ics, layer, record))
    }

    /// A page of a layer's items: `(items, revision, next token)`.
    pub async fn list_items(
        &self,
        ctx: &RequestContext,
        parent: &str,
        revision: i64,
        kind_filter: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Content, i64, String)> {
        let (ics, layer) = self.layer_in_scope(ctx, "parent", parent).await?;
        let limit = page_limit(page_size, 500, 5000)?;
        let token = self.decode_token(page_token)?;
        let (rev, after) = match &token {
            Some(t) => {
                let rev = t["revision"].as_i64().unwrap_or_default();
                let key = Key::new(
                    t["kind"].as_str().unwrap_or_default(),
                    t["key"].as_str().unwrap_or_default(),
                );
                if t["parent"] != json!(parent) || t["filter"] != json!(kind_filter) {
                    return Err(invalid("page_token", "belongs to another query"));
                }
                (rev, Some(key))
            }
            None => (
                self.at_revision(&ics, &layer, revision, "revision").await?,
                None,
            ),
        };
        let filter = (!kind_filter.is_empty()).then_some(kind_filter);
        let items = store::content(
            self.db().conn(),
            &ics,
            &layer,
            rev,
            filter,
            after.as_ref(),
            Some(limit + 1),
        )
        .await?;
        let mut items: Vec<(Key, Placed)> = items.into_iter().collect();
        let next = if items.len() as u64 > limit {
            items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            items.last().map_or(String::new(), |(k, _)| {
                self.encode_token(&json!({"parent": parent, "filter": kind_filter, "revision": rev, "kind": k.kind, "key": k.key}))
            })
        } else {
            String::new()
        };
        Ok((items.into_iter().collect(), rev, next))
    }

    /// A page of a layer's revisions, newest first.
    pub async fn list_revisions(
        &self,
        ctx: &RequestContext,
        parent: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Revision>, String)> {
        let (ics, layer) = self.layer_in_scope(ctx, "parent", parent).await?;
        let limit = page_limit(page_size, 50, 500)?;
        let before = match self.decode_token(page_token)? {
            Some(t) if t["parent"] == json!(parent) => t["before"].as_i64(),
            Some(_) => return Err(invalid("page_token", "belongs to another query")),
            None => None,
        };
        let mut revisions =
            store::revisions(self.db().conn(), &ics, &layer, before, limit + 1).await?;
        let next = if revisions.len() as u64 > limit {
            revisions.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            revisions.last().map_or(String::new(), |r| {
                self.encode_token(&json!({"parent": parent, "before": r.revision}))
            })
        } else {
            String::new()
        };
        Ok((revisions, next))
    }

    /// One revision.
    pub async fn get_revision(&self, ctx: &RequestContext, name: &str) -> Result<Revision> {
        let (layer_part, rev) = name
            .rsplit_once("/revisions/")
            .and_then(|(l, r)| r.parse::<i64>().ok().map(|r| (l, r)))
            .ok_or_else(|| {
                invalid(
                    "name",
                    "must be `icss/{ics}/layers/{layer}/revisions/{revision}`",
                )
            })?;
        let (ics, layer) = self.layer_in_scope(ctx, "name", layer_part).await?;
        store::revision(self.db().conn(), &ics, &layer, rev)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))
    }

    /// What changed in a layer between two revisions (whole entries, as JSON).
    pub async fn diff_revisions(
        &self,
        ctx: &RequestContext,
        layer_name_: &str,
        from: i64,
        to: i64,
    ) -> Result<(Vec<Difference>, i64, i64)> {
        let (ics, layer) = self.layer_in_scope(ctx, "layer", layer_name_).await?;
        let to = self.at_revision(&ics, &layer, to, "to_revision").await?;
        // 0 means the empty layer here, not the newest revision.
        let from = match from {
            0 => 0,
            f => self.at_revision(&ics, &layer, f, "from_revision").await?,
        };
        let canonical = |c: Content| -> BTreeMap<Key, Value> {
            c.into_iter()
                .map(|(k, p)| (k, p.entry.canonical()))
                .collect()
        };
        let before = canonical(
            store::content(self.db().conn(), &ics, &layer, from, None, None, None).await?,
        );
        let after =
            canonical(store::content(self.db().conn(), &ics, &layer, to, None, None, None).await?);
        Ok((diff(&before, &after), from, to))
    }

    // ---- changesets ------------------------------------------------------------------------------

    /// What `changes` would do to every trust's effective configuration at the layer's newest
    /// revision, or `None` when they no longer apply there.
    async fn render(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
        changes: &[Change<Entry>],
    ) -> Result<(i64, Option<BTreeMap<String, Vec<Difference>>>)> {
        let head = self.head_revision(c, ics, layer).await?;
        let keys: BTreeSet<Key> = changes.iter().map(|ch| ch.key().clone()).collect();
        let current = store::content_of_keys(c, ics, layer, head, &keys).await?;
        let Ok(after_entries) = changeset::apply(&publish::entries(&current), changes) else {
            return Ok((head, None));
        };
        let after = placed(&current, after_entries, head + 1, "");
        let (baseline, overlays) = self
            .pairs_for(c, ics, layer, &keys, &current, &after)
            .await?;
        Ok((
            head,
            Some(publish::effective_changes(
                &keys,
                (&baseline.0, &baseline.1),
                &overlays,
            )),
        ))
    }

    /// The baseline (before, after) and each affected trust's overlay (before, after), restricted
    /// to `keys`, for a change of `layer` from `current` to `after`.
    async fn pairs_for(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
        keys: &BTreeSet<Key>,
        current: &Content,
        after: &Content,
    ) -> Result<((Content, Content), BTreeMap<String, (Content, Content)>)> {
        let mut overlays = BTreeMap::new();
        match layer {
            LayerId::Baseline => {
                for trust in self.trusts_of(ics) {
                    let id = LayerId::Trust(trust.clone());
                    let head = self.head_revision(c, ics, &id).await?;
                    let o = store::content_of_keys(c, ics, &id, head, keys).await?;
                    overlays.insert(trust, (o.clone(), o));
                }
                Ok(((current.clone(), after.clone()), overlays))
            }
            LayerId::Trust(t) => {
                let b_head = self.head_revision(c, ics, &LayerId::Baseline).await?;
                let b = store::content_of_keys(c, ics, &LayerId::Baseline, b_head, keys).await?;
                overlays.insert(t.clone(), (current.clone(), after.clone()));
                Ok(((b.clone(), b), overlays))
            }
        }
    }

    async fn validate(
        &self,
        c: &impl ConnectionTrait,
        ics: &str,
        layer: &LayerId,
        changes: &[Change<Entry>],
        at: i64,
    ) -> Result<(Content, BTreeMap<Key, Entry>, BTreeMap<String, ConfigKind>)> {
        let keys: BTreeSet<Key> = changes.iter().map(|ch| ch.key().clone()).collect();
        let kinds = compile_kinds(&store::kinds(c, ics).await?);
        let baseline = match layer {
            LayerId::Baseline => Content::new(),
            LayerId::Trust(_) => {
                let head = self.head_revision(c, ics, &LayerId::Baseline).await?;
                store::content_of_keys(c, ics, &LayerId::Baseline, head, &keys).await?
            }
        };
        let mut violations = publish::validate(layer, changes, &kinds, &as_baseline(&baseline));
        let current = store::content_of_keys(c, ics, layer, at, &keys).await?;
        let after = match changeset::apply(&publish::entries(&current), changes) {
            Ok(after) => after,
            Err(v) => {
                violations.extend(v.into_iter().map(|(f, r)| (format!("changeset.{f}"), r)));
                BTreeMap::new()
            }
        };
        if violations.is_empty() {
            Ok((current, after, kinds))
        } else {
            Err(ConfigError::Invalid(violations))
        }
    }

    /// Proposes changes to a layer.
    pub async fn create_changeset<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        new: NewChangeset,
        request_id: &str,
        reply: impl FnOnce(&Rendered) -> R,
    ) -> Result<R> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let (layer_ics, layer) = parse_layer("changeset.layer", &new.layer)?;
        if layer_ics != ics {
            return Err(invalid(
                "changeset.layer",
                "must be a layer of the same ICS",
            ));
        }
        if let LayerId::Trust(t) = &layer {
            self.require_known_trust("changeset.layer", &ics, t)?;
        }
        self.require_writer(ctx, &layer, &new.layer).await?;
        let (cr_ics, _) = parse_name(
            "changeset.change_request",
            &new.change_request,
            "changeRequests",
        )?;
        if cr_ics != ics {
            return Err(invalid(
                "changeset.change_request",
                "must be a change request of the same ICS",
            ));
        }
        let head = self.head_revision(self.db().conn(), &ics, &layer).await?;
        let base = match new.base_revision {
            0 => head,
            b if b < 0 || b > head => {
                return Err(invalid(
                    "changeset.base_revision",
                    format!("must be a published revision (0–{head})"),
                ));
            }
            b => b,
        };
        self.validate(self.db().conn(), &ics, &layer, &new.changes, base)
            .await?;
        let now = self.writer.clock().now();
        let cs = Changeset {
            ics: ics.clone(),
            id: uuid::Uuid::now_v7().simple().to_string(),
            layer: layer.clone(),
            base_revision: base,
            change_request: new.change_request,
            description: new.description,
            changes: new.changes,
            state: ChangesetState::Open,
            author: ctx.principal.subject.clone(),
            create_time: now,
            update_time: now,
            published_revision: 0,
        };
        self.writer
            .write(ctx, request_id, |w| async move {
                store::insert_changeset(w.txn(), &cs).await?;
                let (head_revision, diffs) = self.render(w.txn(), &ics, &layer, &cs.changes).await?;
                let rendered = Rendered {
                    changeset: cs,
                    head_revision,
                    trust_diffs: diffs.unwrap_or_default(),
                };
                let trusts = if rendered.trust_diffs.is_empty() {
                    "no trust".to_owned()
                } else {
                    let keys: Vec<&str> = rendered.trust_diffs.keys().map(String::as_str).collect();
                    keys.join(", ")
                };
                w.audit(
                    "changeset.create",
                    &rendered.changeset.name(),
                    format!(
                        "changeset of {} changes to {} proposed under {} (changes the configuration of {trusts})",
                        rendered.changeset.changes.len(),
                        layer.as_str(),
                        rendered.changeset.change_request,
                    ),
                );
                Ok(reply(&rendered))
            })
            .await
    }

    /// Reads a changeset; an open one is rendered against the layer's newest revision.
    pub async fn get_changeset(&self, ctx: &RequestContext, name: &str) -> Result<Rendered> {
        let (ics, id) = parse_name("name", name, "changesets")?;
        self.require_ics(ctx, &ics, name).await?;
        let cs = store::changeset(self.db().conn(), &ics, &id, false)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
        if cs.state != ChangesetState::Open {
            return Ok(Rendered {
                head_revision: 0,
                trust_diffs: BTreeMap::new(),
                changeset: cs,
            });
        }
        let (head_revision, diffs) = self
            .render(self.db().conn(), &ics, &cs.layer, &cs.changes)
            .await?;
        Ok(Rendered {
            changeset: cs,
            head_revision,
            trust_diffs: diffs.unwrap_or_default(),
        })
    }

    /// Lists changesets, newest first.
    pub async fn list_changesets(
        &self,
        ctx: &RequestContext,
        parent: &str,
        layer: &str,
        state: Option<ChangesetState>,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Changeset>, String)> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let layer = if layer.is_empty() {
            None
        } else {
            let (l_ics, l) = parse_layer("layer", layer)?;
            if l_ics != ics {
                return Err(invalid("layer", "must be a layer of the same ICS"));
            }
            Some(l)
        };
        let limit = page_limit(page_size, 50, 500)?;
        let query = json!({"parent": parent, "layer": layer.as_ref().map(LayerId::as_str), "state": state.map(ChangesetState::as_str)});
        let after = match self.decode_token(page_token)? {
            Some(t) if t["query"] == query => {
                let time = t["time"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|d| d.with_timezone(&Utc));
                time.zip(t["id"].as_str().map(str::to_owned))
            }
            Some(_) => return Err(invalid("page_token", "belongs to another query")),
            None => None,
        };
        let mut list = store::changesets(
            self.db().conn(),
            &ics,
            layer.as_ref(),
            state,
            after,
            limit + 1,
        )
        .await?;
        let next = if list.len() as u64 > limit {
            list.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            list.last().map_or(String::new(), |c| {
                self.encode_token(
                    &json!({"query": query, "time": c.create_time.to_rfc3339(), "id": c.id}),
                )
            })
        } else {
            String::new()
        };
        Ok((list, next))
    }

    /// Discards an open changeset (its author or ics-admin).
    pub async fn discard_changeset<R: Reply>(
        &self,
        ctx: &RequestContext,
        name: &str,
        request_id: &str,
        reply: impl FnOnce(&Changeset) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changesets")?;
        self.require_ics(ctx, &ics, name).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                let mut cs = store::changeset(w.txn(), &ics, &id, true)
                    .await?
                    .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
                if cs.author != ctx.principal.subject && !ctx.principal.has(Role::IcsAdmin) {
                    let message = format!(
                        "only {} (the author) or ics-admin may discard it",
                        cs.author
                    );
                    let reason = (self.name_reason)(RefusalReason::NotAuthor);
                    let refusal = w.refuse(reason.0, reason.1, name, message);
                    return Err(ConfigError::NotAuthor(refusal));
                }
                closed_check(&cs)?;
                cs.state = ChangesetState::Discarded;
                cs.update_time = w.now();
                store::update_changeset_state(w.txn(), &cs).await?;
                w.audit(
                    "changeset.discard",
                    name,
                    format!("changeset of {} discarded", cs.layer.as_str()),
                );
                Ok(reply(&cs))
            })
            .await
    }

    /// Publishes a changeset as its layer's next revision.
    pub async fn publish<R: Reply>(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
        name: &str,
        rebase: bool,
        request_id: &str,
        reply: impl FnOnce(&Revision, &Changeset) -> R,
    ) -> Result<R> {
        let (ics, id) = parse_name("name", name, "changesets")?;
        self.require_ics(ctx, &ics, name).await?;
        if let Some(first) = self.writer.replayed(ctx, request_id).await? {
            return Ok(first);
        }
        let cs = store::changeset(self.db().conn(), &ics, &id, false)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
        self.require_writer(ctx, &cs.layer, &layer_name(&ics, &cs.layer))
            .await?;
        closed_check(&cs)?;
        // Asked before the write transaction opens: no lock is held while change control answers.
        let cr = self.change_requests.get(&cs.change_request, caller).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                w.lock(&publishing_scope(&ics)).await?;
                let mut cs = store::changeset(w.txn(), &ics, &id, true)
                    .await?
                    .ok_or_else(|| ConfigError::NotFound(name.to_owned()))?;
                closed_check(&cs)?;
                let head = self.head_revision(w.txn(), &ics, &cs.layer).await?;
                if head != cs.base_revision {
                    if !rebase {
                        return Err(ConfigError::StaleBase {
                            layer: layer_name(&ics, &cs.layer),
                            base: cs.base_revision,
                            head,
                        });
                    }
                    let changed = store::keys_changed_between(
                        w.txn(),
                        &ics,
                        &cs.layer,
                        cs.base_revision,
                        head,
                    )
                    .await?;
                    let overlap: Vec<Key> = cs
                        .changes
                        .iter()
                        .map(|c| c.key().clone())
                        .filter(|k| changed.contains(k))
                        .collect();
                    if !overlap.is_empty() {
                        return Err(ConfigError::RebaseConflict(overlap));
                    }
                }
                let (revision, effective) = self
                    .publish_changes(&w, ctx, &ics, &cs.layer, head, &cs.changes, &cr, &cs.id, 0)
                    .await?;
                cs.state = ChangesetState::Published;
                cs.published_revision = revision.revision;
                cs.update_time = revision.publish_time;
                store::update_changeset_state(w.txn(), &cs).await?;
                let summary =
                    publish_summary(&revision, &cr, &effective, &format!("changeset {}", cs.id));
                let resource = format!(
                    "{}/revisions/{}",
                    layer_name(&ics, &cs.layer),
                    revision.revision
                );
                w.audit("config.publish", &resource, summary);
                Ok(reply(&revision, &cs))
            })
            .await
    }

    /// Publishes a new revision of a layer restoring an earlier revision's content.
    #[allow(clippy::too_many_arguments)]
    pub async fn rollback<R: Reply>(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
        layer_name_: &str,
        to: i64,
        change_request: &str,
        expected_head: i64,
        request_id: &str,
        reply: impl FnOnce(&Revision) -> R,
    ) -> Result<R> {
        let (ics, layer) = self.layer_in_scope(ctx, "layer", layer_name_).await?;
        self.require_writer(ctx, &layer, layer_name_).await?;
        let (cr_ics, _) = parse_name("change_request", change_request, "changeRequests")?;
        if cr_ics != ics {
            return Err(invalid(
                "change_request",
                "must be a change request of the same ICS",
            ));
        }
        if let Some(first) = self.writer.replayed(ctx, request_id).await? {
            return Ok(first);
        }
        let cr = self.change_requests.get(change_request, caller).await?;
        self.writer
            .write(ctx, request_id, |w| async move {
                w.lock(&publishing_scope(&ics)).await?;
                let head = self.head_revision(w.txn(), &ics, &layer).await?;
                if to < 0 || to >= head {
                    return Err(invalid(
                        "revision",
                        format!("must be an earlier revision than the newest ({head})"),
                    ));
                }
                if expected_head != 0 && expected_head != head {
                    return Err(ConfigError::StaleBase {
                        layer: layer_name_.to_owned(),
                        base: expected_head,
                        head,
                    });
                }
                let now = publish::entries(
                    &store::content(w.txn(), &ics, &layer, head, None, None, None).await?,
                );
                let then = publish::entries(
                    &store::content(w.txn(), &ics, &layer, to, None, None, None).await?,
                );
                let changes = changeset::inverse(&then, &now);
                if changes.is_empty() {
                    return Err(invalid(
                        "revision",
                        format!("revision {to} has the same content as the newest ({head})"),
                    ));
                }
                let (revision, effective) = self
                    .publish_changes(&w, ctx, &ics, &layer, head, &changes, &cr, "", to)
                    .await?;
                let summary = publish_summary(
                    &revision,
                    &cr,
                    &effective,
                    &format!("rollback to revision {to}"),
                );
                let resource = format!(
                    "{}/revisions/{}",
                    layer_name(&ics, &layer),
                    revision.revision
                );
                w.audit("config.rollback", &resource, summary);
                Ok(reply(&revision))
            })
            .await
    }

    /// Validates `changes` against the layer at `head`, checks the change request, writes the
    /// next revision and every affected trust's next effective revision (with outbox events).
    #[allow(clippy::too_many_arguments)]
    async fn publish_changes(
        &self,
        w: &Write,
        ctx: &RequestContext,
        ics: &str,
        layer: &LayerId,
        head: i64,
        changes: &[Change<Entry>],
        cr: &ChangeRequestFacts,
        changeset_id: &str,
        restores: i64,
    ) -> Result<(Revision, Vec<EffectiveRevision>)> {
        let c = w.txn();
        let (current, after_entries, kinds) = self.validate(c, ics, layer, changes, head).await?;
        let keys: BTreeSet<Key> = changes.iter().map(|ch| ch.key().clone()).collect();
        let new_rev = head + 1;
        let after = placed(&current, after_entries, new_rev, &cr.name);
        let (baseline, overlays) = self
            .pairs_for(c, ics, layer, &keys, &current, &after)
            .await?;
        let changed = publish::effective_changes(&keys, (&baseline.0, &baseline.1), &overlays);
        let mut covered: BTreeSet<String> = changed.keys().cloned().collect();
        if let LayerId::Trust(t) = layer {
            covered.insert(t.clone());
        }
        let kind_domains: BTreeMap<String, String> = keys
            .iter()
            .filter_map(|k| {
                kinds
                    .get(&k.kind)
                    .map(|kind| (k.kind.clone(), kind.domain.clone()))
            })
            .collect();
        publish::check_change_request(cr, &kind_domains, &covered)
            .map_err(|refusal| ConfigError::Refused(cr.name.clone(), refusal))?;

        let now = w.now();
        let mut revision = Revision {
            ics: ics.to_owned(),
            layer: layer.clone(),
            revision: new_rev,
            changeset: changeset_id.to_owned(),
            change_request: cr.name.clone(),
            publisher: ctx.principal.subject.clone(),
            publisher_trust: ctx.principal.trust.clone().unwrap_or_default(),
            publish_time: now,
            content_hash: String::new(),
            item_count: 0,
            restores_revision: restores,
            change_count: i64::try_from(changes.len()).unwrap_or(i64::MAX),
        };
        store::insert_revision(c, &revision).await?;
        store::write_items(c, ics, layer, new_rev, &cr.name, changes).await?;
        let layer_content = store::content(c, ics, layer, new_rev, None, None, None).await?;
        revision.content_hash = entries_hash(&layer_content);
        revision.item_count = i64::try_from(layer_content.len()).unwrap_or(i64::MAX);
        store::finish_revision(
            c,
            ics,
            layer,
            new_rev,
            &revision.content_hash,
            revision.item_count,
        )
        .await?;

        // Every trust the layer feeds gets its next effective revision, with a full content hash.
        let (baseline_rev, baseline_full, trusts) = match layer {
            LayerId::Baseline => (new_rev, layer_content, self.trusts_of(ics)),
            LayerId::Trust(t) => {
                let b = self.head_revision(c, ics, &LayerId::Baseline).await?;
                (
                    b,
                    store::content(c, ics, &LayerId::Baseline, b, None, None, None).await?,
                    vec![t.clone()],
                )
            }
        };
        let baseline_items = as_baseline(&baseline_full);
        let mut effective = Vec::new();
        for trust in trusts {
            let id = LayerId::Trust(trust.clone());
            let overlay_rev = if *layer == id {
                new_rev
            } else {
                self.head_revision(c, ics, &id).await?
            };
            let overlay = store::content(c, ics, &id, overlay_rev, None, None, None).await?;
            let hash = content_hash(&values_of(&resolve(&baseline_items, &as_overlay(&overlay))));
            let previous = store::effective(c, ics, &trust, 0)
                .await?
                .map_or(0, |e| e.revision);
            let e = EffectiveRevision {
                ics: ics.to_owned(),
                trust: trust.clone(),
                revision: previous + 1,
                baseline_revision: baseline_rev,
                overlay_revision: overlay_rev,
                content_hash: hash,
                layer: layer.clone(),
                change_request: cr.name.clone(),
                publisher: ctx.principal.subject.clone(),
                publish_time: now,
                changes: changed.get(&trust).cloned().unwrap_or_default(),
            };
            store::insert_effective(c, &e).await?;
            w.event(
                ics,
                &effective_name(ics, &trust),
                "effectiveConfig.published",
                (self.encode)(&e),
            );
            effective.push(e);
        }
        Ok((revision, effective))
    }

    // ---- effective configuration -----------------------------------------------------------------

    async fn trust_in_scope(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
    ) -> Result<String> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        if trust.is_empty() {
            return Err(invalid("trust", "is required"));
        }
        self.require_known_trust("trust", &ics, trust)?;
        Ok(ics)
    }

    async fn effective_at(
        &self,
        ics: &str,
        trust: &str,
        revision: i64,
        kind_filter: Option<&str>,
    ) -> Result<EffectiveView> {
        if revision < 0 {
            return Err(invalid("revision", "must not be negative"));
        }
        let record = store::effective(self.db().conn(), ics, trust, revision).await?;
        let Some(record) = record else {
            if revision > 0 {
                return Err(ConfigError::NotFound(format!(
                    "{} revision {revision}",
                    effective_name(ics, trust)
                )));
            }
            return Ok(EffectiveView {
                revision: None,
                trust: trust.to_owned(),
                content_hash: content_hash(&BTreeMap::new()),
                items: Effective::new(),
            });
        };
        let c = self.db().conn();
        let baseline = store::content(
            c,
            ics,
            &LayerId::Baseline,
            record.baseline_revision,
            kind_filter,
            None,
            None,
        )
        .await?;
        let overlay = store::content(
            c,
            ics,
            &LayerId::Trust(trust.to_owned()),
            record.overlay_revision,
            kind_filter,
            None,
            None,
        )
        .await?;
        let items = resolve(&as_baseline(&baseline), &as_overlay(&overlay));
        let content_hash = if kind_filter.is_some() {
            content_hash(&values_of(&items))
        } else {
            record.content_hash.clone()
        };
        Ok(EffectiveView {
            trust: trust.to_owned(),
            content_hash,
            items,
            revision: Some(record),
        })
    }

    /// A trust's effective configuration.
    pub async fn get_effective(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        revision: i64,
        if_none_match: &str,
        kind_filter: &str,
    ) -> Result<EffectiveRead> {
        let ics = self.trust_in_scope(ctx, parent, trust).await?;
        if !if_none_match.is_empty() && revision == 0 && kind_filter.is_empty() {
            let current = store::effective(self.db().conn(), &ics, trust, 0).await?;
            let tag = current.map_or_else(
                || etag(0, &content_hash(&BTreeMap::new())),
                |e| etag(e.revision, &e.content_hash),
            );
            if tag == if_none_match {
                return Ok(EffectiveRead::NotModified);
            }
        }
        let filter = (!kind_filter.is_empty()).then_some(kind_filter);
        let view = self.effective_at(&ics, trust, revision, filter).await?;
        Ok(EffectiveRead::Config(Box::new(view)))
    }

    /// What changed in a trust's effective configuration between two effective revisions.
    pub async fn diff_effective(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        from: i64,
        to: i64,
    ) -> Result<(Vec<Difference>, i64, i64)> {
        let ics = self.trust_in_scope(ctx, parent, trust).await?;
        let after = self.effective_at(&ics, trust, to, None).await?;
        let to = after.revision.as_ref().map_or(0, |r| r.revision);
        if from < 0 || from > to {
            return Err(invalid(
                "from_revision",
                format!("must be between 0 and {to}"),
            ));
        }
        let before = if from == 0 {
            Effective::new()
        } else {
            self.effective_at(&ics, trust, from, None).await?.items
        };
        Ok((
            diff(&values_of(&before), &values_of(&after.items)),
            from,
            to,
        ))
    }

    /// Streams a trust's effective revisions after `from`, then new ones as they commit.
    pub async fn watch(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        from: i64,
    ) -> Result<impl Stream<Item = Result<EffectiveRevision, ApiError>> + Send + 'static> {
        let ics = self.trust_in_scope(ctx, parent, trust).await?;
        if from < 0 {
            return Err(invalid("from_revision", "must not be negative"));
        }
        // Subscribe first, then read the backlog: nothing committed in between is missed.
        let head = self.writer.outbox().head().await?;
        let mut events = self.writer.outbox().watch(ics.clone(), head).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let db = self.db().clone();
        let resource = effective_name(&ics, trust);
        let trust = trust.to_owned();
        tokio::spawn(async move {
            use futures::StreamExt;
            let mut last = from;
            loop {
                loop {
                    match store::effective_after(db.conn(), &ics, &trust, last, 256).await {
                        Ok(batch) if batch.is_empty() => break,
                        Ok(batch) => {
                            for e in batch {
                                last = e.revision;
                                if tx.send(Ok(e)).await.is_err() {
                                    return;
                                }
                            }
                        }
                        Err(err) => {
                            let _ = tx.send(Err(ApiError::internal(err))).await;
                            return;
                        }
                    }
                }
                loop {
                    tokio::select! {
                        event = events.next() => match event {
                            Some(Ok(e)) if e.resource == resource => break,
                            Some(Ok(_)) => {}
                            Some(Err(err)) => {
                                let _ = tx.send(Err(err)).await;
                                return;
                            }
                            None => return,
                        },
                        _ = tx.closed() => return,
                    }
                }
            }
        });
        Ok(tokio_stream::wrappers::ReceiverStream::new(rx))
    }

    // ---- snapshots and export --------------------------------------------------------------------

    /// Imports a trust's actual build as a snapshot.
    #[allow(clippy::too_many_arguments)]
    pub async fn import_snapshot<R: Reply>(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        display_name: String,
        taken_time: Option<DateTime<Utc>>,
        bundle_json: &str,
        request_id: &str,
        reply: impl FnOnce(&Snapshot) -> R,
    ) -> Result<R> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        if trust.is_empty() {
            return Err(invalid("snapshot.trust", "is required"));
        }
        self.require_known_trust("snapshot.trust", &ics, trust)?;
        self.require_writer(ctx, &LayerId::Trust(trust.to_owned()), parent)
            .await?;
        let items = parse_bundle(bundle_json)?;
        let kinds = compile_kinds(&store::kinds(self.db().conn(), &ics).await?);
        let nonconforming = items
            .iter()
            .filter(|(k, v)| {
                kinds
                    .get(&k.kind)
                    .is_none_or(|kind| !kind.check("", v).is_empty())
            })
            .count();
        self.writer
            .write(ctx, request_id, |w| async move {
                let now = w.now();
                let snapshot = Snapshot {
                    ics: ics.clone(),
                    id: uuid::Uuid::now_v7().simple().to_string(),
                    trust: trust.to_owned(),
                    display_name,
                    taken_time: taken_time.unwrap_or(now),
                    content_hash: content_hash(&items),
                    item_count: i64::try_from(items.len()).unwrap_or(i64::MAX),
                    nonconforming_count: i64::try_from(nonconforming).unwrap_or(i64::MAX),
                    importer: ctx.principal.subject.clone(),
                    import_time: now,
                };
                store::insert_snapshot(w.txn(), &snapshot, &items).await?;
                w.audit(
                    "snapshot.import",
                    &format!("icss/{ics}/snapshots/{}", snapshot.id),
                    format!(
                        "snapshot of {trust}'s build imported: {} items, {} nonconforming",
                        snapshot.item_count, snapshot.nonconforming_count
                    ),
                );
                Ok(reply(&snapshot))
            })
            .await
    }

    /// Reads a snapshot.
    pub async fn get_snapshot(&self, ctx: &RequestContext, name: &str) -> Result<Snapshot> {
        let (ics, id) = parse_name("name", name, "snapshots")?;
        self.require_ics(ctx, &ics, name).await?;
        store::snapshot(self.db().conn(), &ics, &id)
            .await?
            .ok_or_else(|| ConfigError::NotFound(name.to_owned()))
    }

    /// Lists snapshots, newest first.
    pub async fn list_snapshots(
        &self,
        ctx: &RequestContext,
        parent: &str,
        trust: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Snapshot>, String)> {
        let ics = parse_parent("parent", parent)?;
        self.require_ics(ctx, &ics, parent).await?;
        let limit = page_limit(page_size, 50, 500)?;
        let query = json!({"parent": parent, "trust": trust});
        let after = match self.decode_token(page_token)? {
            Some(t) if t["query"] == query => {
                let time = t["time"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|d| d.with_timezone(&Utc));
                time.zip(t["id"].as_str().map(str::to_owned))
            }
            Some(_) => return Err(invalid("page_token", "belongs to another query")),
            None => None,
        };
        let filter = (!trust.is_empty()).then_some(trust);
        let mut list = store::snapshots(self.db().conn(), &ics, filter, after, limit + 1).await?;
        let next = if list.len() as u64 > limit {
            list.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            list.last().map_or(String::new(), |s| {
                self.encode_token(
                    &json!({"query": query, "time": s.import_time.to_rfc3339(), "id": s.id}),
                )
            })
        } else {
            String::new()
        };
        Ok((list, next))
    }

    /// Exports a layer, an effective configuration or a snapshot as a JSON bundle:
    /// `(bundle, content hash, export time)`.
    pub async fn export(
        &self,
        ctx: &RequestContext,
        name: &str,
        revision: i64,
    ) -> Result<(String, String, DateTime<Utc>)> {
        let now = self.writer.clock().now();
        let parts: Vec<&str> = name.split('/').collect();
        let (source_rev, hash, items): (i64, String, Vec<Value>) = match parts.as_slice() {
            ["icss", _, "layers", _] => {
                let (ics, layer) = self.layer_in_scope(ctx, "name", name).await?;
                let rev = self.at_revision(&ics, &layer, revision, "revision").await?;
                let content =
                    store::content(self.db().conn(), &ics, &layer, rev, None, None, None).await?;
                let hash = entries_hash(&content);
                let items = content
                    .into_iter()
                    .map(|(k, p)| {
                        let mut item = p.entry.canonical();
                        item["kind"] = json!(k.kind);
                        item["key"] = json!(k.key);
                        item["revision"] = json!(p.provenance.revision);
                        item["change_request"] = json!(p.provenance.change_request);
                        item
                    })
                    .collect();
                (rev, hash, items)
            }
            ["icss", ics, "trusts", trust, "effectiveConfig"] => {
                let parent = format!("icss/{ics}");
                let ics = self.trust_in_scope(ctx, &parent, trust).await?;
                let view = self.effective_at(&ics, trust, revision, None).await?;
                let items = view
                    .items
                    .into_iter()
                    .map(|(k, r)| {
                        json!({
                            "kind": k.kind, "key": k.key, "value": r.value,
                            "source": match r.source { resolve::Source::Baseline => "baseline", resolve::Source::Override => "override", resolve::Source::LocalOnly => "local-only" },
                            "layer_revision": r.provenance.revision,
                            "change_request": r.provenance.change_request,
                        })
                    })
                    .collect();
                (
                    view.revision.map_or(0, |r| r.revision),
                    view.content_hash,
                    items,
                )
            }
            ["icss", _, "snapshots", _] => {
                let snapshot = self.get_snapshot(ctx, name).await?;
                let items =
                    store::snapshot_items(self.db().conn(), &snapshot.ics, &snapshot.id).await?;
                let items = items
                    .into_iter()
                    .map(|(k, v)| json!({"kind": k.kind, "key": k.key, "value": v}))
                    .collect();
                (0, snapshot.content_hash, items)
            }
            _ => {
                return Err(invalid(
                    "name",
                    "must be `icss/{ics}/layers/{layer}`, `icss/{ics}/trusts/{trust}/effectiveConfig` or `icss/{ics}/snapshots/{id}`",
                ));
            }
        };
        let bundle = json!({
            "format": "concordat.config.v1",
            "source": name,
            "revision": source_rev,
            "content_hash": hash,
            "exported_time": now.to_rfc3339(),
            "items": items,
        });
        Ok((
            serde_json::to_string_pretty(&bundle).unwrap_or_default(),
            hash,
            now,
        ))
    }
}

fn closed_check(cs: &Changeset) -> Result<()> {
    if cs.state == ChangesetState::Open {
        return Ok(());
    }
    Err(ConfigError::ChangesetClosed {
        subject: cs.name(),
        message: format!(
            "{} is {}: only an OPEN changeset can be published or discarded",
            cs.name(),
            cs.state.as_str()
        ),
    })
}

/// `current` with the changed keys replaced by `after`, provenance `(revision, change_request)`.
fn placed(
    current: &Content,
    after: BTreeMap<Key, Entry>,
    revision: i64,
    change_request: &str,
) -> Content {
    after
        .into_iter()
        .map(|(k, entry)| {
            let unchanged = current.get(&k).filter(|p| p.entry == entry).cloned();
            let p = unchanged.unwrap_or(Placed {
                entry,
                provenance: Provenance {
                    revision: u64::try_from(revision).unwrap_or_default(),
                    change_request: change_request.to_owned(),
                },
            });
            (k, p)
        })
        .collect()
}

fn publish_summary(
    r: &Revision,
    cr: &ChangeRequestFacts,
    effective: &[EffectiveRevision],
    what: &str,
) -> String {
    let trusts: Vec<String> = effective
        .iter()
        .map(|e| format!("{} r{} ({} changes)", e.trust, e.revision, e.changes.len()))
        .collect();
    format!(
        "{} revision {} published under {} ({}) from {what}: {} item changes, content {}; effective: {}",
        r.layer.as_str(),
        r.revision,
        cr.number,
        cr.name,
        r.change_count,
        &r.content_hash[..r.content_hash.len().min(12)],
        if trusts.is_empty() {
            "none".to_owned()
        } else {
            trusts.join(", ")
        }
    )
}

/// Parses a bundle `{"items": [{"kind", "key", "value"}, …]}`; every problem is a field violation
/// with its JSON pointer.
pub fn parse_bundle(text: &str) -> Result<BTreeMap<Key, Value>> {
    let field = "bundle_json";
    let bundle: Value =
        serde_json::from_str(text).map_err(|e| invalid(field, format!("is not JSON: {e}")))?;
    let Some(items) = bundle.get("items").and_then(Value::as_array) else {
        return Err(invalid(field, "must be an object with an `items` array"));
    };
    let mut out = BTreeMap::new();
    let mut violations = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |p: &str| format!("{field}/items/{i}{p}");
        let kind = item.get("kind").and_then(Value::as_str).unwrap_or_default();
        let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
        if !kind::valid_name(kind) {
            violations.push((at("/kind"), "must be a kind name".to_owned()));
        }
        if key.is_empty() || key.len() > publish::MAX_KEY_LEN {
            violations.push((at("/key"), "must be 1–200 characters".to_owned()));
        }
        let Some(value) = item.get("value") else {
            violations.push((at("/value"), "is required".to_owned()));
            continue;
        };
        if out.insert(Key::new(kind, key), value.clone()).is_some() {
            violations.push((at(""), format!("{kind}/{key} appears twice")));
        }
    }
    if violations.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError::Invalid(violations))
    }
}
