//! Benefits: benefit profiles, trust-validated monthly measurements, their valuation under
//! effective-dated rate cards, attribution to the change requests that enabled them, and the ICS
//! rollup by month, quarter and NHS financial year, with SPC charts.
//!
//! The rules are pure and tested without a database: exact arithmetic for conversion and
//! valuation ([`domain::exact`]), months, quarters and financial years ([`domain::period`]), the
//! measurement state machine ([`domain::measurement`]), attribution caps
//! ([`domain::attribution`]), statistical process control ([`domain::spc`]), rate cards and
//! valuation ([`domain::valuation`]), profiles ([`domain::profile`]) and the rollup
//! ([`domain::rollup`]). The service checks enabling change requests against change control and
//! rebases SPC charts at the publishes of shared configuration made under them.

pub mod domain;
pub mod grpc;
pub mod service;
pub mod store;
pub mod upstream;

use std::sync::Arc;

use concordat_platform::server::Platform;
use concordat_proto::benefits::v1::benefits_service_server::BenefitsServiceServer;

/// The benefits service over the platform's storage and federation, checking change requests
/// through `change_control` and reading publishes through `shared`; ready to add to a server
/// builder with [`PERMISSIONS`].
pub fn service(
    platform: &Arc<Platform>,
    change_control: Arc<dyn upstream::ChangeRequests>,
    shared: Arc<dyn upstream::Publishes>,
) -> BenefitsServiceServer<grpc::Api> {
    let writer = platform.writer(store::migrations::OUTBOX, service::SERVICE);
    let cases = Arc::new(service::Benefits::new(
        writer,
        platform.page_tokens.clone(),
        platform.federation.clone(),
        (change_control, shared),
        grpc::ENCODERS,
    ));
    concordat_platform::configure_service!(
        BenefitsServiceServer::new(grpc::Api::new(cases)),
        platform.config
    )
}

/// Benefits' entry in the service registry: target `benefits`, which checks change requests in
/// change control and reads publishes from shared configuration (in this process, or at
/// `upstream.change-control` and `upstream.shared-config`).
pub const SERVICE: concordat_platform::registry::Service = concordat_platform::registry::Service {
    target: "benefits",
    grpc_services: &[<BenefitsServiceServer<grpc::Api> as tonic::server::NamedService>::NAME],
    migrations: &[migrate],
    upstreams: &["change-control", "shared-config"],
    register: |r| {
        let change_control = upstream::change_control(r.upstream("change-control")?);
        let shared = upstream::shared_config(r.upstream("shared-config")?);
        r.builder
            .add_service(service(r.platform, change_control, shared), PERMISSIONS);
        Ok(())
    },
};

pub use grpc::PERMISSIONS;
pub use store::migrations::migrate;
