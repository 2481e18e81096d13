//! The Python client package (`clients/python`, `concordat-client`): its generated code is what
//! `proto/` generates now, it type-checks under `mypy --strict`, it builds as a wheel, and — installed
//! from that wheel into a fresh virtual environment — it talks to the server on SQLite and on
//! PostgreSQL: a token provider, `google.rpc` details decoded into `ConcordatError`, one request
//! id on a repeated call, and a list read page by page.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use concordat_e2e::{Options, TestServer, tests_dir};
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
    }
}
