//! Test kit for this and other crates' tests: a database per test, on SQLite and PostgreSQL.
//!
//! PostgreSQL comes from `CONCORDAT_TEST_DATABASE_URL` when set (a server URL; each test creates
//! its own database in it). Otherwise a throwaway cluster is started once per test process
//! (`initdb` and `pg_ctl` on a free port in a temporary directory, as the `postgres` user when
//! running as root); a watchdog process stops and removes it when the test process exits. Under
//! CI (`CI=true`) a PostgreSQL that cannot start fails the test instead of skipping it.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::db::Database;

/// The two backends every storage test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
}

/// A database for one test; SQLite files are removed when it is dropped.
pub struct TestDb {
    /// The URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

static SERVER: OnceLock<Result<String, String>> = OnceLock::new();

fn pg_bin(name: &str) -> PathBuf {
    for version in ["17", "16", "15", "14"] {
        let path = PathBuf::from(format!("/usr/lib/postgresql/{version}/bin/{name}"));
        if path.exists() {
            return path;
        }
    }
    PathBuf::from(name)
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

fn run_as_postgres(root: bool, cmd: &Path, args: &[&str]) -> Result<(), String> {
    let output = if root {
        let mut line = vec![cmd.display().to_string()];
        line.extend(args.iter().map(|a| a.to_string()));
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(&line)
            .output()
    } else {
        Command::new(cmd).args(args).output()
    }
    .map_err(|e| format!("{}: {e}", cmd.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{} failed: {}{}",
            cmd.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn start_cluster() -> Result<String, String> {
    let root = is_root();
    let dir = std::env::temp_dir().join(format!(
        "concordat-pg-{}-{}",
        std::process::id(),
        free_port()?
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if root {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir)
            .status();
        if !status.map(|s| s.success()).unwrap_or(false) {
            return Err("chown of the cluster directory to postgres failed".into());
        }
    }
    let data = dir.join("data");
    let data_s = data.display().to_string();
    run_as_postgres(
        root,
        &pg_bin("initdb"),
        &[
            "-D",
            &data_s,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
    )?;
    let port = free_port()?;
    let opts = format!(
        "-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={} -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
        dir.display()
    );
    let log = dir.join("pg.log").display().to_string();
    run_as_postgres(
        root,
        &pg_bin("pg_ctl"),
        &["-D", &data_s, "-o", &opts, "-l", &log, "-w", "start"],
    )?;
    // Watchdog: when this test process exits, stop the cluster and remove its directory.
    let pg_ctl = pg_bin("pg_ctl").display().to_string();
    let stop = if root {
        format!("runuser -u postgres -- {pg_ctl} -D {data_s} -m immediate stop")
    } else {
        format!("{pg_ctl} -D {data_s} -m immediate stop")
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}"))
}

/// The PostgreSQL server URL for tests (without a database name), starting a cluster if needed.
/// `None` (skip) only outside CI when no PostgreSQL can be started.
pub fn postgres_server() -> Option<String> {
    let result = SERVER.get_or_init(|| match std::env::var("CONCORDAT_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Ok(url),
        _ => start_cluster(),
    });
    match result {
        Ok(url) => Some(url.clone()),
        Err(err) => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!("PostgreSQL is required under CI but could not start: {err}");
            }
            eprintln!("skipping PostgreSQL: {err}");
            None
        }
    }
}

fn server_base(url: &str) -> String {
    // Strip a database name if the URL has one: postgres://user@host:port[/db][?params]
    let (head, query) = url.split_once('?').map_or((url, ""), |(h, q)| (h, q));
    let after_scheme = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[after_scheme..].find('/') {
        Some(i) => &head[..after_scheme + i],
        None => head,
    };
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

fn with_database(server: &str, db: &str) -> String {
    let base = server_base(server);
    match base.split_once('?') {
        Some((head, query)) => format!("{head}/{db}?{query}"),
        None => format!("{base}/{db}"),
    }
}

impl TestDb {
    /// A fresh, empty database on `backend`; `None` when PostgreSQL is unavailable outside CI.
    pub async fn new(backend: TestBackend) -> Option<Self> {
        match backend {
            TestBackend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                Some(Self {
                    url,
                    _dir: Some(dir),
                })
            }
            TestBackend::Postgres => {
                let server = postgres_server()?;
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&with_database(&server, "postgres"))
                    .await
                    .expect("connect to postgres");
                use sea_orm::ConnectionTrait as _;
                admin
                    .conn()
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.conn().clone().close().await.ok();
                Some(Self {
                    url: with_database(&server, &name),
                    _dir: None,
                })
            }
        }
    }

    /// Connects to it.
    pub async fn connect(&self) -> Database {
        Database::connect(&self.url)
            .await
            .expect("connect to test database")
    }
}

/// Asserts that `permissions` name every RPC of the gRPC service `service` (its full name, e.g.
/// `concordat.changecontrol.v1.ChangeControlService`) exactly: a new RPC is never silently
/// closed, and a typo never opens nothing. Every service's adapter calls it from one test.
pub fn assert_permissions_cover(service: &str, permissions: &[crate::authz::Permission]) {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(concordat_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    let mut rpcs: Vec<String> = set
        .file
        .iter()
        .flat_map(|f| {
            f.service
                .iter()
                .filter(move |s| format!("{}.{}", f.package(), s.name()) == service)
        })
        .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
        .collect();
    assert!(!rpcs.is_empty(), "{service} is not in the descriptor set");
    let mut table: Vec<String> = permissions.iter().map(|p| p.method.to_owned()).collect();
    rpcs.sort();
    table.sort();
    assert_eq!(
        rpcs, table,
        "the permission table of {service} must name each RPC once"
    );
}

/// Asserts that every `(domain, reason)` a service can send is a value of the `ErrorReason` enum
/// of the domain's package (`changecontrol.concordat` → `concordat.changecontrol.v1.ErrorReason`).
/// Every service's adapter calls it with all its reasons.
pub fn assert_reasons_listed(sent: &[(&str, &str)]) {
    use prost::Message as _;
    let set = prost_types::FileDescriptorSet::decode(concordat_proto::FILE_DESCRIPTOR_SET)
        .expect("the descriptor set decodes");
    for (domain, reason) in sent {
        let service = domain.strip_suffix(".concordat").unwrap_or(domain);
        let package = format!("concordat.{service}.v1");
        let listed: Vec<String> = set
            .file
            .iter()
            .filter(|f| f.package() == package)
            .flat_map(|f| f.enum_type.iter())
            .filter(|e| e.name() == "ErrorReason")
            .flat_map(|e| e.value.iter().map(|v| v.name().to_owned()))
            .collect();
        assert!(!listed.is_empty(), "{package} has no ErrorReason enum");
        assert!(
            listed.contains(&format!("ERROR_REASON_{reason}")),
            "{reason} (domain {domain}) is not listed in {package}.ErrorReason"
        );
    }
}

/// Runs a test body once per backend, as two tests `<name>::sqlite` and `<name>::postgres`:
///
/// - `both_backends!(name, body)` calls `body(TestBackend)` (for tests that start a server);
/// - `both_backends!(name, |db| { … })` gives the body a fresh database with the platform's
///   migrations applied.
///
/// Outside CI, where PostgreSQL may be missing, the PostgreSQL case says on stderr that it was
/// skipped; under CI a missing PostgreSQL fails it.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($db: $crate::db::Database) $body

            async fn with(backend: $crate::testkit::TestBackend) {
                let Some(t) = $crate::testkit::TestDb::new(backend).await else {
                    eprintln!("SKIPPED {}::postgres: no PostgreSQL outside CI", stringify!($name));
                    return;
                };
                let db = t.connect().await;
                $crate::migrations::run(&db, &[]).await.unwrap();
                run(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                with($crate::testkit::TestBackend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                with($crate::testkit::TestBackend::Postgres).await;
            }
        }
    };
    ($name:ident, $body:ident) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::testkit::TestBackend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::testkit::postgres_server().is_none() {
                    eprintln!("SKIPPED {}::postgres: no PostgreSQL outside CI", stringify!($name));
                    return;
                }
                $body($crate::testkit::TestBackend::Postgres).await;
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_reason_passes() {
        assert_reasons_listed(&[("platform.concordat", "TRUST_SCOPE")]);
    }

    #[test]
    #[should_panic(expected = "is not listed")]
    fn a_reason_missing_from_the_enum_fails() {
        assert_reasons_listed(&[("changecontrol.concordat", "NOT_AUTHOR")]);
    }

    #[test]
    #[should_panic(expected = "must name each RPC once")]
    fn a_permission_table_missing_an_rpc_fails() {
        assert_permissions_cover("concordat.platform.v1.PlatformService", &[]);
    }
}
