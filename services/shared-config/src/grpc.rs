//! The gRPC adapter: `SharedConfigService` implemented over the use cases. Converts proto ↔
//! domain and nothing more; every rule lives in the domain and the use cases.

mod error;

pub use error::name_reason;

use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use concordat_platform::authz::{Allowed, Permission, RequestContext};
use concordat_platform::error::ApiError;
use concordat_platform::identity::Role;
use concordat_proto::sharedconfig::v1 as pb;
use futures::{Stream, StreamExt};
use pb::shared_config_service_server::SharedConfigService;
use prost::Message;
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::domain::changeset::Change;
use crate::domain::layer::{Bound, Entry, Governance, Key};
use crate::domain::publish::Placed;
use crate::domain::records::{
    Changeset, ChangesetState, EffectiveRevision, KindRecord, Revision, Snapshot,
};
use crate::domain::resolve::{Difference, Resolved, Source};
use crate::service::{
    ConfigError, EffectiveRead, NewChangeset, Rendered, SharedConfig, etag, layer_name,
};
use crate::upstream::Caller;

const PUBLISHERS: &[Role] = &[Role::IcsAdmin, Role::TrustEngineer, Role::TrustDigitalLead];
const IMPORTERS: &[Role] = &[
    Role::IcsAdmin,
    Role::TrustEngineer,
    Role::TrustDigitalLead,
    Role::Automation,
];

/// Who may call which shared-configuration RPC. Trust scope (a trust writes only its own overlay
/// and snapshots) is checked in the use cases; publishing also needs an approved change request.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        method: "CreateConfigKind",
        allowed: Allowed::Roles(&[Role::IcsAdmin]),
    },
    Permission {
        method: "GetConfigKind",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListConfigKinds",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "GetLayer",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListLayerItems",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListRevisions",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "GetRevision",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "DiffRevisions",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "CreateChangeset",
        allowed: Allowed::Roles(PUBLISHERS),
    },
    Permission {
        method: "GetChangeset",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListChangesets",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "PublishChangeset",
        allowed: Allowed::Roles(PUBLISHERS),
    },
    Permission {
        method: "DiscardChangeset",
        allowed: Allowed::Roles(PUBLISHERS),
    },
    Permission {
        method: "RollbackLayer",
        allowed: Allowed::Roles(PUBLISHERS),
    },
    Permission {
        method: "GetEffectiveConfig",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "DiffEffectiveConfig",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "WatchEffectiveConfig",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ImportSnapshot",
        allowed: Allowed::Roles(IMPORTERS),
    },
    Permission {
        method: "GetSnapshot",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListSnapshots",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ExportConfig",
        allowed: Allowed::Authenticated,
    },
];

/// The service implementation.
pub struct Api {
    cases: Arc<SharedConfig>,
}

impl Api {
    /// Over the use cases.
    pub fn new(cases: Arc<SharedConfig>) -> Self {
        Self { cases }
    }
}

fn status(err: ConfigError) -> Status {
    ApiError::from(err).into_status()
}

fn caller<T>(req: &Request<T>) -> Caller {
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

fn invalid(field: &str, reason: &str) -> Status {
    status(ConfigError::Invalid(vec![(
        field.to_owned(),
        reason.to_owned(),
    )]))
}

// ---- conversions -------------------------------------------------------------------------------

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn time_of(t: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

/// A protobuf `Value` as JSON; whole numbers become integers (protobuf carries every number as a
/// double), so `5` stays `5` in schemas and content hashes.
pub fn json_of(v: prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match v.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(n)) => {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Value::from(n as i64)
            } else {
                serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
            }
        }
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(l)) => Value::Array(l.values.into_iter().map(json_of).collect()),
        Some(Kind::StructValue(s)) => {
            Value::Object(s.fields.into_iter().map(|(k, v)| (k, json_of(v))).collect())
        }
    }
}

/// JSON as a protobuf `Value`.
pub fn value_of(v: &Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match v {
        Value::Null => Kind::NullValue(0),
        Value::Bool(b) => Kind::BoolValue(*b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or_default()),
        Value::String(s) => Kind::StringValue(s.clone()),
        Value::Array(a) => Kind::ListValue(prost_types::ListValue {
            values: a.iter().map(value_of).collect(),
        }),
        Value::Object(o) => Kind::StructValue(struct_of(o)),
    };
    prost_types::Value { kind: Some(kind) }
}

fn struct_of(o: &serde_json::Map<String, Value>) -> prost_types::Struct {
    prost_types::Struct {
        fields: o.iter().map(|(k, v)| (k.clone(), value_of(v))).collect(),
    }
}

fn governance_of(g: Option<pb::Governance>, field: &str) -> Result<Governance, Status> {
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

fn governance_pb(g: &Governance) -> pb::Governance {
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

fn change_of(i: usize, c: pb::ItemChange) -> Result<Change<Entry>, Status> {
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

fn item_pb(k: &Key, e: &Entry) -> pb::ConfigItem {
    pb::ConfigItem {
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

fn placed_pb(k: &Key, p: &Placed) -> pb::ConfigItem {
    pb::ConfigItem {
        revision: i64::try_from(p.provenance.revision).unwrap_or_default(),
        change_request: p.provenance.change_request.clone(),
        ..item_pb(k, &p.entry)
    }
}

fn change_pb(c: &Change<Entry>) -> pb::ItemChange {
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

fn diff_pb(d: &Difference) -> pb::ItemDiff {
    pb::ItemDiff {
        kind: d.key.kind.clone(),
        key: d.key.key.clone(),
        before: d.before.as_ref().map(value_of),
        after: d.after.as_ref().map(value_of),
    }
}

fn kind_pb(k: &KindRecord) -> pb::ConfigKind {
    pb::ConfigKind {
        name: format!("icss/{}/configKinds/{}", k.ics, k.name),
        domain: k.domain.clone(),
        schema: k.schema.as_object().map(struct_of),
        description: k.description.clone(),
        creator: k.creator.clone(),
        create_time: Some(ts(k.create_time)),
    }
}

fn revision_pb(r: &Revision) -> pb::Revision {
    pb::Revision {
        name: format!("{}/revisions/{}", layer_name(&r.ics, &r.layer), r.revision),
        revision: r.revision,
        changeset: if r.changeset.is_empty() {
            String::new()
        } else {
            format!("icss/{}/changesets/{}", r.ics, r.changeset)
        },
        change_request: r.change_request.clone(),
        publisher: r.publisher.clone(),
        publisher_trust: r.publisher_trust.clone(),
        publish_time: Some(ts(r.publish_time)),
        content_hash: r.content_hash.clone(),
        item_count: r.item_count,
        restores_revision: r.restores_revision,
        change_count: r.change_count,
    }
}

fn state_pb(s: ChangesetState) -> pb::ChangesetState {
    match s {
        ChangesetState::Open => pb::ChangesetState::Open,
        ChangesetState::Published => pb::ChangesetState::Published,
        ChangesetState::Discarded => pb::ChangesetState::Discarded,
    }
}

fn changeset_pb(c: &Changeset) -> pb::Changeset {
    pb::Changeset {
        name: c.name(),
        layer: layer_name(&c.ics, &c.layer),
        base_revision: c.base_revision,
        change_request: c.change_request.clone(),
        description: c.description.clone(),
        changes: c.changes.iter().map(change_pb).collect(),
        state: state_pb(c.state) as i32,
        author: c.author.clone(),
        create_time: Some(ts(c.create_time)),
        published_revision: c.published_revision,
        trust_diffs: vec![],
        head_revision: 0,
    }
}

fn rendered_pb(r: &Rendered) -> pb::Changeset {
    pb::Changeset {
        trust_diffs: r
            .trust_diffs
            .iter()
            .map(|(t, d)| pb::TrustDiff {
                trust: t.clone(),
                changes: d.iter().map(diff_pb).collect(),
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
        publisher: e.publisher.clone(),
        publish_time: Some(ts(e.publish_time)),
        changes: e.changes.iter().map(diff_pb).collect(),
    }
}

/// Encodes an effective revision for the outbox.
pub fn encode_effective(e: &EffectiveRevision) -> Vec<u8> {
    effective_revision_pb(e).encode_to_vec()
}

fn resolved_pb(k: &Key, r: &Resolved) -> pb::EffectiveItem {
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
    }
}

fn snapshot_pb(s: &Snapshot) -> pb::Snapshot {
    pb::Snapshot {
        name: format!("icss/{}/snapshots/{}", s.ics, s.id),
        trust: s.trust.clone(),
        display_name: s.display_name.clone(),
        taken_time: Some(ts(s.taken_time)),
        content_hash: s.content_hash.clone(),
        item_count: s.item_count,
        nonconforming_count: s.nonconforming_count,
        importer: s.importer.clone(),
        import_time: Some(ts(s.import_time)),
    }
}

type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchEffectiveConfigResponse, Status>> + Send>>;

#[tonic::async_trait]
impl SharedConfigService for Api {
    async fn create_config_kind(
        &self,
        req: Request<pb::CreateConfigKindRequest>,
    ) -> Result<Response<pb::CreateConfigKindResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateConfigKindRequest {
            parent,
            config_kind_id,
            config_kind,
            request_id,
        } = req.into_inner();
        let pb::ConfigKind {
            name: _,
            domain,
            schema,
            description,
            creator: _,
            create_time: _,
        } = config_kind.unwrap_or_default();
        let schema = schema.map_or(Value::Null, |s| {
            json_of(prost_types::Value {
                kind: Some(prost_types::value::Kind::StructValue(s)),
            })
        });
        if schema.is_null() {
            return Err(invalid(
                "config_kind.schema",
                "is required: a JSON Schema (draft 2020-12) object",
            ));
        }
        let outcome = self
            .cases
            .create_kind(
                &ctx,
                &parent,
                &config_kind_id,
                domain,
                schema,
                description,
                &request_id,
                |k| pb::CreateConfigKindResponse {
                    config_kind: Some(kind_pb(k)),
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(outcome))
    }

    async fn get_config_kind(
        &self,
        req: Request<pb::GetConfigKindRequest>,
    ) -> Result<Response<pb::GetConfigKindResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetConfigKindRequest { name } = req.into_inner();
        let k = self.cases.get_kind(&ctx, &name).await.map_err(status)?;
        Ok(Response::new(pb::GetConfigKindResponse {
            config_kind: Some(kind_pb(&k)),
        }))
    }

    async fn list_config_kinds(
        &self,
        req: Request<pb::ListConfigKindsRequest>,
    ) -> Result<Response<pb::ListConfigKindsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListConfigKindsRequest {
            parent,
            page_size,
            page_token,
        } = req.into_inner();
        let (kinds, next_page_token) = self
            .cases
            .list_kinds(&ctx, &parent, page_size, &page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListConfigKindsResponse {
            config_kinds: kinds.iter().map(kind_pb).collect(),
            next_page_token,
        }))
    }

    async fn get_layer(
        &self,
        req: Request<pb::GetLayerRequest>,
    ) -> Result<Response<pb::GetLayerResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetLayerRequest { name, revision } = req.into_inner();
        let (ics, layer, record) = self
            .cases
            .get_layer(&ctx, &name, revision)
            .await
            .map_err(status)?;
        let trust = match &layer {
            crate::domain::layer::LayerId::Trust(t) => t.clone(),
            crate::domain::layer::LayerId::Baseline => String::new(),
        };
        let empty = crate::domain::resolve::content_hash(&Default::default());
        Ok(Response::new(pb::GetLayerResponse {
            layer: Some(pb::Layer {
                name: layer_name(&ics, &layer),
                trust,
                revision: record.as_ref().map_or(0, |r| r.revision),
                content_hash: record.as_ref().map_or(empty, |r| r.content_hash.clone()),
                item_count: record.as_ref().map_or(0, |r| r.item_count),
                update_time: record.as_ref().map(|r| ts(r.publish_time)),
            }),
        }))
    }

    async fn list_layer_items(
        &self,
        req: Request<pb::ListLayerItemsRequest>,
    ) -> Result<Response<pb::ListLayerItemsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListLayerItemsRequest {
            parent,
            revision,
            kind,
            page_size,
            page_token,
        } = req.into_inner();
        let (items, revision, next_page_token) = self
            .cases
            .list_items(&ctx, &parent, revision, &kind, page_size, &page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListLayerItemsResponse {
            items: items.iter().map(|(k, p)| placed_pb(k, p)).collect(),
            revision,
            next_page_token,
        }))
    }

    async fn list_revisions(
        &self,
        req: Request<pb::ListRevisionsRequest>,
    ) -> Result<Response<pb::ListRevisionsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListRevisionsRequest {
            parent,
            page_size,
            page_token,
        } = req.into_inner();
        let (revisions, next_page_token) = self
            .cases
            .list_revisions(&ctx, &parent, page_size, &page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListRevisionsResponse {
            revisions: revisions.iter().map(revision_pb).collect(),
            next_page_token,
        }))
    }

    async fn get_revision(
        &self,
        req: Request<pb::GetRevisionRequest>,
    ) -> Result<Response<pb::GetRevisionResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetRevisionRequest { name } = req.into_inner();
        let r = self.cases.get_revision(&ctx, &name).await.map_err(status)?;
        Ok(Response::new(pb::GetRevisionResponse {
            revision: Some(revision_pb(&r)),
        }))
    }

    async fn diff_revisions(
        &self,
        req: Request<pb::DiffRevisionsRequest>,
    ) -> Result<Response<pb::DiffRevisionsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::DiffRevisionsRequest {
            layer,
            from_revision,
            to_revision,
        } = req.into_inner();
        let (changes, from_revision, to_revision) = self
            .cases
            .diff_revisions(&ctx, &layer, from_revision, to_revision)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DiffRevisionsResponse {
            changes: changes.iter().map(diff_pb).collect(),
            from_revision,
            to_revision,
        }))
    }

    async fn create_changeset(
        &self,
        req: Request<pb::CreateChangesetRequest>,
    ) -> Result<Response<pb::CreateChangesetResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateChangesetRequest {
            parent,
            changeset,
            request_id,
        } = req.into_inner();
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
        } = changeset.ok_or_else(|| invalid("changeset", "is required"))?;
        let changes = changes
            .into_iter()
            .enumerate()
            .map(|(i, c)| change_of(i, c))
            .collect::<Result<Vec<_>, _>>()?;
        let new = NewChangeset {
            layer,
            base_revision,
            change_request,
            description,
            changes,
        };
        let outcome = self
            .cases
            .create_changeset(&ctx, &parent, new, &request_id, |r| {
                pb::CreateChangesetResponse {
                    changeset: Some(rendered_pb(r)),
                }
            })
            .await
            .map_err(status)?;
        Ok(Response::new(outcome))
    }

    async fn get_changeset(
        &self,
        req: Request<pb::GetChangesetRequest>,
    ) -> Result<Response<pb::GetChangesetResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetChangesetRequest { name } = req.into_inner();
        let r = self
            .cases
            .get_changeset(&ctx, &name)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetChangesetResponse {
            changeset: Some(rendered_pb(&r)),
        }))
    }

    async fn list_changesets(
        &self,
        req: Request<pb::ListChangesetsRequest>,
    ) -> Result<Response<pb::ListChangesetsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListChangesetsRequest {
            parent,
            layer,
            state,
            page_size,
            page_token,
        } = req.into_inner();
        let state = match pb::ChangesetState::try_from(state) {
            Ok(pb::ChangesetState::Unspecified) => None,
            Ok(pb::ChangesetState::Open) => Some(ChangesetState::Open),
            Ok(pb::ChangesetState::Published) => Some(ChangesetState::Published),
            Ok(pb::ChangesetState::Discarded) => Some(ChangesetState::Discarded),
            Err(_) => return Err(invalid("state", "is not a changeset state")),
        };
        let (list, next_page_token) = self
            .cases
            .list_changesets(&ctx, &parent, &layer, state, page_size, &page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListChangesetsResponse {
            changesets: list.iter().map(changeset_pb).collect(),
            next_page_token,
        }))
    }

    async fn publish_changeset(
        &self,
        req: Request<pb::PublishChangesetRequest>,
    ) -> Result<Response<pb::PublishChangesetResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let caller = caller(&req);
        let pb::PublishChangesetRequest {
            name,
            rebase,
            request_id,
        } = req.into_inner();
        let response = |r: &Revision, c: &Changeset| pb::PublishChangesetResponse {
            revision: Some(revision_pb(r)),
            changeset: Some(changeset_pb(c)),
        };
        let outcome = self
            .cases
            .publish(&ctx, &caller, &name, rebase, &request_id, response)
            .await
            .map_err(status)?;
        Ok(Response::new(outcome))
    }

    async fn discard_changeset(
        &self,
        req: Request<pb::DiscardChangesetRequest>,
    ) -> Result<Response<pb::DiscardChangesetResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::DiscardChangesetRequest { name, request_id } = req.into_inner();
        let outcome = self
            .cases
            .discard_changeset(&ctx, &name, &request_id, |c| pb::DiscardChangesetResponse {
                changeset: Some(changeset_pb(c)),
            })
            .await
            .map_err(status)?;
        Ok(Response::new(outcome))
    }

    async fn rollback_layer(
        &self,
        req: Request<pb::RollbackLayerRequest>,
    ) -> Result<Response<pb::RollbackLayerResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let caller = caller(&req);
        let pb::RollbackLayerRequest {
            layer,
            revision,
            change_request,
            expected_head_revision,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .rollback(
                &ctx,
                &caller,
                &layer,
                revision,
                &change_request,
                expected_head_revision,
                &request_id,
                |r| pb::RollbackLayerResponse {
                    revision: Some(revision_pb(r)),
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(outcome))
    }

    async fn get_effective_config(
        &self,
        req: Request<pb::GetEffectiveConfigRequest>,
    ) -> Result<Response<pb::GetEffectiveConfigResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetEffectiveConfigRequest {
            parent,
            trust,
            revision,
            if_none_match,
            kind,
        } = req.into_inner();
        match self
            .cases
            .get_effective(&ctx, &parent, &trust, revision, &if_none_match, &kind)
            .await
            .map_err(status)?
        {
            EffectiveRead::NotModified => Ok(Response::new(pb::GetEffectiveConfigResponse {
                effective_config: None,
                not_modified: true,
            })),
            EffectiveRead::Config(view) => {
                let rev = view.revision.as_ref().map_or(0, |r| r.revision);
                Ok(Response::new(pb::GetEffectiveConfigResponse {
                    effective_config: Some(pb::EffectiveConfig {
                        trust: view.trust.clone(),
                        revision: rev,
                        baseline_revision: view
                            .revision
                            .as_ref()
                            .map_or(0, |r| r.baseline_revision),
                        overlay_revision: view.revision.as_ref().map_or(0, |r| r.overlay_revision),
                        etag: etag(
                            rev,
                            view.revision
                                .as_ref()
                                .map_or(view.content_hash.as_str(), |r| r.content_hash.as_str()),
                        ),
                        content_hash: view.content_hash.clone(),
                        items: view.items.iter().map(|(k, r)| resolved_pb(k, r)).collect(),
                    }),
                    not_modified: false,
                }))
            }
        }
    }

    async fn diff_effective_config(
        &self,
        req: Request<pb::DiffEffectiveConfigRequest>,
    ) -> Result<Response<pb::DiffEffectiveConfigResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::DiffEffectiveConfigRequest {
            parent,
            trust,
            from_revision,
            to_revision,
        } = req.into_inner();
        let (changes, from_revision, to_revision) = self
            .cases
            .diff_effective(&ctx, &parent, &trust, from_revision, to_revision)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DiffEffectiveConfigResponse {
            changes: changes.iter().map(diff_pb).collect(),
            from_revision,
            to_revision,
        }))
    }

    type WatchEffectiveConfigStream = WatchStream;

    async fn watch_effective_config(
        &self,
        req: Request<pb::WatchEffectiveConfigRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::WatchEffectiveConfigRequest {
            parent,
            trust,
            from_revision,
        } = req.into_inner();
        let stream = self
            .cases
            .watch(&ctx, &parent, &trust, from_revision)
            .await
            .map_err(status)?;
        let stream = stream.map(|e| {
            let e = e.map_err(ApiError::into_status)?;
            Ok(pb::WatchEffectiveConfigResponse {
                effective_revision: Some(effective_revision_pb(&e)),
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn import_snapshot(
        &self,
        req: Request<pb::ImportSnapshotRequest>,
    ) -> Result<Response<pb::ImportSnapshotResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ImportSnapshotRequest {
            parent,
            snapshot,
            bundle_json,
            request_id,
        } = req.into_inner();
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
        } = snapshot.ok_or_else(|| invalid("snapshot", "is required"))?;
        let outcome = self
            .cases
            .import_snapshot(
                &ctx,
                &parent,
                &trust,
                display_name,
                time_of(taken_time),
                &bundle_json,
                &request_id,
                |s| pb::ImportSnapshotResponse {
                    snapshot: Some(snapshot_pb(s)),
                },
            )
            .await
            .map_err(status)?;
        Ok(Response::new(outcome))
    }

    async fn get_snapshot(
        &self,
        req: Request<pb::GetSnapshotRequest>,
    ) -> Result<Response<pb::GetSnapshotResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetSnapshotRequest { name } = req.into_inner();
        let s = self.cases.get_snapshot(&ctx, &name).await.map_err(status)?;
        Ok(Response::new(pb::GetSnapshotResponse {
            snapshot: Some(snapshot_pb(&s)),
        }))
    }

    async fn list_snapshots(
        &self,
        req: Request<pb::ListSnapshotsRequest>,
    ) -> Result<Response<pb::ListSnapshotsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListSnapshotsRequest {
            parent,
            trust,
            page_size,
            page_token,
        } = req.into_inner();
        let (list, next_page_token) = self
            .cases
            .list_snapshots(&ctx, &parent, &trust, page_size, &page_token)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListSnapshotsResponse {
            snapshots: list.iter().map(snapshot_pb).collect(),
            next_page_token,
        }))
    }

    async fn export_config(
        &self,
        req: Request<pb::ExportConfigRequest>,
    ) -> Result<Response<pb::ExportConfigResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ExportConfigRequest { name, revision } = req.into_inner();
        let (bundle_json, content_hash, time) = self
            .cases
            .export(&ctx, &name, revision)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ExportConfigResponse {
            bundle_json,
            content_hash,
            export_time: Some(ts(time)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every RPC of the service has a row in the authorization table, and every row names an
    /// RPC.
    #[test]
    fn the_authorization_table_covers_every_rpc_exactly() {
        concordat_platform::testkit::assert_permissions_cover(
            <pb::shared_config_service_server::SharedConfigServiceServer<Api> as tonic::server::NamedService>::NAME,
            super::PERMISSIONS,
        );
    }

    #[test]
    fn whole_numbers_stay_integers_through_protobuf() {
        let v = serde_json::json!({"threshold": 5, "ratio": 0.5, "codes": ["a", null, true]});
        assert_eq!(super::json_of(super::value_of(&v)), v);
    }
}
