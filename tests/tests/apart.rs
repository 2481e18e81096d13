//! The services apart, for real: every target as its own `concordat serve --target …` process
//! on one PostgreSQL database (each migrating its own tables as it starts), wired by upstream
//! URLs, people and automation from two federated `oidc-provider` issuers, the processes' own
//! background work done as an ICS service client. The Python client plays the whole golden
//! scenario through them. Then change control stops: the targets that need it go NOT_SERVING
//! and recover when it returns. Two replicas of change control on the database serve one watch.
//! Every process exports its spans over OTLP to a receiver here (a gRPC server of the OTLP trace
//! service, from its published protos): a publish is one trace across shared configuration and
//! change control.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use concordat_e2e::{Bearer, OidcProvider, concordat_bin, free_port, now, tests_dir};
use concordat_platform::testkit::{TestBackend, TestDb};
use concordat_proto::changecontrol::v1 as cc;
use concordat_proto::platform::v1 as pb;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde_json::json;
use tokio::process::{Child, Command};
use tonic::transport::Channel;

const SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
const NOT_SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;

/// The targets, each with the targets it calls.
const TARGETS: [(&str, &[&str]); 5] = [
    ("platform", &[]),
    ("change-control", &[]),
    ("shared-config", &["change-control"]),
    ("convergence", &["change-control", "shared-config"]),
    ("benefits", &["change-control", "shared-config"]),
];

/// One span as the receiver got it.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    request_id: String,
}

/// An OTLP trace receiver: keeps every span exported to it.
#[derive(Clone, Default)]
struct Receiver(std::sync::Arc<std::sync::Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        use opentelemetry_proto::tonic::common::v1::any_value::Value;
        let text = |v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>| match v
            .as_ref()
            .and_then(|v| v.value.as_ref())
        {
            Some(Value::StringValue(s)) => s.clone(),
            _ => String::new(),
        };
        let mut kept = self.0.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .map(|a| text(&a.value))
                .unwrap_or_default();
            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                kept.push(Span {
                    service: service.clone(),
                    request_id: span
                        .attributes
                        .iter()
                        .find(|a| a.key == "request_id")
                        .map(|a| text(&a.value))
                        .unwrap_or_default(),
                    name: span.name,
                    trace_id: span.trace_id,
                    span_id: span.span_id,
                    parent_span_id: span.parent_span_id,
                });
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Receiver {
    /// Serves the OTLP trace service on a free port; returns its endpoint.
    fn start(&self) -> String {
        let address: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve(address),
        );
        format!("http://{address}")
    }

    fn spans(&self) -> Vec<Span> {
        self.0.lock().unwrap().clone()
    }
}

/// The processes of one deployment, by name.
struct Deployment {
    db: TestDb,
    ics_idp: OidcProvider,
    rgt_idp: OidcProvider,
    federation: tempfile::NamedTempFile,
    logs: tempfile::TempDir,
    /// Where every process sends its spans.
    otlp: String,
    /// The gRPC address of each target.
    addresses: BTreeMap<String, String>,
    processes: BTreeMap<String, Child>,
}

impl Deployment {
    async fn start(otlp: String) -> Option<Self> {
        let db = TestDb::new(TestBackend::Postgres).await?;
        let ics_idp = OidcProvider::start("ES256", "ics-1", 0).await;
        let rgt_idp = OidcProvider::start("RS256", "rgt-1", 0).await;
        let federation = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            federation.path(),
            concordat_e2e::two_issuers(
                &rgt_idp.issuer,
                &ics_idp.issuer,
                &["RGT", "RGM", "RGN", "RT1"],
            ),
        )
        .unwrap();
        let addresses = TARGETS
            .iter()
            .map(|(t, _)| (t.to_string(), format!("127.0.0.1:{}", free_port())))
            .collect();
        let mut d = Self {
            db,
            ics_idp,
            rgt_idp,
            federation,
            logs: tempfile::tempdir().unwrap(),
            otlp,
            addresses,
            processes: BTreeMap::new(),
        };
        // All at once, as pods start: each migrates its own tables (and the platform's).
        for (target, _) in TARGETS {
            d.spawn(target, target);
        }
        for (target, _) in TARGETS {
            d.wait_health(target, "", SERVING).await;
        }
        Some(d)
    }

    /// Starts `target` as the process `name` at the target's address (or a fresh one for a
    /// replica, whose name differs from the target's).
    fn spawn(&mut self, name: &str, target: &str) -> String {
        let address = if name == target {
            self.addresses[target].clone()
        } else {
            format!("127.0.0.1:{}", free_port())
        };
        let upstreams = TARGETS.iter().find(|(t, _)| *t == target).unwrap().1;
        let log = std::fs::File::create(self.logs.path().join(format!("{name}.log"))).unwrap();
        let mut command = Command::new(concordat_bin());
        command
            .args(["serve", "--target", target, "--listen", &address])
            .args(["--metrics-listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--database-url", &self.db.url])
            .arg("--federation")
            .arg(self.federation.path())
            .arg("--data-dir")
            .arg(self.logs.path().join(format!("{name}-data")))
            .env("CONCORDAT_SERVICE_CLIENT__ISSUER", &self.ics_idp.issuer)
            .env("CONCORDAT_SERVICE_CLIENT__CLIENT_ID", "concordat-que")
            .env(
                "CONCORDAT_SERVICE_CLIENT__CLIENT_SECRET",
                "concordat-que-secret",
            )
            .env("CONCORDAT_SERVER__LAPSE_INTERVAL", "200ms")
            .env("CONCORDAT_EVENTS__POLL_INTERVAL", "200ms")
            .env("CONCORDAT_TRACES__OTLP_ENDPOINT", &self.otlp)
            // The batch of spans goes out every 200 ms rather than every 5 s.
            .env("OTEL_BSP_SCHEDULE_DELAY", "200")
            .env_remove("CONCORDAT_TEST_DATABASE_URL")
            .env_remove("CONCORDAT_TEST_PG_DIR")
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        for upstream in upstreams {
            command.env(
                format!(
                    "CONCORDAT_UPSTREAM__{}",
                    upstream.to_uppercase().replace('-', "_")
                ),
                format!("http://{}", self.addresses[*upstream]),
            );
        }
        self.processes
            .insert(name.to_owned(), command.spawn().unwrap());
        address
    }

    async fn stop(&mut self, name: &str) {
        if let Some(mut child) = self.processes.remove(name) {
            child.kill().await.unwrap();
        }
    }

    fn logs(&self) -> String {
        let mut out = String::new();
        for entry in std::fs::read_dir(self.logs.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(15).collect();
                out.push_str(&format!("--- {}\n", path.display()));
                for line in tail.into_iter().rev() {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    async fn wait_health(&self, target: &str, service: &str, want: i32) {
        let address = &self.addresses[target];
        for _ in 0..600 {
            if health(address, service).await == want {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{target} at {address}: health of {service:?} did not become {want} within 60 s\n{}",
            self.logs()
        );
    }

    /// A token of `subject` at `org` with `role` from the ICS's identity provider.
    async fn token(&self, subject: &str, org: &str, role: &str) -> String {
        self.ics_idp
            .sign(
                json!({"iss": self.ics_idp.issuer, "sub": subject, "aud": "concordat",
                    "iat": now(), "exp": now() + 600, "org": org, "roles": [role]}),
                "key",
            )
            .await
    }
}

async fn health(address: &str, service: &str) -> i32 {
    let Ok(channel) = Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
    else {
        return -1;
    };
    tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map(|r| r.into_inner().status)
        .unwrap_or(-1)
}

async fn channel(address: &str) -> Channel {
    Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn python() -> std::path::PathBuf {
    let python = tests_dir().join("python/.venv/bin/python");
    assert!(
        python.exists(),
        "run tests/python/setup.sh first (scripts/test does)"
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_golden_scenario_runs_through_every_target_apart_on_postgres() {
    let receiver = Receiver::default();
    let otlp = receiver.start();
    let Some(mut d) = Deployment::start(otlp).await else {
        return;
    };

    // Both issuers are trusted by every process: RGT's own token is RGT's, at any target.
    let rgt = d
        .rgt_idp
        .sign(
            json!({"iss": d.rgt_idp.issuer, "sub": "nurse-rgt", "aud": "concordat",
                "iat": now(), "exp": now() + 600, "roles": ["viewer"]}),
            "key",
        )
        .await;
    let who = pb::platform_service_client::PlatformServiceClient::with_interceptor(
        channel(&d.addresses["platform"]).await,
        Bearer::new(&rgt),
    )
    .who_am_i(pb::WhoAmIRequest {})
    .await
    .unwrap()
    .into_inner()
    .principal
    .unwrap();
    assert_eq!(
        (who.issuer.as_str(), who.trust.as_str()),
        (d.rgt_idp.issuer.as_str(), "RGT")
    );

    // The whole golden scenario, each service called at its own target.
    let mut args: Vec<String> = vec![
        tests_dir()
            .join("python/drive_change_request.py")
            .display()
            .to_string(),
        "--target".into(),
        d.addresses["platform"].clone(),
        "--sign-jwks".into(),
        d.ics_idp.jwks.display().to_string(),
        "--issuer".into(),
        d.ics_idp.issuer.clone(),
    ];
    for (target, _) in TARGETS {
        args.push("--service".into());
        args.push(format!("{target}={}", d.addresses[target]));
    }
    let output = Command::new(python()).args(&args).output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the golden scenario through the targets apart failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        d.logs()
    );
    for step in [
        "tokens minted and accepted (WhoAmI)",
        "ok   [i] RecordBoardDecision as board-chair: APPROVED",
        "ok   [u] the variation lapsed: RGM assessed again, VARIED_EXPIRED",
        "ok   [x4] GetBenefitRollup QUE 2025/26: 850 reactions, 2,450 bed days, £980,000.00 non-cash-releasing, 100% ",
    ] {
        assert!(stdout.contains(step), "{step} missing from:\n{stdout}");
    }

    // One trace across targets: the publish at shared configuration, and the change-control calls
    // it made to check its change request, children of the publish's spans.
    let publish = "/concordat.sharedconfig.v1.SharedConfigService/PublishChangeset";
    let mut across = None;
    for _ in 0..100 {
        let spans = receiver.spans();
        across = spans
            .iter()
            .filter(|s| s.service == "concordat-shared-config" && s.name == publish)
            .find_map(|p| {
                let in_trace: Vec<&Span> =
                    spans.iter().filter(|s| s.trace_id == p.trace_id).collect();
                let ours: Vec<&Vec<u8>> = in_trace
                    .iter()
                    .filter(|s| s.service == "concordat-shared-config")
                    .map(|s| &s.span_id)
                    .collect();
                let called: Vec<Span> = in_trace
                    .iter()
                    .filter(|s| {
                        s.service == "concordat-change-control"
                            && s.name.starts_with("/concordat.changecontrol.v1.")
                            && ours.contains(&&s.parent_span_id)
                    })
                    .map(|s| (*s).clone())
                    .collect();
                (!called.is_empty()).then(|| (p.clone(), called))
            });
        if across.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (root, called) = across.unwrap_or_else(|| {
        panic!(
            "no PublishChangeset trace reached change control; spans: {:#?}",
            receiver
                .spans()
                .iter()
                .map(|s| (&s.service, &s.name))
                .collect::<Vec<_>>()
        )
    });
    assert!(
        root.parent_span_id.is_empty(),
        "the publish starts the trace"
    );
    assert!(
        !root.request_id.is_empty(),
        "the span carries the request id"
    );
    for span in &called {
        assert_eq!(
            span.request_id, root.request_id,
            "the request id is carried on"
        );
    }
    eprintln!(
        "trace {}: {} {} (request {}) → {}",
        hex(&root.trace_id),
        root.service,
        root.name,
        root.request_id,
        called
            .iter()
            .map(|s| format!("{} {}", s.service, s.name))
            .collect::<Vec<_>>()
            .join(", ")
    );

    // Change control stops: the targets calling it stop serving; it comes back, so do they.
    d.stop("change-control").await;
    for (target, _) in TARGETS
        .iter()
        .filter(|(_, up)| up.contains(&"change-control"))
    {
        d.wait_health(target, "", NOT_SERVING).await;
    }
    d.wait_health("platform", "", SERVING).await;
    d.spawn("change-control", "change-control");
    for (target, _) in TARGETS {
        d.wait_health(target, "", SERVING).await;
    }

    // A second replica of change control on the same database: a watch on one hears a change
    // request created through the other.
    let replica = d.spawn("change-control-2", "change-control");
    for _ in 0..600 {
        if health(&replica, "").await == SERVING {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pharmacist = d
        .token("pharmacist-rgt-2", "RGT", "trust-digital-lead")
        .await;
    let mut watch =
        cc::change_control_service_client::ChangeControlServiceClient::with_interceptor(
            channel(&replica).await,
            Bearer::new(&pharmacist),
        )
        .watch_change_requests(cc::WatchChangeRequestsRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut first = cc::change_control_service_client::ChangeControlServiceClient::with_interceptor(
        channel(&d.addresses["change-control"]).await,
        Bearer::new(&pharmacist),
    );
    let list = first
        .list_design_authorities(cc::ListDesignAuthoritiesRequest {
            parent: "icss/QUE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let da = list.design_authorities[0].name.clone();
    let created = first
        .create_change_request(cc::CreateChangeRequestRequest {
            parent: "icss/QUE".into(),
            change_request: Some(cc::ChangeRequest {
                title: "Replicas hear each other".into(),
                description: "A change request made through one replica".into(),
                rationale: "Its event reaches a watch on the other".into(),
                design_authority: da,
                domain: "medicines".into(),
                change_class: cc::ChangeClass::Routine as i32,
                affected_trusts: vec!["RGT".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .change_request
        .unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(event) = watch.message().await.unwrap() {
            if event.change_request.as_ref().map(|c| c.name.as_str()) == Some(&created.name) {
                return event;
            }
        }
        panic!("the watch ended")
    })
    .await
    .expect("the other replica's watch hears the new change request within 20 s");
    assert_eq!(
        heard.change_request.unwrap().title,
        "Replicas hear each other"
    );
    d.stop("change-control-2").await;
}
