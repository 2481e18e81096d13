//! Proto ↔ domain for shared configuration: requests destructured field by field, resources
//! built whole, JSON ↔ `google.protobuf.Value`, and the enum maps.

use chrono::{DateTime, Utc};
use concordat_platform::error::ApiError;
use concordat_proto::sharedconfig::v1 as pb;
use prost::Message;
use serde_json::Value;
use tonic::{Request, Status};

use crate::domain::changeset::Change;
use crate::domain::layer::{Bound, Entry, Governance, Key, LayerId, Variation};
use crate::domain::publish::Placed;
use crate::domain::records::{
    Changeset, ChangesetState, EffectiveRevision, KindRecord, Revision, Snapshot,
};
use crate::domain::resolve::{Difference, Resolved, Source};
use crate::service::{
    ConfigError, EffectiveRead, NewChangeset, NewKind, NewSnapshot, PAGE_BYTES, RenderItem,
    Rendered, layer_name,
};
use crate::upstream::Caller;

pub(super) fn status(err: ConfigError) -> Status {
    ApiError::from(err).into_status()
}

pub(super) fn caller<T>(req: &Request<T>) -> Caller {
    let header = |name: &str| {
        req.metadata()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    Caller {
        authorization: header("authorization"),
        request_id: header("x-request-id"),
    }
}

pub(super) fn invalid(field: &str, reason: &str) -> Status {
    status(ConfigError::Invalid(vec![(
        field.to_owned(),
        reason.to_owned(),
    )]))
}

// ---- conversions -------------------------------------------------------------------------------

pub(super) use concordat_api::time::timestamp as ts;

pub(super) fn time_of(t: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

/// A protobuf `Value` as JSON; whole numbers become integers (protobuf carries every number as a
/// double), so `5` stays `5` in schemas and content hashes.
pub fn json_of(v: concordat_proto::value::Value) -> Value {
    v.into_json()
}

/// JSON as a protobuf `Value`, written straight into protobuf's wire format.
pub fn value_of(v: &Value) -> concordat_proto::value::Value {
    concordat_proto::value::Value::from_json(v)
}

/// The bytes [`value_of`] of `v` takes encoded, without building it.
pub(super) fn value_len(v: &Value) -> usize {
    concordat_proto::value::Value::json_encoded_len(v)
}

/// The bytes [`resolved_pb`] of an item takes in a repeated field, without building it.
pub(super) fn resolved_len(k: &Key, r: &Resolved) -> usize {
    let field = |len: usize| 1 + prost::encoding::encoded_len_varint(len as u64) + len;
    field(
        field(k.kind.len())
            + field(k.key.len())
            + field(value_len(&r.value))
            + 2
            + 11
            + field(r.provenance.change_request.len())
            + r.ignored.as_ref().map_or(0, |i| field(i.len()))
            + variation_pb(&r.variation).map_or(0, |v| field(prost::Message::encoded_len(&v))),
    )
}

/// The bytes [`diff_pb`] of a difference takes in a repeated field, without building it.
pub(super) fn diff_len(k: &Key, before: Option<&Value>, after: Option<&Value>) -> usize {
    let field = |len: usize| 1 + prost::encoding::encoded_len_varint(len as u64) + len;
    field(
        field(k.kind.len())
            + field(k.key.len())
            + before.map_or(0, |v| field(value_len(v)))
            + after.map_or(0, |v| field(value_len(v))),
    )
}

pub(super) fn struct_of(o: &serde_json::Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: o
            .iter()
            .map(|(k, v)| (k.clone(), concordat_proto::value::prost_tree(v)))
            .collect(),
    }
}

pub(super) fn governance_of(g: Option<pb::Governance>, field: &str) -> Result<Governance, Status> {
    let Some(pb::Governance { mode, bounds }) = g else {
        return Ok(Governance::Overridable);
    };
    let mode = pb::GovernanceMode::try_from(mode)
        .map_err(|_| invalid(&format!("{field}.mode"), "is not a governance mode"))?;
    let bounds = bounds
        .into_iter()
        .enumerate()
        .map(|(i, b)| match b.bound {
            Some(pb::bound::Bound::Range(pb::RangeBound { pointer, min, max })) => {
                Ok(Bound::Range { pointer, min, max })
            }
            Some(pb::bound::Bound::OneOf(pb::OneOfBound { pointer, allowed })) => {
                Ok(Bound::OneOf {
                    pointer,
                    allowed: allowed.into_iter().map(json_of).collect(),
                })
            }
            None => Err(invalid(
                &format!("{field}.bounds[{i}]"),
                "must be a range or a one_of",
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    match mode {
        pb::GovernanceMode::Locked
        | pb::GovernanceMode::Overridable
        | pb::GovernanceMode::Unspecified
            if !bounds.is_empty() =>
        {
            Err(invalid(
                &format!("{field}.bounds"),
                "only a BOUNDED key has bounds",
            ))
        }
        pb::GovernanceMode::Locked => Ok(Governance::Locked),
        pb::GovernanceMode::Overridable | pb::GovernanceMode::Unspecified => {
            Ok(Governance::Overridable)
        }
        pb::GovernanceMode::Bounded => Ok(Governance::Bounded(bounds)),
    }
}

pub(super) fn governance_pb(g: &Governance) -> pb::Governance {
    match g {
        Governance::Locked => pb::Governance {
            mode: pb::GovernanceMode::Locked as i32,
            bounds: vec![],
        },
        Governance::Overridable => pb::Governance {
            mode: pb::GovernanceMode::Overridable as i32,
            bounds: vec![],
        },
        Governance::Bounded(bounds) => pb::Governance {
            mode: pb::GovernanceMode::Bounded as i32,
            bounds: bounds
                .iter()
                .map(|b| pb::Bound {
                    bound: Some(match b {
                        Bound::Range { pointer, min, max } => {
                            pb::bound::Bound::Range(pb::RangeBound {
                                pointer: pointer.clone(),
                                min: *min,
                                max: *max,
                            })
                        }
                        Bound::OneOf { pointer, allowed } => {
                            pb::bound::Bound::OneOf(pb::OneOfBound {
                                pointer: pointer.clone(),
                                allowed: allowed.iter().map(value_of).collect(),
                            })
                        }
                    }),
                })
                .collect(),
        },
    }
}

/// A message field the request must carry.
pub(super) fn required<T>(field: &str, value: Option<T>) -> Result<T, Status> {
    value.ok_or_else(|| invalid(field, "is required"))
}

impl TryFrom<pb::ConfigKind> for NewKind {
    type Error = Status;
    fn try_from(k: pb::ConfigKind) -> Result<Self, Status> {
        let pb::ConfigKind {
            name: _,
            domain,
            schema,
            description,
            creator: _,
            create_time: _,
        } = k;
        let Some(schema) = schema else {
            return Err(invalid(
                "config_kind.schema",
                "is required: a JSON Schema (draft 2020-12) object",
            ));
        };
        let schema = json_of(
            prost_types::Value {
                kind: Some(prost_types::value::Kind::StructValue(schema)),
            }
            .into(),
        );
        Ok(NewKind {
            domain,
            schema,
            description,
        })
    }
}

impl TryFrom<pb::Changeset> for NewChangeset {
    type Error = Status;
    fn try_from(c: pb::Changeset) -> Result<Self, Status> {
        let pb::Changeset {
            name: _,
            layer,
            base_revision,
            change_request,
            description,
            changes,
            state: _,
            author: _,
            create_time: _,
            published_revision: _,
            trust_diffs: _,
            head_revision: _,
            change_count: _,
        } = c;
        let changes = changes
            .into_iter()
            .enumerate()
            .map(|(i, c)| change_of(i, c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(NewChangeset {
            layer,
            base_revision,
            change_request,
            description,
            changes,
        })
    }
}

impl From<pb::Snapshot> for NewSnapshot {
    fn from(s: pb::Snapshot) -> Self {
        let pb::Snapshot {
            name: _,
            trust,
            display_name,
            taken_time,
            content_hash: _,
            item_count: _,
            nonconforming_count: _,
            importer: _,
            import_time: _,
        } = s;
        NewSnapshot {
            trust,
            display_name,
            taken_time: time_of(taken_time),
        }
    }
}

/// A page of resolved items as GetEffectiveConfig sends them (values already in protobuf's wire
/// format), and the memory they hold: their encoded size and each item's own fields.
impl RenderItem for pb::EffectiveItem {
    fn render(key: &Key, item: &Resolved) -> Self {
        resolved_pb(key, item)
    }

    fn resolved_len(key: &Key, item: &Resolved) -> usize {
        resolved_len(key, item)
    }

    fn with_ignored(&self, why: String) -> Self {
        pb::EffectiveItem {
            ignored: why,
            ..self.clone()
        }
    }

    /// In a repeated field, as [`resolved_len`] measures it.
    fn wire_len(&self) -> usize {
        use prost::Message;
        let len = self.encoded_len();
        1 + prost::encoding::encoded_len_varint(len as u64) + len
    }
}

impl From<EffectiveRead<pb::EffectiveItem>> for pb::GetEffectiveConfigResponse {
    fn from(read: EffectiveRead<pb::EffectiveItem>) -> Self {
        let (view, next_page_token) = match read {
            EffectiveRead::NotModified => {
                return pb::GetEffectiveConfigResponse {
                    not_modified: true,
                    ..Default::default()
                };
            }
            EffectiveRead::Page(view, next) => (view, next),
        };
        let rev = view.revision.as_ref().map_or(0, |r| r.revision);
        pb::GetEffectiveConfigResponse {
            effective_config: Some(pb::EffectiveConfig {
                trust: view.trust.clone(),
                revision: rev,
                baseline_revision: view.revision.as_ref().map_or(0, |r| r.baseline_revision),
                overlay_revision: view.revision.as_ref().map_or(0, |r| r.overlay_revision),
                etag: concordat_api::etag(rev),
                content_hash: view.content_hash.clone(),
                items: view.items,
            }),
            not_modified: false,
            next_page_token,
        }
    }
}

/// A layer at a revision (`None`: nothing published yet).
pub(super) fn layer_pb(ics: &str, layer: &LayerId, record: Option<&Revision>) -> pb::Layer {
    let trust = match layer {
        LayerId::Trust(t) => t.clone(),
        LayerId::Baseline => String::new(),
    };
    let empty = crate::domain::resolve::content_hash(&Default::default());
    pb::Layer {
        name: layer_name(ics, layer),
        trust,
        revision: record.map_or(0, |r| r.revision),
        content_hash: record.map_or(empty, |r| r.content_hash.clone()),
        item_count: record.map_or(0, |r| r.item_count),
        update_time: record.map(|r| ts(r.publish_time)),
    }
}

pub(super) fn change_of(i: usize, c: pb::ItemChange) -> Result<Change<Entry>, Status> {
    let pb::ItemChange { operation, item } = c;
    let field = format!("changeset.changes[{i}]");
    let Some(pb::ConfigItem {
        kind,
        key,
        value,
        governance,
        owner,
        description,
        suppress,
        revision: _,
        change_request: _,
        variation,
    }) = item
    else {
        return Err(invalid(&format!("{field}.item"), "is required"));
    };
    let k = Key::new(&kind, &key);
    let entry = Entry {
        value: value.map_or(Value::Null, json_of),
        governance: governance_of(governance, &format!("{field}.item.governance"))?,
        owner,
        description,
        suppress,
        variation: variation_of(variation, &format!("{field}.item.variation"))?,
    };
    match pb::Operation::try_from(operation) {
        Ok(pb::Operation::Add) => Ok(Change::Add(k, entry)),
        Ok(pb::Operation::Modify) => Ok(Change::Modify(k, entry)),
        Ok(pb::Operation::Remove) => Ok(Change::Remove(k)),
        _ => Err(invalid(
            &format!("{field}.operation"),
            "must be ADD, MODIFY or REMOVE",
        )),
    }
}

/// A variation's terms as sent in `field`: a review date that is not `YYYY-MM-DD` or an expiry out
/// of range is refused, naming the field.
fn variation_of(v: Option<pb::Variation>, field: &str) -> Result<Variation, Status> {
    let Some(v) = v else {
        return Ok(Variation::default());
    };
    let review_date = match v.review_date.as_str() {
        "" => None,
        text => Some(
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
                invalid(
                    &format!("{field}.review_date"),
                    "must be a date as `YYYY-MM-DD`",
                )
            })?,
        ),
    };
    let expire_time =
        concordat_api::time::from_timestamp(&format!("{field}.expire_time"), v.expire_time)
            .map_err(|v| invalid(&v.field, &v.description))?
            // Kept to the microsecond, as both databases keep time: the instant a variation lapses
            // is the same read from its terms or from its row.
            .and_then(|t| DateTime::from_timestamp_micros(t.timestamp_micros()));
    Ok(Variation {
        rationale: v.rationale,
        hazard: v.hazard,
        review_date,
        expire_time,
    })
}

/// A variation's terms on the wire; `None` when none is set.
pub(super) fn variation_pb(v: &Variation) -> Option<pb::Variation> {
    (!v.is_empty()).then(|| pb::Variation {
        rationale: v.rationale.clone(),
        hazard: v.hazard.clone(),
        review_date: v
            .review_date
            .map_or(String::new(), |d| d.format("%Y-%m-%d").to_string()),
        expire_time: v.expire_time.map(ts),
    })
}

pub(super) fn item_pb(k: &Key, e: &Entry) -> pb::ConfigItem {
    pb::ConfigItem {
        variation: variation_pb(&e.variation),
        kind: k.kind.clone(),
        key: k.key.clone(),
        value: (!e.suppress).then(|| value_of(&e.value)),
        governance: Some(governance_pb(&e.governance)),
        owner: e.owner.clone(),
        description: e.description.clone(),
        suppress: e.suppress,
        revision: 0,
        change_request: String::new(),
    }
}

pub(super) fn placed_pb(k: &Key, p: &Placed) -> pb::ConfigItem {
    pb::ConfigItem {
        revision: i64::try_from(p.provenance.revision).unwrap_or_default(),
        change_request: p.provenance.change_request.clone(),
        ..item_pb(k, &p.entry)
    }
}

pub(super) fn change_pb(c: &Change<Entry>) -> pb::ItemChange {
    let (operation, item) = match c {
        Change::Add(k, e) => (pb::Operation::Add, item_pb(k, e)),
        Change::Modify(k, e) => (pb::Operation::Modify, item_pb(k, e)),
        Change::Remove(k) => (
            pb::Operation::Remove,
            pb::ConfigItem {
                kind: k.kind.clone(),
                key: k.key.clone(),
                ..Default::default()
            },
        ),
    };
    pb::ItemChange {
        operation: operation as i32,
        item: Some(item),
    }
}

pub(super) fn diff_pb(d: &Difference) -> pb::ItemDiff {
    pb::ItemDiff {
        kind: d.key.kind.clone(),
        key: d.key.key.clone(),
        before: d.before.as_ref().map(value_of),
        after: d.after.as_ref().map(value_of),
    }
}

pub(super) fn kind_pb(k: &KindRecord) -> pb::ConfigKind {
    pb::ConfigKind {
        name: format!("icss/{}/configKinds/{}", k.ics, k.name),
        domain: k.domain.clone(),
        schema: k.schema.as_object().map(struct_of),
        description: k.description.clone(),
        creator: Some((&k.creator).into()),
        create_time: Some(ts(k.create_time)),
    }
}

pub(super) fn revision_pb(r: &Revision) -> pb::Revision {
    pb::Revision {
        name: format!("{}/revisions/{}", layer_name(&r.ics, &r.layer), r.revision),
        revision: r.revision,
        changeset: if r.changeset.is_empty() {
            String::new()
        } else {
            format!("icss/{}/changesets/{}", r.ics, r.changeset)
        },
        change_request: r.change_request.clone(),
        publisher: Some((&r.publisher).into()),
        publisher_trust: r.publisher_trust.clone(),
        publish_time: Some(ts(r.publish_time)),
        content_hash: r.content_hash.clone(),
        item_count: r.item_count,
        restores_revision: r.restores_revision,
        change_count: r.change_count,
    }
}

pub(super) fn state_pb(s: ChangesetState) -> pb::ChangesetState {
    match s {
        ChangesetState::Open => pb::ChangesetState::Open,
        ChangesetState::Published => pb::ChangesetState::Published,
        ChangesetState::Discarded => pb::ChangesetState::Discarded,
    }
}

/// The bytes of all the changeset diffs a response carries, across its trusts.
const RENDERED_BYTES: usize = 1 << 20;
/// The most differences of one trust a changeset response carries.
const RENDERED_PER_TRUST: usize = 100;
/// The most changes a changeset response carries.
const CHANGESET_CHANGES: usize = 1_000;

/// A changeset as GetChangeset, CreateChangeset and the writes answer: its first changes and
/// how many there are, so the response stays small whatever the changeset's size.
pub(super) fn changeset_pb(c: &Changeset) -> pb::Changeset {
    let mut bytes = 0;
    let changes = c
        .changes
        .iter()
        .take(CHANGESET_CHANGES)
        .map(change_pb)
        .take_while(|pb| {
            bytes += pb.encoded_len();
            bytes <= RENDERED_BYTES
        })
        .collect();
    pb::Changeset {
        changes,
        ..changeset_summary_pb(c)
    }
}

/// A changeset as ListChangesets answers: no changes, only their count.
pub(super) fn changeset_summary_pb(c: &Changeset) -> pb::Changeset {
    pb::Changeset {
        name: c.name(),
        layer: layer_name(&c.ics, &c.layer),
        base_revision: c.base_revision,
        change_request: c.change_request.clone(),
        description: c.description.clone(),
        changes: vec![],
        change_count: i64::try_from(c.changes.len()).unwrap_or(i64::MAX),
        state: state_pb(c.state) as i32,
        author: Some((&c.author).into()),
        create_time: Some(ts(c.create_time)),
        published_revision: c.published_revision,
        trust_diffs: vec![],
        head_revision: 0,
    }
}

/// A changeset with, per trust, the counts of its effective changes and the first of them: at
/// most [`RENDERED_PER_TRUST`] each and [`RENDERED_BYTES`] in all, shared among the trusts.
pub(super) fn rendered_pb(r: &Rendered) -> pb::Changeset {
    let share = RENDERED_BYTES / r.trust_diffs.len().max(1);
    pb::Changeset {
        trust_diffs: r
            .trust_diffs
            .iter()
            .map(|(t, d)| {
                let count = |f: fn(&Difference) -> bool| {
                    i64::try_from(d.iter().filter(|x| f(x)).count()).unwrap_or(i64::MAX)
                };
                let mut bytes = 0;
                pb::TrustDiff {
                    trust: t.clone(),
                    changes: d
                        .iter()
                        .take(RENDERED_PER_TRUST)
                        .take_while(|x| {
                            bytes += diff_len(&x.key, x.before.as_ref(), x.after.as_ref());
                            bytes <= share
                        })
                        .map(diff_pb)
                        .collect(),
                    added_count: count(|x| x.before.is_none()),
                    modified_count: count(|x| x.before.is_some() && x.after.is_some()),
                    removed_count: count(|x| x.after.is_none()),
                }
            })
            .collect(),
        head_revision: r.head_revision,
        ..changeset_pb(&r.changeset)
    }
}

/// The gRPC message of an effective revision (outbox payloads and watch responses).
pub fn effective_revision_pb(e: &EffectiveRevision) -> pb::EffectiveRevision {
    pb::EffectiveRevision {
        trust: e.trust.clone(),
        revision: e.revision,
        baseline_revision: e.baseline_revision,
        overlay_revision: e.overlay_revision,
        content_hash: e.content_hash.clone(),
        layer: layer_name(&e.ics, &e.layer),
        change_request: e.change_request.clone(),
        publisher: Some((&e.publisher).into()),
        publish_time: Some(ts(e.publish_time)),
        changes: first_changes(&e.changes),
        change_count: i64::try_from(e.changes.len()).unwrap_or(i64::MAX),
        reason: e.reason.clone(),
    }
}

/// The most changes an effective revision message carries: the rest are read with
/// DiffEffectiveConfig, so a watch message stays small however much a publish changed.
pub const REVISION_CHANGES: usize = 1_000;

/// The first of `changes` that fit [`REVISION_CHANGES`] and [`PAGE_BYTES`].
fn first_changes(changes: &[Difference]) -> Vec<pb::ItemDiff> {
    let mut bytes = 0;
    changes
        .iter()
        .take(REVISION_CHANGES)
        .take_while(|d| {
            bytes += diff_len(&d.key, d.before.as_ref(), d.after.as_ref());
            bytes <= PAGE_BYTES
        })
        .map(diff_pb)
        .collect()
}

/// Encodes an effective revision for the outbox.
pub fn encode_effective(e: &EffectiveRevision) -> Vec<u8> {
    effective_revision_pb(e).encode_to_vec()
}

pub(super) fn resolved_pb(k: &Key, r: &Resolved) -> pb::EffectiveItem {
    pb::EffectiveItem {
        kind: k.kind.clone(),
        key: k.key.clone(),
        value: Some(value_of(&r.value)),
        source: match r.source {
            Source::Baseline => pb::Source::Baseline,
            Source::Override => pb::Source::Override,
            Source::LocalOnly => pb::Source::LocalOnly,
        } as i32,
        layer_revision: i64::try_from(r.provenance.revision).unwrap_or_default(),
        change_request: r.provenance.change_request.clone(),
        ignored: r.ignored.clone().unwrap_or_default(),
        variation: variation_pb(&r.variation),
    }
}

/// A snapshot as its [`crate::service::SNAPSHOT_IMPORTED`] event carries it.
pub fn encode_snapshot(s: &Snapshot) -> Vec<u8> {
    snapshot_pb(s).encode_to_vec()
}

pub(super) fn snapshot_pb(s: &Snapshot) -> pb::Snapshot {
    pb::Snapshot {
        name: format!("icss/{}/snapshots/{}", s.ics, s.id),
        trust: s.trust.clone(),
        display_name: s.display_name.clone(),
        taken_time: Some(ts(s.taken_time)),
        content_hash: s.content_hash.clone(),
        item_count: s.item_count,
        nonconforming_count: s.nonconforming_count,
        importer: Some((&s.importer).into()),
        import_time: Some(ts(s.import_time)),
    }
}
