//! The end-to-end harness: a whole Concordat server in-process or as a process, real OIDC
//! providers (`oidc-provider` from npm, started from `tests/oidc/provider.mjs`), and the paths of
//! the clients we did not write (buf).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::field_reassign_with_default,
    missing_docs
)]

pub mod world;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use concordat_platform::config::Config;
use concordat_platform::identity::dev_issuer::TokenRequest;
use concordat_platform::server::Platform;
use concordat_platform::testkit::{TestBackend, TestDb};
use concordat_proto::benefits::v1::benefits_service_client::BenefitsServiceClient;
use concordat_proto::changecontrol::v1::change_control_service_client::ChangeControlServiceClient;
use concordat_proto::convergence::v1::convergence_service_client::ConvergenceServiceClient;
use concordat_proto::platform::v1 as pb;
use concordat_proto::sharedconfig::v1::shared_config_service_client::SharedConfigServiceClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// The test crate's directory.
pub fn tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `buf` binary installed by the test command.
pub fn buf() -> PathBuf {
    tests_dir().join("tools/node_modules/.bin/buf")
}

/// The `concordat` binary built next to this test.
pub fn concordat_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("concordat");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p concordat` first",
        bin.display()
    );
    bin
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Options of an in-process server.
pub struct Options {
    pub backend: TestBackend,
    /// Federation TOML; `None` for the demo federation with the development issuer.
    pub federation: Option<String>,
    /// Also run the development issuer beside the federation file.
    pub dev_issuer: bool,
    /// Shortest gap between unknown-kid key fetches.
    pub jwks_min_refresh: Duration,
    pub max_concurrent_requests: usize,
    /// The largest message accepted or sent.
    pub max_message_bytes: usize,
    /// Whether responses are gzipped for clients that accept it (`server.compress_responses`).
    pub compress_responses: bool,
    /// Memory for baselines read (`server.read_cache_bytes`; 0: none).
    pub read_cache_bytes: usize,
    /// Another server's database (its [`TestServer::database_url`]), to run as a second replica
    /// of it; `None` for a database of its own.
    pub replica_of: Option<String>,
    /// How often watchers poll for other replicas' events (`events.poll_interval`).
    pub poll_interval: Duration,
    /// The targets served, as `serve --target` takes them (`all` by default).
    pub targets: &'static str,
    /// How often lapsed variations are looked for (`server.lapse_interval`).
    pub lapse_interval: Duration,
}

/// The targets of shared configuration and what it calls, without convergence: for tests that
/// count a process's statements, which convergence's follower would add to.
pub const CONFIG_TARGETS: &str = "platform,change-control,shared-config";

impl Default for Options {
    fn default() -> Self {
        Self {
            backend: TestBackend::Sqlite,
            federation: None,
            dev_issuer: true,
            jwks_min_refresh: Duration::from_millis(200),
            max_concurrent_requests: 512,
            max_message_bytes: 8 * 1024 * 1024,
            compress_responses: false,
            read_cache_bytes: Config::default().server.read_cache_bytes,
            replica_of: None,
            poll_interval: Duration::from_secs(1),
            targets: "all",
            lapse_interval: Duration::from_secs(1),
        }
    }
}

/// A whole server in this process, on a free port, with its own data directory and database.
pub struct TestServer {
    pub addr: SocketAddr,
    pub channel: Channel,
    pub platform: Arc<Platform>,
    pub data_dir: tempfile::TempDir,
    _db: Option<TestDb>,
    database_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server; `None` when PostgreSQL is unavailable outside CI.
    pub async fn start(options: Options) -> Option<Self> {
        // The server's warnings and errors go to the test's output, which is shown when the
        // test fails: an INTERNAL answer can then be read with its cause.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_max_level(tracing_subscriber::filter::LevelFilter::WARN)
            .try_init();
        let (db, database_url) = match &options.replica_of {
            Some(url) => (None, url.clone()),
            None => {
                let db = TestDb::new(options.backend).await?;
                let url = db.url.clone();
                (Some(db), url)
            }
        };
        let data_dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.metrics_listen = "127.0.0.1:0".parse().unwrap();
        config.data_dir = data_dir.path().to_path_buf();
        config.database_url = Some(database_url.clone());
        config.dev_issuer.listen = "127.0.0.1:0".parse().unwrap();
        config.dev_issuer.enabled = options.dev_issuer;
        config.identity.jwks_min_refresh_interval = options.jwks_min_refresh;
        config.identity.http_timeout = Duration::from_secs(2);
        config.server.max_concurrent_requests = options.max_concurrent_requests;
        config.server.max_message_bytes = options.max_message_bytes;
        config.server.compress_responses = options.compress_responses;
        config.server.read_cache_bytes = options.read_cache_bytes;
        config.server.shutdown_grace = Duration::from_secs(2);
        config.server.lapse_interval = options.lapse_interval;
        config.events.poll_interval = options.poll_interval;
        if let Some(text) = &options.federation {
            let path = data_dir.path().join("federation.toml");
            std::fs::write(&path, text).unwrap();
            config.federation = Some(path);
        }
        // The targets in one process, registered as `serve --target` registers them.
        let all = concordat::REGISTRY.select(options.targets).unwrap();
        let platform = Platform::start(
            config,
            &concordat_platform::registry::Registry::migrations(&all),
            all.iter().map(|s| s.target.to_owned()).collect(),
        )
        .await
        .unwrap();
        let mut builder = platform.server();
        concordat::REGISTRY
            .register(&platform, &mut builder, &all)
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            builder
                .serve(listener, None, async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let server = Self {
            addr,
            channel,
            platform,
            data_dir,
            _db: db,
            database_url,
            stop: Some(stop),
            task: Some(task),
        };
        server.wait_serving().await;
        Some(server)
    }

    /// The database this server uses, for [`Options::replica_of`].
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Polls health until SERVING (bounded).
    pub async fn wait_serving(&self) {
        wait_serving(self.channel.clone()).await;
    }

    /// A development token.
    pub fn dev_token(&self, trust: Option<&str>, ics: Option<&str>, roles: &[&str]) -> String {
        let issuer = self
            .platform
            .dev_issuer
            .as_ref()
            .expect("development issuer running");
        let org = trust.or(ics).unwrap().to_owned();
        issuer
            .mint(&TokenRequest {
                subject: format!(
                    "{}-{}",
                    org.to_lowercase(),
                    roles.first().copied().unwrap_or("none")
                ),
                name: None,
                org,
                ics: ics.map(str::to_owned),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                ttl: Duration::from_secs(600),
            })
            .unwrap()
    }

    /// A development token for `subject` of `trust` (an ODS code, or the ICS code) with `roles`.
    pub fn token(&self, trust: &str, roles: &[&str], subject: &str) -> String {
        let issuer = self
            .platform
            .dev_issuer
            .as_ref()
            .expect("development issuer running");
        issuer
            .mint(&TokenRequest {
                subject: subject.into(),
                name: None,
                org: trust.into(),
                ics: None,
                roles: roles.iter().map(|r| r.to_string()).collect(),
                ttl: Duration::from_secs(3600),
            })
            .unwrap()
    }

    /// The person `subject` at the development issuer, as the API names people.
    pub fn person(&self, subject: &str) -> concordat_proto::platform::v1::Person {
        let issuer = self
            .platform
            .dev_issuer
            .as_ref()
            .expect("development issuer running");
        concordat_proto::platform::v1::Person {
            issuer: issuer.issuer().to_owned(),
            subject: subject.to_owned(),
            display_name: String::new(),
        }
    }

    /// A change-control client sending `token`.
    pub fn change_control(&self, token: &str) -> ChangeControlClient {
        ChangeControlServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token))
    }

    /// A shared-configuration client sending `token`.
    pub fn shared_config(&self, token: &str) -> SharedConfigClient {
        SharedConfigServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token))
    }

    /// A convergence client sending `token`.
    pub fn convergence(&self, token: &str) -> ConvergenceClient {
        ConvergenceServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token))
    }

    /// A benefits client sending `token`.
    pub fn benefits(&self, token: &str) -> BenefitsClient {
        BenefitsServiceClient::with_interceptor(self.channel.clone(), Bearer::new(token))
    }

    /// A platform client sending `token`.
    pub fn platform(
        &self,
        token: &str,
    ) -> pb::platform_service_client::PlatformServiceClient<InterceptedService<Channel, Bearer>>
    {
        pb::platform_service_client::PlatformServiceClient::with_interceptor(
            self.channel.clone(),
            Bearer::new(token),
        )
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls the health service until SERVING, for at most 20 s.
pub async fn wait_serving(channel: Channel) {
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for _ in 0..200 {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(|r| r.into_inner().status);
        if status.ok()
            == Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server not SERVING within 20s");
}

/// Adds `authorization: Bearer …` to every call.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self(format!("Bearer {token}").parse().unwrap())
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

/// Sends and receives bytes as they are.
#[derive(Clone, Default)]
pub struct Raw;

impl tonic::codec::Codec for Raw {
    type Encode = bytes::Bytes;
    type Decode = bytes::Bytes;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl tonic::codec::Encoder for Raw {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        buf: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put(buf, item);
        Ok(())
    }
}

impl tonic::codec::Decoder for Raw {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        buf: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<bytes::Bytes>, tonic::Status> {
        use bytes::Buf;
        Ok(Some(buf.copy_to_bytes(buf.remaining())))
    }
}

/// A federation file: the ICS `QUE` named `name` with `trusts` (each named `Trust {ods}`), and,
/// when `with_other_ics`, a second ICS `QKK` with the one trust `RJ1`, for scope tests.
pub fn federation(name: &str, trusts: &[&str], with_other_ics: bool) -> String {
    let trusts: Vec<String> = trusts
        .iter()
        .map(|t| format!("{{ ods = \"{t}\", name = \"Trust {t}\" }}"))
        .collect();
    let mut file = format!(
        "[[ics]]\ncode = \"QUE\"\nname = \"{name}\"\ntrusts = [{}]\n",
        trusts.join(", ")
    );
    if with_other_ics {
        file.push_str(
            "\n[[ics]]\ncode = \"QKK\"\nname = \"Other ICS\"\ntrusts = [{ ods = \"RJ1\", name = \"Other\" }]\n",
        );
    }
    file
}

/// A federation of ICS `QUE` with `trusts` (each named `Trust {ods}`) and two identity providers:
/// RGT's own at `rgt_idp` (every token acts for RGT) and the ICS's at `ics_idp` (the trust, or the
/// ICS itself, from the `org` claim).
pub fn two_issuers(rgt_idp: &str, ics_idp: &str, trusts: &[&str]) -> String {
    format!(
        "{}\n[[issuer]]\nurl = \"{rgt_idp}\"\naudiences = [\"concordat\"]\n\
         trust = {{ fixed = \"RGT\" }}\n\n[[issuer]]\nurl = \"{ics_idp}\"\n\
         audiences = [\"concordat\"]\nicss = [\"QUE\"]\ntrust = {{ claim = \"org\" }}\n",
        federation("Cambridgeshire and Peterborough ICS", trusts, false)
    )
}

/// A change-control client sending a token.
pub type ChangeControlClient = ChangeControlServiceClient<InterceptedService<Channel, Bearer>>;

/// A shared-configuration client sending a token.
pub type SharedConfigClient = SharedConfigServiceClient<InterceptedService<Channel, Bearer>>;

/// A convergence client with a bearer token.
pub type ConvergenceClient = ConvergenceServiceClient<InterceptedService<Channel, Bearer>>;
/// A benefits client with a bearer token.
pub type BenefitsClient = BenefitsServiceClient<InterceptedService<Channel, Bearer>>;

/// The fields of a status's `BadRequest` violations, in order.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// The `ErrorInfo` reason of a status.
pub fn reason(status: &tonic::Status) -> String {
    use tonic_types::StatusExt as _;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

/// A real OIDC provider (`oidc-provider` from npm) standing for a trust's or the ICS's IdP.
pub struct OidcProvider {
    pub issuer: String,
    pub port: u16,
    pub jwks: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

/// Writes a private JWKS with one key of `alg` (`RS256` or `ES256`) and `kid`.
pub async fn generate_jwks(path: &Path, alg: &str, kid: &str) {
    let status = Command::new("node")
        .arg(tests_dir().join("oidc/genjwks.mjs"))
        .args(["--alg", alg, "--kid", kid, "--out"])
        .arg(path)
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "genjwks failed");
}

/// Concatenates JWKS files (the first key signs).
pub fn combine_jwks(out: &Path, files: &[&Path]) {
    let mut keys = Vec::new();
    for file in files {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        keys.extend(v["keys"].as_array().unwrap().iter().cloned());
    }
    std::fs::write(out, serde_json::json!({ "keys": keys }).to_string()).unwrap();
}

impl OidcProvider {
    /// Generates a key of `alg` and starts a provider on `port` (0 for any).
    pub async fn start(alg: &str, kid: &str, port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let jwks = dir.path().join("jwks.json");
        generate_jwks(&jwks, alg, kid).await;
        let port = if port == 0 { free_port() } else { port };
        let mut provider = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            jwks,
            child: None,
            _dir: dir,
        };
        provider.launch().await;
        provider
    }

    /// A provider that is not running yet (its issuer URL is known, nothing answers there).
    pub async fn not_started(alg: &str, kid: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let jwks = dir.path().join("jwks.json");
        generate_jwks(&jwks, alg, kid).await;
        let port = free_port();
        Self {
            issuer: format!("http://127.0.0.1:{port}"),
            port,
            jwks,
            child: None,
            _dir: dir,
        }
    }

    /// Starts (or restarts) the process with the current JWKS file and waits for READY.
    pub async fn launch(&mut self) {
        self.stop().await;
        let mut child = Command::new("node")
            .arg(tests_dir().join("oidc/provider.mjs"))
            .args([
                "--port",
                &self.port.to_string(),
                "--issuer",
                &self.issuer,
                "--jwks",
            ])
            .arg(&self.jwks)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await;
        match ready {
            Ok(Ok(Some(line))) if line.starts_with("READY") => {}
            other => panic!("oidc provider did not start: {other:?}"),
        }
        self.child = Some(child);
    }

    /// Stops the process.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// A client-credentials access token.
    pub async fn token(&self, client_id: &str, secret: &str) -> String {
        let http = openidconnect::reqwest::Client::new();
        let response = http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        let body = response.bytes().await.unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        json["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {json}"))
            .to_owned()
    }

    /// A token signed with this provider's current signing key (`mode` `key`) or forged as HS256
    /// keyed with its public key (`mode` `hs256-public`).
    pub async fn sign(&self, claims: serde_json::Value, mode: &str) -> String {
        let output = Command::new("node")
            .arg(tests_dir().join("oidc/sign.mjs"))
            .arg("--jwks")
            .arg(&self.jwks)
            .args(["--claims", &claims.to_string(), "--mode", mode])
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "sign.mjs: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// An ICS ready for bulk configuration work: a medicines design authority of `trusts` (chaired by
/// `chair`), a standard template, an APPROVED standard change request affecting every trust, and
/// the config `kinds` (any JSON object) in the medicines domain. Returns the change request.
pub async fn standard_change(s: &TestServer, trusts: &[&str], kinds: &[&str]) -> String {
    let changes = |trust: &str, role: &str, subject: &str| {
        s.change_control(&s.token(trust, &[role], subject))
    };
    let da = changes(trusts[0], "ics-admin", "admin")
        .create_design_authority(
            concordat_proto::changecontrol::v1::CreateDesignAuthorityRequest {
                parent: "icss/QUE".into(),
                design_authority_id: "medicines".into(),
                design_authority: Some(concordat_proto::changecontrol::v1::DesignAuthority {
                    display_name: "Medicines".into(),
                    domains: vec!["medicines".into()],
                    members: trusts
                        .iter()
                        .map(|t| concordat_proto::changecontrol::v1::Membership {
                            trust: t.to_string(),
                            voting_members: vec![s.person(&format!("voter-{t}"))],
                        })
                        .collect(),
                    chair: Some(s.person("chair")),
                    charter: Some(concordat_proto::changecontrol::v1::Charter {
                        quorum_percent: 75,
                        rules: [
                            (
                                concordat_proto::changecontrol::v1::ChangeClass::Routine,
                                false,
                            ),
                            (
                                concordat_proto::changecontrol::v1::ChangeClass::Significant,
                                false,
                            ),
                            (
                                concordat_proto::changecontrol::v1::ChangeClass::SafetyCritical,
                                true,
                            ),
                        ]
                        .into_iter()
                        .map(
                            |(class, cso)| concordat_proto::changecontrol::v1::ClassRule {
                                change_class: class as i32,
                                threshold:
                                    concordat_proto::changecontrol::v1::Threshold::SimpleMajority
                                        as i32,
                                cso_sign_off_required: cso,
                            },
                        )
                        .collect(),
                        silence: concordat_proto::changecontrol::v1::SilencePolicy::Abstain as i32,
                        board_risk_threshold: 3,
                        board_cost_threshold_pence: 5_000_000,
                        max_residual_risk: 3,
                        assessment_days: 14,
                        voting_days: 7,
                        emergency_review_days: 10,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        )
        .await
        .unwrap()
        .into_inner()
        .design_authority
        .unwrap()
        .name;
    let template = changes(trusts[0], "da-chair", "chair")
        .create_standard_template(
            concordat_proto::changecontrol::v1::CreateStandardTemplateRequest {
                parent: "icss/QUE".into(),
                standard_template_id: "bulk".into(),
                standard_template: Some(concordat_proto::changecontrol::v1::StandardTemplate {
                    display_name: "Bulk".into(),
                    description: "Bulk".into(),
                    design_authority: da.clone(),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        )
        .await
        .unwrap()
        .into_inner()
        .standard_template
        .unwrap()
        .name;
    let mut lead = changes(trusts[0], "trust-digital-lead", "lead");
    let cr = lead
        .create_change_request(
            concordat_proto::changecontrol::v1::CreateChangeRequestRequest {
                parent: "icss/QUE".into(),
                change_request: Some(concordat_proto::changecontrol::v1::ChangeRequest {
                    title: "Build".into(),
                    description: "The ICS build".into(),
                    domain: "medicines".into(),
                    design_authority: da,
                    affected_trusts: trusts.iter().map(|t| t.to_string()).collect(),
                    change_type: concordat_proto::changecontrol::v1::ChangeType::Standard as i32,
                    change_class: concordat_proto::changecontrol::v1::ChangeClass::Routine as i32,
                    standard_template: template,
                    ..Default::default()
                }),
                request_id: String::new(),
            },
        )
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap()
        .name;
    lead.submit_change_request(
        concordat_proto::changecontrol::v1::SubmitChangeRequestRequest {
            name: cr.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let admin = s.shared_config(&s.token(trusts[0], &["ics-admin"], "admin"));
    let schema =
        match concordat_shared_config::grpc::value_of(&serde_json::json!({"type": "object"}))
            .into_decoded()
            .kind
        {
            Some(prost_types::value::Kind::StructValue(st)) => st,
            _ => unreachable!(),
        };
    for kind in kinds {
        admin
            .clone()
            .create_config_kind(concordat_proto::sharedconfig::v1::CreateConfigKindRequest {
                parent: "icss/QUE".into(),
                config_kind_id: (*kind).into(),
                config_kind: Some(concordat_proto::sharedconfig::v1::ConfigKind {
                    domain: "medicines".into(),
                    schema: Some(schema.clone()),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
    }
    cr
}

/// The golden rate card of ICS QUE as a `CreateRateCard` request (id `standard`): an adverse drug
/// reaction prevented saves 2,450/850 bed days and a bed day is worth £400.00, both from `from`.
pub fn golden_rate_card(
    title: &str,
    from: &str,
) -> concordat_proto::benefits::v1::CreateRateCardRequest {
    use concordat_proto::benefits::v1 as bn;
    bn::CreateRateCardRequest {
        parent: "icss/QUE".into(),
        rate_card_id: "standard".into(),
        rate_card: Some(bn::RateCard {
            title: title.into(),
            factors: vec![bn::ConversionFactor {
                from_unit: "adverse drug reaction prevented".into(),
                to_unit: "bed day".into(),
                factor: "2450/850".into(),
                effective_from: from.into(),
            }],
            unit_values: vec![bn::UnitValue {
                unit: "bed day".into(),
                pounds: "400.00".into(),
                effective_from: from.into(),
            }],
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// A TCP proxy in front of a server whose connections the test can cut, and which can refuse
/// new ones for a while: a lost connection, as a load balancer restarting would cause.
pub struct Proxy {
    /// Where clients connect.
    pub addr: std::net::SocketAddr,
    cut: tokio::sync::watch::Sender<u64>,
    paused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    /// A proxy on a free port forwarding to `upstream`.
    pub async fn start(upstream: std::net::SocketAddr) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let paused = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (cuts, refusing) = (cut.clone(), paused.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if refusing.load(Ordering::SeqCst) {
                    continue;
                }
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, cut, paused }
    }

    /// Drops every connection and refuses new ones until [`Proxy::resume`].
    pub fn cut(&self) {
        self.paused.store(true, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Accepts connections again.
    pub fn resume(&self) {
        self.paused
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}
