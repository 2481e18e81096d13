//! The board report from the golden scenario's data: `concordat report board` renders the PDF and
//! the HTML; the PDF's text (pdftotext) has the golden figures and the change request's number,
//! it is tagged with a title and language and every chart has alt text (qpdf); two renders are
//! byte-identical; the HTML loads in headless Chromium without console errors. Each PDF page
//! (pdftoppm) and a screenshot of the HTML are kept under target/test-artefacts/report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use concordat_e2e::{Options, TestServer, concordat_bin, tests_dir};
use concordat_platform::both_backends;
use concordat_platform::testkit::TestBackend;

fn artefacts(backend: TestBackend) -> PathBuf {
    let dir = tests_dir()
        .parent()
        .unwrap()
        .join("target/test-artefacts/report")
        .join(format!("{backend:?}").to_lowercase());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(command: &mut Command, what: &str) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e} (scripts/test installs it)"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn render(s: &TestServer, token: &str, as_of: &str, out: &Path) -> String {
    let output = Command::new(concordat_bin())
        .args([
            "report", "board", "--fy", "2025/26", "--as-of", as_of, "--out",
        ])
        .arg(out)
        .args(["--server", &format!("http://{}", s.addr)])
        .env("CONCORDAT_TOKEN", token)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

async fn the_board_report_renders_the_golden_scenario(backend: TestBackend) {
    let Some(s) = TestServer::start(Options {
        backend,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    let driver = Command::new(tests_dir().join("python/.venv/bin/python"))
        .arg(tests_dir().join("python/drive_change_request.py"))
        .args(["--target", &s.addr.to_string()])
        .arg("--concordat")
        .arg(concordat_bin())
        .arg("--data-dir")
        .arg(s.data_dir.path())
        .args(["--until", "x4"])
        .output()
        .unwrap();
    assert!(
        driver.status.success(),
        "{}{}",
        String::from_utf8_lossy(&driver.stdout),
        String::from_utf8_lossy(&driver.stderr)
    );
    let dir = artefacts(backend);
    let token = s.token("QUE", &["board-chair"], "board-chair");
    let (pdf, again, html) = (
        dir.join("board.pdf"),
        dir.join("again.pdf"),
        dir.join("board.html"),
    );
    // Dated tomorrow, so that everything the scenario did today is in it.
    let as_of = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let said = render(&s, &token, &as_of, &pdf);
    assert!(said.contains("board.pdf written"), "{said}");
    render(&s, &token, &as_of, &again);
    render(&s, &token, &as_of, &html);
    assert_eq!(
        std::fs::read(&pdf).unwrap(),
        std::fs::read(&again).unwrap(),
        "two renders differ"
    );

    let text = run(
        Command::new("pdftotext")
            .args(["-layout"])
            .arg(&pdf)
            .arg("-"),
        "pdftotext",
    );
    for figure in ["850", "2,450", "£980,000.00", "CR-2026-0001", "2025/26"] {
        assert!(
            text.contains(figure),
            "{figure} not in the PDF's text:\n{text}"
        );
    }
    let info = run(Command::new("pdfinfo").arg(&pdf), "pdfinfo");
    assert!(
        info.lines()
            .any(|l| l.starts_with("Tagged:") && l.ends_with("yes")),
        "{info}"
    );
    assert!(info.contains("programme board report, 2025/26"), "{info}");
    let qdf = dir.join("board.qdf.pdf");
    run(
        Command::new("qpdf")
            .args(["--qdf", "--object-streams=disable"])
            .arg(&pdf)
            .arg(&qdf),
        "qpdf",
    );
    let raw = String::from_utf8_lossy(&std::fs::read(&qdf).unwrap()).into_owned();
    assert!(raw.contains("/StructTreeRoot"), "no structure tree");
    assert!(
        raw.contains("/Lang (en-GB)") || raw.contains("/Lang (en)"),
        "no language"
    );
    let alts = raw.matches("/Alt (").count() + raw.matches("/Alt <").count();
    assert!(alts >= 3, "alt texts on the charts: {alts}");
    for tag in ["/S /Table", "/S /TH", "/S /Figure"] {
        assert!(raw.contains(tag), "{tag} not in the structure tree");
    }
    run(
        Command::new("pdftoppm")
            .args(["-png", "-r", "60"])
            .arg(&pdf)
            .arg(dir.join("page")),
        "pdftoppm",
    );

    let page = std::fs::read_to_string(&html).unwrap();
    for figure in ["850", "2,450", "£980,000.00", "CR-2026-0001"] {
        assert!(page.contains(figure), "{figure} not in the HTML");
    }
    // Self-contained: no scripts, and nothing loaded from anywhere (the SVGs' xmlns is a name).
    for fetch in ["<script", " src=", "href=", "@import", "url("] {
        assert!(!page.contains(fetch), "{fetch} in the HTML");
    }
    let profile = tempfile::tempdir().unwrap();
    let chromium = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,4000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!(
            "--screenshot={}",
            dir.join("board-html.png").display()
        ))
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&chromium.stderr);
    assert!(chromium.status.success(), "{log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(dir.join("board-html.png").exists());
}

both_backends!(board_report, the_board_report_renders_the_golden_scenario);
