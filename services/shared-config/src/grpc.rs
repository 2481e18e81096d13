//! The gRPC adapter: `SharedConfigService` implemented over the use cases. Converts proto ↔
//! domain and nothing more; every rule lives in the domain and the use cases.

mod convert;
mod error;

use convert::*;
pub use convert::{effective_revision_pb, encode_effective, json_of, value_of};

pub use error::name_reason;

use std::pin::Pin;
use std::sync::Arc;

use concordat_platform::authz::{Allowed, Permission, RequestContext};
use concordat_platform::error::ApiError;
use concordat_platform::identity::Role;
use concordat_proto::sharedconfig::v1 as pb;
use futures::{Stream, StreamExt};
use pb::shared_config_service_server::SharedConfigService;
use serde_json::Value;
use tonic::{Request, Response, Status};

use crate::domain::records::{Changeset, ChangesetState, Revision};
use crate::service::{EffectiveRead, NewChangeset, SharedConfig, etag, layer_name};

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
