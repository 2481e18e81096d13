//! The load scripts (`tests/python/load_*.py`, grpcio clients we did not write in Rust) run end
//! to end at a small size on SQLite and on PostgreSQL: each starts its own server, seeds through
//! the API, checks every read it times, and prints its table. The figures are not asserted (they
//! are measured by running them at size); that each completes with every check passing is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use concordat_e2e::{concordat_bin, tests_dir};

/// Runs `tests/python/{script}` with `args` (and `--postgres URL`), asserts it exits 0, and
/// answers what it printed.
fn script(script: &str, args: &[&str], postgres: Option<&str>) -> String {
    let python = tests_dir().join("python/.venv/bin/python");
    assert!(
        python.exists(),
        "run tests/python/setup.sh first (scripts/test does)"
    );
    let mut cmd = std::process::Command::new(python);
    cmd.arg(tests_dir().join("python").join(script))
        .arg("--concordat")
        .arg(concordat_bin())
        .args(args);
    if let Some(url) = postgres {
        cmd.args(["--postgres", url]);
    }
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    stdout
}

fn run(postgres: Option<String>) {
    let stdout = script(
        "load_shared_config.py",
        &[
            "--items",
            "1500",
            "--trusts",
            "3",
            "--overrides",
            "120",
            "--changeset-items",
            "600",
            "--repeat",
            "1",
            "--readers",
            "3",
        ],
        postgres.as_deref(),
    );
    let backend = if postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    assert!(
        stdout.contains(&format!("{backend}, 1500 items × 3 trusts")),
        "{stdout}"
    );
    for row in [
        "| row read: baseline + RGM overlay rows (plain SQL, 1620 rows) |",
        "| GetEffectiveConfig, first read after seeding (baseline read whole), every page, once |",
        "| GetEffectiveConfig, first read of a revision, every page (median of 1 trust) |",
        "| GetEffectiveConfig, first read after a one-item baseline publish, every page |",
        "| GetEffectiveConfig, the same revision again, every page (4 MiB client limit) |",
        "server memory at the end: heap ",
        "| ExportConfig, every page |",
        "| publish one baseline item (3 effective revisions) |",
        "| DiffEffectiveConfig, adjacent revisions (1 change) |",
        "| 3 concurrent GetEffectiveConfig, one trust each |",
        "| seed: bulk insert of the same rows (one transaction) |",
    ] {
        assert!(stdout.contains(row), "{row} missing from:\n{stdout}");
    }
}

#[test]
fn load_script_runs_on_sqlite() {
    run(None);
}

#[test]
fn load_script_runs_on_postgres() {
    if let Some(url) = concordat_platform::testkit::postgres_server() {
        run(Some(url));
    }
}

/// The convergence load script (`tests/python/load_convergence.py`) runs end to end at a small
/// size: it seeds 12 domains through the API, waits for the follower's assessments and checks
/// each class it built the snapshots to have, then prints its table.
fn run_convergence(postgres: Option<String>) {
    let stdout = script(
        "load_convergence.py",
        &[
            "--items",
            "1200",
            "--trusts",
            "3",
            "--overrides",
            "60",
            "--changeset-items",
            "600",
            "--repeat",
            "1",
        ],
        postgres.as_deref(),
    );
    for row in [
        "1200 items × 3 trusts × 12 domains",
        "| AssessSnapshot of RGM, as of now (not recorded) |",
        "| follower: import answered → assessment recorded (median of 3 trusts) |",
        "| GetConvergenceMatrix, 3 trusts × 12 domains |",
        "| ListDivergences, every page of 1,000 |",
    ] {
        assert!(stdout.contains(row), "{row} missing from:\n{stdout}");
    }
}

#[test]
fn convergence_load_script_runs_on_sqlite() {
    run_convergence(None);
}

#[test]
fn convergence_load_script_runs_on_postgres() {
    if let Some(url) = concordat_platform::testkit::postgres_server() {
        run_convergence(Some(url));
    }
}

/// The board report's load script (`tests/python/load_report.py`) runs end to end at a small
/// size: it seeds convergence, a plan and benefits through the API, runs `concordat report
/// board` for both formats, checks that the renders of each are byte-identical and that the
/// PDF's text holds the first benefit's ICS total, then prints its table.
fn run_report(postgres: Option<String>) {
    let stdout = script(
        "load_report.py",
        &[
            "--items",
            "1200",
            "--trusts",
            "3",
            "--overrides",
            "30",
            "--benefits",
            "4",
            "--snapshots",
            "2",
            "--repeat",
            "2",
        ],
        postgres.as_deref(),
    );
    for row in [
        "3 trusts × 12 domains × 4 benefits (144 accepted cells)",
        "| `report board --out board.pdf` (",
        "| `report board --out board.html` (",
        "| floor: `concordat whoami` (a process and one call) |",
        "| floor: plain SQL read of the rows the report stands on (",
    ] {
        assert!(stdout.contains(row), "{row} missing from:\n{stdout}");
    }
}

#[test]
fn report_load_script_runs_on_sqlite() {
    run_report(None);
}

#[test]
fn report_load_script_runs_on_postgres() {
    if let Some(url) = concordat_platform::testkit::postgres_server() {
        run_report(Some(url));
    }
}
