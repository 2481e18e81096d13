//! Shared configuration: the ICS baseline of the EPR build, each trust's approved overlay, and the
//! effective configuration integration engines follow.
//!
//! Kinds of item carry a JSON Schema and an owning domain; baseline keys carry governance (locked,
//! overridable, bounded). Changes arrive as changesets against one layer, are rendered as the
//! effective-configuration diff of every trust they touch, and are published as immutable,
//! numbered revisions only under a change request that change control says is APPROVED or
//! SCHEDULED, of the kinds' domain, and affecting every trust whose configuration changes.

pub mod domain;
pub mod grpc;
pub mod service;
pub mod store;
pub mod upstream;

use std::sync::Arc;

use concordat_platform::server::Platform;
use concordat_proto::sharedconfig::v1::shared_config_service_server::SharedConfigServiceServer;

/// The shared-configuration service over the platform's storage and federation, asking change
/// control through `change_requests`, ready to add to a server builder with [`PERMISSIONS`].
pub fn service(
    platform: &Arc<Platform>,
    change_requests: Arc<dyn upstream::ChangeRequests>,
) -> SharedConfigServiceServer<grpc::Api> {
    let writer = platform.writer(store::migrations::OUTBOX, service::SERVICE);
    let cases = service::SharedConfig::new(
        grpc::name_reason,
        writer,
        platform.page_tokens.clone(),
        platform.federation.clone(),
        change_requests,
        service::Encoders {
            effective: grpc::encode_effective,
            snapshot: grpc::encode_snapshot,
        },
    );
    let cases = Arc::new(cases);
    spawn_lapses(
        cases.clone(),
        platform.config.server.lapse_interval,
        platform.drain.clone(),
    );
    let api = grpc::Api::new(cases, platform.config.server.read_cache_bytes);
    platform.metrics.register(Box::new(api.cache_metrics()));
    concordat_platform::configure_service!(SharedConfigServiceServer::new(api), platform.config)
}

/// Every `interval` (`server.lapse_interval`), publishes the variations that have lapsed (see
/// [`service::SharedConfig::lapse_variations`]), until the server drains. Replicas may race:
/// each lapse is written under the ICS's publishing lock and only when still due, so one wins.
fn spawn_lapses(
    cases: Arc<service::SharedConfig>,
    interval: std::time::Duration,
    drain: concordat_platform::drain::Drain,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval.max(std::time::Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = drain.started() => return,
            }
            match cases.lapse_variations().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(revisions = n, "variations lapsed"),
                Err(err) => {
                    tracing::warn!(error = %err, "lapsed variations could not be published")
                }
            }
        }
    });
}

/// Shared configuration's entry in the service registry: target `shared-config`, which calls
/// change control (in this process, or at `upstream.change-control`).
pub const SERVICE: concordat_platform::registry::Service = concordat_platform::registry::Service {
    target: "shared-config",
    grpc_services: &[<SharedConfigServiceServer<grpc::Api> as tonic::server::NamedService>::NAME],
    migrations: &[migrate],
    upstreams: &["change-control"],
    register: |r| {
        let change_requests = upstream::change_requests(r.upstream("change-control")?);
        r.builder
            .add_service(service(r.platform, change_requests), PERMISSIONS);
        Ok(())
    },
};

pub use grpc::PERMISSIONS;
pub use store::migrations::migrate;
