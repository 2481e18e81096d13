//! The Python client package (`clients/python`, `concordat-client`): its generated code is what
//! `proto/` generates now, it type-checks under `mypy --strict`, it builds as a wheel, and — installed
//! from that wheel into a fresh virtual environment — it talks to the server on SQLite and on
//! PostgreSQL: a token provider, `google.rpc` details decoded into `ConcordatError`, one request
//! id on a repeated call, a list read page by page, and a watch resumed after its connection was
//! cut.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use concordat_e2e::world::World;
use concordat_e2e::{Options, Proxy, TestServer, tests_dir};
use concordat_platform::testkit::TestBackend;

fn package() -> PathBuf {
    tests_dir().parent().unwrap().join("clients/python")
}

fn tools() -> PathBuf {
    let python = tests_dir().join("python/.venv/bin/python");
    assert!(
        python.exists(),
        "run tests/python/setup.sh first (scripts/test does)"
    );
    python
}

fn run(command: &mut Command, what: &str) -> String {
    let out = command.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
    text
}

/// Builds the wheel and installs it into a new virtual environment; returns its interpreter.
fn install(dir: &Path) -> PathBuf {
    let wheels = dir.join("dist");
    run(
        Command::new(tools())
            .args(["-m", "build", "--wheel", "--no-isolation", "--outdir"])
            .arg(&wheels)
            .arg(package()),
        "building the wheel",
    );
    let wheel = std::fs::read_dir(&wheels)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .expect("a wheel");
    assert!(
        wheel
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("concordat_client-0.1.0-py3-none-any"),
        "{}",
        wheel.display()
    );
    let venv = dir.join("venv");
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "creating a virtual environment",
    );
    let python = venv.join("bin/python");
    run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .arg(&wheel),
        "installing the wheel",
    );
    python
}

#[test]
fn the_generated_code_is_current_and_type_checks() {
    run(
        Command::new(package().join("generate.sh")).arg("--check"),
        "generate.sh --check",
    );
    let out = run(
        Command::new(tools())
            .args(["-m", "mypy", "src", "tests"])
            .current_dir(package()),
        "mypy --strict",
    );
    assert!(out.contains("Success: no issues found"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wheel_installs_and_drives_the_server_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let python = install(dir.path());
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let Some(server) = TestServer::start(Options {
            backend,
            ..Default::default()
        })
        .await
        else {
            continue;
        };
        let token = server.token("QUE", &["ics-admin"], "ics-admin");
        let issuer = server.person("ics-admin").issuer;
        let out = tokio::process::Command::new(&python)
            .arg(package().join("tests/check_client.py"))
            .args(["--address", &server.addr.to_string(), "--token", &token])
            .args(["--issuer", &issuer])
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("PASS"),
            "{backend:?}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in [
            "ok   WhoAmI through a token provider: ics-admin",
            "ok   bad input raises ConcordatError INVALID_ARGUMENT",
            "ok   a request id sent twice creates once: icss/QUE/designAuthorities/medicines",
            "ok   a new request id is a new request: ALREADY_EXISTS",
            "ok   pages of one:",
        ] {
            assert!(
                stdout.contains(line),
                "{backend:?}: {line} missing from:\n{stdout}"
            );
        }
        watch_resumes(&python, backend).await;
    }
}

/// `Client.watch` through a connection that is cut while a change request is raised: it opens
/// again after its last cursor, so each event comes once and none is missed.
async fn watch_resumes(python: &Path, backend: TestBackend) {
    use tokio::io::AsyncBufReadExt as _;
    let w = World::new(backend).await.unwrap();
    let proxy = Proxy::start(w.s.addr).await;
    let mut watch = tokio::process::Command::new(python)
        .arg(package().join("tests/watch_resume.py"))
        .args([&proxy.addr.to_string(), "QUE"])
        .env("CONCORDAT_TOKEN", w.token("RGT", "da-member", "member-rgt"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut seen: Vec<String> = Vec::new();
    let mut until = async |name: &str, seen: &mut Vec<String>| {
        let found = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                let hit = line.ends_with(name);
                seen.push(line);
                if hit {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(
            found,
            Ok(true),
            "{backend:?}: no event of {name}: {seen:#?}"
        );
    };
    let first = w.change_request(&["RGT"], false).await;
    until(&first, &mut seen).await;
    proxy.cut();
    let second = w.change_request(&["RGT"], false).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    proxy.resume();
    until(&second, &mut seen).await;
    watch.kill().await.unwrap();
    let cursors: Vec<i64> = seen
        .iter()
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let expected: Vec<i64> = (1..=cursors.len() as i64).collect();
    assert_eq!(
        cursors, expected,
        "{backend:?}: each event once, none missed: {seen:#?}"
    );
}
