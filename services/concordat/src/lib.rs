//! The Concordat binary's registry of services: every deployable target, in start order (a
//! service after the ones it calls). `serve`, `migrate`, the test server and the deployment
//! manifests follow this list; adding a service is its crate and one line here.

use concordat_platform::registry::{Registry, Service};

/// Every service of Concordat.
pub const SERVICES: &[Service] = &[
    concordat_platform::api::SERVICE,
    concordat_change_control::SERVICE,
    concordat_shared_config::SERVICE,
    concordat_convergence::SERVICE,
    concordat_benefits::SERVICE,
];

/// The registry over [`SERVICES`].
pub const REGISTRY: Registry = Registry::new(SERVICES);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use concordat_platform::config::Config;

    use super::REGISTRY;

    #[test]
    fn shared_config_apart_from_change_control_needs_its_url() {
        let apart = REGISTRY.select("platform,shared-config").unwrap();
        let mut config = Config::default();
        let err = REGISTRY.check_upstreams(&apart, &config).unwrap_err();
        assert!(err.contains("upstream.change-control"), "{err}");
        assert!(err.contains("CONCORDAT_UPSTREAM__CHANGE_CONTROL"), "{err}");
        config.upstream.0.insert(
            "change_control".into(),
            "http://change-control:50051".into(),
        );
        assert!(REGISTRY.check_upstreams(&apart, &config).is_ok());
        assert!(
            REGISTRY
                .check_upstreams(&REGISTRY.select("all").unwrap(), &Config::default())
                .is_ok()
        );
    }

    #[test]
    fn targets_start_in_dependency_order_and_unknown_ones_are_named() {
        let named: Vec<_> = REGISTRY
            .select("shared-config,change-control")
            .unwrap()
            .iter()
            .map(|s| s.target)
            .collect();
        assert_eq!(named, ["change-control", "shared-config"]);
        let err = REGISTRY.select("reports").unwrap_err();
        assert!(
            err.contains("platform, change-control, shared-config, convergence, benefits"),
            "{err}"
        );
        let mut config = Config::default();
        config
            .upstream
            .0
            .insert("benefit".into(), "http://x:1".into());
        let err = REGISTRY
            .check_upstreams(&REGISTRY.select("all").unwrap(), &config)
            .unwrap_err();
        assert!(err.contains("upstream.benefit names no target"), "{err}");
    }

    #[test]
    fn every_upstream_is_a_target_registered_before_its_caller() {
        let all = REGISTRY.all();
        for (i, service) in all.iter().enumerate() {
            for upstream in service.upstreams {
                let at = all.iter().position(|s| s.target == *upstream);
                assert!(
                    at.is_some_and(|at| at < i),
                    "{} calls {upstream}, which must come before it",
                    service.target
                );
            }
        }
    }
}
