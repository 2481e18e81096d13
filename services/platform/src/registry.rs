//! One registry of services: each service crate describes itself once ([`Service`]) — its target
//! name, migrations, gRPC services, the upstream targets it calls and how it registers itself —
//! and the binary lists them in one [`Registry`]. `serve --target`, `migrate`, the upstream
//! configuration (`upstream.<target> = URL`), the test server, reflection (only what is served)
//! and health (NOT_SERVING until the upstreams a target needs answer) all read that list.
//!
//! Adding a service is a new crate with a `SERVICE` constant and one line in the registry.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::migrations::MigrateFn;
use crate::server::{LocalService, Platform, ServerBuilder};

/// One deployable target, as its crate describes it.
pub struct Service {
    /// The name used with `--target` and as the key of `upstream.<target>`.
    pub target: &'static str,
    /// The fully qualified names of the gRPC services it serves (the first is the one its
    /// callers use).
    pub grpc_services: &'static [&'static str],
    /// Its migrations (the platform's always run first).
    pub migrations: &'static [MigrateFn],
    /// The targets it calls: served in the same process, or reached at `upstream.<target>`.
    pub upstreams: &'static [&'static str],
    /// Adds its services (and background tasks) to the server.
    pub register: fn(&mut Registration<'_>) -> Result<(), String>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("target", &self.target)
            .field("grpc_services", &self.grpc_services)
            .field("upstreams", &self.upstreams)
            .finish_non_exhaustive()
    }
}

/// Another target as a service sees it: in this process (through the same authentication and
/// authorization as over the network), or over a channel.
#[derive(Clone)]
pub enum Upstream {
    /// Served by this process.
    Local(LocalService),
    /// Served elsewhere.
    Remote(tonic::transport::Channel),
}

/// What a service's `register` gets: the platform, the server builder, and its upstreams.
pub struct Registration<'a> {
    /// The platform of this process.
    pub platform: &'a Arc<Platform>,
    /// The server being built.
    pub builder: &'a mut ServerBuilder,
    upstreams: HashMap<&'static str, Upstream>,
}

impl Registration<'_> {
    /// The upstream `target` (one of the service's declared `upstreams`).
    pub fn upstream(&self, target: &str) -> Result<Upstream, String> {
        self.upstreams
            .get(target)
            .cloned()
            .ok_or_else(|| format!("{target} is not a declared upstream"))
    }
}

/// Every service of the binary, in start order: a service comes after the ones it calls.
pub struct Registry {
    services: &'static [Service],
}

impl Registry {
    /// The registry of `services`.
    pub const fn new(services: &'static [Service]) -> Self {
        Self { services }
    }

    /// Every service.
    pub fn all(&self) -> &'static [Service] {
        self.services
    }

    /// Resolves `--target`: `all` or a comma-separated list of names, in start order.
    pub fn select(&self, spec: &str) -> Result<Vec<&'static Service>, String> {
        let known = || {
            self.services
                .iter()
                .map(|s| s.target)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if spec.trim() == "all" {
            return Ok(self.services.iter().collect());
        }
        let mut selected: Vec<&'static Service> = Vec::new();
        for name in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let service = self
                .services
                .iter()
                .find(|s| s.target == name)
                .ok_or_else(|| format!("unknown target `{name}`: use all or one of {}", known()))?;
            if !selected.iter().any(|s| s.target == name) {
                selected.push(service);
            }
        }
        if selected.is_empty() {
            return Err("--target is empty: use all or a comma-separated list".into());
        }
        selected.sort_by_key(|s| self.services.iter().position(|a| a.target == s.target));
        Ok(selected)
    }

    /// The migrations of `selected`, in start order.
    pub fn migrations(selected: &[&'static Service]) -> Vec<MigrateFn> {
        selected
            .iter()
            .flat_map(|s| s.migrations.iter().copied())
            .collect()
    }

    /// Every upstream of `selected` is served with it or has its URL in `config`, and every
    /// configured upstream names a target: checked before start, so the error is a clear exit.
    pub fn check_upstreams(
        &self,
        selected: &[&'static Service],
        config: &Config,
    ) -> Result<(), String> {
        for key in config.upstream.targets() {
            if !self.services.iter().any(|s| s.target == key) {
                return Err(format!(
                    "upstream.{key} names no target: use one of {}",
                    self.services
                        .iter()
                        .map(|s| s.target)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        for service in selected {
            for upstream in service.upstreams {
                let served = selected.iter().any(|s| s.target == *upstream);
                if !served && config.upstream.url(upstream).is_none() {
                    let env = upstream.replace('-', "_").to_uppercase();
                    return Err(format!(
                        "target {} without {upstream} needs upstream.{upstream} \
                         (CONCORDAT_UPSTREAM__{env}), the URL of {upstream}",
                        service.target
                    ));
                }
            }
        }
        Ok(())
    }

    /// Registers `selected` on `builder`, in start order, each with its upstreams: in-process when
    /// served here, otherwise a channel to `upstream.<target>` whose health gates the service's.
    pub fn register(
        &self,
        platform: &Arc<Platform>,
        builder: &mut ServerBuilder,
        selected: &[&'static Service],
    ) -> Result<(), String> {
        for service in selected {
            let mut upstreams = HashMap::new();
            for target in service.upstreams {
                let upstream = match selected.iter().find(|s| s.target == *target) {
                    Some(local) => {
                        let name = local.grpc_services.first().copied().unwrap_or_default();
                        Upstream::Local(builder.local(name).ok_or_else(|| {
                            format!("{target} must be registered before {}", service.target)
                        })?)
                    }
                    None => {
                        let url =
                            platform.config.upstream.url(target).ok_or_else(|| {
                                format!("{} needs upstream.{target}", service.target)
                            })?;
                        let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
                            .map_err(|e| format!("upstream.{target} {url}: {e}"))?
                            .connect_timeout(Duration::from_secs(5))
                            .tcp_nodelay(true)
                            .connect_lazy();
                        builder.serve_when_answering(
                            service.grpc_services,
                            target,
                            channel.clone(),
                        );
                        Upstream::Remote(channel)
                    }
                };
                upstreams.insert(*target, upstream);
            }
            let mut registration = Registration {
                platform,
                builder,
                upstreams,
            };
            (service.register)(&mut registration)?;
        }
        Ok(())
    }
}
