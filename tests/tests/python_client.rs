//! The golden scenario as the project's own test, written with the Python client package
//! (`concordat-client`, installed from its wheel by tests/python/setup.sh): it drives the governance part of the golden scenario, DRAFT to APPROVED, then the
//! configuration part (baseline, a trust's variation, effective configs, watch, audit), then the
//! convergence part (snapshots assessed, a variation lapsing, a plan's critical path and P85, a
//! milestone achieved on evidence), then the benefits part (twelve months submitted, validated,
//! accepted and rolled up to 850 reactions, 2,450 bed days and £980,000; a reopened cell), against
//! the server, on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use concordat_e2e::{Options, TestServer, concordat_bin, tests_dir};
use concordat_platform::testkit::TestBackend;

async fn drive(backend: TestBackend) {
    let python = tests_dir().join("python/.venv/bin/python");
    assert!(
        python.exists(),
        "run tests/python/setup.sh first (scripts/test does)"
    );
    let Some(server) = TestServer::start(Options {
        backend,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let output = tokio::process::Command::new(python)
        .arg(tests_dir().join("python/drive_change_request.py"))
        .args(["--target", &server.addr.to_string(), "--concordat"])
        .arg(concordat_bin())
        .arg("--data-dir")
        .arg(server.data_dir.path())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python client failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("ok   [h] CastVote as voter-rt1: BOARD_REVIEW"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "ok   [o] GetEffectiveConfig as engine-rgm: RGT and RGM differ only at sepsis-news2"
        ),
        "{stdout}"
    );
    for step in [
        "ok   [u] the variation lapsed: RGM assessed again, VARIED_EXPIRED",
        "ok   [v] ScheduleConvergencePlan: RGN medicines → RGM medicines; P85 ",
        "ok   [w] ImportSnapshot as engine-rgn, corrected: converged, and its milestone achieved",
        "ok   [x4] GetBenefitRollup QUE 2025/26: 850 reactions, 2,450 bed days, £980,000.00 non-cash-releasing, 100% ",
        "ok   [x5] June reopened (778), resubmitted, returned, validated (778), accepted: 849, £978,847.06; 9 versions",
    ] {
        assert!(stdout.contains(step), "{step} missing from:\n{stdout}");
    }
    assert!(
        stdout
            .trim_end()
            .ends_with("and its benefit rolled up to the ICS"),
        "{stdout}"
    );

    // The command line reads what the scenario left, as a board's digital team would.
    let token = server.token("QUE", &["ics-admin"], "ics-admin");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(concordat_bin())
            .args(args)
            .args(["--server", &format!("http://{}", server.addr)])
            .env("CONCORDAT_TOKEN", &token)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, list, err) = cli(&["cr", "list"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("CR-") && l.contains("APPROVED")),
        "{list}"
    );
    let (code, matrix, err) = cli(&["convergence", "matrix"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = matrix.lines().collect();
    assert!(
        lines[0].starts_with("TRUST")
            && lines[0].contains("MEDICINES")
            && lines[0].ends_with("ALL DOMAINS"),
        "{matrix}"
    );
    for trust in ["RGM", "RGN", "RGT", "RT1"] {
        assert!(
            lines.iter().any(|l| l.starts_with(trust)),
            "{trust} missing:\n{matrix}"
        );
    }
    assert!(matrix.contains("% "), "scores with bands:\n{matrix}");
    let (code, verified, err) = cli(&["audit", "verify"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        verified
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("QUE  yes")),
        "{verified}"
    );
    eprintln!(
        "$ concordat cr list\n{list}$ concordat convergence matrix\n{matrix}$ concordat audit verify\n{verified}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_drives_a_change_request_to_approval_on_sqlite() {
    drive(TestBackend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_drives_a_change_request_to_approval_on_postgres() {
    drive(TestBackend::Postgres).await;
}
