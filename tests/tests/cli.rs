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
