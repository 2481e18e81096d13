//! Starting a Concordat process: storage, identity, and one gRPC server for any set of services.
//!
//! [`Runtime::start`] connects to the database, runs migrations, starts the development issuer
//! when configured, and begins fetching issuers' keys. [`ServerBuilder`] registers each service
//! behind authentication, together with health, reflection (v1 and v1alpha) and gRPC-Web, and
//! serves until the shutdown signal, then drains in-flight calls.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;

use crate::authz::{Gate, Guarded, Permission, request_id_of};
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Database;
use crate::deadline::DeadlineLayer;
use crate::identity::Verifier;
use crate::identity::dev_issuer::{self, DevIssuer, TokenRequest};
use crate::identity::federation::{Federation, FederationError};
use crate::identity::service_client::{ClientCredentials, DevIssuerTokens, TokenSource};
use crate::migrations::{self, MigrateFn};
use crate::paging::{PageTokens, load_page_tokens};
use crate::telemetry::{Metrics, MetricsLayer, ShedLayer};

mod health;
use health::{Waiting, spawn_database_watch, spawn_upstream_health, statuses};

/// Why the process could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("data directory {path} could not be created: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be reached.
    #[error("database {url} could not be opened: {source}")]
    Database {
        /// The URL without password.
        url: String,
        /// Why.
        #[source]
        source: sea_orm::DbErr,
    },
    /// Migrations failed.
    #[error("migrations failed: {0}")]
    Migrate(#[source] sea_orm::DbErr),
    /// The federation file is wrong.
    #[error(transparent)]
    Federation(#[from] FederationError),
    /// The development issuer could not start.
    #[error("development issuer: {0}")]
    DevIssuer(String),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The development issuer's listener could not be bound.
    #[error(
        "the development issuer cannot listen on {addr}: {source} (is another `concordat serve` running? set `dev_issuer.listen`, e.g. CONCORDAT_DEV_ISSUER__LISTEN=127.0.0.1:0, or stop the other server)"
    )]
    DevIssuerBind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The identity verifier could not be built.
    #[error("identity: {0}")]
    Identity(String),
}

/// What every service shares in a running process.
pub struct Platform {
    /// The configuration.
    pub config: Config,
    /// The database.
    pub db: Database,
    /// The federation in force.
    pub federation: Arc<Federation>,
    /// Token verification.
    pub verifier: Arc<Verifier>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// When the process started.
    pub started: DateTime<Utc>,
    /// The targets served.
    pub targets: Vec<String>,
    /// The development issuer, when it runs.
    pub dev_issuer: Option<Arc<DevIssuer>>,
    /// The time every use case acts at: the system clock, moved forward only by tests.
    pub clock: Clock,
    /// Signs and checks every List RPC's page tokens, with the key all replicas share.
    pub page_tokens: PageTokens,
    /// This process's own token for background work (`service_client`, or the development
    /// issuer's); `None` when neither is configured.
    pub service_tokens: Option<Arc<dyn TokenSource>>,
    /// Started when the process drains for shutdown; ends open `Watch…` streams.
    pub drain: crate::drain::Drain,
}

/// The source of this process's own token: the configured service client, else the development
/// issuer's tokens for a service principal of the first ICS, else none.
fn service_tokens(
    config: &Config,
    federation: &Federation,
    dev: Option<&Arc<DevIssuer>>,
    clock: &Clock,
) -> Result<Option<Arc<dyn TokenSource>>, StartError> {
    if let Some(client) = &config.service_client {
        let source = ClientCredentials::new(
            &client.issuer,
            &client.client_id,
            &client.client_secret,
            client.resource.as_deref(),
            clock.clone(),
        )
        .map_err(|e| StartError::Identity(e.to_string()))?;
        return Ok(Some(Arc::new(source)));
    }
    let (Some(dev), Some(ics)) = (dev, federation.icss.first()) else {
        return Ok(None);
    };
    let request = TokenRequest {
        subject: "concordat".into(),
        name: Some("Concordat background work".into()),
        org: ics.code.clone(),
        ics: None,
        roles: vec!["automation".into()],
        ttl: std::time::Duration::from_secs(600),
    };
    Ok(Some(Arc::new(DevIssuerTokens::new(
        dev.clone(),
        request,
        clock.clone(),
    ))))
}

/// Hides a URL's password for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Connects and migrates (platform first, then `services` in order).
pub async fn connect_and_migrate(
    config: &Config,
    services: &[MigrateFn],
) -> Result<Database, StartError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let url = config.database_url();
    let db = Database::connect(&url)
        .await
        .map_err(|source| StartError::Database {
            url: redact_url(&url),
            source,
        })?;
    migrations::run_with_people_issuer(&db, services, existing_people_issuer(config))
        .await
        .map_err(StartError::Migrate)?;
    Ok(db)
}

/// The issuer of people stored before people were named by issuer and subject: the configured
/// one; else the development issuer when no federation file is given; else the federation's
/// only issuer. `None` when it cannot be told.
pub fn existing_people_issuer(config: &Config) -> Option<String> {
    if !config.identity.existing_people_issuer.is_empty() {
        return Some(config.identity.existing_people_issuer.clone());
    }
    match &config.federation {
        // A development issuer on port 0 gets a new URL at every start: nothing to tell by.
        None if config.dev_issuer.listen.port() == 0 => None,
        None => Some(dev_issuer::issuer_url(config.dev_issuer.listen)),
        Some(path) => {
            let federation = Federation::from_file(path).ok()?;
            match federation.issuers.as_slice() {
                [only] => Some(only.url.clone()),
                _ => None,
            }
        }
    }
}

impl Platform {
    /// Starts storage and identity on the system clock. Runs migrations when
    /// `config.migrate_on_start`.
    pub async fn start(
        config: Config,
        services: &[MigrateFn],
        targets: Vec<String>,
    ) -> Result<Arc<Self>, StartError> {
        Self::start_with_clock(config, services, targets, Clock::system()).await
    }

    /// Starts storage and identity with the use cases acting at the time of `clock` (tests pass
    /// a clock they advance).
    pub async fn start_with_clock(
        config: Config,
        services: &[MigrateFn],
        targets: Vec<String>,
        clock: Clock,
    ) -> Result<Arc<Self>, StartError> {
        let started = Utc::now();
        let db = if config.migrate_on_start {
            connect_and_migrate(&config, services).await?
        } else {
            std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
                path: config.data_dir.display().to_string(),
                source,
            })?;
            let url = config.database_url();
            Database::connect(&url)
                .await
                .map_err(|source| StartError::Database {
                    url: redact_url(&url),
                    source,
                })?
        };

        let mut federation = match &config.federation {
            Some(path) => Federation::from_file(path)?,
            None => Federation::demo(),
        };
        let mut dev = None;
        if config.dev_issuer_enabled() {
            let addr = config.dev_issuer.listen;
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::DevIssuerBind { addr, source })?;
            let bound = listener
                .local_addr()
                .map_err(|source| StartError::Bind { addr, source })?;
            let issuer = DevIssuer::load(&config.data_dir, Some(dev_issuer::issuer_url(bound)), "")
                .map_err(|e| StartError::DevIssuer(e.to_string()))?;
            issuer
                .record(&config.data_dir)
                .map_err(|e| StartError::DevIssuer(e.to_string()))?;
            tracing::warn!(
                issuer = %issuer.issuer(),
                "the development issuer is running: anyone with the data directory can mint \
                 tokens; use a federation file in production"
            );
            federation = federation.with_dev_issuer(issuer.issuer());
            let issuer = Arc::new(issuer);
            issuer.clone().serve(listener);
            dev = Some(issuer);
        }
        let federation = Arc::new(federation);
        let verifier = Arc::new(
            Verifier::new(federation.clone(), config.identity.clone())
                .map_err(|e| StartError::Identity(e.to_string()))?,
        );
        verifier.start();
        let page_tokens = load_page_tokens(&db).await.map_err(StartError::Migrate)?;
        let service_tokens = service_tokens(&config, &federation, dev.as_ref(), &clock)?;
        spawn_idempotency_pruner(db.clone());
        Ok(Arc::new(Self {
            config,
            db,
            federation,
            verifier,
            metrics: Metrics::new(),
            started,
            targets,
            dev_issuer: dev,
            clock,
            page_tokens,
            service_tokens,
            drain: crate::drain::Drain::default(),
        }))
    }

    /// The write path of a service whose outbox is `outbox_table` and whose request ids are
    /// kept under `service`; starts the outbox's pruner.
    pub fn writer(
        &self,
        outbox_table: &'static str,
        service: &'static str,
    ) -> crate::write::Writer {
        let outbox = crate::events::Outbox::new(outbox_table, self.db.clone(), &self.config.events)
            .with_drain(self.drain.clone());
        outbox.spawn_pruner();
        crate::write::Writer::new(self.db.clone(), outbox, service, self.clock.clone())
            .with_max_reply_bytes(self.config.server.max_message_bytes)
    }

    /// A server builder for this process.
    pub fn server(self: &Arc<Self>) -> ServerBuilder {
        let (reporter, health) = tonic_health::server::health_reporter();
        let mut routes = RoutesBuilder::default();
        routes.add_service(health);
        ServerBuilder {
            platform: self.clone(),
            gate: Gate::new(
                self.verifier.clone(),
                self.db.clone(),
                self.metrics.clone(),
                self.config.server.max_message_bytes,
            ),
            routes,
            reporter,
            names: Vec::new(),
            local: HashMap::new(),
            gated: Vec::new(),
        }
    }
}

/// A service of this process as a tower service, behind the same authentication and authorization
/// as over the network: a generated tonic client over it calls the service in-process.
pub type LocalService = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    std::convert::Infallible,
>;

/// Registers services and serves them.
pub struct ServerBuilder {
    platform: Arc<Platform>,
    gate: Arc<Gate>,
    routes: RoutesBuilder,
    reporter: HealthReporter,
    names: Vec<&'static str>,
    local: HashMap<&'static str, LocalService>,
    gated: Vec<Gated>,
}

/// Services that report SERVING only once an upstream they call answers its health check.
struct Gated {
    services: &'static [&'static str],
    upstream: &'static str,
    channel: tonic::transport::Channel,
}

/// Applies the platform's compression (gzip requests accepted; responses gzipped when
/// `server.compress_responses` is on) and message-size settings to a generated tonic server.
#[macro_export]
macro_rules! configure_service {
    ($server:expr, $config:expr) => {{
        let server = $server
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
            .max_decoding_message_size($config.server.max_message_bytes)
            .max_encoding_message_size($config.server.max_message_bytes);
        if $config.server.compress_responses {
            server.send_compressed(tonic::codec::CompressionEncoding::Gzip)
        } else {
            server
        }
    }};
}

impl ServerBuilder {
    /// Adds a service behind authentication and its authorization table.
    pub fn add_service<S>(&mut self, service: S, permissions: &[Permission]) -> &mut Self
    where
        S: tower::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = std::convert::Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        let guarded = Guarded::new(service, self.gate.clone(), permissions);
        self.local
            .insert(S::NAME, LocalService::new(guarded.clone()));
        self.routes.add_service(guarded);
        self
    }

    /// Keeps `services` NOT_SERVING until `upstream`, reached over `channel`, answers SERVING to a
    /// health check (polled each second): a target deployed apart reports ready only when what it
    /// calls does.
    pub fn serve_when_answering(
        &mut self,
        services: &'static [&'static str],
        upstream: &'static str,
        channel: tonic::transport::Channel,
    ) {
        self.gated.push(Gated {
            services,
            upstream,
            channel,
        });
    }

    /// A service added earlier to this process (by its gRPC name, e.g.
    /// `concordat.changecontrol.v1.ChangeControlService`), to call in-process.
    pub fn local(&self, name: &str) -> Option<LocalService> {
        self.local.get(name).cloned()
    }

    /// Serves on `listener` (gRPC and gRPC-Web) and `metrics` (HTTP) until `shutdown` completes,
    /// then stops accepting, reports NOT_SERVING, and waits up to `shutdown_grace` for in-flight
    /// calls.
    pub async fn serve(
        self,
        listener: TcpListener,
        metrics: Option<TcpListener>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        let platform = self.platform;
        let config = &platform.config;
        // Reflection lists what this process serves, not every service of the descriptor set.
        // Both versions describe both reflection services, so a client that lists every method
        // through v1 finds v1alpha's too.
        let reflection = || {
            let mut builder = tonic_reflection::server::Builder::configure()
                .include_reflection_service(false)
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(
                    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                )
                .register_encoded_file_descriptor_set(concordat_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .with_service_name("grpc.health.v1.Health")
                .with_service_name("grpc.reflection.v1.ServerReflection")
                .with_service_name("grpc.reflection.v1alpha.ServerReflection");
            for name in &self.names {
                builder = builder.with_service_name(*name);
            }
            builder
        };
        let reflection_v1 = reflection().build_v1();
        let reflection_v1alpha = reflection().build_v1alpha();
        let mut routes = self.routes;
        match (reflection_v1, reflection_v1alpha) {
            (Ok(v1), Ok(v1alpha)) => {
                routes.add_service(v1);
                routes.add_service(v1alpha);
            }
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!(error = %err, "reflection could not be built; serving without it");
            }
        }

        // Readiness: migrations ran in `Platform::start`; the database must answer now.
        let reporter = self.reporter;
        // Which upstreams each gated service waits for: all of them until they first answer.
        let mut waiting = Waiting::new();
        for g in &self.gated {
            for name in g.services {
                waiting.entry(*name).or_default().insert(g.upstream);
            }
        }
        let waiting = Arc::new(std::sync::Mutex::new(waiting));
        if platform.db.ping().await.is_ok() {
            let (statuses, whole) = statuses(&self.names, &waiting, true);
            for (name, status) in statuses {
                reporter.set_service_status(name, status).await;
            }
            reporter.set_service_status("", whole).await;
            platform.metrics.set_ready(true);
        } else {
            tracing::warn!("database does not answer: health stays NOT_SERVING");
            platform.metrics.set_unready("the database does not answer");
        }
        if !self.gated.is_empty() {
            spawn_upstream_health(
                platform.clone(),
                self.gated,
                reporter.clone(),
                (self.names.clone(), waiting.clone()),
            );
        }
        spawn_database_watch(
            platform.clone(),
            reporter.clone(),
            self.names.clone(),
            waiting,
        );

        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let names = self.names.clone();
        let reporter_on_stop = reporter.clone();
        let metrics_on_stop = platform.metrics.clone();
        let grace = config.server.shutdown_grace;
        let drain = platform.drain.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: draining in-flight calls");
            metrics_on_stop.set_unready("draining for shutdown");
            drain.start();
            for name in &names {
                reporter_on_stop
                    .set_service_status(*name, ServingStatus::NotServing)
                    .await;
            }
            reporter_on_stop
                .set_service_status("", ServingStatus::NotServing)
                .await;
            let _ = stop_tx.send(true);
        };

        // `/readyz` answers 503 while the gRPC listener drains, so the metrics listener closes
        // only once serving has ended.
        let (metrics_stop, mut metrics_stopped) = tokio::sync::watch::channel(false);
        if let Some(metrics_listener) = metrics {
            crate::telemetry::serve_http(platform.metrics.clone(), metrics_listener, async move {
                let _ = metrics_stopped.wait_for(|stop| *stop).await;
            });
        }

        let mut server = tonic::transport::Server::builder()
            .accept_http1(true)
            // Outermost: every request gets an id (the client's `x-request-id`, or a new one),
            // returned in the response, so logs, audit entries and clients can be matched.
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(PropagateRequestIdLayer::x_request_id())
            // A span per call carrying the request id: every log line of the call has it. Failed
            // calls are the client's business (their status says why): logged at DEBUG, not ERROR.
            // With traces on, the span is exported (named by the RPC's path), continuing the
            // caller's trace when the call carries W3C trace context.
            .layer(
                TraceLayer::new_for_grpc()
                    .on_failure(DefaultOnFailure::new().level(Level::DEBUG))
                    .make_span_with(|req: &http::Request<_>| {
                        let span = tracing::info_span!(
                            "rpc",
                            otel.name = %req.uri().path(),
                            otel.kind = "server",
                            path = %req.uri().path(),
                            request_id = %request_id_of(req.headers())
                        );
                        crate::trace_context::continue_from(&span, req.headers());
                        span
                    }),
            )
            // Browsers speak gRPC-Web over HTTP/1.1; translate before anything reads trailers.
            .layer(tonic_web::GrpcWebLayer::new())
            // Metrics see every call, including the ones shed or refused below.
            .layer(MetricsLayer::new(platform.metrics.clone()))
            // Shed load beyond the concurrency limit instead of queueing it.
            .layer(ShedLayer::new(
                config.server.max_concurrent_requests,
                platform.metrics.clone(),
            ))
            // Deadlines: the client's `grpc-timeout`, capped at `request_timeout`.
            .layer(DeadlineLayer::new(config.server.request_timeout));
        // Inside: each service's authentication and authorization (`Guarded`), then the handler.

        // Nagle's algorithm would hold small responses for the peer's delayed ACK (~40 ms).
        let incoming = tonic::transport::server::TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(std::time::Duration::from_secs(60)));
        let mut stop = stop_rx;
        let serving = server
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, signal);
        tokio::pin!(serving);
        let result = tokio::select! {
            result = &mut serving => Some(result),
            _ = stop.wait_for(|stop| *stop) => None,
        };
        let result = match result {
            Some(result) => result,
            None => match tokio::time::timeout(grace, serving).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("shutdown grace period over: closing remaining calls");
                    Ok(())
                }
            },
        };
        let _ = metrics_stop.send(true);
        result
    }
}

/// Forgets request ids older than a day, hourly.
fn spawn_idempotency_pruner(db: Database) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let cutoff = Utc::now() - chrono::Duration::days(1);
            match crate::idempotency::prune(db.conn(), cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(request_ids = n, "old request ids forgotten"),
                Err(err) => tracing::warn!(error = %err, "request ids could not be pruned"),
            }
        }
    });
}

/// Completes on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod existing_people_issuer_tests {
    use super::*;

    const ONE_ISSUER: &str = r#"
        [[ics]]
        code = "QUE"
        name = "Cambridgeshire and Peterborough ICS"
        trusts = [{ ods = "RGT", name = "CUH" }]

        [[issuer]]
        url = "https://idp.rgt.example"
        audiences = ["concordat"]
        trust = { fixed = "RGT" }
    "#;

    #[test]
    fn the_issuer_of_stored_people_is_told_by_the_rule_or_not_at_all() {
        let mut config = Config::default();
        config.dev_issuer.listen = "127.0.0.1:50052".parse().unwrap();
        assert_eq!(
            existing_people_issuer(&config).as_deref(),
            Some("http://127.0.0.1:50052"),
            "the embedded default: the development issuer"
        );
        config.dev_issuer.listen = "127.0.0.1:0".parse().unwrap();
        assert_eq!(
            existing_people_issuer(&config),
            None,
            "a port chosen at start"
        );

        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("one.toml");
        std::fs::write(&one, ONE_ISSUER).unwrap();
        config.federation = Some(one);
        assert_eq!(
            existing_people_issuer(&config).as_deref(),
            Some("https://idp.rgt.example"),
            "the federation's only issuer"
        );
        let two = dir.path().join("two.toml");
        std::fs::write(
            &two,
            format!(
                "{ONE_ISSUER}\n[[issuer]]\nurl = \"https://cis2.example\"\naudiences = [\"concordat\"]\ntrust = {{ claim = \"org\" }}\n"
            ),
        )
        .unwrap();
        config.federation = Some(two);
        assert_eq!(existing_people_issuer(&config), None, "several issuers");
        config.identity.existing_people_issuer = "https://cis2.example".into();
        assert_eq!(
            existing_people_issuer(&config).as_deref(),
            Some("https://cis2.example"),
            "the configured one"
        );
    }
}
