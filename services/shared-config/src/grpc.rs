//! The gRPC adapter: `SharedConfigService` implemented over the use cases. Converts proto ↔
//! domain and nothing more; every rule lives in the domain and the use cases.

mod changesets;
mod convert;
mod effective;
mod error;
mod kinds;
mod layers;
mod publishing;
mod snapshots;

use convert::*;
pub use convert::{effective_revision_pb, encode_effective, encode_snapshot, json_of, value_of};

pub use error::name_reason;

use std::sync::Arc;

use concordat_platform::authz::{Allowed, Permission, RequestContext};
use concordat_platform::events::watch_response;
use concordat_platform::identity::Role;
use concordat_proto::sharedconfig::v1 as pb;
use pb::shared_config_service_server::SharedConfigService;
use tonic::{Request, Response, Status};

use crate::domain::records::{Changeset, ChangesetState, Revision};
use crate::service::{BaselineCache, DiffQuery, EffectiveQuery, RevisionDiffQuery, SharedConfig};

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
        method: "ListChangesetChanges",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "DiffChangeset",
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
        method: "WatchConfigEvents",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ImportSnapshot",
        allowed: Allowed::Roles(IMPORTERS),
    },
    Permission {
        method: "ImportSnapshotParts",
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
    /// Baselines recently read, their items rendered as sent.
    baselines: Arc<BaselineCache<pb::EffectiveItem>>,
}

impl Api {
    /// Over the use cases, keeping baselines read up to `read_cache_bytes`
    /// (`server.read_cache_bytes`).
    pub fn new(cases: Arc<SharedConfig>, read_cache_bytes: usize) -> Self {
        Self {
            cases,
            baselines: Arc::new(BaselineCache::new(read_cache_bytes)),
        }
    }

    /// The cache of baselines' metrics, for `/metrics`.
    pub fn cache_metrics(&self) -> concordat_platform::cache::CacheMetrics {
        let baselines = self.baselines.clone();
        concordat_platform::cache::CacheMetrics::new("shared-config baselines", move || {
            baselines.stats()
        })
    }
}

type WatchStream = concordat_platform::events::WatchStream<pb::WatchEffectiveConfigResponse>;

/// What a handler answers.
type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl SharedConfigService for Api {
    async fn create_config_kind(
        &self,
        req: Request<pb::CreateConfigKindRequest>,
    ) -> Reply<pb::CreateConfigKindResponse> {
        kinds::create_config_kind(self, req).await
    }

    async fn get_config_kind(
        &self,
        req: Request<pb::GetConfigKindRequest>,
    ) -> Reply<pb::GetConfigKindResponse> {
        kinds::get_config_kind(self, req).await
    }

    async fn list_config_kinds(
        &self,
        req: Request<pb::ListConfigKindsRequest>,
    ) -> Reply<pb::ListConfigKindsResponse> {
        kinds::list_config_kinds(self, req).await
    }

    async fn get_layer(&self, req: Request<pb::GetLayerRequest>) -> Reply<pb::GetLayerResponse> {
        layers::get_layer(self, req).await
    }

    async fn list_layer_items(
        &self,
        req: Request<pb::ListLayerItemsRequest>,
    ) -> Reply<pb::ListLayerItemsResponse> {
        layers::list_layer_items(self, req).await
    }

    async fn list_revisions(
        &self,
        req: Request<pb::ListRevisionsRequest>,
    ) -> Reply<pb::ListRevisionsResponse> {
        layers::list_revisions(self, req).await
    }

    async fn get_revision(
        &self,
        req: Request<pb::GetRevisionRequest>,
    ) -> Reply<pb::GetRevisionResponse> {
        layers::get_revision(self, req).await
    }

    async fn diff_revisions(
        &self,
        req: Request<pb::DiffRevisionsRequest>,
    ) -> Reply<pb::DiffRevisionsResponse> {
        layers::diff_revisions(self, req).await
    }

    async fn create_changeset(
        &self,
        req: Request<pb::CreateChangesetRequest>,
    ) -> Reply<pb::CreateChangesetResponse> {
        changesets::create_changeset(self, req).await
    }

    async fn get_changeset(
        &self,
        req: Request<pb::GetChangesetRequest>,
    ) -> Reply<pb::GetChangesetResponse> {
        changesets::get_changeset(self, req).await
    }

    async fn list_changesets(
        &self,
        req: Request<pb::ListChangesetsRequest>,
    ) -> Reply<pb::ListChangesetsResponse> {
        changesets::list_changesets(self, req).await
    }

    async fn list_changeset_changes(
        &self,
        req: Request<pb::ListChangesetChangesRequest>,
    ) -> Reply<pb::ListChangesetChangesResponse> {
        changesets::list_changeset_changes(self, req).await
    }

    async fn diff_changeset(
        &self,
        req: Request<pb::DiffChangesetRequest>,
    ) -> Reply<pb::DiffChangesetResponse> {
        changesets::diff_changeset(self, req).await
    }

    async fn publish_changeset(
        &self,
        req: Request<pb::PublishChangesetRequest>,
    ) -> Reply<pb::PublishChangesetResponse> {
        publishing::publish_changeset(self, req).await
    }

    async fn discard_changeset(
        &self,
        req: Request<pb::DiscardChangesetRequest>,
    ) -> Reply<pb::DiscardChangesetResponse> {
        changesets::discard_changeset(self, req).await
    }

    async fn rollback_layer(
        &self,
        req: Request<pb::RollbackLayerRequest>,
    ) -> Reply<pb::RollbackLayerResponse> {
        publishing::rollback_layer(self, req).await
    }

    async fn get_effective_config(
        &self,
        req: Request<pb::GetEffectiveConfigRequest>,
    ) -> Reply<pb::GetEffectiveConfigResponse> {
        effective::get_effective_config(self, req).await
    }

    async fn diff_effective_config(
        &self,
        req: Request<pb::DiffEffectiveConfigRequest>,
    ) -> Reply<pb::DiffEffectiveConfigResponse> {
        effective::diff_effective_config(self, req).await
    }

    type WatchEffectiveConfigStream = WatchStream;

    async fn watch_effective_config(
        &self,
        req: Request<pb::WatchEffectiveConfigRequest>,
    ) -> Reply<WatchStream> {
        effective::watch_effective_config(self, req).await
    }

    type WatchConfigEventsStream =
        concordat_platform::events::WatchStream<pb::WatchConfigEventsResponse>;

    async fn watch_config_events(
        &self,
        req: Request<pb::WatchConfigEventsRequest>,
    ) -> Reply<Self::WatchConfigEventsStream> {
        effective::watch_config_events(self, req).await
    }

    async fn import_snapshot(
        &self,
        req: Request<pb::ImportSnapshotRequest>,
    ) -> Reply<pb::ImportSnapshotResponse> {
        snapshots::import_snapshot(self, req).await
    }

    async fn import_snapshot_parts(
        &self,
        req: Request<tonic::Streaming<pb::ImportSnapshotPartsRequest>>,
    ) -> Reply<pb::ImportSnapshotPartsResponse> {
        snapshots::import_snapshot_parts(self, req).await
    }

    async fn get_snapshot(
        &self,
        req: Request<pb::GetSnapshotRequest>,
    ) -> Reply<pb::GetSnapshotResponse> {
        snapshots::get_snapshot(self, req).await
    }

    async fn list_snapshots(
        &self,
        req: Request<pb::ListSnapshotsRequest>,
    ) -> Reply<pb::ListSnapshotsResponse> {
        snapshots::list_snapshots(self, req).await
    }

    async fn export_config(
        &self,
        req: Request<pb::ExportConfigRequest>,
    ) -> Reply<pb::ExportConfigResponse> {
        snapshots::export_config(self, req).await
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
