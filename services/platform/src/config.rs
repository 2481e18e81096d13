//! Configuration: defaults → TOML file (`--config`) → environment (`CONCORDAT_…`, `__` for
//! nesting) → command-line flags. Read once at start-up, validated, then passed down; nothing
//! else in the code reads the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The whole configuration of a Concordat process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address of the gRPC (and gRPC-Web) listener.
    pub listen: SocketAddr,
    /// Address of the HTTP listener for `/metrics`, `/healthz` and `/readyz`.
    pub metrics_listen: SocketAddr,
    /// Where the SQLite database and the development issuer's signing key live.
    pub data_dir: PathBuf,
    /// Database URL (`sqlite://…` or `postgres://…`); the SQLite file `concordat.db` in the data
    /// directory when unset.
    pub database_url: Option<String>,
    /// The federation file (ICSs, trusts, issuers). When unset, the embedded development issuer
    /// and the demo federation (ICS `QUE`) are used.
    pub federation: Option<PathBuf>,
    /// Run pending migrations when `serve` starts (turn off when a separate job migrates).
    pub migrate_on_start: bool,
    /// Limits every RPC is held to.
    pub server: ServerConfig,
    /// Token verification.
    pub identity: IdentityConfig,
    /// The embedded development issuer.
    pub dev_issuer: DevIssuerConfig,
    /// Event outboxes and `Watch…` streams.
    pub events: EventsConfig,
    /// Logging.
    pub log: LogConfig,
    /// OpenTelemetry traces (off unless an endpoint is given).
    pub traces: TracesConfig,
    /// Where the other services are when they do not run in this process.
    pub upstream: UpstreamConfig,
    /// How this process authenticates its own background work (not on behalf of a user): a
    /// registered service client of an issuer. Unset: the development issuer's tokens when it
    /// runs, otherwise none.
    pub service_client: Option<ServiceClientConfig>,
    /// `CONCORDAT_…` environment variables that name no configuration field (reported at start).
    #[serde(skip)]
    pub ignored_environment: Vec<String>,
}

/// Limits every RPC is held to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Requests handled at once; more are shed with RESOURCE_EXHAUSTED and a retry delay, so an
    /// overloaded server answers quickly instead of queueing without bound.
    pub max_concurrent_requests: usize,
    /// The longest any unary call may run; a client's shorter `grpc-timeout` wins.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// Whether responses are gzip-compressed for clients that accept it. Off by default, as in
    /// gRPC's own servers: compressing costs the server more time than a large read itself on a
    /// fast network. Compressed requests are accepted either way.
    pub compress_responses: bool,
    /// Memory for what recent reads found that cannot go stale (each ICS's baseline at a
    /// published revision, its items as sent), in bytes as each service measures what it keeps;
    /// 0 turns the cache off. Every trust's effective configuration is that baseline with the
    /// trust's overlay: with the baseline held, a read fetches only the overlay's rows.
    pub read_cache_bytes: usize,
    /// How often shared configuration looks for variations that have lapsed, to publish each at
    /// its expiry instant (an idle look is one indexed read per ICS).
    #[serde(with = "humantime_serde")]
    pub lapse_interval: Duration,
    /// How long SIGTERM waits for in-flight calls before the process exits anyway.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

/// Token verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityConfig {
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// How often each issuer's keys are fetched again, even when nothing asks.
    #[serde(with = "humantime_serde")]
    pub jwks_refresh_interval: Duration,
    /// The shortest gap between two fetches caused by unknown key ids, so a flood of forged
    /// tokens cannot turn the server into a load generator against an issuer.
    #[serde(with = "humantime_serde")]
    pub jwks_min_refresh_interval: Duration,
    /// Timeout of each HTTP call to an issuer.
    #[serde(with = "humantime_serde")]
    pub http_timeout: Duration,
    /// Verified tokens remembered (until they expire) so steady traffic is not re-verified.
    pub token_cache_size: usize,
    /// The issuer of the people a database holds from before people were named by issuer and
    /// subject: the migration that names them gives them this issuer. Empty (the default): the
    /// development issuer when no federation file is given, or the federation's only issuer;
    /// with several issuers and such people stored, the migration refuses to guess.
    pub existing_people_issuer: String,
}

/// The embedded development issuer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevIssuerConfig {
    /// Start it even though a federation file is given (its issuer is added to the federation).
    pub enabled: bool,
    /// Loopback address where it serves discovery and its keys.
    pub listen: SocketAddr,
    /// Let it run while the gRPC listener is not on loopback. For demonstrations only: anyone
    /// holding the data directory can mint tokens.
    pub allow_non_loopback: bool,
    /// Lifetime of tokens minted by `concordat dev token`.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
}

/// Event outboxes and `Watch…` streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// How often a watcher looks for events written by other replicas (events written by this
    /// process wake watchers at once).
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long events are kept; a cursor older than this must resync.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

/// Where the services this process calls are, when they are not served by this process: target
/// name → gRPC URL, e.g. `upstream.change-control = "http://concordat-change-control:50051"`.
/// A key may use `_` for `-` (`upstream.change_control`, `CONCORDAT_UPSTREAM__CHANGE_CONTROL`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UpstreamConfig(pub std::collections::BTreeMap<String, String>);

impl UpstreamConfig {
    /// The URL of `target`, if configured.
    pub fn url(&self, target: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key.replace('_', "-") == target)
            .map(|(_, url)| url.as_str())
    }

    /// The targets named, with `_` read as `-`.
    pub fn targets(&self) -> Vec<String> {
        self.0.keys().map(|k| k.replace('_', "-")).collect()
    }
}

/// A registered OAuth client this process uses for its own background work.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceClientConfig {
    /// The issuer (one of the federation's), e.g. `https://login.que-ics.nhs.uk`; its token
    /// endpoint is found by discovery.
    pub issuer: String,
    /// The OAuth `client_id`, registered under the issuer's `service_client` in the federation.
    pub client_id: String,
    /// The client secret (better from `CONCORDAT_SERVICE_CLIENT__CLIENT_SECRET` than a file).
    pub client_secret: String,
    /// The resource (audience) to ask tokens for (RFC 8707), when the issuer needs one.
    #[serde(default)]
    pub resource: Option<String>,
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
    /// A `tracing` filter, e.g. `info,concordat_platform=debug`.
    pub filter: String,
}

/// OpenTelemetry traces, exported over OTLP/gRPC: a span per RPC carrying its request id, joined
/// across targets by W3C trace context.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TracesConfig {
    /// The OTLP/gRPC endpoint of a collector, e.g. `http://otel-collector:4317`; empty: no traces.
    pub otlp_endpoint: String,
    /// The share of traces started here that are kept (0 to 1); a call arriving with a sampled
    /// parent is kept with it.
    pub sampling_ratio: f64,
    /// `service.name` of the spans; empty: `concordat`, or `concordat-<targets>` for a process
    /// serving some targets only.
    pub service_name: String,
}

impl Default for TracesConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            sampling_ratio: 1.0,
            service_name: String::new(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            data_dir: PathBuf::from("./concordat-data"),
            database_url: None,
            federation: None,
            migrate_on_start: true,
            server: ServerConfig::default(),
            identity: IdentityConfig::default(),
            dev_issuer: DevIssuerConfig::default(),
            events: EventsConfig::default(),
            log: LogConfig::default(),
            traces: TracesConfig::default(),
            upstream: UpstreamConfig::default(),
            service_client: None,
            ignored_environment: Vec::new(),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 512,
            request_timeout: Duration::from_secs(30),
            max_message_bytes: 8 * 1024 * 1024,
            compress_responses: false,
            read_cache_bytes: 256 << 20,
            lapse_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(25),
        }
    }
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            leeway: Duration::from_secs(60),
            jwks_refresh_interval: Duration::from_secs(15 * 60),
            jwks_min_refresh_interval: Duration::from_secs(30),
            http_timeout: Duration::from_secs(5),
            token_cache_size: 10_000,
            existing_people_issuer: String::new(),
        }
    }
}

impl Default for DevIssuerConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 50052)),
            allow_non_loopback: false,
            token_ttl: Duration::from_secs(8 * 3600),
        }
    }
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            retention: Duration::from_secs(7 * 86_400),
        }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            filter: "info".into(),
        }
    }
}

/// A configuration that cannot be used, with what to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or parsed.
    #[error("configuration could not be read: {0}")]
    Load(#[from] Box<figment::Error>),
    /// The configuration file named on the command line does not exist.
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value is out of range or inconsistent with another.
    #[error("configuration field `{field}` is invalid: {reason}")]
    Invalid {
        /// The field, dotted (`server.request_timeout`).
        field: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

/// The command-line client's own variables: not configuration, and not reported as ignored.
pub const CLIENT_ENVIRONMENT: [&str; 5] = [
    "CONCORDAT_URL",
    "CONCORDAT_TOKEN",
    "CONCORDAT_ICS",
    "CONCORDAT_CA_FILE",
    "CONCORDAT_CREDENTIALS",
];

impl Config {
    /// Loads the configuration: defaults, then the TOML file, then `CONCORDAT_…` environment
    /// variables (`__` separates nested keys: `CONCORDAT_SERVER__REQUEST_TIMEOUT=10s`), then
    /// `overrides` (the command-line flags, with unset flags left out), and validates it.
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::MissingFile(file.to_path_buf()));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        // Only variables naming a known top-level field are configuration; others with the prefix
        // (the test harness's, a CI cache's) are left alone and reported, so a typo in a nested
        // key (`CONCORDAT_SERVER__REQUEST_TIMOUT`) is still refused.
        let known = Self::top_level_fields();
        let env = Env::prefixed("CONCORDAT_").split("__");
        let ignored: Vec<String> = env
            .iter()
            .map(|(key, _)| key.as_str().to_owned())
            .filter(|key| !known.contains(&top_level(key).as_str()))
            .collect();
        let mut config: Config = figment
            .merge(env.filter(move |key| known.contains(&top_level(key.as_str()).as_str())))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.ignored_environment = ignored
            .into_iter()
            .map(|k| format!("CONCORDAT_{}", k.to_uppercase().replace('.', "__")))
            .filter(|name| !CLIENT_ENVIRONMENT.contains(&name.as_str()))
            .collect();
        config.validate()?;
        Ok(config)
    }

    fn top_level_fields() -> [&'static str; 14] {
        [
            "listen",
            "metrics_listen",
            "data_dir",
            "database_url",
            "federation",
            "migrate_on_start",
            "server",
            "identity",
            "dev_issuer",
            "events",
            "log",
            "traces",
            "upstream",
            "service_client",
        ]
    }

    /// The database URL in use: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("concordat.db").display()
            ),
        }
    }

    /// True when the embedded development issuer runs: without a federation file, or when asked.
    pub fn dev_issuer_enabled(&self) -> bool {
        self.federation.is_none() || self.dev_issuer.enabled
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason: &str| ConfigError::Invalid {
            field,
            reason: reason.into(),
        };
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database_url",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }
        if let Some(path) = &self.federation
            && !path.is_file()
        {
            return Err(ConfigError::Invalid {
                field: "federation",
                reason: format!("file {} does not exist", path.display()),
            });
        }
        if let Some((key, _)) = self
            .upstream
            .0
            .iter()
            .find(|(_, url)| !url.starts_with("http://"))
        {
            return Err(ConfigError::Invalid {
                field: "upstream",
                reason: format!(
                    "upstream.{key} must be an http:// URL (TLS between services is left to the mesh)"
                ),
            });
        }
        if self.listen == self.metrics_listen && self.listen.port() != 0 {
            return Err(invalid("metrics_listen", "must differ from listen"));
        }
        if self.server.max_concurrent_requests == 0 {
            return Err(invalid(
                "server.max_concurrent_requests",
                "must be at least 1",
            ));
        }
        if self.server.request_timeout.is_zero() {
            return Err(invalid(
                "server.request_timeout",
                "must be longer than zero",
            ));
        }
        if self.server.max_message_bytes < 1024 {
            return Err(invalid("server.max_message_bytes", "must be at least 1024"));
        }
        if self.identity.jwks_refresh_interval.is_zero() {
            return Err(invalid(
                "identity.jwks_refresh_interval",
                "must be longer than zero",
            ));
        }
        if self.events.poll_interval.is_zero() {
            return Err(invalid("events.poll_interval", "must be longer than zero"));
        }
        if self.dev_issuer_enabled() {
            if !self.dev_issuer.listen.ip().is_loopback() {
                return Err(invalid(
                    "dev_issuer.listen",
                    "the development issuer only listens on loopback (e.g. 127.0.0.1:50052)",
                ));
            }
            if !self.listen.ip().is_loopback() && !self.dev_issuer.allow_non_loopback {
                return Err(ConfigError::Invalid {
                    field: "listen",
                    reason: format!(
                        "{} is not a loopback address, and the development issuer (which runs \
                         without a federation file, or when dev_issuer.enabled is set) would be \
                         reachable: give --federation FILE without enabling the development \
                         issuer, listen on 127.0.0.1, or set dev_issuer.allow_non_loopback = true \
                         (CONCORDAT_DEV_ISSUER__ALLOW_NON_LOOPBACK=true) to force it",
                        self.listen
                    ),
                });
            }
        }
        if !(0.0..=1.0).contains(&self.traces.sampling_ratio) {
            return Err(invalid("traces.sampling_ratio", "must be from 0 to 1"));
        }
        let endpoint = &self.traces.otlp_endpoint;
        if !(endpoint.is_empty()
            || endpoint.starts_with("http://")
            || endpoint.starts_with("https://"))
        {
            return Err(invalid(
                "traces.otlp_endpoint",
                "must be an http:// or https:// URL (OTLP over gRPC), or empty for no traces",
            ));
        }
        if !matches!(self.log.format, LogFormat::Text | LogFormat::Json) {
            return Err(invalid("log.format", "must be text or json"));
        }
        Ok(())
    }
}

fn top_level(key: &str) -> String {
    key.split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Default)]
    struct Flags {
        #[serde(skip_serializing_if = "Option::is_none")]
        listen: Option<String>,
    }

    #[test]
    fn defaults_are_valid_and_use_sqlite_in_the_data_dir() {
        let config = Config::load(None, Flags::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:50051");
        assert!(config.database_url().starts_with("sqlite://"));
        assert!(config.database_url().contains("concordat-data"));
        assert!(config.dev_issuer_enabled());
    }

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:6000\"\n[server]\nrequest_timeout = \"5s\"\n",
        )
        .unwrap();
        let config = Config::load(Some(&file), Flags::default()).unwrap();
        assert_eq!(config.listen.port(), 6000);
        assert_eq!(config.server.request_timeout, Duration::from_secs(5));
        let flags = Flags {
            listen: Some("127.0.0.1:7000".into()),
        };
        let config = Config::load(Some(&file), flags).unwrap();
        assert_eq!(config.listen.port(), 7000);
    }

    #[test]
    fn unknown_keys_in_the_file_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "listn = \"127.0.0.1:6000\"\n").unwrap();
        let err = Config::load(Some(&file), Flags::default()).unwrap_err();
        assert!(err.to_string().contains("listn"), "{err}");
    }

    #[test]
    fn dev_issuer_refuses_a_public_listen_address_unless_forced() {
        let flags = Flags {
            listen: Some("0.0.0.0:50051".into()),
        };
        let err = Config::load(None, flags).unwrap_err();
        assert!(err.to_string().contains("allow_non_loopback"), "{err}");
    }

    #[test]
    fn bad_database_url_says_what_to_use() {
        #[derive(Serialize)]
        struct Db {
            database_url: &'static str,
        }
        let err = Config::load(
            None,
            Db {
                database_url: "mysql://x",
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("postgres://"), "{err}");
    }

    #[test]
    fn traces_endpoint_and_sampling_are_checked() {
        #[derive(Serialize)]
        struct Traced {
            traces: TracesConfig,
        }
        let load = |traces: TracesConfig| Config::load(None, Traced { traces });
        let ratio = load(TracesConfig {
            sampling_ratio: 1.5,
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            ratio.to_string().contains("traces.sampling_ratio"),
            "{ratio}"
        );
        let endpoint = load(TracesConfig {
            otlp_endpoint: "collector:4317".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            endpoint.to_string().contains("traces.otlp_endpoint"),
            "{endpoint}"
        );
        let on = load(TracesConfig {
            otlp_endpoint: "http://collector:4317".into(),
            sampling_ratio: 0.25,
            service_name: String::new(),
        })
        .unwrap();
        assert_eq!(on.traces.sampling_ratio, 0.25);
        assert!(
            Config::default().traces.otlp_endpoint.is_empty(),
            "off by default"
        );
    }
}
