//! Change control: the trusts of an ICS agree every change to their shared EPR build here.
//!
//! A change request is raised by a trust, assessed by every affected trust, judged for clinical
//! safety, decided by the design authority of its domain under that authority's charter,
//! escalated to the programme board when it exceeds the authority's delegated limits, scheduled
//! into a release and tracked until every affected trust has deployed it.

pub mod domain;
pub mod grpc;
pub mod service;
pub mod store;

use std::sync::Arc;

use concordat_platform::server::Platform;

/// The change-control service over the platform's storage and federation, ready to add to a
/// server builder, with its authorization table.
pub fn service(
    platform: &Arc<Platform>,
) -> concordat_proto::changecontrol::v1::change_control_service_server::ChangeControlServiceServer<
    grpc::Api,
> {
    let writer = platform.writer(store::migrations::OUTBOX, service::SERVICE);
    let cases = service::ChangeControl::new(
        writer,
        platform.federation.clone(),
        grpc::encode_change_request,
        grpc::name_reason,
    );
    concordat_platform::configure_service!(
        concordat_proto::changecontrol::v1::change_control_service_server::ChangeControlServiceServer::new(grpc::Api::new(Arc::new(cases), platform.page_tokens.clone())),
        platform.config
    )
}

/// Change control's entry in the service registry: target `change-control`.
pub const SERVICE: concordat_platform::registry::Service = concordat_platform::registry::Service {
    target: "change-control",
    grpc_services: &[<concordat_proto::changecontrol::v1::change_control_service_server::ChangeControlServiceServer<grpc::Api> as tonic::server::NamedService>::NAME],
    migrations: &[migrate],
    upstreams: &[],
    register: |r| {
        r.builder.add_service(service(r.platform), PERMISSIONS);
        Ok(())
    },
};

pub use grpc::PERMISSIONS;
pub use store::migrations::migrate;
