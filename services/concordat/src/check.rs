//! `concordat check-config`: the configuration `serve` or `migrate` would run with, resolved,
//! and what will not work as configured.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use concordat::REGISTRY;
use concordat_platform::config::Config;
use serde::Serialize;

use super::fail;

/// What `check-config` prints: the configuration as `serve` would resolve it.
#[derive(Serialize)]
struct Resolved {
    listen: SocketAddr,
    metrics_listen: SocketAddr,
    /// The targets served, in registry order.
    targets: Vec<&'static str>,
    /// Every target the binary knows.
    all_targets: Vec<&'static str>,
    /// The URL of each target the served ones call but do not serve.
    upstreams: std::collections::BTreeMap<&'static str, String>,
    /// `sqlite` or `postgres`.
    database: &'static str,
    federation: Option<PathBuf>,
    dev_issuer: bool,
    /// Where the development issuer listens, when it runs (`dev_issuer.listen`,
    /// `CONCORDAT_DEV_ISSUER__LISTEN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    dev_issuer_listen: Option<SocketAddr>,
    migrate_on_start: bool,
    /// `CONCORDAT_…` variables that name no configuration field.
    ignored_environment: Vec<String>,
    /// What will not work as configured (`serve` logs each as an error when it starts).
    warnings: Vec<String>,
}

/// What the served targets' background work cannot do as configured: convergence follows
/// shared configuration's events as this process's own client, which is the configured service
/// client, or the development issuer's when that runs.
pub(crate) fn background_warnings(
    selected: &[&'static concordat_platform::registry::Service],
    config: &Config,
) -> Vec<String> {
    let mut warnings = Vec::new();
    if selected.iter().any(|s| s.target == "convergence")
        && config.service_client.is_none()
        && !config.dev_issuer_enabled()
    {
        warnings.push(
            "convergence: no service client is configured (`service_client`) and the development \
             issuer is off, so shared configuration's events are not followed and no snapshot or \
             new revision is assessed"
                .to_owned(),
        );
    }
    warnings
}

/// `check-config`: the configuration from `file` and the flags `overrides`, the targets
/// `target`; `serve_no_migrate` is `Some(--no-migrate)` for `serve` (whose upstreams are checked
/// too), `None` for `migrate`.
pub(crate) fn check_config(
    (file, overrides): (Option<&std::path::Path>, &impl Serialize),
    target: &str,
    serve_no_migrate: Option<bool>,
) -> ExitCode {
    let mut config = match Config::load(file, overrides) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if serve_no_migrate == Some(true) {
        config.migrate_on_start = false;
    }
    let selected = match REGISTRY.select(target) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    if serve_no_migrate.is_some()
        && let Err(e) = REGISTRY.check_upstreams(&selected, &config)
    {
        return fail(e);
    }
    if let Some(path) = &config.federation
        && let Err(e) = concordat_platform::identity::Federation::from_file(path)
    {
        return fail(e);
    }
    let all = match REGISTRY.select("all") {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let served = |target: &str| selected.iter().any(|s| s.target == target);
    let upstreams = selected
        .iter()
        .flat_map(|s| s.upstreams.iter().copied())
        .filter(|u| !served(u))
        .filter_map(|u| config.upstream.url(u).map(|url| (u, url.to_owned())))
        .collect();
    let url = config.database_url();
    let resolved = Resolved {
        listen: config.listen,
        metrics_listen: config.metrics_listen,
        targets: selected.iter().map(|s| s.target).collect(),
        all_targets: all.iter().map(|s| s.target).collect(),
        upstreams,
        database: if url.starts_with("sqlite:") {
            "sqlite"
        } else {
            "postgres"
        },
        federation: config.federation.clone(),
        dev_issuer: config.dev_issuer_enabled(),
        dev_issuer_listen: config
            .dev_issuer_enabled()
            .then_some(config.dev_issuer.listen),
        migrate_on_start: config.migrate_on_start,
        ignored_environment: config.ignored_environment.clone(),
        warnings: background_warnings(&selected, &config),
    };
    for warning in &resolved.warnings {
        eprintln!("warning: {warning}");
    }
    match serde_json::to_string_pretty(&resolved) {
        Ok(text) => {
            #[allow(clippy::print_stdout)]
            {
                println!("{text}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Convergence served with a federation file and no service client follows nothing: said.
    #[test]
    fn convergence_without_a_service_client_is_warned_of() {
        let all = REGISTRY.select("all").unwrap();
        let shared = REGISTRY.select("shared-config").unwrap();
        let mut config = Config::default();
        assert!(
            background_warnings(&all, &config).is_empty(),
            "the development issuer signs for it"
        );
        config.federation = Some("federation.toml".into());
        let warnings = background_warnings(&all, &config);
        assert!(warnings[0].contains("`service_client`"), "{warnings:?}");
        assert!(background_warnings(&shared, &config).is_empty());
        config.service_client = Some(concordat_platform::config::ServiceClientConfig {
            issuer: "https://login.example".into(),
            client_id: "concordat".into(),
            client_secret: "secret".into(),
            resource: None,
        });
        assert!(background_warnings(&all, &config).is_empty());
    }
}
