//! The command-line client run as a user runs it, against a server: `whoami` and `cr list` as a
//! table, as the API response's proto JSON, as YAML and as CSV; a refused call printing its code, reason
//! and field violations with exit status 2; no token, exit status 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use concordat_e2e::concordat_bin;
use concordat_e2e::world::World;
use concordat_platform::both_backends;
use concordat_platform::testkit::TestBackend;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn concordat(w: &World, token: Option<&str>, args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(concordat_bin());
    command
        .args(args)
        .args(["--server", &format!("http://{}", w.s.addr)])
        .env_remove("CONCORDAT_TOKEN")
        .env("NO_COLOR", "1");
    if let Some(token) = token {
        command.env("CONCORDAT_TOKEN", token);
    }
    let out = command.output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn the_client_commands_print_tables_json_csv_and_refusals(backend: TestBackend) {
    let Some(w) = World::new(backend).await else {
        return;
    };
    let cr = w.change_request(&["RGT"], true).await;
    let token = w.token("RGT", "da-member", "member-rgt");

    let who = concordat(&w, Some(&token), &["whoami"]).await;
    assert_eq!(who.code, 0, "{}", who.stderr);
    let lines: Vec<&str> = who.stdout.lines().collect();
    assert!(lines[0].starts_with("ISSUER"), "{}", who.stdout);
    assert!(
        lines[1].contains("member-rgt") && lines[1].contains("da-member"),
        "{}",
        who.stdout
    );

    let json = concordat(&w, Some(&token), &["whoami", "-o", "json"]).await;
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["principal"]["subject"], "member-rgt");
    assert_eq!(value["principal"]["kind"], "PRINCIPAL_KIND_PERSON");

    let table = concordat(&w, Some(&token), &["cr", "list"]).await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("NUMBER") && lines[0].contains("STATE") && lines[0].contains("TITLE"),
        "{}",
        table.stdout
    );
    assert_eq!(lines.len(), 2, "{}", table.stdout);
    assert!(
        lines[1].starts_with("CR-") && lines[1].contains("APPROVED"),
        "{}",
        table.stdout
    );

    let json = concordat(&w, Some(&token), &["cr", "list", "-o", "json"]).await;
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(value["changeRequests"][0]["name"], cr.as_str());
    assert_eq!(value["changeRequests"][0]["state"], "STATE_APPROVED");

    let yaml = concordat(&w, Some(&token), &["cr", "list", "-o", "yaml"]).await;
    assert_eq!(yaml.code, 0, "{}", yaml.stderr);
    assert!(
        yaml.stdout.starts_with("changeRequests:\n"),
        "{}",
        yaml.stdout
    );
    assert!(
        yaml.stdout.contains(&format!("name: {cr}\n")),
        "{}",
        yaml.stdout
    );
    assert!(
        yaml.stdout.contains("state: STATE_APPROVED\n"),
        "{}",
        yaml.stdout
    );

    let csv = concordat(
        &w,
        Some(&token),
        &["cr", "list", "-o", "csv", "--filter", "state = APPROVED"],
    )
    .await;
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(lines[0], "NUMBER,STATE,TRUST,DOMAIN,UPDATED,TITLE");
    assert_eq!(lines.len(), 2, "{}", csv.stdout);
    assert!(
        lines[1].starts_with("CR-") && lines[1].contains(",APPROVED,"),
        "{}",
        csv.stdout
    );

    let empty = concordat(
        &w,
        Some(&token),
        &["cr", "list", "--filter", "state = DRAFT"],
    )
    .await;
    assert_eq!(
        empty.stdout.lines().count(),
        1,
        "the header alone: {}",
        empty.stdout
    );

    let bad = concordat(
        &w,
        Some(&token),
        &["cr", "list", "--filter", "state = BOGUS"],
    )
    .await;
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("error: InvalidArgument:"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("reason: INVALID_ARGUMENT"),
        "{}",
        bad.stderr
    );
    assert!(
        bad.stderr.contains("\n  filter: unknown state `BOGUS`"),
        "{}",
        bad.stderr
    );

    let none = concordat(&w, None, &["whoami"]).await;
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("CONCORDAT_TOKEN"), "{}", none.stderr);
}

both_backends!(
    client_commands,
    the_client_commands_print_tables_json_csv_and_refusals
);

/// Reads a running watch's stdout until a line with `needle` (its stderr in the failure).
async fn next_line_with(
    watch: &mut tokio::process::Child,
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    seen: &mut Vec<String>,
    needle: &str,
) {
    let found = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    if found != Ok(true) {
        let _ = watch.kill().await;
        let mut stderr = String::new();
        let _ =
            tokio::io::AsyncReadExt::read_to_string(&mut watch.stderr.take().unwrap(), &mut stderr)
                .await;
        panic!("no line with {needle} ({found:?}): {seen:#?}\nstderr: {stderr}");
    }
}

async fn a_watch_resumes_after_its_connection_is_lost(backend: TestBackend) {
    use tokio::io::AsyncBufReadExt as _;
    let Some(w) = World::new(backend).await else {
        return;
    };
    let proxy = concordat_e2e::Proxy::start(w.s.addr).await;
    let token = w.token("RGT", "da-member", "member-rgt");
    let mut watch = tokio::process::Command::new(concordat_bin())
        .args(["cr", "watch", "-o", "json", "--server"])
        .arg(format!("http://{}", proxy.addr))
        .env("CONCORDAT_TOKEN", &token)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();

    let first = w.change_request(&["RGT"], false).await;
    next_line_with(&mut watch, &mut lines, &mut seen, &first).await;

    // The connection is lost; while it is down another change request is raised.
    proxy.cut();
    let second = w.change_request(&["RGT"], false).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    proxy.resume();
    next_line_with(&mut watch, &mut lines, &mut seen, &second).await;
    watch.kill().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut watch.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(
        stderr.contains("connection lost; resuming from cursor"),
        "{stderr}"
    );

    // Each event once, in order, and none missed: the same cursors as a replay from the start.
    let cursors: Vec<i64> = seen
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["cursor"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert!(cursors.windows(2).all(|p| p[0] < p[1]), "{cursors:?}");
    let replay = concordat(
        &w,
        Some(&token),
        &[
            "cr",
            "watch",
            "-o",
            "json",
            "--count",
            &cursors.len().to_string(),
        ],
    )
    .await;
    assert_eq!(replay.code, 0, "{}", replay.stderr);
    let replayed: Vec<i64> = replay
        .stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["cursor"].as_str().unwrap().parse().unwrap()
        })
        .collect();
    assert_eq!(cursors, replayed);
}

both_backends!(watch_resumes, a_watch_resumes_after_its_connection_is_lost);

/// `concordat login`: a development token, then a pasted one, kept per server in a file only
/// its owner can read; a file others can read is refused; `logout` forgets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_keeps_a_token_per_server_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let Some(w) = World::new(TestBackend::Sqlite).await else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let credentials = home.path().join("concordat").join("credentials.json");
    let server = format!("http://{}", w.s.addr);
    let run = |args: Vec<String>, stdin: Option<String>| {
        let credentials = credentials.clone();
        async move {
            let mut command = tokio::process::Command::new(concordat_bin());
            command
                .args(&args)
                .env_remove("CONCORDAT_TOKEN")
                .env("CONCORDAT_CREDENTIALS", &credentials)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            let mut child = command.spawn().unwrap();
            let mut input = child.stdin.take().unwrap();
            if let Some(text) = stdin {
                tokio::io::AsyncWriteExt::write_all(&mut input, text.as_bytes())
                    .await
                    .unwrap();
            }
            drop(input);
            let out = child.wait_with_output().await.unwrap();
            Run {
                code: out.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }
    };
    let args = |list: &[&str]| -> Vec<String> {
        list.iter()
            .map(|s| s.to_string())
            .chain(["--server".to_owned(), server.clone()])
            .collect()
    };
    let data_dir = w.s.data_dir.path().display().to_string();

    let before = run(args(&["whoami"]), None).await;
    assert_eq!(before.code, 2);
    assert!(
        before.stderr.contains("concordat login"),
        "{}",
        before.stderr
    );

    let login = run(
        args(&[
            "login",
            "--dev",
            "--data-dir",
            &data_dir,
            "--trust",
            "RGT",
            "--role",
            "da-member",
            "--subject",
            "voter-rgt",
        ]),
        None,
    )
    .await;
    assert_eq!(login.code, 0, "{}", login.stderr);
    assert!(login.stderr.contains("as voter-rgt"), "{}", login.stderr);
    let mode = std::fs::metadata(&credentials)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let who = run(args(&["whoami"]), None).await;
    assert_eq!(who.code, 0, "{}", who.stderr);
    assert!(who.stdout.contains("voter-rgt"), "{}", who.stdout);
    // Another server's token is not this one's.
    let elsewhere = run(
        vec![
            "whoami".into(),
            "--server".into(),
            "http://127.0.0.1:9".into(),
        ],
        None,
    )
    .await;
    assert_eq!(elsewhere.code, 2);
    assert!(
        elsewhere.stderr.contains("no token"),
        "{}",
        elsewhere.stderr
    );

    std::fs::set_permissions(&credentials, std::fs::Permissions::from_mode(0o644)).unwrap();
    let exposed = run(args(&["whoami"]), None).await;
    assert_eq!(exposed.code, 2);
    assert!(
        exposed.stderr.contains("can be read by others"),
        "{}",
        exposed.stderr
    );

    // A pasted token replaces it (and the file is owner-only again).
    let pasted = w.token("RGM", "trust-digital-lead", "lead-rgm");
    let login = run(
        args(&["login", "--token-stdin"]),
        Some(format!("{pasted}\n")),
    )
    .await;
    assert_eq!(login.code, 0, "{}", login.stderr);
    let mode = std::fs::metadata(&credentials)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let who = run(args(&["whoami", "-o", "json"]), None).await;
    let value: serde_json::Value = serde_json::from_str(&who.stdout).unwrap();
    assert_eq!(value["principal"]["subject"], "lead-rgm");

    // A token the server refuses is not kept.
    let refused = run(
        args(&["login", "--token-stdin"]),
        Some("not-a-token\n".into()),
    )
    .await;
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.contains("the server refused the token")
            && refused.stderr.contains("reason:"),
        "{}",
        refused.stderr
    );
    let still = run(args(&["whoami"]), None).await;
    assert!(still.stdout.contains("lead-rgm"), "{}", still.stdout);

    let logout = run(args(&["logout"]), None).await;
    assert_eq!(logout.code, 0, "{}", logout.stderr);
    let after = run(args(&["whoami"]), None).await;
    assert_eq!(after.code, 2);
    assert!(after.stderr.contains("no token"), "{}", after.stderr);
}

/// Shell completions load in bash and name the client commands; every command's help has an
/// example.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_load_in_bash_and_every_command_has_an_example() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("concordat.bash");
    let out = tokio::process::Command::new(concordat_bin())
        .args(["completions", "bash"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&script, &out.stdout).unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for word in [
        "convergence",
        "benefits",
        "sign-off",
        "--choice",
        "safety-critical",
    ] {
        assert!(text.contains(word), "{word} not in the completions");
    }
    let loaded = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}' && complete -p concordat",
            script.display()
        ))
        .output()
        .await
        .unwrap();
    assert!(
        loaded.status.success(),
        "{}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    assert!(String::from_utf8_lossy(&loaded.stdout).contains("concordat"));
    for shell in ["zsh", "fish"] {
        let out = tokio::process::Command::new(concordat_bin())
            .args(["completions", shell])
            .output()
            .await
            .unwrap();
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}");
    }
    for command in [
        &["cr", "create"][..],
        &["config", "diff"],
        &["benefits", "measurements", "submit"],
        &["convergence", "matrix"],
    ] {
        let help = tokio::process::Command::new(concordat_bin())
            .args(command)
            .arg("--help")
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(
            text.contains(&format!("Example:\n  concordat {}", command.join(" "))),
            "{text}"
        );
    }
}

/// The tables in a real terminal (tmux): the header bold, columns aligned; with `NO_COLOR`
/// no escape codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_in_a_terminal_have_a_bold_header_and_aligned_columns() {
    let Some(w) = World::new(TestBackend::Sqlite).await else {
        return;
    };
    w.change_request(&["RGT", "RGM"], true).await;
    let token = w.token("RGT", "da-member", "member-rgt");
    let socket = format!("concordat-{}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(["-L", &socket])
            .args(args)
            .output()
            .expect("tmux is installed by scripts/test")
    };
    let bin = concordat_bin().display().to_string();
    let server = format!("http://{}", w.s.addr);
    for (session, no_colour) in [("colour", false), ("plain", true)] {
        let script = format!(
            "{}{bin} cr list --server {server}; {bin} convergence matrix --server {server}; echo DONE; sleep 60",
            if no_colour { "export NO_COLOR=1; " } else { "" }
        );
        let started = tmux(&[
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "160",
            "-y",
            "40",
            "-e",
            &format!("CONCORDAT_TOKEN={token}"),
            &script,
        ]);
        assert!(
            started.status.success(),
            "{}",
            String::from_utf8_lossy(&started.stderr)
        );
        let mut screen = String::new();
        for _ in 0..100 {
            let captured = tmux(&["capture-pane", "-p", "-e", "-t", session]);
            screen = String::from_utf8_lossy(&captured.stdout).into_owned();
            if screen.contains("DONE") {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        tmux(&["kill-session", "-t", session]);
        assert!(screen.contains("DONE"), "{screen}");
        let raw_header = screen
            .lines()
            .find(|l| l.contains("NUMBER"))
            .unwrap()
            .to_owned();
        let screen = strip_escapes(&screen);
        let lines: Vec<&str> = screen.lines().collect();
        let header = lines.iter().find(|l| l.contains("NUMBER")).unwrap();
        let row = lines
            .iter()
            .find(|l| l.starts_with("CR-"))
            .unwrap_or_else(|| panic!("{screen}"));
        if no_colour {
            assert!(!raw_header.contains('\x1b'), "{raw_header:?}");
        } else {
            assert!(raw_header.starts_with("\x1b[1mNUMBER"), "{raw_header:?}");
        }
        let plain = header;
        for column in ["STATE", "TRUST", "DOMAIN", "UPDATED", "TITLE"] {
            let at = plain.find(column).unwrap();
            assert!(
                row[..at].ends_with("  ") && !row[at..].starts_with(' '),
                "{column} not aligned:\n{plain}\n{row}"
            );
        }
        assert!(row.contains("APPROVED"), "{row}");
        assert!(lines.iter().any(|l| l.contains("ALL DOMAINS")), "{screen}");
    }
    let _ = tmux(&["kill-server"]);
}

/// `text` without its terminal escape sequences (`ESC [ … letter`).
fn strip_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `concordat login --issuer`: a token by the client-credentials grant from a real OIDC provider,
/// accepted by the server as the service it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_by_client_credentials_keeps_a_service_token() {
    let rgt = concordat_e2e::OidcProvider::start("RS256", "rgt-1", 0).await;
    let server = concordat_e2e::TestServer::start(concordat_e2e::Options {
        federation: Some(concordat_e2e::two_issuers(
            &rgt.issuer,
            "http://127.0.0.1:9",
            &["RGT", "RGM"],
        )),
        dev_issuer: false,
        ..Default::default()
    })
    .await
    .unwrap();
    let home = tempfile::tempdir().unwrap();
    let secret = home.path().join("secret");
    std::fs::write(&secret, "svc-rgt-secret\n").unwrap();
    let url = format!("http://{}", server.addr);
    let credentials = home.path().join("credentials.json");
    let run = |args: &[&str]| {
        std::process::Command::new(concordat_bin())
            .args(args)
            .args(["--server", &url])
            .env_remove("CONCORDAT_TOKEN")
            .env("CONCORDAT_CREDENTIALS", &credentials)
            .output()
            .unwrap()
    };
    let secret_path = secret.display().to_string();
    let login = run(&[
        "login",
        "--issuer",
        &rgt.issuer,
        "--client-id",
        "svc-rgt",
        "--client-secret-file",
        &secret_path,
    ]);
    assert!(
        login.status.success(),
        "{}",
        String::from_utf8_lossy(&login.stderr)
    );
    let who = run(&["whoami", "-o", "json"]);
    let value: serde_json::Value = serde_json::from_slice(&who.stdout).unwrap();
    assert_eq!(value["principal"]["subject"], "svc-rgt");
    assert_eq!(value["principal"]["kind"], "PRINCIPAL_KIND_SERVICE");
    assert_eq!(value["principal"]["issuer"], rgt.issuer.as_str());

    std::fs::write(&secret, "wrong").unwrap();
    let refused = run(&[
        "login",
        "--issuer",
        &rgt.issuer,
        "--client-id",
        "svc-rgt",
        "--client-secret-file",
        &secret_path,
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains(&rgt.issuer),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// The README's whole tour with the command line (tests/cli/tour.sh, the same commands as the
/// README's "With the command line:" blocks), against the server, run twice to show the steps
/// can be repeated.
async fn the_readme_tour_runs_with_the_command_line(backend: TestBackend) {
    let Some(s) = concordat_e2e::TestServer::start(concordat_e2e::Options {
        backend,
        ..Default::default()
    })
    .await
    else {
        return;
    };
    for run in 1..=2 {
        let output = tokio::process::Command::new(concordat_e2e::tests_dir().join("cli/tour.sh"))
            .arg(s.addr.to_string())
            .arg(concordat_bin())
            .arg(s.data_dir.path())
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "run {run}:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            stdout.trim_end().lines().last(),
            Some("PASS"),
            "run {run}: {stdout}"
        );
        assert!(
            !stdout.contains("\nnote"),
            "run {run}: a step was stepped around:\n{stdout}"
        );
    }
}

both_backends!(readme_tour, the_readme_tour_runs_with_the_command_line);
