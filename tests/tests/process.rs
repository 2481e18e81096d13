//! The whole server as a process: `concordat serve` on free ports with a temporary data
//! directory, called through gRPC, stopped with SIGTERM; and the binary's refusals of wrong
//! configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use concordat_e2e::{Bearer, concordat_bin, free_port, wait_serving};
use concordat_proto::platform::v1 as pb;
use tokio::process::Command;
use tonic::transport::Channel;

/// `concordat serve` on free ports with a fresh data directory.
struct Served {
    child: tokio::process::Child,
    grpc: String,
    metrics: String,
    data: tempfile::TempDir,
}

/// Starts `concordat serve` with `args` and the environment `envs` added (its own development
/// issuer on a free port).
fn serve(args: &[&str], envs: &[(&str, &str)]) -> Served {
    let data = tempfile::tempdir().unwrap();
    let (grpc, metrics) = (
        format!("127.0.0.1:{}", free_port()),
        format!("127.0.0.1:{}", free_port()),
    );
    let child = Command::new(concordat_bin())
        .args([
            "serve",
            "--listen",
            &grpc,
            "--metrics-listen",
            &metrics,
            "--data-dir",
        ])
        .arg(data.path())
        .args(args)
        .env("CONCORDAT_DEV_ISSUER__LISTEN", "127.0.0.1:0")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    Served {
        child,
        grpc,
        metrics,
        data,
    }
}

/// A development token for `da-member` of RGT from the server using `data`.
async fn dev_token(data: &std::path::Path) -> String {
    let out = Command::new(concordat_bin())
        .args([
            "dev",
            "token",
            "--trust",
            "RGT",
            "--role",
            "da-member",
            "--data-dir",
        ])
        .arg(data)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    stdout.lines().last().unwrap().to_owned()
}

async fn connect(addr: &str) -> Channel {
    for _ in 0..200 {
        if let Ok(channel) = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
        {
            return channel;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server at {addr} did not accept connections within 20s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_then_drains_and_exits_zero_on_sigterm() {
    let Served {
        mut child,
        grpc,
        metrics,
        data,
    } = serve(&[], &[]);
    let channel = connect(&grpc).await;
    wait_serving(channel.clone()).await;

    let token = Command::new(concordat_bin())
        .args([
            "dev",
            "token",
            "--trust",
            "RGT",
            "--role",
            "da-member",
            "--data-dir",
        ])
        .arg(data.path())
        .output()
        .await
        .unwrap();
    assert!(token.status.success());
    let stdout = String::from_utf8(token.stdout).unwrap();
    let token = stdout.lines().last().unwrap();
    let mut client = pb::platform_service_client::PlatformServiceClient::with_interceptor(
        channel,
        Bearer::new(token),
    );
    let me = client
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner()
        .principal
        .unwrap();
    assert_eq!((me.trust.as_str(), me.ics.as_str()), ("RGT", "QUE"));
    assert_eq!(me.roles, ["da-member"]);

    let http = openidconnect::reqwest::Client::new();
    let ready = http
        .get(format!("http://{metrics}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let exposition = http
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        exposition.contains(r#"concordat_grpc_requests_total{code="OK",method="WhoAmI""#),
        "{exposition}"
    );

    let pid = child.id().unwrap().to_string();
    let kill = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(kill.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("exits within 30s")
        .unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM drains and exits 0");
    assert!(
        data.path().join("concordat.db").exists(),
        "the SQLite file is in the data directory"
    );
}

async fn refused(args: &[&str]) -> (i32, String) {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(concordat_bin())
        .args(args)
        .env("CONCORDAT_DATA_DIR", data.path())
        .env("CONCORDAT_DEV_ISSUER__LISTEN", "127.0.0.1:0")
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_configuration_exits_non_zero_saying_what_to_fix() {
    let (code, message) = refused(&["serve", "--database-url", "mysql://x/y"]).await;
    assert_eq!(code, 2);
    assert!(message.contains("postgres://"), "{message}");

    let (code, message) = refused(&["serve", "--listen", "0.0.0.0:0"]).await;
    assert_eq!(code, 2);
    assert!(message.contains("allow_non_loopback"), "{message}");

    let (code, message) = refused(&["serve", "--federation", "/nonexistent/federation.toml"]).await;
    assert_eq!(code, 2);
    assert!(message.contains("federation"), "{message}");

    let (code, message) = refused(&["serve", "--target", "billing"]).await;
    assert_eq!(code, 2);
    assert!(message.contains("unknown target `billing`"), "{message}");

    let (code, message) = refused(&["dev", "token", "--role", "da-member"]).await;
    assert_eq!(code, 2);
    assert!(message.contains("--trust"), "{message}");

    let (code, message) = refused(&["dev", "token", "--trust", "RGT", "--role", "root"]).await;
    assert_eq!(code, 2);
    assert!(message.contains("unknown role `root`"), "{message}");

    let (code, message) = refused(&["dev", "token", "--trust", "ZZZ", "--role", "da-member"]).await;
    assert_eq!(code, 2);
    assert!(
        message.contains("ZZZ is not a trust of the federation"),
        "{message}"
    );

    // No server ran with this data directory: no key of a server to sign with.
    let (code, message) = refused(&["dev", "token", "--trust", "RGT", "--role", "da-member"]).await;
    assert_eq!(code, 2);
    assert!(message.contains("start `concordat serve`"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_development_issuers_port_says_which_setting_to_change() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(concordat_bin())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--data-dir",
        ])
        .arg(data.path())
        .env("CONCORDAT_DEV_ISSUER__LISTEN", &addr)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("dev_issuer.listen"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stray_environment_variables_are_ignored_but_misspelt_fields_refused() {
    let data = tempfile::tempdir().unwrap();
    let run = |var: &'static str| {
        let data = data.path().to_path_buf();
        async move {
            Command::new(concordat_bin())
                .arg("migrate")
                .env("CONCORDAT_DATA_DIR", data)
                .env(var, "5s")
                .output()
                .await
                .unwrap()
        }
    };
    let stray = run("CONCORDAT_CACHE_DIR").await;
    assert_eq!(
        stray.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&stray.stderr)
    );
    let typo = run("CONCORDAT_SERVER__REQUEST_TIMOUT").await;
    assert_eq!(typo.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&typo.stderr).contains("request_timout"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_migrations_and_version_prints_the_version() {
    let (code, message) = refused(&["migrate"]).await;
    assert_eq!(code, 0, "{message}");
    let output = Command::new(concordat_bin())
        .arg("version")
        .output()
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("concordat {}", env!("CARGO_PKG_VERSION"))
    );
}

/// The health of `service` on `channel`, as a number of `ServingStatus`.
async fn health_of(channel: &Channel, service: &str) -> i32 {
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .map(|r| r.into_inner().status)
        .unwrap_or(-1)
}

/// The services a server advertises by reflection (v1).
async fn reflected(channel: &Channel) -> Vec<String> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut client = ServerReflectionClient::new(channel.clone());
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
    list.service.into_iter().map(|s| s.name).collect()
}

fn serve_target(
    target: &str,
    grpc: &str,
    data: &std::path::Path,
    upstream: Option<&str>,
) -> tokio::process::Child {
    let metrics = format!("127.0.0.1:{}", free_port());
    let mut command = Command::new(concordat_bin());
    command
        .args([
            "serve",
            "--target",
            target,
            "--listen",
            grpc,
            "--metrics-listen",
            &metrics,
            "--data-dir",
        ])
        .arg(data)
        .env("CONCORDAT_DEV_ISSUER__LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(url) = upstream {
        command.env("CONCORDAT_UPSTREAM__CHANGE_CONTROL", url);
    }
    command.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_apart_serves_once_its_upstream_answers_and_reflects_only_itself() {
    const SERVING: i32 = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    const NOT_SERVING: i32 =
        tonic_health::pb::health_check_response::ServingStatus::NotServing as i32;
    let (cc_data, sc_data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let cc_grpc = format!("127.0.0.1:{}", free_port());
    let sc_grpc = format!("127.0.0.1:{}", free_port());
    let _sc = serve_target(
        "platform,shared-config",
        &sc_grpc,
        sc_data.path(),
        Some(&format!("http://{cc_grpc}")),
    );
    let sc = connect(&sc_grpc).await;
    let platform = "concordat.platform.v1.PlatformService";
    let shared_config = "concordat.sharedconfig.v1.SharedConfigService";
    for _ in 0..200 {
        if health_of(&sc, platform).await == SERVING {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(health_of(&sc, platform).await, SERVING);
    // Change control is not running yet: shared configuration, and the server, wait for it.
    assert_eq!(health_of(&sc, shared_config).await, NOT_SERVING);
    assert_eq!(health_of(&sc, "").await, NOT_SERVING);
    let names = reflected(&sc).await;
    assert!(names.contains(&shared_config.to_owned()), "{names:?}");
    assert!(
        !names.contains(&"concordat.changecontrol.v1.ChangeControlService".to_owned()),
        "a one-target process advertises only what it serves: {names:?}"
    );

    let _cc = serve_target("change-control", &cc_grpc, cc_data.path(), None);
    let mut serving = false;
    for _ in 0..300 {
        if health_of(&sc, shared_config).await == SERVING {
            serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        serving,
        "shared configuration serves once change control answers"
    );
    assert_eq!(health_of(&sc, "").await, SERVING);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_ends_open_watches_at_once_and_readyz_answers_503_until_the_end() {
    use concordat_proto::changecontrol::v1 as cc;
    let Served {
        mut child,
        grpc,
        metrics,
        data,
    } = serve(&[], &[("CONCORDAT_SERVER__SHUTDOWN_GRACE", "4s")]);
    let channel = connect(&grpc).await;
    wait_serving(channel.clone()).await;
    let token = dev_token(data.path()).await;

    // An open watch: it would stream until cancelled.
    let mut watch =
        cc::change_control_service_client::ChangeControlServiceClient::with_interceptor(
            channel.clone(),
            Bearer::new(&token),
        )
        .watch_change_requests(cc::WatchChangeRequestsRequest {
            parent: "icss/QUE".into(),
            cursor: 0,
        })
        .await
        .unwrap()
        .into_inner();

    // A call that never finishes: its request message never comes, so it holds the drain open
    // until the grace period ends, and /readyz can be seen answering while it does.
    let stuck = {
        let channel = channel.clone();
        let token = token.clone();
        tokio::spawn(async move {
            let mut grpc = tonic::client::Grpc::new(channel);
            grpc.ready().await.unwrap();
            let mut request = tonic::Request::new(futures::stream::pending::<bytes::Bytes>());
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let path = http::uri::PathAndQuery::from_static(
                "/concordat.platform.v1.PlatformService/WhoAmI",
            );
            grpc.client_streaming(request, path, concordat_e2e::Raw)
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = child.id().unwrap().to_string();
    let sent = std::time::Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let ended = tokio::time::timeout(Duration::from_secs(2), watch.message())
        .await
        .expect("the watch ends at once, not after the grace period");
    let status = ended.expect_err("the watch ends with a status");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert_eq!(concordat_e2e::reason(&status), "NOT_READY");

    let http = openidconnect::reqwest::Client::new();
    let ready = http
        .get(format!("http://{metrics}/readyz"))
        .send()
        .await
        .expect("the metrics listener stays open while draining");
    assert_eq!(ready.status().as_u16(), 503);
    let body = ready.text().await.unwrap();
    assert!(body.contains("draining"), "{body}");

    let exit = tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .expect("exits after the grace period")
        .unwrap();
    assert_eq!(exit.code(), Some(0));
    assert!(
        sent.elapsed() >= Duration::from_secs(3),
        "the stuck call held the drain"
    );
    stuck.abort();
}

/// `scripts/pg-cluster` with `args`; its stdout.
async fn pg_cluster(args: &[&str]) -> Option<String> {
    let script = concordat_e2e::tests_dir().join("../scripts/pg-cluster");
    let out = Command::new(script).args(args).output().await.ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_lost_while_serving_is_unavailable_then_recovers() {
    use concordat_proto::changecontrol::v1 as cc;
    // A cluster of this test's own: it is stopped and started under the running server.
    let Some(started) = pg_cluster(&["start"]).await else {
        assert!(
            std::env::var("CI").is_err(),
            "under CI the PostgreSQL cluster must start"
        );
        eprintln!("SKIPPED a_database_lost_while_serving: no PostgreSQL outside CI");
        return;
    };
    let field = |name: &str| {
        started
            .split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let (url, dir) = (
        field("CONCORDAT_TEST_DATABASE_URL"),
        field("CONCORDAT_TEST_PG_DIR"),
    );
    let Served {
        mut child,
        grpc,
        metrics,
        data,
    } = serve(&["--database-url", &format!("{url}/postgres")], &[]);
    let channel = connect(&grpc).await;
    wait_serving(channel.clone()).await;
    let token = dev_token(data.path()).await;
    let mut client =
        cc::change_control_service_client::ChangeControlServiceClient::with_interceptor(
            channel.clone(),
            Bearer::new(&token),
        );
    let list = cc::ListDesignAuthoritiesRequest {
        parent: "icss/QUE".into(),
        ..Default::default()
    };
    client.list_design_authorities(list.clone()).await.unwrap();
    let http = openidconnect::reqwest::Client::new();

    pg_cluster(&["pause", &dir]).await.expect("paused");
    // Calls are UNAVAILABLE with RetryInfo, never INTERNAL; health and /readyz say so.
    let mut unavailable = None;
    for _ in 0..40 {
        match client.list_design_authorities(list.clone()).await {
            Err(status) if status.code() == tonic::Code::Unavailable => {
                unavailable = Some(status);
                if health_of(&channel, "").await == 2 {
                    break;
                }
            }
            Err(status) => panic!("while the database is down: {status:?}"),
            Ok(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let status = unavailable.expect("calls became UNAVAILABLE");
    assert!(
        ["NOT_READY", "DATABASE_UNAVAILABLE"].contains(&concordat_e2e::reason(&status).as_str()),
        "{status:?}"
    );
    assert!(
        tonic_types::StatusExt::get_error_details(&status)
            .retry_info()
            .is_some(),
        "{status:?}"
    );
    assert_eq!(health_of(&channel, "").await, 2, "NOT_SERVING");
    let ready = http
        .get(format!("http://{metrics}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.text().await.unwrap().contains("database"));

    pg_cluster(&["resume", &dir]).await.expect("resumed");
    let mut recovered = false;
    for _ in 0..80 {
        if health_of(&channel, "").await == 1
            && client.list_design_authorities(list.clone()).await.is_ok()
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        recovered,
        "health SERVING and calls answered once the database is back"
    );
    let ready = http
        .get(format!("http://{metrics}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);

    let _ = child.kill().await;
    pg_cluster(&["stop", &dir]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_unreachable_at_start_is_waited_for_with_health_not_serving() {
    // Nothing listens on the database's port yet.
    let port = free_port();
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let Served {
        mut child,
        grpc,
        metrics,
        data: _data,
    } = serve(&["--database-url", &url], &[]);
    // The listeners open although the database does not answer.
    let channel = connect(&grpc).await;
    let mut not_serving = false;
    for _ in 0..100 {
        if health_of(&channel, "").await == 2 {
            not_serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        not_serving,
        "health answers NOT_SERVING while the database does not answer"
    );
    let http = openidconnect::reqwest::Client::new();
    let ready = http
        .get(format!("http://{metrics}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.text().await.unwrap().contains("database"));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the process waits, it does not exit"
    );

    // The database comes: the server starts and serves.
    let Some(started) = pg_cluster(&["start", &port.to_string()]).await else {
        let _ = child.kill().await;
        assert!(
            std::env::var("CI").is_err(),
            "under CI the PostgreSQL cluster must start"
        );
        eprintln!("SKIPPED the second half: no PostgreSQL outside CI");
        return;
    };
    let dir = started
        .split_whitespace()
        .find_map(|w| w.strip_prefix("CONCORDAT_TEST_PG_DIR="))
        .unwrap()
        .to_owned();
    let mut serving = false;
    for _ in 0..400 {
        if health_of(&channel, "").await == 1 {
            serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(serving, "SERVING once the database answers");
    let ready = http
        .get(format!("http://{metrics}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let _ = child.kill().await;
    pg_cluster(&["stop", &dir]).await;
}
