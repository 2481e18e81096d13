//! Storage: one sea-orm connection from a URL, SQLite or PostgreSQL.
//!
//! SQLite is opened in WAL mode with foreign keys on, and the file is created if missing. SQLite
//! allows one writer at a time and fails (rather than waits) when a reading transaction tries to
//! become a writer, so [`Database::begin_write`] serialises this process's writers on SQLite; on
//! PostgreSQL writers run concurrently and rely on row locks.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// How much of an SQLite file each connection maps into memory (address space, not memory used:
/// the pages are the operating system's cache).
const MMAP_BYTES: u64 = 1 << 30;

/// Rows a SQLite query hands from its worker thread to the reader at a time.
const ROW_BUFFER: usize = 1024;

/// Which database engine is behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file: the embedded default.
    Sqlite,
    /// PostgreSQL: for shared and replicated deployments.
    Postgres,
}

impl Backend {
    /// The name reported by `GetServerInfo`.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// A handle on the database, cheap to clone.
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
    backend: Backend,
    write_lock: Option<Arc<Mutex<()>>>,
    statements: Arc<AtomicU64>,
}

/// A transaction that may write. Holds this process's SQLite write slot until it ends.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _slot: Option<OwnedMutexGuard<()>>,
}

impl Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl WriteTxn {
    /// Commits the transaction.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

impl Database {
    /// Connects to `url` (`sqlite://path?mode=rwc` or `postgres://…`). The SQLite file's directory
    /// must exist; the file itself is created.
    pub async fn connect(url: &str) -> Result<Self, DbErr> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        };
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            // A call waits this long for a connection before it is answered UNAVAILABLE: long
            // enough for a burst, short enough that a lost database is reported, not hung on.
            .acquire_timeout(Duration::from_secs(5));
        match backend {
            Backend::Sqlite => {
                options
                    .max_connections(8)
                    .min_connections(1)
                    .map_sqlx_sqlite_opts(|o| {
                        o.create_if_missing(true)
                            .journal_mode(SqliteJournalMode::Wal)
                            .synchronous(SqliteSynchronous::Normal)
                            .foreign_keys(true)
                            .busy_timeout(Duration::from_secs(30))
                            // Reads of large configurations stay in memory: pages are mapped
                            // rather than copied by a system call each, and each connection
                            // caches up to 32 MiB of them (SQLite's default is 2 MiB).
                            .pragma("mmap_size", MMAP_BYTES.to_string())
                            .pragma("cache_size", "-32768")
                            // SQLite runs on a worker thread that hands rows over in batches of
                            // this many (sqlx's default is 50): a read of thousands of rows
                            // wakes the reader and waits for it less often.
                            .row_buffer_size(ROW_BUFFER)
                    });
            }
            Backend::Postgres => {
                options.max_connections(16).min_connections(1);
            }
        }
        let mut conn = sea_orm::Database::connect(options).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        conn.set_metric_callback(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        let write_lock = (backend == Backend::Sqlite).then(|| Arc::new(Mutex::new(())));
        Ok(Self {
            conn,
            backend,
            write_lock,
            statements,
        })
    }

    /// How many SQL statements this handle has run, in and out of transactions: what a use case
    /// costs in round trips to the database.
    pub fn statements(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that may write.
    pub async fn begin_write(&self) -> Result<WriteTxn, DbErr> {
        let slot = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let txn = self.conn.begin().await?;
        Ok(WriteTxn { txn, _slot: slot })
    }

    /// Checks the database answers (for readiness).
    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.execute_unprepared("SELECT 1").await.map(|_| ())
    }

    /// The sea-orm backend, for building statements.
    pub fn db_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Refreshes the planner's statistics of `table` after a large write, on PostgreSQL (where a
    /// table filled in one transaction has none until autovacuum comes by, and the planner then
    /// scans it for what an index would find). On SQLite, whose planner works without them,
    /// nothing. A failure is logged, not returned: the write it follows has committed.
    pub async fn refresh_statistics(&self, table: &str) {
        if self.backend != Backend::Postgres {
            return;
        }
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        if let Err(err) = self
            .conn
            .execute_unprepared(&format!("ANALYZE {quoted}"))
            .await
        {
            tracing::warn!(table, error = %err, "refreshing planner statistics failed");
        }
    }
}

/// Takes a lock named `scope` for the rest of `txn`: on PostgreSQL a transaction-scoped advisory
/// lock (`pg_advisory_xact_lock` on the first eight bytes of the SHA-256 of `scope`), so writers
/// on every replica that name the same scope queue behind each other until commit; on SQLite a
/// no-op, since [`Database::begin_write`] already admits one writer at a time.
pub async fn lock_for_transaction(txn: &WriteTxn, scope: &str) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [sea_orm::Value::from(lock_key(scope))],
    ))
    .await
    .map(|_| ())
}

/// The key of a named lock: the first eight bytes of the SHA-256 of `scope`.
fn lock_key(scope: &str) -> i64 {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(scope.as_bytes());
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(prefix)
}

/// Runs `work` holding the lock named `scope` across processes: on PostgreSQL a session-level
/// advisory lock on a connection of its own, held until `work` ends (so every process sharing the
/// database — another target, another replica — waits its turn, as migrating at start needs);
/// on SQLite, where one process owns the file, `work` alone.
pub async fn with_session_lock<T, E: From<DbErr>>(
    db: &Database,
    scope: &str,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    if db.backend() != Backend::Postgres {
        return work.await;
    }
    use sea_orm::sqlx::Error as Sqlx;
    let sqlx = |e: Sqlx| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
    let key = lock_key(scope);
    let mut held = db
        .conn()
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(sqlx)?;
    sea_orm::sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut *held)
        .await
        .map_err(sqlx)?;
    let result = work.await;
    // If unlocking fails the connection is closed rather than returned to the pool holding it.
    if let Err(e) = sea_orm::sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut *held)
        .await
    {
        tracing::warn!(error = %e, scope, "releasing a session lock failed; closing its connection");
        held.detach();
    }
    result
}

/// True when `err` is a unique-constraint violation (a concurrent insert of the same key).
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// A service store's failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with that key exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The row changed since it was read.
    #[error("{0} was changed concurrently")]
    Conflict(String),
    /// A stored value could not be decoded.
    #[error("stored {0} is corrupt: {1}")]
    Corrupt(&'static str, String),
    /// A value could not be encoded for storing.
    #[error("{0} cannot be encoded for storing: {1}")]
    Unencodable(&'static str, String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl StoreError {
    /// `err` from inserting `what`: [`StoreError::AlreadyExists`] when the key was taken.
    pub fn unique(err: DbErr, what: String) -> Self {
        if is_unique_violation(&err) {
            StoreError::AlreadyExists(what)
        } else {
            StoreError::Db(err)
        }
    }
}

/// A stored JSON column `what` decoded, or [`StoreError::Corrupt`].
pub fn parse_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(what, e.to_string()))
}

/// `value` encoded as JSON for the column `what`, or [`StoreError::Unencodable`]: never an empty
/// string in its place.
pub fn json_of<T: serde::Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unencodable(what, e.to_string()))
}

/// True when `err` says the database cannot be reached (refused or lost connections, a pool that
/// cannot connect, a server shutting down) rather than that a statement failed: the call is
/// answered UNAVAILABLE and may be retried.
pub fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(r) | DbErr::Exec(r) | DbErr::Query(r) => r,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Protocol(_) => true,
        // SQLSTATE class 08 (connection exception) and 57P (operator intervention: the server
        // is shutting down or restarting).
        Sqlx::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}
