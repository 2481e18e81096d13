//! Events: a per-service outbox written in the same transaction as the change it announces, and
//! the machinery behind server-streaming `Watch…` RPCs.
//!
//! Each event gets the next sequence number of its outbox. Sequence numbers are allocated under a
//! lock held until commit (a transaction-scoped advisory lock on PostgreSQL; the single writer on
//! SQLite), so events become visible in sequence order and a watcher that has seen `n` never later
//! finds an event below `n`: with several replicas on PostgreSQL, a watcher on any replica sees
//! every event exactly once. A watcher first replays everything after its cursor, then waits for
//! new events: woken at once by commits in this process and, on PostgreSQL, by other replicas'
//! commits too (each event's transaction sends a `NOTIFY` on the outbox's table name, and one
//! `LISTEN` connection per outbox and process wakes its watchers); it also polls at
//! `poll_interval`, in case a notification was lost with a connection. Events older than the retention are pruned; a cursor from before the pruned
//! point is refused with OUT_OF_RANGE and reason `CURSOR_EXPIRED`, telling the client to read the
//! current state again and watch from there.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::Stream;
use sea_orm::sea_query::{Alias, ColumnDef, Expr, ExprTrait, Index, OnConflict, Query, Table};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, FromQueryResult, Statement};
use tokio::sync::{Notify, broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Code;

use crate::db::{Database, WriteTxn};
use crate::error::{ApiError, PLATFORM_DOMAIN};

/// One event as stored and streamed.
#[derive(Debug, Clone, PartialEq, Eq, FromQueryResult)]
pub struct Event {
    /// Position in the outbox; the cursor a watcher resumes after.
    pub seq: i64,
    /// The ICS it belongs to.
    pub ics: String,
    /// The resource it is about (AIP name).
    pub resource: String,
    /// The kind of change, e.g. `changeRequest.approved`.
    pub kind: String,
    /// The encoded resource after the change (the service's proto message).
    pub payload: Vec<u8>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A stream of events for a `Watch…` RPC.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, ApiError>> + Send>>;

/// The stream a server-streaming `Watch…` RPC answers with.
pub type WatchStream<T> = Pin<Box<dyn Stream<Item = Result<T, tonic::Status>> + Send>>;

/// A `Watch…` RPC's response: each item of `items` as the RPC's message by `message`, every
/// failure as its status (the stream ends with it).
pub fn watch_response<E, T>(
    items: impl Stream<Item = Result<E, ApiError>> + Send + 'static,
    message: impl Fn(E) -> Result<T, ApiError> + Send + 'static,
) -> tonic::Response<WatchStream<T>>
where
    T: Send + 'static,
{
    use futures::StreamExt;
    let stream = items.map(move |item| item.and_then(&message).map_err(ApiError::into_status));
    tonic::Response::new(Box::pin(stream))
}

/// One service's outbox table.
#[derive(Clone)]
pub struct Outbox {
    table: &'static str,
    db: Database,
    wake: Arc<Notify>,
    poll_interval: Duration,
    retention: Duration,
    drain: crate::drain::Drain,
    listening: Arc<std::sync::OnceLock<()>>,
    hub: Arc<tokio::sync::OnceCell<broadcast::Sender<Arc<Event>>>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("table", &self.table)
            .finish()
    }
}

/// Creates an outbox table named `table`; call from the owning service's migration.
pub async fn create_outbox_table(
    manager: &sea_orm_migration::SchemaManager<'_>,
    table: &str,
) -> Result<(), DbErr> {
    let col = |n: &str| ColumnDef::new(Alias::new(n));
    manager
        .create_table(
            Table::create()
                .table(Alias::new(table))
                .col(col("seq").big_integer().not_null().primary_key())
                .col(col("ics").string().not_null())
                .col(col("resource").string().not_null())
                .col(col("kind").string().not_null())
                .col(col("payload").blob().not_null())
                .col(col("created_at").timestamp_with_time_zone().not_null())
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name(format!("{table}_ics_seq"))
                .table(Alias::new(table))
                .col(Alias::new("ics"))
                .col(Alias::new("seq"))
                .to_owned(),
        )
        .await
}

#[derive(FromQueryResult)]
struct Seq {
    seq: Option<i64>,
}

impl Outbox {
    /// The outbox stored in `table` (created by the service's migration).
    pub fn new(table: &'static str, db: Database, config: &crate::config::EventsConfig) -> Self {
        Self {
            table,
            db,
            wake: Arc::new(Notify::new()),
            poll_interval: config.poll_interval,
            retention: config.retention,
            drain: crate::drain::Drain::default(),
            listening: Arc::default(),
            hub: Arc::default(),
        }
    }

    /// On PostgreSQL, starts (once) the task that wakes this process's watchers when another
    /// replica commits events: a `LISTEN` on the outbox's table name, reconnected after a second
    /// when its connection is lost (the watchers' polling covers the gap).
    fn listen_for_other_replicas(&self) {
        if self.backend() != DbBackend::Postgres || self.listening.set(()).is_err() {
            return;
        }
        let pool = self.db.conn().get_postgres_connection_pool().clone();
        let (table, wake) = (self.table, self.wake.clone());
        tokio::spawn(async move {
            use sea_orm::sqlx::postgres::PgListener;
            loop {
                let listener = match PgListener::connect_with(&pool).await {
                    Ok(mut l) => l.listen(table).await.map(|()| l),
                    Err(err) => Err(err),
                };
                match listener {
                    Ok(mut l) => loop {
                        match l.try_recv().await {
                            Ok(Some(_)) => wake.notify_waiters(),
                            // The connection was lost and is re-established by the next call;
                            // what was sent meanwhile is found by the next read.
                            Ok(None) => wake.notify_waiters(),
                            Err(err) => {
                                tracing::warn!(outbox = table, error = %err, "outbox LISTEN failed");
                                break;
                            }
                        }
                    },
                    Err(err) => {
                        tracing::warn!(outbox = table, error = %err, "outbox LISTEN failed");
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// This outbox's watchers end with [`crate::drain::Drain::error`] when `drain` starts.
    pub fn with_drain(mut self, drain: crate::drain::Drain) -> Self {
        self.drain = drain;
        self
    }

    fn backend(&self) -> DbBackend {
        self.db.db_backend()
    }

    async fn scalar<C: ConnectionTrait>(&self, c: &C, stmt: Statement) -> Result<i64, DbErr> {
        Ok(Seq::find_by_statement(stmt)
            .one(c)
            .await?
            .and_then(|s| s.seq)
            .unwrap_or(0))
    }

    async fn watermark<C: ConnectionTrait>(&self, c: &C) -> Result<i64, DbErr> {
        let stmt = Query::select()
            .expr_as(Expr::col(Alias::new("pruned_through")), Alias::new("seq"))
            .from(Alias::new("outbox_watermarks"))
            .and_where(Expr::col(Alias::new("outbox")).eq(self.table))
            .to_owned();
        self.scalar(c, self.backend().build(&stmt)).await
    }

    /// Appends an event inside `txn`; it becomes visible when the transaction commits. Commit with
    /// [`Outbox::commit`] so this process's watchers wake at once.
    pub async fn append(
        &self,
        txn: &WriteTxn,
        ics: &str,
        resource: &str,
        kind: &str,
        payload: Vec<u8>,
        time: DateTime<Utc>,
    ) -> Result<i64, DbErr> {
        // Held until commit: sequence numbers commit in order across replicas.
        crate::db::lock_for_transaction(txn, self.table).await?;
        let max = Query::select()
            .expr_as(Expr::col(Alias::new("seq")).max(), Alias::new("seq"))
            .from(Alias::new(self.table))
            .to_owned();
        let last = self.scalar(&**txn, self.backend().build(&max)).await?;
        let seq = std::cmp::max(last, self.watermark(&**txn).await?) + 1;
        let insert = Query::insert()
            .into_table(Alias::new(self.table))
            .columns(["seq", "ics", "resource", "kind", "payload", "created_at"].map(Alias::new))
            .values_panic([
                seq.into(),
                ics.into(),
                resource.into(),
                kind.into(),
                payload.into(),
                time.into(),
            ])
            .to_owned();
        txn.execute(&insert).await?;
        if self.backend() == DbBackend::Postgres {
            // Delivered when the transaction commits, once however many events it holds.
            txn.execute_unprepared(&format!("NOTIFY {}", self.table))
                .await?;
        }
        Ok(seq)
    }

    /// Commits `txn` and wakes this process's watchers.
    pub async fn commit(&self, txn: WriteTxn) -> Result<(), DbErr> {
        txn.commit().await?;
        self.wake.notify_waiters();
        Ok(())
    }

    /// Events of `ics` after `cursor`, oldest first, at most `limit`.
    pub async fn read(&self, ics: &str, cursor: i64, limit: u64) -> Result<Vec<Event>, DbErr> {
        self.read_of(Some(ics), cursor, limit).await
    }

    /// Events of `ics` (`None`: of every ICS) after `cursor`, oldest first, at most `limit`.
    async fn read_of(
        &self,
        ics: Option<&str>,
        cursor: i64,
        limit: u64,
    ) -> Result<Vec<Event>, DbErr> {
        let mut select = Query::select()
            .columns(["seq", "ics", "resource", "kind", "payload", "created_at"].map(Alias::new))
            .from(Alias::new(self.table))
            .and_where(Expr::col(Alias::new("seq")).gt(cursor))
            .order_by(Alias::new("seq"), sea_orm::sea_query::Order::Asc)
            .limit(limit)
            .to_owned();
        if let Some(ics) = ics {
            select.and_where(Expr::col(Alias::new("ics")).eq(ics));
        }
        Event::find_by_statement(self.backend().build(&select))
            .all(self.db.conn())
            .await
    }

    /// The newest sequence number, for clients that want to watch from "now".
    pub async fn head(&self) -> Result<i64, DbErr> {
        let max = Query::select()
            .expr_as(Expr::col(Alias::new("seq")).max(), Alias::new("seq"))
            .from(Alias::new(self.table))
            .to_owned();
        let last = self
            .scalar(self.db.conn(), self.backend().build(&max))
            .await?;
        Ok(std::cmp::max(last, self.watermark(self.db.conn()).await?))
    }

    /// Streams events of `ics` after `cursor`: first the backlog, then new events as they commit.
    /// Fails at once with `CURSOR_EXPIRED` when events after `cursor` were already pruned.
    pub async fn watch(&self, ics: String, cursor: i64) -> Result<EventStream, ApiError> {
        let pruned = self.watermark(self.db.conn()).await?;
        if cursor < pruned {
            return Err(ApiError::new(
                Code::OutOfRange,
                PLATFORM_DOMAIN,
                "CURSOR_EXPIRED",
                format!(
                    "events up to {pruned} were pruned after the retention period: read the \
                     current state again and watch from its cursor"
                ),
            )
            .with_metadata("pruned_through", pruned.to_string()));
        }
        let mut hub = self.hub().await?.subscribe();
        let (tx, rx) = mpsc::channel(64);
        let outbox = self.clone();
        tokio::spawn(async move {
            let mut cursor = cursor;
            // Subscribed before reading: what commits meanwhile is either read here or heard.
            if !outbox.replay(&ics, &mut cursor, &tx).await {
                return;
            }
            loop {
                tokio::select! {
                    heard = hub.recv() => match heard {
                        Ok(event) if event.ics == ics && event.seq > cursor => {
                            cursor = event.seq;
                            if tx.send(Ok((*event).clone())).await.is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                        // Too far behind the others: read what was missed.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            if !outbox.replay(&ics, &mut cursor, &tx).await {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    },
                    _ = tx.closed() => return,
                    _ = outbox.drain.started() => {
                        let _ = tx.send(Err(crate::drain::Drain::error())).await;
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    /// Sends the events of `ics` after `cursor` from the table, moving `cursor`; false when the
    /// watcher is gone or the read failed (the error sent).
    async fn replay(
        &self,
        ics: &str,
        cursor: &mut i64,
        tx: &mpsc::Sender<Result<Event, ApiError>>,
    ) -> bool {
        loop {
            match self.read(ics, *cursor, 256).await {
                Ok(events) => {
                    let more = events.len() == 256;
                    for event in events {
                        *cursor = event.seq;
                        if tx.send(Ok(event)).await.is_err() {
                            return false;
                        }
                    }
                    if !more {
                        return true;
                    }
                }
                Err(err) => {
                    let _ = tx.send(Err(ApiError::internal(err))).await;
                    return false;
                }
            }
        }
    }

    /// This process's one reader of the outbox: it reads new events once, whoever watches, and
    /// broadcasts them to every watcher. Woken by this process's commits and (on PostgreSQL)
    /// other replicas' notifications, and polling at `poll_interval`. Started by the first watch.
    async fn hub(&self) -> Result<&broadcast::Sender<Arc<Event>>, ApiError> {
        self.listen_for_other_replicas();
        self.hub
            .get_or_try_init(|| async {
                let mut cursor = self.head().await?;
                let (sender, _) = broadcast::channel(1024);
                let (outbox, out) = (self.clone(), sender.clone());
                tokio::spawn(async move {
                    loop {
                        let woken = outbox.wake.notified();
                        tokio::pin!(woken);
                        woken.as_mut().enable();
                        match outbox.read_of(None, cursor, 256).await {
                            Ok(events) if !events.is_empty() => {
                                for event in events {
                                    cursor = event.seq;
                                    // No watcher at the moment is not an error.
                                    let _ = out.send(Arc::new(event));
                                }
                                continue;
                            }
                            Ok(_) => {}
                            Err(err) => {
                                tracing::warn!(outbox = outbox.table, error = %err, "outbox read failed");
                            }
                        }
                        tokio::select! {
                            _ = &mut woken => {}
                            _ = tokio::time::sleep(outbox.poll_interval) => {}
                            _ = outbox.drain.started() => return,
                        }
                    }
                });
                Ok::<_, ApiError>(sender)
            })
            .await
    }

    /// Deletes events older than the retention and records the highest pruned sequence.
    pub async fn prune(&self) -> Result<u64, DbErr> {
        let cutoff = Utc::now()
            - chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(7));
        self.prune_before(cutoff).await
    }

    /// Deletes events written before `cutoff` (see [`Outbox::prune`]).
    pub async fn prune_before(&self, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
        let txn = self.db.begin_write().await?;
        let max = Query::select()
            .expr_as(Expr::col(Alias::new("seq")).max(), Alias::new("seq"))
            .from(Alias::new(self.table))
            .and_where(Expr::col(Alias::new("created_at")).lt(cutoff))
            .to_owned();
        let through = self.scalar(&*txn, self.backend().build(&max)).await?;
        if through == 0 {
            return Ok(0);
        }
        let delete = Query::delete()
            .from_table(Alias::new(self.table))
            .and_where(Expr::col(Alias::new("seq")).lte(through))
            .to_owned();
        let deleted = txn.execute(&delete).await?.rows_affected();
        let upsert = Query::insert()
            .into_table(Alias::new("outbox_watermarks"))
            .columns([Alias::new("outbox"), Alias::new("pruned_through")])
            .values_panic([self.table.into(), through.into()])
            .on_conflict(
                OnConflict::column(Alias::new("outbox"))
                    .update_column(Alias::new("pruned_through"))
                    .to_owned(),
            )
            .to_owned();
        txn.execute(&upsert).await?;
        txn.commit().await?;
        Ok(deleted)
    }

    /// Prunes every hour until the process ends.
    pub fn spawn_pruner(&self) {
        let outbox = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                match outbox.prune().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(outbox = outbox.table, events = n, "events pruned"),
                    Err(err) => {
                        tracing::warn!(outbox = outbox.table, error = %err, "pruning failed")
                    }
                }
            }
        });
    }
}
