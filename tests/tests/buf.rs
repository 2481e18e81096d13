//! A client we did not write: `buf curl` lists the services and methods by reflection and
//! calls the API with a development token, over gRPC and over gRPC-Web (HTTP/1.1).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use concordat_e2e::{Options, TestServer, buf};
use tokio::process::Command;

async fn buf_curl(args: &[&str]) -> (i32, String) {
    let output = Command::new(buf())
        .arg("curl")
        .args(args)
        .output()
        .await
        .expect("buf is installed by scripts/test");
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buf_curl_lists_services_by_reflection_and_calls_who_am_i() {
    let s = TestServer::start(Options::default()).await.unwrap();
    let base = format!("http://{}", s.addr);

    let (code, listed) = buf_curl(&[
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--list-services",
        &base,
    ])
    .await;
    assert_eq!(code, 0, "{listed}");
    for service in [
        "concordat.platform.v1.PlatformService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
    ] {
        assert!(
            listed.lines().any(|l| l == service),
            "{service} missing from:\n{listed}"
        );
    }

    // Every method of every service, the reflection services' own included (v1alpha described
    // through v1 as well).
    let (code, methods) = buf_curl(&[
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--list-methods",
        &base,
    ])
    .await;
    assert_eq!(code, 0, "{methods}");
    for method in [
        "concordat.convergence.v1.ConvergenceService/GetConvergenceMatrix",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ] {
        assert!(
            methods.lines().any(|l| l == method),
            "{method} missing from:\n{methods}"
        );
    }

    let token = s.dev_token(Some("RGT"), None, &["da-member"]);
    let url = format!("{base}/concordat.platform.v1.PlatformService/WhoAmI");
    let auth = format!("authorization: Bearer {token}");
    let (code, body) = buf_curl(&[
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "-H",
        &auth,
        &url,
    ])
    .await;
    assert_eq!(code, 0, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["principal"]["trust"], "RGT");
    assert_eq!(json["principal"]["roles"][0], "da-member");

    // gRPC-Web over HTTP/1.1, as a browser would call it.
    let (code, body) = buf_curl(&["--protocol", "grpcweb", "-H", &auth, &url]).await;
    assert_eq!(code, 0, "{body}");
    assert!(body.contains("\"trust\": \"RGT\""), "{body}");

    // No token: UNAUTHENTICATED (buf curl exits with 8 × the gRPC code).
    let (code, body) = buf_curl(&["--protocol", "grpc", "--http2-prior-knowledge", &url]).await;
    assert_eq!(code, 8 * 16, "{body}");
    assert!(body.contains("unauthenticated"), "{body}");
}

async fn governance_by_buf_curl(backend: concordat_platform::testkit::TestBackend) {
    let Some(s) = TestServer::start(Options {
        backend,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let output = Command::new(concordat_e2e::tests_dir().join("buf/governance.sh"))
        .arg(s.addr.to_string())
        .arg(concordat_e2e::concordat_bin())
        .arg(s.data_dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("BOARD_REVIEW, decision approved (unanimous"),
        "{stdout}"
    );
    assert_eq!(stdout.trim_end().lines().last(), Some("PASS"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buf_curl_drives_the_governance_scenario_on_sqlite() {
    governance_by_buf_curl(concordat_platform::testkit::TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buf_curl_drives_the_governance_scenario_on_postgres() {
    governance_by_buf_curl(concordat_platform::testkit::TestBackend::Postgres).await;
}

/// `buf curl` with `stdin` as the request body (`-d @-`).
async fn buf_curl_stdin(args: &[&str], stdin: &str) -> (i32, String) {
    use tokio::io::AsyncWriteExt as _;
    let mut child = Command::new(buf())
        .arg("curl")
        .args(args)
        .args(["-d", "@-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("buf is installed by scripts/test");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap_or(-1), text)
}

/// A snapshot streamed in three parts by `buf curl` (one JSON message after another on stdin),
/// then exported a page at a time, the pages' items together the snapshot's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buf_curl_imports_a_snapshot_in_parts_and_exports_it_in_pages() {
    let s = TestServer::start(Options {
        federation: Some(concordat_e2e::federation("Test ICS", &["RGN"], true)),
        ..Default::default()
    })
    .await
    .unwrap();
    let token = s.token("RGN", &["trust-engineer"], "engine-RGN");
    let auth = format!("authorization: Bearer {token}");
    let base = format!(
        "http://{}/concordat.sharedconfig.v1.SharedConfigService",
        s.addr
    );
    let grpc = ["--protocol", "grpc", "--http2-prior-knowledge", "-H", &auth];
    let messages: Vec<String> = (0..3)
        .map(|p| {
            let items: Vec<_> = (0..40)
                .map(|i| serde_json::json!({"kind": "alert-rule", "key": format!("k-{p}-{i:02}"), "value": {"threshold": i}}))
                .collect();
            let bundle = serde_json::json!({"items": items}).to_string();
            let mut message = serde_json::json!({"bundleJson": bundle});
            if p == 0 {
                message["parent"] = "icss/QUE".into();
                message["snapshot"] = serde_json::json!({"trust": "RGN", "displayName": "in parts"});
            }
            message.to_string()
        })
        .collect();
    let url = format!("{base}/ImportSnapshotParts");
    let (code, body) =
        buf_curl_stdin(&[&grpc[..], &[url.as_str()]].concat(), &messages.join("\n")).await;
    assert_eq!(code, 0, "{body}");
    let snapshot: serde_json::Value = serde_json::from_str(&body).unwrap();
    let snapshot = &snapshot["snapshot"];
    assert_eq!(snapshot["itemCount"], "120", "{body}");

    let url = format!("{base}/ExportConfig");
    let (mut token, mut keys, mut pages) = (String::new(), Vec::new(), 0);
    loop {
        let request =
            serde_json::json!({"name": snapshot["name"], "pageSize": 50, "pageToken": token});
        let (code, body) =
            buf_curl_stdin(&[&grpc[..], &[url.as_str()]].concat(), &request.to_string()).await;
        assert_eq!(code, 0, "{body}");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(page["contentHash"], snapshot["contentHash"]);
        let bundle: serde_json::Value =
            serde_json::from_str(page["bundleJson"].as_str().unwrap()).unwrap();
        keys.extend(
            bundle["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["key"].as_str().unwrap().to_owned()),
        );
        pages += 1;
        match page["nextPageToken"].as_str() {
            Some(next) if !next.is_empty() => token = next.to_owned(),
            _ => break,
        }
    }
    assert_eq!((keys.len(), pages), (120, 3));
    assert!(keys.windows(2).all(|k| k[0] < k[1]));
}
