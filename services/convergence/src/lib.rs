//! Convergence planning: how far each trust's actual EPR build (its imported snapshot) is from
//! the ICS baseline and its approved variations, per clinical domain, and whether it is getting
//! closer.
//!
//! The rules are pure and tested without a database: classifying and scoring an assessment
//! ([`domain::assessment`]) and scheduling and forecasting a plan ([`domain::plan`]). The service
//! follows shared configuration's events as its own client and records an assessment for every
//! imported snapshot and every new effective revision of a trust; the API reads them as a matrix,
//! a trajectory and divergences, or computes one as of any time.

pub mod domain;
pub mod grpc;
pub mod service;
pub mod store;
pub mod upstream;

use std::sync::Arc;

use concordat_platform::server::Platform;
use concordat_proto::convergence::v1::convergence_service_server::ConvergenceServiceServer;

/// The convergence service over the platform's storage and federation, reading shared
/// configuration through `shared` and drafting change requests through `change_control`, with
/// its follower; ready to add to a server builder with [`PERMISSIONS`].
pub fn service(
    platform: &Arc<Platform>,
    shared: Arc<dyn upstream::SharedConfigReads>,
    change_control: Arc<dyn upstream::ChangeRequestDrafts>,
) -> ConvergenceServiceServer<grpc::Api> {
    let writer = platform.writer(store::migrations::OUTBOX, service::SERVICE);
    let cases = Arc::new(service::Convergence::new(
        writer,
        platform.page_tokens.clone(),
        platform.federation.clone(),
        (shared, change_control),
        (platform.service_tokens.clone(), platform.verifier.clone()),
        service::Encoders {
            assessment: grpc::encode_assessment,
            settings: grpc::encode_settings,
            plan: grpc::encode_plan,
            notice: grpc::encode_notice,
        },
    ));
    service::spawn_followers(cases.clone(), platform.drain.clone());
    concordat_platform::configure_service!(
        ConvergenceServiceServer::new(grpc::Api::new(cases)),
        platform.config
    )
}

/// Convergence's entry in the service registry: target `convergence`, which reads shared
/// configuration and drafts change requests in change control (in this process, or at
/// `upstream.shared-config` and `upstream.change-control`).
pub const SERVICE: concordat_platform::registry::Service = concordat_platform::registry::Service {
    target: "convergence",
    grpc_services: &[<ConvergenceServiceServer<grpc::Api> as tonic::server::NamedService>::NAME],
    migrations: &[migrate],
    upstreams: &["change-control", "shared-config"],
    register: |r| {
        let shared = upstream::shared_config(r.upstream("shared-config")?);
        let change_control = upstream::change_control(r.upstream("change-control")?);
        r.builder
            .add_service(service(r.platform, shared, change_control), PERMISSIONS);
        Ok(())
    },
};

pub use grpc::PERMISSIONS;
pub use store::migrations::migrate;
