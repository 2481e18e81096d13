//! The platform API through gRPC with development-issuer tokens, on SQLite and PostgreSQL:
//! authorization by role, trust and ICS scope, denials in the audit chain, paging and bad input,
//! request ids, load shedding and metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use concordat_e2e::{Options, TestServer, reason};
use concordat_platform::testkit::TestBackend;
use concordat_proto::platform::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

const FEDERATION: &str = r#"
[[ics]]
code = "QUE"
name = "Cambridgeshire and Peterborough ICS"
trusts = [{ ods = "RGT", name = "CUH" }, { ods = "RGM", name = "Royal Papworth" },
          { ods = "RGN", name = "North West Anglia" }, { ods = "RT1", name = "CPFT" }]

[[ics]]
code = "QKK"
name = "South East London ICS"
trusts = [{ ods = "RJ1", name = "Guy's and St Thomas'" }]
"#;

async fn server(backend: TestBackend) -> Option<TestServer> {
    TestServer::start(Options {
        backend,
        federation: Some(FEDERATION.into()),
        dev_issuer: true,
        ..Default::default()
    })
    .await
}

fn list(parent: &str, actor_trust: &str) -> pb::ListAuditEntriesRequest {
    pb::ListAuditEntriesRequest {
        parent: parent.into(),
        actor_trust: actor_trust.into(),
        ..Default::default()
    }
}

async fn scope_is_enforced_and_every_denial_is_audited(backend: TestBackend) {
    let Some(s) = server(backend).await else {
        return;
    };
    let lead = s.dev_token(Some("RGT"), None, &["trust-digital-lead"]);
    let member = s.dev_token(Some("RGM"), None, &["da-member"]);
    let viewer = s.dev_token(Some("RGN"), None, &["viewer"]);
    let admin = s.dev_token(None, Some("QUE"), &["ics-admin"]);
    let other_admin = s.dev_token(None, Some("QKK"), &["ics-admin"]);

    // A trust-scoped principal reads only its own trust's entries.
    let denied = s
        .platform(&lead)
        .list_audit_entries(list("icss/QUE", "RGM"))
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::PermissionDenied, "TRUST_SCOPE")
    );
    assert!(
        s.platform(&lead)
            .list_audit_entries(list("icss/QUE", "RGT"))
            .await
            .is_ok()
    );
    let unscoped = s
        .platform(&lead)
        .list_audit_entries(list("icss/QUE", ""))
        .await
        .unwrap_err();
    assert_eq!(unscoped.code(), Code::InvalidArgument);

    // Roles: a DA member may not read the audit chain; a viewer may read but not verify it.
    let denied = s
        .platform(&member)
        .list_audit_entries(list("icss/QUE", ""))
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::PermissionDenied, "ROLE_NOT_PERMITTED")
    );
    assert!(
        s.platform(&viewer)
            .list_audit_entries(list("icss/QUE", ""))
            .await
            .is_ok()
    );
    let denied = s
        .platform(&viewer)
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            parent: "icss/QUE".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "ROLE_NOT_PERMITTED");

    // One ICS is refused another's data.
    let denied = s
        .platform(&other_admin)
        .list_audit_entries(list("icss/QUE", ""))
        .await
        .unwrap_err();
    assert_eq!(
        (denied.code(), reason(&denied).as_str()),
        (Code::PermissionDenied, "ICS_SCOPE")
    );
    let denied = s
        .platform(&other_admin)
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            parent: "icss/QUE".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reason(&denied), "ICS_SCOPE");
    let federation = s
        .platform(&other_admin)
        .get_federation(pb::GetFederationRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        federation
            .icss
            .iter()
            .map(|i| i.code.as_str())
            .collect::<Vec<_>>(),
        ["QKK"]
    );

    // Every denial is in the denied caller's ICS chain, and the chain verifies.
    let entries = s
        .platform(&admin)
        .list_audit_entries(pb::ListAuditEntriesRequest {
            parent: "icss/QUE".into(),
            action: "authorization.denied".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let mut summaries: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e.actor_subject.as_str(),
                e.summary.split(':').next().unwrap(),
            )
        })
        .collect();
    summaries.sort();
    assert_eq!(
        summaries,
        [
            ("rgm-da-member", "ROLE_NOT_PERMITTED"),
            ("rgn-viewer", "ROLE_NOT_PERMITTED"),
            ("rgt-trust-digital-lead", "TRUST_SCOPE")
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| !e.request_id.is_empty() && e.hash.len() == 64)
    );
    let other = s
        .platform(&other_admin)
        .list_audit_entries(list("icss/QKK", ""))
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(other.len(), 2);
    assert!(other.iter().all(|e| e.summary.starts_with("ICS_SCOPE")));
    let verified = s
        .platform(&admin)
        .verify_audit_chain(pb::VerifyAuditChainRequest {
            parent: "icss/QUE".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(verified.valid);
    assert_eq!(verified.entries_checked, 3);
    assert_eq!(verified.head_hash, entries[0].hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_is_enforced_and_every_denial_is_audited_on_sqlite() {
    scope_is_enforced_and_every_denial_is_audited(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_is_enforced_and_every_denial_is_audited_on_postgres() {
    scope_is_enforced_and_every_denial_is_audited(TestBackend::Postgres).await;
}

async fn audit_entries_page_and_bad_input_is_explained(backend: TestBackend) {
    let Some(s) = server(backend).await else {
        return;
    };
    let member = s.dev_token(Some("RGM"), None, &["da-member"]);
    for _ in 0..5 {
        let _ = s
            .platform(&member)
            .verify_audit_chain(pb::VerifyAuditChainRequest {
                parent: "icss/QUE".into(),
            })
            .await;
    }
    let admin = s.dev_token(None, Some("QUE"), &["ics-admin"]);
    let mut client = s.platform(&admin);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_audit_entries(pb::ListAuditEntriesRequest {
                parent: "icss/QUE".into(),
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.iter().map(|e| e.sequence));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, [5, 4, 3, 2, 1]);

    let bad = client
        .list_audit_entries(list("QUE", ""))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    let details = bad.get_error_details();
    assert_eq!(
        details.bad_request().unwrap().field_violations[0].field,
        "parent"
    );
    assert_eq!(details.error_info().unwrap().domain, "platform.concordat");
    let bad = client
        .list_audit_entries(pb::ListAuditEntriesRequest {
            parent: "icss/QUE".into(),
            page_token: "forged".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        bad.get_error_details()
            .bad_request()
            .unwrap()
            .field_violations[0]
            .field,
        "page_token"
    );

    let info = client
        .get_server_info(pb::GetServerInfoRequest {})
        .await
        .unwrap()
        .into_inner();
    let expected = match backend {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres => "postgres",
    };
    assert_eq!(info.storage_backend, expected);
    assert_eq!(
        info.targets,
        [
            "platform",
            "change-control",
            "shared-config",
            "convergence",
            "benefits"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_page_and_bad_input_is_explained_on_sqlite() {
    audit_entries_page_and_bad_input_is_explained(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_entries_page_and_bad_input_is_explained_on_postgres() {
    audit_entries_page_and_bad_input_is_explained(TestBackend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_kept_or_made_and_returned() {
    let s = server(TestBackend::Sqlite).await.unwrap();
    let token = s.dev_token(Some("RGT"), None, &["viewer"]);
    let mut request = tonic::Request::new(pb::WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("x-request-id", "trace-me-42".parse().unwrap());
    let response = s.platform(&token).who_am_i(request).await.unwrap();
    assert_eq!(
        response.metadata().get("x-request-id").unwrap(),
        "trace-me-42"
    );
    let response = s
        .platform(&token)
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap();
    let made = response
        .metadata()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(made.len(), 36, "a UUID: {made}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_concurrency_limit_are_shed_with_a_retry_delay() {
    let s = TestServer::start(Options {
        max_concurrent_requests: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    // A health watch holds the only slot for as long as it streams.
    let mut health = tonic_health::pb::health_client::HealthClient::new(s.channel.clone());
    let mut watch = health
        .watch(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(watch.message().await.unwrap().is_some());
    let token = s.dev_token(Some("RGT"), None, &["viewer"]);
    let shed = s
        .platform(&token)
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap_err();
    assert_eq!(
        (shed.code(), reason(&shed).as_str()),
        (Code::ResourceExhausted, "OVERLOADED")
    );
    assert!(
        shed.get_error_details()
            .retry_info()
            .unwrap()
            .retry_delay
            .is_some()
    );
    drop(watch);
    // Once the stream ends the slot is free again.
    let mut ok = false;
    for _ in 0..50 {
        if s.platform(&token)
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .is_ok()
        {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(ok, "the slot is released when the stream ends");
    let m = &s.platform.metrics;
    // Retries while the server notices the cancelled stream may be shed too; each is counted.
    let shed = m.count(
        "concordat.platform.v1.PlatformService",
        "WhoAmI",
        "RESOURCE_EXHAUSTED",
    );
    assert!(shed >= 1);
    assert!(
        m.render()
            .contains(&format!("concordat_grpc_requests_shed_total {shed}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_calls_by_method_and_code() {
    let s = server(TestBackend::Sqlite).await.unwrap();
    let token = s.dev_token(Some("RGT"), None, &["viewer"]);
    for _ in 0..3 {
        s.platform(&token)
            .who_am_i(pb::WhoAmIRequest {})
            .await
            .unwrap();
    }
    let _ = s.platform("bad").who_am_i(pb::WhoAmIRequest {}).await;
    let m = &s.platform.metrics;
    let svc = "concordat.platform.v1.PlatformService";
    assert_eq!(m.count(svc, "WhoAmI", "OK"), 3);
    assert_eq!(m.count(svc, "WhoAmI", "UNAUTHENTICATED"), 1);
    assert!(
        m.render()
            .contains("concordat_grpc_request_duration_seconds_bucket")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_grpc_timeout_is_answered_deadline_exceeded_with_details() {
    use base64::Engine as _;
    // An issuer that accepts connections and never answers: verifying its tokens hangs.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    let federation = format!(
        "{FEDERATION}\n[[issuer]]\nurl = \"{issuer}\"\naudiences = [\"concordat\"]\ntrust = {{ fixed = \"RGT\" }}\n"
    );
    let s = TestServer::start(Options {
        federation: Some(federation),
        dev_issuer: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let token = format!(
        "{}.{}.c2ln",
        b64(serde_json::json!({"alg": "ES256", "kid": "k"})),
        b64(serde_json::json!({"iss": issuer, "sub": "x", "aud": "concordat"}))
    );
    let mut request = tonic::Request::new(pb::WhoAmIRequest {});
    request
        .metadata_mut()
        .insert("grpc-timeout", "300m".parse().unwrap());
    request
        .metadata_mut()
        .insert("x-request-id", "slow-1".parse().unwrap());
    let status = s.platform(&token).who_am_i(request).await.unwrap_err();
    assert_eq!(
        (status.code(), reason(&status).as_str()),
        (Code::DeadlineExceeded, "DEADLINE_EXCEEDED")
    );
    assert_eq!(status.metadata().get("x-request-id").unwrap(), "slow-1");
    let count = s.platform.metrics.count(
        "concordat.platform.v1.PlatformService",
        "WhoAmI",
        "DEADLINE_EXCEEDED",
    );
    assert_eq!(count, 1);
    drop(silent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_requests_are_accepted_and_responses_gzipped_only_when_configured() {
    for compress_responses in [false, true] {
        let s = TestServer::start(Options {
            federation: Some(FEDERATION.into()),
            compress_responses,
            ..Default::default()
        })
        .await
        .unwrap();
        let token = s.dev_token(Some("RGT"), None, &["viewer"]);
        let mut client = s
            .platform(&token)
            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
        let response = client.who_am_i(pb::WhoAmIRequest {}).await.unwrap();
        assert_eq!(
            response
                .metadata()
                .get("grpc-encoding")
                .and_then(|v| v.to_str().ok()),
            compress_responses.then_some("gzip"),
            "compress_responses = {compress_responses}"
        );
        assert_eq!(response.into_inner().principal.unwrap().trust, "RGT");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_answers_v1alpha_clients_too() {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
    let s = server(TestBackend::Sqlite).await.unwrap();
    let mut client = ServerReflectionClient::new(s.channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let response = responses.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("unexpected {response:?}")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"concordat.platform.v1.PlatformService".to_owned()),
        "{names:?}"
    );
}
