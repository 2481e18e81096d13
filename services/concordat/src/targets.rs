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
];

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
    Ok(selected)
}
