//! Storage of shared configuration: entities, migrations, and queries that take and return domain
//! types. Items are stored temporally (each row in force over a range of its layer's revisions),
//! so any revision of any layer can be read; JSON values are stored as text.

mod entities;
pub mod migrations;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{Condition, ConnectionTrait, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::changeset::Change;
use crate::domain::layer::{Entry, Governance, Key, LayerId, Provenance};
use crate::domain::publish::{Content, Placed};
use crate::domain::records::{
    Changeset, ChangesetState, EffectiveRevision, KindRecord, Revision, Snapshot,
};
use crate::domain::resolve::Difference;
use entities::{changeset, effective, item, kind, revision, snapshot, snapshot_item};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with that key exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A stored value could not be decoded.
    #[error("stored {0} is corrupt: {1}")]
    Corrupt(&'static str, String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Rows written per statement (well inside SQLite's limit on bound variables).
const CHUNK: usize = 500;

fn parse<T: for<'de> Deserialize<'de>>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(what, e.to_string()))
}

fn unique(err: DbErr, what: String) -> StoreError {
    if concordat_platform::db::is_unique_violation(&err) {
        StoreError::AlreadyExists(what)
    } else {
        StoreError::Db(err)
    }
}

fn layer_of(s: &str) -> Result<LayerId> {
    LayerId::parse(s).ok_or_else(|| StoreError::Corrupt("layer", s.to_owned()))
}

// ---- kinds ---------------------------------------------------------------------------------------

/// Registers a kind.
pub async fn insert_kind<C: ConnectionTrait>(c: &C, k: &KindRecord) -> Result<()> {
    kind::ActiveModel {
        ics: Set(k.ics.clone()),
        name: Set(k.name.clone()),
        domain: Set(k.domain.clone()),
        schema: Set(k.schema.to_string()),
        description: Set(k.description.clone()),
        creator: Set(k.creator.clone()),
        create_time: Set(k.create_time),
    }
    .insert(c)
    .await
    .map(|_| ())
    .map_err(|e| unique(e, format!("icss/{}/configKinds/{}", k.ics, k.name)))
}

fn kind_of(m: kind::Model) -> Result<KindRecord> {
    Ok(KindRecord {
        schema: parse("kind schema", &m.schema)?,
        ics: m.ics,
        name: m.name,
        domain: m.domain,
        description: m.description,
        creator: m.creator,
        create_time: m.create_time,
    })
}

/// One kind.
pub async fn kind<C: ConnectionTrait>(c: &C, ics: &str, name: &str) -> Result<Option<KindRecord>> {
    kind::Entity::find_by_id((ics.to_owned(), name.to_owned()))
        .one(c)
        .await?
        .map(kind_of)
        .transpose()
}

/// Every kind of an ICS, by name.
pub async fn kinds<C: ConnectionTrait>(c: &C, ics: &str) -> Result<Vec<KindRecord>> {
    kind::Entity::find()
        .filter(kind::Column::Ics.eq(ics))
        .order_by_asc(kind::Column::Name)
        .all(c)
        .await?
        .into_iter()
        .map(kind_of)
        .collect()
}

// ---- items -----------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct StoredChange {
    op: String,
    kind: String,
    key: String,
    #[serde(default)]
    value: Value,
    #[serde(default)]
    governance: Governance,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    suppress: bool,
}

fn in_force_at(revision: i64) -> Condition {
    Condition::all()
        .add(item::Column::FromRevision.lte(revision))
        .add(
            Condition::any()
                .add(item::Column::ToRevision.is_null())
                .add(item::Column::ToRevision.gt(revision)),
        )
}

fn placed_of(m: item::Model) -> Result<(Key, Placed)> {
    Ok((
        Key::new(&m.kind, &m.item_key),
        Placed {
            entry: Entry {
                value: parse("item value", &m.value)?,
                governance: parse("item governance", &m.governance)?,
                owner: m.owner,
                description: m.description,
                suppress: m.suppress,
            },
            provenance: Provenance {
                revision: u64::try_from(m.from_revision).unwrap_or_default(),
                change_request: m.change_request,
            },
        },
    ))
}

/// A layer's content at `revision` (0: empty), optionally of one kind, optionally a page after
/// `after` of at most `limit` items.
pub async fn content<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
    kind_filter: Option<&str>,
    after: Option<&Key>,
    limit: Option<u64>,
) -> Result<Content> {
    if revision <= 0 {
        return Ok(Content::new());
    }
    let mut q = item::Entity::find()
        .filter(item::Column::Ics.eq(ics))
        .filter(item::Column::Layer.eq(layer.as_str()))
        .filter(in_force_at(revision));
    if let Some(k) = kind_filter {
        q = q.filter(item::Column::Kind.eq(k));
    }
    if let Some(after) = after {
        q = q.filter(
            Condition::any()
                .add(item::Column::Kind.gt(after.kind.as_str()))
                .add(
                    Condition::all()
                        .add(item::Column::Kind.eq(after.kind.as_str()))
                        .add(item::Column::ItemKey.gt(after.key.as_str())),
                ),
        );
    }
    q = q
        .order_by_asc(item::Column::Kind)
        .order_by_asc(item::Column::ItemKey);
    if let Some(limit) = limit {
        q = q.limit(limit);
    }
    q.all(c).await?.into_iter().map(placed_of).collect()
}

/// The entries of `keys` in a layer at `revision`.
pub async fn content_of_keys<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
    keys: &BTreeSet<Key>,
) -> Result<Content> {
    let mut out = Content::new();
    if revision <= 0 {
        return Ok(out);
    }
    let mut by_kind: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for k in keys {
        by_kind.entry(&k.kind).or_default().push(&k.key);
    }
    for (kind, names) in by_kind {
        for chunk in names.chunks(CHUNK) {
            let rows = item::Entity::find()
                .filter(item::Column::Ics.eq(ics))
                .filter(item::Column::Layer.eq(layer.as_str()))
                .filter(item::Column::Kind.eq(kind))
                .filter(item::Column::ItemKey.is_in(chunk.iter().copied()))
                .filter(in_force_at(revision))
                .all(c)
                .await?;
            for row in rows {
                let (k, p) = placed_of(row)?;
                out.insert(k, p);
            }
        }
    }
    Ok(out)
}

/// Writes revision `revision` of a layer: closes the current rows of modified and removed keys
/// and inserts the new entries, all under `change_request`.
pub async fn write_items<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
    change_request: &str,
    changes: &[Change<Entry>],
) -> Result<()> {
    let mut closing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut rows = Vec::new();
    for change in changes {
        let key = change.key();
        if !matches!(change, Change::Add(..)) {
            closing.entry(&key.kind).or_default().push(&key.key);
        }
        if let Change::Add(_, e) | Change::Modify(_, e) = change {
            rows.push(item::ActiveModel {
                ics: Set(ics.to_owned()),
                layer: Set(layer.as_str().to_owned()),
                kind: Set(key.kind.clone()),
                item_key: Set(key.key.clone()),
                from_revision: Set(revision),
                to_revision: Set(None),
                value: Set(e.value.to_string()),
                governance: Set(serde_json::to_string(&e.governance).unwrap_or_default()),
                owner: Set(e.owner.clone()),
                description: Set(e.description.clone()),
                suppress: Set(e.suppress),
                change_request: Set(change_request.to_owned()),
            });
        }
    }
    for (kind, names) in closing {
        for chunk in names.chunks(CHUNK) {
            item::Entity::update_many()
                .col_expr(item::Column::ToRevision, Expr::value(revision))
                .filter(item::Column::Ics.eq(ics))
                .filter(item::Column::Layer.eq(layer.as_str()))
                .filter(item::Column::Kind.eq(kind))
                .filter(item::Column::ItemKey.is_in(chunk.iter().copied()))
                .filter(item::Column::ToRevision.is_null())
                .exec(c)
                .await?;
        }
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        item::Entity::insert_many(chunk).exec(c).await?;
    }
    Ok(())
}

/// The keys of a layer changed by revisions after `base` up to `head`.
pub async fn keys_changed_between<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    base: i64,
    head: i64,
) -> Result<BTreeSet<Key>> {
    let rows: Vec<(String, String)> = item::Entity::find()
        .select_only()
        .column(item::Column::Kind)
        .column(item::Column::ItemKey)
        .filter(item::Column::Ics.eq(ics))
        .filter(item::Column::Layer.eq(layer.as_str()))
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(item::Column::FromRevision.gt(base))
                        .add(item::Column::FromRevision.lte(head)),
                )
                .add(
                    Condition::all()
                        .add(item::Column::ToRevision.gt(base))
                        .add(item::Column::ToRevision.lte(head)),
                ),
        )
        .into_tuple()
        .all(c)
        .await?;
    Ok(rows.into_iter().map(|(k, n)| Key::new(&k, &n)).collect())
}

// ---- revisions ---------------------------------------------------------------------------------

fn revision_of(m: revision::Model) -> Result<Revision> {
    Ok(Revision {
        layer: layer_of(&m.layer)?,
        ics: m.ics,
        revision: m.revision,
        changeset: m.changeset,
        change_request: m.change_request,
        publisher: m.publisher,
        publisher_trust: m.publisher_trust,
        publish_time: m.publish_time,
        content_hash: m.content_hash,
        item_count: m.item_count,
        restores_revision: m.restores_revision,
        change_count: m.change_count,
    })
}

/// Records a revision; a concurrent publish of the same number fails as `AlreadyExists`.
pub async fn insert_revision<C: ConnectionTrait>(c: &C, r: &Revision) -> Result<()> {
    revision::ActiveModel {
        ics: Set(r.ics.clone()),
        layer: Set(r.layer.as_str().to_owned()),
        revision: Set(r.revision),
        changeset: Set(r.changeset.clone()),
        change_request: Set(r.change_request.clone()),
        publisher: Set(r.publisher.clone()),
        publisher_trust: Set(r.publisher_trust.clone()),
        publish_time: Set(r.publish_time),
        content_hash: Set(r.content_hash.clone()),
        item_count: Set(r.item_count),
        restores_revision: Set(r.restores_revision),
        change_count: Set(r.change_count),
    }
    .insert(c)
    .await
    .map(|_| ())
    .map_err(|e| {
        unique(
            e,
            format!(
                "icss/{}/layers/{}/revisions/{}",
                r.ics,
                r.layer.as_str(),
                r.revision
            ),
        )
    })
}

/// Sets a revision's content hash and item count once its items are written.
pub async fn finish_revision<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    rev: i64,
    content_hash: &str,
    item_count: i64,
) -> Result<()> {
    revision::Entity::update_many()
        .col_expr(revision::Column::ContentHash, Expr::value(content_hash))
        .col_expr(revision::Column::ItemCount, Expr::value(item_count))
        .filter(revision::Column::Ics.eq(ics))
        .filter(revision::Column::Layer.eq(layer.as_str()))
        .filter(revision::Column::Revision.eq(rev))
        .exec(c)
        .await?;
    Ok(())
}

/// The newest revision of a layer.
pub async fn head<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
) -> Result<Option<Revision>> {
    revision::Entity::find()
        .filter(revision::Column::Ics.eq(ics))
        .filter(revision::Column::Layer.eq(layer.as_str()))
        .order_by_desc(revision::Column::Revision)
        .one(c)
        .await?
        .map(revision_of)
        .transpose()
}

/// One revision.
pub async fn revision<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    rev: i64,
) -> Result<Option<Revision>> {
    revision::Entity::find_by_id((ics.to_owned(), layer.as_str().to_owned(), rev))
        .one(c)
        .await?
        .map(revision_of)
        .transpose()
}

/// Revisions of a layer older than `before` (all when `None`), newest first.
pub async fn revisions<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<Revision>> {
    let mut q = revision::Entity::find()
        .filter(revision::Column::Ics.eq(ics))
        .filter(revision::Column::Layer.eq(layer.as_str()));
    if let Some(before) = before {
        q = q.filter(revision::Column::Revision.lt(before));
    }
    q.order_by_desc(revision::Column::Revision)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(revision_of)
        .collect()
}

// ---- changesets --------------------------------------------------------------------------------

fn changes_json(changes: &[Change<Entry>]) -> String {
    let stored: Vec<StoredChange> = changes
        .iter()
        .map(|change| {
            let (op, entry) = match change {
                Change::Add(_, e) => ("add", Some(e)),
                Change::Modify(_, e) => ("modify", Some(e)),
                Change::Remove(_) => ("remove", None),
            };
            let e = entry.cloned().unwrap_or_default();
            StoredChange {
                op: op.into(),
                kind: change.key().kind.clone(),
                key: change.key().key.clone(),
                value: e.value,
                governance: e.governance,
                owner: e.owner,
                description: e.description,
                suppress: e.suppress,
            }
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_default()
}

fn changes_of(text: &str) -> Result<Vec<Change<Entry>>> {
    let stored: Vec<StoredChange> = parse("changeset changes", text)?;
    stored
        .into_iter()
        .map(|s| {
            let key = Key::new(&s.kind, &s.key);
            let entry = Entry {
                value: s.value,
                governance: s.governance,
                owner: s.owner,
                description: s.description,
                suppress: s.suppress,
            };
            match s.op.as_str() {
                "add" => Ok(Change::Add(key, entry)),
                "modify" => Ok(Change::Modify(key, entry)),
                "remove" => Ok(Change::Remove(key)),
                other => Err(StoreError::Corrupt("changeset operation", other.to_owned())),
            }
        })
        .collect()
}

fn changeset_of(m: changeset::Model) -> Result<Changeset> {
    Ok(Changeset {
        layer: layer_of(&m.layer)?,
        changes: changes_of(&m.changes)?,
        state: ChangesetState::parse(&m.state)
            .ok_or_else(|| StoreError::Corrupt("changeset state", m.state.clone()))?,
        ics: m.ics,
        id: m.id,
        base_revision: m.base_revision,
        change_request: m.change_request,
        description: m.description,
        author: m.author,
        create_time: m.create_time,
        update_time: m.update_time,
        published_revision: m.published_revision,
    })
}

/// Stores a new changeset.
pub async fn insert_changeset<C: ConnectionTrait>(c: &C, cs: &Changeset) -> Result<()> {
    changeset::ActiveModel {
        ics: Set(cs.ics.clone()),
        id: Set(cs.id.clone()),
        layer: Set(cs.layer.as_str().to_owned()),
        base_revision: Set(cs.base_revision),
        change_request: Set(cs.change_request.clone()),
        description: Set(cs.description.clone()),
        changes: Set(changes_json(&cs.changes)),
        state: Set(cs.state.as_str().to_owned()),
        author: Set(cs.author.clone()),
        create_time: Set(cs.create_time),
        update_time: Set(cs.update_time),
        published_revision: Set(cs.published_revision),
    }
    .insert(c)
    .await
    .map(|_| ())
    .map_err(|e| unique(e, cs.name()))
}

/// Records a changeset's new state.
pub async fn update_changeset_state<C: ConnectionTrait>(c: &C, cs: &Changeset) -> Result<()> {
    changeset::Entity::update_many()
        .col_expr(changeset::Column::State, Expr::value(cs.state.as_str()))
        .col_expr(changeset::Column::UpdateTime, Expr::value(cs.update_time))
        .col_expr(
            changeset::Column::PublishedRevision,
            Expr::value(cs.published_revision),
        )
        .filter(changeset::Column::Ics.eq(cs.ics.as_str()))
        .filter(changeset::Column::Id.eq(cs.id.as_str()))
        .exec(c)
        .await?;
    Ok(())
}

/// One changeset; with `lock`, its row stays locked until the transaction ends (PostgreSQL).
pub async fn changeset<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Changeset>> {
    let mut q = changeset::Entity::find_by_id((ics.to_owned(), id.to_owned()));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(c).await?.map(changeset_of).transpose()
}

/// Changesets newest first, after the page position `(create_time, id)`.
pub async fn changesets<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: Option<&LayerId>,
    state: Option<ChangesetState>,
    after: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<Changeset>> {
    let mut q = changeset::Entity::find().filter(changeset::Column::Ics.eq(ics));
    if let Some(layer) = layer {
        q = q.filter(changeset::Column::Layer.eq(layer.as_str()));
    }
    if let Some(state) = state {
        q = q.filter(changeset::Column::State.eq(state.as_str()));
    }
    if let Some((time, id)) = after {
        q = q.filter(
            Condition::any()
                .add(changeset::Column::CreateTime.lt(time))
                .add(
                    Condition::all()
                        .add(changeset::Column::CreateTime.eq(time))
                        .add(changeset::Column::Id.lt(id)),
                ),
        );
    }
    q.order_by_desc(changeset::Column::CreateTime)
        .order_by_desc(changeset::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(changeset_of)
        .collect()
}

// ---- effective revisions -----------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct StoredDiff {
    kind: String,
    key: String,
    before: Option<Value>,
    after: Option<Value>,
}

fn effective_of(m: effective::Model) -> Result<EffectiveRevision> {
    let diffs: Vec<StoredDiff> = parse("effective changes", &m.changes)?;
    Ok(EffectiveRevision {
        layer: layer_of(&m.layer)?,
        changes: diffs
            .into_iter()
            .map(|d| Difference {
                key: Key::new(&d.kind, &d.key),
                before: d.before,
                after: d.after,
            })
            .collect(),
        ics: m.ics,
        trust: m.trust,
        revision: m.revision,
        baseline_revision: m.baseline_revision,
        overlay_revision: m.overlay_revision,
        content_hash: m.content_hash,
        change_request: m.change_request,
        publisher: m.publisher,
        publish_time: m.publish_time,
    })
}

/// Records a trust's new effective revision.
pub async fn insert_effective<C: ConnectionTrait>(c: &C, e: &EffectiveRevision) -> Result<()> {
    let diffs: Vec<StoredDiff> = e
        .changes
        .iter()
        .map(|d| StoredDiff {
            kind: d.key.kind.clone(),
            key: d.key.key.clone(),
            before: d.before.clone(),
            after: d.after.clone(),
        })
        .collect();
    effective::ActiveModel {
        ics: Set(e.ics.clone()),
        trust: Set(e.trust.clone()),
        revision: Set(e.revision),
        baseline_revision: Set(e.baseline_revision),
        overlay_revision: Set(e.overlay_revision),
        content_hash: Set(e.content_hash.clone()),
        layer: Set(e.layer.as_str().to_owned()),
        change_request: Set(e.change_request.clone()),
        publisher: Set(e.publisher.clone()),
        publish_time: Set(e.publish_time),
        changes: Set(serde_json::to_string(&diffs).unwrap_or_default()),
    }
    .insert(c)
    .await
    .map(|_| ())
    .map_err(|err| {
        unique(
            err,
            format!("effective revision {} of {}", e.revision, e.trust),
        )
    })
}

/// A trust's effective revision `rev`, or its newest when `rev` is 0.
pub async fn effective<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
    rev: i64,
) -> Result<Option<EffectiveRevision>> {
    let mut q = effective::Entity::find()
        .filter(effective::Column::Ics.eq(ics))
        .filter(effective::Column::Trust.eq(trust));
    if rev > 0 {
        q = q.filter(effective::Column::Revision.eq(rev));
    }
    q.order_by_desc(effective::Column::Revision)
        .one(c)
        .await?
        .map(effective_of)
        .transpose()
}

/// A trust's effective revisions after `after`, oldest first, at most `limit`.
pub async fn effective_after<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
    after: i64,
    limit: u64,
) -> Result<Vec<EffectiveRevision>> {
    effective::Entity::find()
        .filter(effective::Column::Ics.eq(ics))
        .filter(effective::Column::Trust.eq(trust))
        .filter(effective::Column::Revision.gt(after))
        .order_by_asc(effective::Column::Revision)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(effective_of)
        .collect()
}

// ---- snapshots ---------------------------------------------------------------------------------

fn snapshot_of(m: snapshot::Model) -> Snapshot {
    Snapshot {
        ics: m.ics,
        id: m.id,
        trust: m.trust,
        display_name: m.display_name,
        taken_time: m.taken_time,
        content_hash: m.content_hash,
        item_count: m.item_count,
        nonconforming_count: m.nonconforming_count,
        importer: m.importer,
        import_time: m.import_time,
    }
}

/// Stores a snapshot and its items.
pub async fn insert_snapshot<C: ConnectionTrait>(
    c: &C,
    s: &Snapshot,
    items: &BTreeMap<Key, Value>,
) -> Result<()> {
    snapshot::ActiveModel {
        ics: Set(s.ics.clone()),
        id: Set(s.id.clone()),
        trust: Set(s.trust.clone()),
        display_name: Set(s.display_name.clone()),
        taken_time: Set(s.taken_time),
        content_hash: Set(s.content_hash.clone()),
        item_count: Set(s.item_count),
        nonconforming_count: Set(s.nonconforming_count),
        importer: Set(s.importer.clone()),
        import_time: Set(s.import_time),
    }
    .insert(c)
    .await
    .map_err(|e| unique(e, format!("icss/{}/snapshots/{}", s.ics, s.id)))?;
    let rows: Vec<_> = items
        .iter()
        .map(|(k, v)| snapshot_item::ActiveModel {
            ics: Set(s.ics.clone()),
            snapshot: Set(s.id.clone()),
            kind: Set(k.kind.clone()),
            item_key: Set(k.key.clone()),
            value: Set(v.to_string()),
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        snapshot_item::Entity::insert_many(chunk).exec(c).await?;
    }
    Ok(())
}

/// One snapshot.
pub async fn snapshot<C: ConnectionTrait>(c: &C, ics: &str, id: &str) -> Result<Option<Snapshot>> {
    Ok(
        snapshot::Entity::find_by_id((ics.to_owned(), id.to_owned()))
            .one(c)
            .await?
            .map(snapshot_of),
    )
}

/// A snapshot's items, in key order.
pub async fn snapshot_items<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
) -> Result<BTreeMap<Key, Value>> {
    snapshot_item::Entity::find()
        .filter(snapshot_item::Column::Ics.eq(ics))
        .filter(snapshot_item::Column::Snapshot.eq(id))
        .all(c)
        .await?
        .into_iter()
        .map(|m| {
            Ok((
                Key::new(&m.kind, &m.item_key),
                parse("snapshot value", &m.value)?,
            ))
        })
        .collect()
}

/// Snapshots newest first (by import time), optionally of one trust, after a page position.
pub async fn snapshots<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: Option<&str>,
    after: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<Snapshot>> {
    let mut q = snapshot::Entity::find().filter(snapshot::Column::Ics.eq(ics));
    if let Some(trust) = trust {
        q = q.filter(snapshot::Column::Trust.eq(trust));
    }
    if let Some((time, id)) = after {
        q = q.filter(
            Condition::any()
                .add(snapshot::Column::ImportTime.lt(time))
                .add(
                    Condition::all()
                        .add(snapshot::Column::ImportTime.eq(time))
                        .add(snapshot::Column::Id.lt(id)),
                ),
        );
    }
    Ok(q.order_by_desc(snapshot::Column::ImportTime)
        .order_by_desc(snapshot::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(snapshot_of)
        .collect())
}
