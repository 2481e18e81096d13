//! The deployable targets: each is a set of services with its migrations. `all` serves every one
//! in one process.

use std::sync::Arc;

use concordat_platform::migrations::MigrateFn;
use concordat_platform::server::{Platform, ServerBuilder};

/// One deployable target.
pub struct Target {
    /// The name used with `--target`.
    pub name: &'static str,
    /// Its services' migrations (the platform's always run first).
    pub migrations: &'static [MigrateFn],
    /// Adds its services to the server.
    pub register: fn(&Arc<Platform>, &mut ServerBuilder),
}

/// Every target, in start order.
pub const ALL: &[Target] = &[
    Target {
        name: "platform",
        migrations: &[],
        register: |platform, builder| {
            builder.add_service(
                concordat_platform::api::service(platform),
                concordat_platform::api::PERMISSIONS,
            );
        },
    },
    Target {
        name: "change-control",
        migrations: &[concordat_change_control::migrate],
        register: |platform, builder| {
            builder.add_service(
                concordat_change_control::service(platform),
                concordat_change_control::PERMISSIONS,
            );
        },
    },
    Target {
        name: "shared-config",
        migrations: &[concordat_shared_config::migrate],
        register: |platform, builder| {
            use concordat_shared_config::upstream::{ChangeRequests, GrpcChangeRequests};
            // Change control in this process is called in-process, through the same client
            // and the same authentication and authorization; otherwise over the network.
            let local = builder.local(CHANGE_CONTROL);
            let change_requests: Arc<dyn ChangeRequests> = match (local, &platform.config.upstream.change_control) {
                (Some(local), _) => Arc::new(GrpcChangeRequests::new(local)),
                (None, Some(url)) => match GrpcChangeRequests::connect(url) {
                    Ok(client) => Arc::new(client),
                    Err(err) => unreachable_upstream(err),
                },
                (None, None) => unreachable_upstream(
                    "shared-config needs change control: serve it in this process or set upstream.change_control".into(),
                ),
            };
            builder.add_service(
                concordat_shared_config::service(platform, change_requests),
                concordat_shared_config::PERMISSIONS,
            );
        },
    },
];

/// Change control's gRPC service name.
const CHANGE_CONTROL: &str = "concordat.changecontrol.v1.ChangeControlService";

/// Every target needs what it calls: a target list that includes shared-config without change
/// control needs `upstream.change_control` (checked before start, so the error is a clear exit 2).
pub fn check_upstreams(
    selected: &[&Target],
    change_control_url: Option<&str>,
) -> Result<(), String> {
    let has = |name: &str| selected.iter().any(|t| t.name == name);
    if has("shared-config") && !has("change-control") && change_control_url.is_none() {
        return Err("target shared-config without change-control needs upstream.change_control (CONCORDAT_UPSTREAM__CHANGE_CONTROL), the URL of change control".into());
    }
    Ok(())
}

fn unreachable_upstream(
    message: String,
) -> Arc<dyn concordat_shared_config::upstream::ChangeRequests> {
    // `check_upstreams` refuses this configuration before start; a library user who skipped it
    // gets every publish refused as UNAVAILABLE instead of a crash.
    tracing::error!("{message}");
    Arc::new(Unconfigured(message))
}

struct Unconfigured(String);

#[async_trait::async_trait]
impl concordat_shared_config::upstream::ChangeRequests for Unconfigured {
    async fn get(
        &self,
        _: &str,
        _: &concordat_shared_config::upstream::Caller,
    ) -> Result<
        concordat_shared_config::domain::publish::ChangeRequestFacts,
        concordat_shared_config::upstream::UpstreamError,
    > {
        Err(concordat_shared_config::upstream::UpstreamError::Unavailable(self.0.clone()))
    }
}

/// Resolves `--target`: `all` or a comma-separated list of names.
pub fn select(spec: &str) -> Result<Vec<&'static Target>, String> {
    if spec.trim() == "all" {
        return Ok(ALL.iter().collect());
    }
    let mut selected = Vec::new();
    for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let target = ALL.iter().find(|t| t.name == name).ok_or_else(|| {
            let known: Vec<_> = ALL.iter().map(|t| t.name).collect();
            format!(
                "unknown target `{name}`: use all or one of {}",
                known.join(", ")
            )
        })?;
        if !selected.iter().any(|t: &&Target| t.name == name) {
            selected.push(target);
        }
    }
    if selected.is_empty() {
        return Err("--target is empty: use all or a comma-separated list".into());
    }
    // Start order, whatever order they were named in: a service registered later may call one
    // registered earlier in-process (shared-config calls change-control).
    selected.sort_by_key(|t| ALL.iter().position(|a| a.name == t.name));
    Ok(selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_config_apart_from_change_control_needs_its_url() {
        let apart = select("platform,shared-config").unwrap();
        let err = check_upstreams(&apart, None).unwrap_err();
        assert!(err.contains("upstream.change_control"), "{err}");
        assert!(check_upstreams(&apart, Some("http://change-control:50051")).is_ok());
        assert!(check_upstreams(&select("all").unwrap(), None).is_ok());
        let named: Vec<_> = select("shared-config,change-control")
            .unwrap()
            .iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(named, ["change-control", "shared-config"], "start order");
    }
}
