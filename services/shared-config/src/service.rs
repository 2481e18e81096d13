//! The use cases of shared configuration: each takes the caller's [`RequestContext`], checks ICS
//! and trust scope (refusals are audited), opens one write transaction for a change, applies the
//! domain rules, writes, appends the audit entry and the outbox events, and commits. Publishing
//! asks change control about the change request first, through [`ChangeRequests`].

mod baselines;
mod changesets;
mod effective;
mod kinds;
mod layers;
mod publishing;
mod snapshots;

pub use baselines::{BaselineCache, HeldBaseline, RenderItem};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, SubsecRound, Utc};
use concordat_platform::authz::RequestContext;
use concordat_platform::cache::Cache;
use concordat_platform::db::Database;
use concordat_platform::error::ApiError;
use concordat_platform::identity::{Federation, Person, Role};
use concordat_platform::paging::PageTokens;
use concordat_platform::write::{self, Reply, Write, WriteError, Writer};
use futures::Stream;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::domain::changeset::{self, Change};
use crate::domain::kind::{self, ConfigKind, Violation};
use crate::domain::layer::{Entry, Key, LayerId, Provenance};
use crate::domain::publish::{self, ChangeRequestFacts, Content, Placed, Refusal, as_baseline};
use crate::domain::records::{
    Changeset, ChangesetState, EffectiveRevision, KindRecord, Revision, Snapshot,
};
use crate::domain::resolve::{self, Changes, Difference, content_hash};
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
    /// A rollback expected the layer at another newest revision.
    #[error("stale head")]
    StaleHead {
        /// The layer.
        layer: String,
        /// The newest revision the rollback expected.
        expected: i64,
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

/// How the adapter encodes the resources events carry: the payloads of [`PUBLISHED`] and
/// [`SNAPSHOT_IMPORTED`] events.
#[derive(Clone, Copy)]
pub struct Encoders {
    /// An effective revision.
    pub effective: EncodeEffective,
    /// A snapshot.
    pub snapshot: fn(&Snapshot) -> Vec<u8>,
}

/// A changeset and what it would do to each trust's effective configuration.
pub struct Rendered {
    /// The changeset.
    pub changeset: Changeset,
    /// The layer's newest revision the diffs were rendered against.
    pub head_revision: i64,
    /// Per trust whose effective configuration changes, the differences.
    pub trust_diffs: BTreeMap<String, Changes>,
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

/// A config kind to register.
pub struct NewKind {
    /// The clinical domain.
    pub domain: String,
    /// Its JSON Schema (draft 2020-12).
    pub schema: serde_json::Value,
    /// Description.
    pub description: String,
}

/// A trust's build snapshot to import.
pub struct NewSnapshot {
    /// The trust's ODS code.
    pub trust: String,
    /// Display name.
    pub display_name: String,
    /// When the trust took it.
    pub taken_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// A snapshot import [`SharedConfig::check_import`] allowed: only it makes one.
pub struct ImportTarget {
    ics: String,
    new: NewSnapshot,
}

/// An ExportConfig request.
pub struct ExportQuery<'a> {
    /// A layer, a trust's effective configuration or a snapshot.
    pub name: &'a str,
    /// The layer or effective revision (0: the newest, or the page token's).
    pub revision: i64,
    /// At most this many items (0: the default).
    pub page_size: i32,
    /// The previous page's token (empty: the first page).
    pub page_token: &'a str,
}

/// One page of an export.
pub struct ExportPage {
    /// The page's bundle.
    pub bundle_json: String,
    /// The content hash of the whole.
    pub content_hash: String,
    /// When the export began.
    pub export_time: DateTime<Utc>,
    /// The token of the next page; empty at the end.
    pub next_page_token: String,
}

/// A trust's effective configuration at one effective revision.
pub struct EffectiveView<T> {
    /// The revision record (`None` before anything was published).
    pub revision: Option<EffectiveRevision>,
    /// The trust.
    pub trust: String,
    /// The content hash.
    pub content_hash: String,
    /// The page's items, in key order.
    pub items: Vec<T>,
}

/// What GetEffectiveConfig answers.
pub enum EffectiveRead<T> {
    /// The caller's etag is current.
    NotModified,
    /// One page of the configuration and the token of the next, empty at the end.
    Page(Box<EffectiveView<T>>, String),
}

/// A GetEffectiveConfig request.
pub struct EffectiveQuery<'a> {
    /// `icss/{ics}`.
    pub parent: &'a str,
    /// The trust.
    pub trust: &'a str,
    /// The effective revision (0: the newest).
    pub revision: i64,
    /// An etag read before.
    pub if_none_match: &'a str,
    /// Only items of this kind (empty: all).
    pub kind: &'a str,
    /// At most this many items (0: the default).
    pub page_size: i32,
    /// The previous page's token (empty: the first page).
    pub page_token: &'a str,
}

/// The most bytes a page of items should take on the wire, as the adapter measures an item: a
/// page ends before it passes this, so a client's default message limit (4 MiB in gRPC's own
/// clients) reads every page.
pub const PAGE_BYTES: usize = 2 << 20;

/// The kind of the event each new effective revision is announced by; its payload is the
/// revision as `encode_effective` makes it.
pub const PUBLISHED: &str = "effectiveConfig.published";

/// The kind of the event each imported snapshot is announced by; its payload is the snapshot.
pub const SNAPSHOT_IMPORTED: &str = "snapshot.imported";

/// How many bytes one difference (key, before, after) takes on the wire, supplied by the adapter.
pub type DiffSize = fn(&Key, Option<&Value>, Option<&Value>) -> usize;

/// A DiffRevisions request.
pub struct RevisionDiffQuery<'a> {
    /// The layer, `icss/{ics}/layers/{layer}`.
    pub layer: &'a str,
    /// The older revision (0: empty).
    pub from_revision: i64,
    /// The newer revision (0: the newest).
    pub to_revision: i64,
    /// At most this many differences (0: the default).
    pub page_size: i32,
    /// The previous page's token (empty: the first page).
    pub page_token: &'a str,
}

/// A DiffEffectiveConfig request.
pub struct DiffQuery<'a> {
    /// `icss/{ics}`.
    pub parent: &'a str,
    /// The trust.
    pub trust: &'a str,
    /// The older effective revision (0: empty).
    pub from_revision: i64,
    /// The newer effective revision (0: the newest).
    pub to_revision: i64,
    /// At most this many differences (0: the default).
    pub page_size: i32,
    /// The previous page's token (empty: the first page).
    pub page_token: &'a str,
}

/// One page of the differences between two effective revisions.
pub struct DiffPage {
    /// The differences, in key order.
    pub changes: Vec<Difference>,
    /// The older revision.
    pub from_revision: i64,
    /// The newer revision.
    pub to_revision: i64,
    /// The next page's token; empty at the end.
    pub next_page_token: String,
}

/// The shared-configuration use cases.
pub struct SharedConfig {
    name_reason: NameReason,
    writer: Writer,
    tokens: PageTokens,
    federation: Arc<Federation>,
    change_requests: Arc<dyn ChangeRequests>,
    encode: Encoders,
    /// Per ICS, the instant up to which every expired variation has been lapsed (by this
    /// process's lapse task): later looks read only the variations expiring after it. A variation
    /// is always published expiring after its publish, so none can appear behind the mark.
    lapsed_through: std::sync::Mutex<std::collections::HashMap<String, DateTime<Utc>>>,
}

fn invalid(field: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid(vec![(field.to_owned(), reason.into())])
}

/// Parses `icss/{ics}`.
pub fn parse_parent(field: &str, name: &str) -> Result<String> {
    Ok(concordat_api::names::IcsName::parse(field, name)?.ics)
}

/// Parses `icss/{ics}/{collection}/{id}`.
pub fn parse_name(field: &str, name: &str, collection: &str) -> Result<(String, String)> {
    Ok(concordat_api::names::ics_child(field, name, collection)?)
}

impl From<concordat_api::FieldViolation> for ConfigError {
    fn from(v: concordat_api::FieldViolation) -> Self {
        ConfigError::Invalid(vec![(v.field, v.description)])
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

/// The page size of a list: the one rule of `concordat-api`, with this list's default and maximum.
fn page_limit(requested: i32, default: u64, max: u64) -> Result<u64> {
    concordat_api::paging::page_size_within("page_size", requested, default, max)
        .map_err(|v| ConfigError::Invalid(vec![(v.field, v.description)]))
}

/// The lock that serialises publishing within an ICS across replicas.
/// The context the system's own writes run in (lapses): the server, acting in `ics`.
fn system_context(ics: &str) -> RequestContext {
    let person = publishing::system_person();
    RequestContext {
        principal: Arc::new(concordat_platform::identity::Principal {
            issuer: person.issuer,
            subject: person.subject,
            name: Some(person.name),
            kind: concordat_platform::identity::PrincipalKind::Service,
            ics: ics.to_owned(),
            trust: None,
            roles: BTreeSet::new(),
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
        method: "LapseVariations".into(),
    }
}

fn publishing_scope(ics: &str) -> String {
    format!("sharedconfig.publish:{ics}")
}

fn entries_hash(content: &Content) -> String {
    publish::layer_lthash(content).checksum()
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
        encode: Encoders,
    ) -> Self {
        Self {
            name_reason,
            writer,
            tokens,
            federation,
            change_requests,
            encode,
            lapsed_through: Default::default(),
        }
    }

    /// Up to when every expired variation of `ics` is known lapsed (`None`: not looked yet).
    fn lapsed_through(&self, ics: &str) -> Option<DateTime<Utc>> {
        let marks = self
            .lapsed_through
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        marks.get(ics).copied()
    }

    fn set_lapsed_through(&self, ics: &str, at: DateTime<Utc>) {
        let mut marks = self
            .lapsed_through
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        marks.insert(ics.to_owned(), at);
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

    /// Where a page of a list ordered by (time, id) resumes: the cursor of `token`, which must
    /// belong to `query`.
    fn decode_time_cursor(
        &self,
        token: &str,
        query: &Value,
    ) -> Result<Option<(DateTime<Utc>, String)>> {
        match self.decode_token(token)? {
            Some(t) if &t["query"] == query => {
                let time = t["time"]
                    .as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|d| d.with_timezone(&Utc));
                Ok(time.zip(t["id"].as_str().map(str::to_owned)))
            }
            Some(_) => Err(invalid("page_token", "belongs to another query")),
            None => Ok(None),
        }
    }

    /// Cuts `list` (read with one row more than `limit`) to the page, and returns the token of
    /// the next page (empty at the end), resuming after the last row's (time, id).
    fn time_cursor_page<T>(
        &self,
        list: &mut Vec<T>,
        limit: u64,
        query: &Value,
        key: impl Fn(&T) -> (DateTime<Utc>, &str),
    ) -> String {
        if list.len() as u64 <= limit {
            return String::new();
        }
        list.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        list.last().map_or(String::new(), |row| {
            let (time, id) = key(row);
            self.encode_token(&json!({"query": query, "time": time.to_rfc3339(), "id": id}))
        })
    }

    /// Publishes, as the system, every lapse due in every ICS of the federation: for each variation
    /// whose expiry has passed since its trust's newest effective revision, an effective revision
    /// at that instant (see `lapse_due`). What the server's lapse task runs each second; a read
    /// finds out first whether anything is due, so an idle tick writes nothing. Returns how many
    /// effective revisions it published.
    pub async fn lapse_variations(&self) -> Result<usize> {
        let mut published = 0;
        for entry in &self.federation.icss {
            let ics = entry.code.as_str();
            let now = self.writer.clock().now();
            if self
                .lapses_due(self.db().conn(), ics, now)
                .await?
                .is_empty()
            {
                self.set_lapsed_through(ics, now);
                continue;
            }
            let ctx = system_context(ics);
            let lapsed: u32 = self
                .writer
                .write(&ctx, "", |w| async move {
                    w.lock(&publishing_scope(ics)).await?;
                    let lapsed = self.lapse_due(&w, ics, w.now()).await?;
                    Ok::<_, ConfigError>(u32::try_from(lapsed.len()).unwrap_or(u32::MAX))
                })
                .await?;
            self.set_lapsed_through(ics, now);
            published += lapsed as usize;
        }
        Ok(published)
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

/// Where a page of a diff resumes, from its token `t`: `(from, to, after)`. A revision the
/// request names must be the token's.
fn diff_resume(t: &Value, from_revision: i64, to_revision: i64) -> Result<(i64, i64, Key)> {
    let (from, to) = (
        t["from"].as_i64().unwrap_or_default(),
        t["to"].as_i64().unwrap_or_default(),
    );
    for (field, asked, held) in [
        ("from_revision", from_revision, from),
        ("to_revision", to_revision, to),
    ] {
        if asked != 0 && asked != held {
            return Err(invalid(
                field,
                format!("must be the page token's revision, {held}"),
            ));
        }
    }
    let after = Key::new(
        t["kind"].as_str().unwrap_or_default(),
        t["key"].as_str().unwrap_or_default(),
    );
    Ok((from, to, after))
}

/// The most items one snapshot holds, in one message or in parts.
pub const MAX_SNAPSHOT_ITEMS: usize = 500_000;

/// Adds the items of a bundle to `out`, refusing a key `out` already holds; every problem is a
/// field violation of `bundle_json` with its JSON pointer, its description ending in `part`
/// (which message of a stream it was, or nothing).
pub fn add_bundle(out: &mut BTreeMap<Key, Value>, text: &str, part: &str) -> Result<()> {
    let field = "bundle_json";
    let refuse = |pointer: String, reason: String| {
        ConfigError::Invalid(vec![(
            format!("{field}{pointer}"),
            format!("{reason}{part}"),
        )])
    };
    let bundle: Value = serde_json::from_str(text)
        .map_err(|e| refuse(String::new(), format!("is not JSON: {e}")))?;
    let Some(items) = bundle.get("items").and_then(Value::as_array) else {
        return Err(refuse(
            String::new(),
            "must be an object with an `items` array".into(),
        ));
    };
    if out.len() + items.len() > MAX_SNAPSHOT_ITEMS {
        return Err(refuse(
            "/items".into(),
            format!("would make the snapshot more than {MAX_SNAPSHOT_ITEMS} items"),
        ));
    }
    let mut violations = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = |p: &str| format!("{field}/items/{i}{p}");
        let kind = item.get("kind").and_then(Value::as_str).unwrap_or_default();
        let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
        if !kind::valid_name(kind) {
            violations.push((at("/kind"), format!("must be a kind name{part}")));
        }
        if key.is_empty() || key.len() > publish::MAX_KEY_LEN {
            violations.push((at("/key"), format!("must be 1–200 characters{part}")));
        }
        let Some(value) = item.get("value") else {
            violations.push((at("/value"), format!("is required{part}")));
            continue;
        };
        if out.insert(Key::new(kind, key), value.clone()).is_some() {
            violations.push((at(""), format!("{kind}/{key} appears twice{part}")));
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Invalid(violations))
    }
}
