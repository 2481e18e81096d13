//! The one write path: every mutation of every service goes through [`Writer::write`].
//!
//! One call owns a mutation. It opens the write transaction; looks up the caller's `request_id`
//! (a retry gets the first response, decoded from the record); runs the use case's closure, which
//! reads and writes through [`Write::txn`] and says what to audit and announce; appends the audit
//! entry and the outbox events; records the response under the `request_id`; and commits. The
//! response is the gRPC message the handler builds once, inside the closure: the same value is
//! stored for retries and sent.
//!
//! An error rolls everything back. A refusal found inside the closure ([`Write::refuse`]) rolls
//! back too, and is then written alone to the caller's ICS audit chain, so a denial is on record
//! and nothing else of the refused call is.
//!
//! Retries that arrive at the same time queue on a lock named by the request id (a
//! transaction-scoped advisory lock on PostgreSQL; SQLite admits one writer at a time), so the
//! second caller finds the first caller's record instead of racing it to the insert.

use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, SubsecRound as _, Utc};
use sea_orm::{DatabaseTransaction, DbErr};
use tonic::Code;

use crate::audit::{self, Actor, NewEntry};
use crate::authz::{RequestContext, record_denial};
use crate::clock::Clock;
use crate::db::{self, Database, WriteTxn};
use crate::error::{ApiError, PLATFORM_DOMAIN};
use crate::events::Outbox;
use crate::idempotency::{self, Key, Reused};

/// A response that can be stored for retries: any generated gRPC message.
pub trait Reply: prost::Message + Default + Send + 'static {}

impl<T: prost::Message + Default + Send + 'static> Reply for T {}

/// A refusal that a use case finds only inside its transaction (the caller is not the chair, not
/// the requesting trust, …). It is audited on its own after the transaction rolls back.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Refusal {
    /// The `ErrorInfo` domain of the reason.
    pub domain: &'static str,
    /// The reason, from the domain's `ErrorReason` enum.
    pub reason: &'static str,
    /// The resource refused (AIP name).
    pub resource: String,
    /// What the caller is told.
    pub message: String,
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError::permission_denied(refusal.domain, refusal.reason, refusal.message)
    }
}

/// Why the write path itself failed (as opposed to the use case).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// The request id was used before for another method.
    #[error(transparent)]
    RequestIdReused(#[from] Reused),
    /// A stored response no longer decodes.
    #[error("the stored response of a retried request does not decode")]
    StoredReply(#[source] prost::DecodeError),
    /// The request id is not of the documented form.
    #[error("{0}")]
    RequestIdForm(&'static str),
    /// A refusal could not be recorded in the audit chain (the status to send instead).
    #[error("{0}")]
    Unrecorded(ApiError),
    /// The use case kept its [`Write`] beyond the closure.
    #[error("a use case kept its write handle after it returned")]
    Escaped,
    /// The response would pass the message limit; the write was rolled back.
    #[error(
        "the response would be {size} bytes; the server sends at most {limit} bytes (server.max_message_bytes), so nothing was written"
    )]
    ReplyTooLarge {
        /// The encoded response's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl From<WriteError> for ApiError {
    fn from(err: WriteError) -> Self {
        match err {
            WriteError::RequestIdReused(reused) => {
                ApiError::invalid_field(PLATFORM_DOMAIN, "request_id", reused.to_string())
            }
            WriteError::Unrecorded(err) => err,
            WriteError::RequestIdForm(reason) => {
                ApiError::invalid_field(PLATFORM_DOMAIN, "request_id", reason)
            }
            WriteError::ReplyTooLarge { size, limit } => ApiError::new(
                Code::OutOfRange,
                PLATFORM_DOMAIN,
                "RESPONSE_TOO_LARGE",
                err.to_string(),
            )
            .with_metadata("limit_bytes", limit.to_string())
            .with_metadata("size_bytes", size.to_string()),
            other => ApiError::internal(other),
        }
    }
}

/// What the closure asked to record, applied after it returns `Ok`.
#[derive(Default)]
struct Pending {
    audit: Vec<(String, String, String)>,
    events: Vec<(String, String, String, Vec<u8>)>,
    refusal: Option<Refusal>,
}

struct Shared {
    txn: WriteTxn,
    now: DateTime<Utc>,
    pending: Mutex<Pending>,
}

/// A use case's handle on its write: the transaction, the time it acts at, and what to record.
/// Cheap to clone; it must not outlive the closure it was given to.
#[derive(Clone)]
pub struct Write(Arc<Shared>);

impl Write {
    /// The transaction: read and write through it.
    pub fn txn(&self) -> &DatabaseTransaction {
        &self.0.txn
    }

    /// The time this write acts at (from the service's clock, read once when it began), to the
    /// microsecond: what the databases store, so a response and a later read of it agree.
    pub fn now(&self) -> DateTime<Utc> {
        self.0.now
    }

    /// Queues writers naming the same `scope` until this write commits (see
    /// [`db::lock_for_transaction`]).
    pub async fn lock(&self, scope: &str) -> Result<(), DbErr> {
        db::lock_for_transaction(&self.0.txn, scope).await
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        // A panic while the lock was held cannot leave `Pending` half-updated: each method below
        // makes one push or one assignment.
        self.0
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Appends `action` on `resource` to the caller's ICS audit chain when the write commits.
    pub fn audit(&self, action: &str, resource: &str, summary: impl Into<String>) {
        self.pending()
            .audit
            .push((action.to_owned(), resource.to_owned(), summary.into()));
    }

    /// Announces `kind` on `resource` in the service's outbox (for its `Watch…` stream) when the
    /// write commits. `payload` is the encoded resource.
    pub fn event(&self, ics: &str, resource: &str, kind: &str, payload: Vec<u8>) {
        self.pending().events.push((
            ics.to_owned(),
            resource.to_owned(),
            kind.to_owned(),
            payload,
        ));
    }

    /// Refuses the call: returns the refusal for the closure to return as its error. Everything
    /// written so far rolls back; the refusal alone is audited.
    pub fn refuse(
        &self,
        domain: &'static str,
        reason: &'static str,
        resource: &str,
        message: impl Into<String>,
    ) -> Refusal {
        let refusal = Refusal {
            domain,
            reason,
            resource: resource.to_owned(),
            message: message.into(),
        };
        self.pending().refusal = Some(refusal.clone());
        refusal
    }
}

/// The write path of one service.
#[derive(Clone)]
pub struct Writer {
    db: Database,
    outbox: Outbox,
    service: &'static str,
    clock: Clock,
    max_reply_bytes: usize,
}

impl Writer {
    /// Writes of `service` (its idempotency namespace, e.g. `changecontrol`) into `db`, announced
    /// in `outbox`, at the time of `clock`.
    pub fn new(db: Database, outbox: Outbox, service: &'static str, clock: Clock) -> Self {
        Self {
            db,
            outbox,
            service,
            clock,
            max_reply_bytes: usize::MAX,
        }
    }

    /// Writes whose response would be larger than `limit` bytes (the server's message limit) are
    /// rolled back and refused, never committed and then failed in sending.
    #[must_use]
    pub fn with_max_reply_bytes(mut self, limit: usize) -> Self {
        self.max_reply_bytes = limit;
        self
    }

    /// The database, for reads outside a write.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The service's outbox (for its `Watch…` stream).
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// The clock the service acts by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The stored response of an earlier call of `ctx`'s method with `request_id`, read outside any
    /// transaction: for a use case that asks another service before it writes, so that a retry is
    /// answered without asking again. [`Writer::write`] looks again inside its transaction.
    pub async fn replayed<R: Reply>(
        &self,
        ctx: &RequestContext,
        request_id: &str,
    ) -> Result<Option<R>, WriteError> {
        concordat_api::request_id::check(request_id).map_err(WriteError::RequestIdForm)?;
        let subject = ctx.subject_key();
        let key = Key {
            service: self.service,
            subject: &subject,
            request_id,
            method: &ctx.method,
        };
        match idempotency::lookup(self.db.conn(), key).await? {
            Some(Ok(bytes)) => R::decode(bytes.as_slice())
                .map(Some)
                .map_err(WriteError::StoredReply),
            Some(Err(reused)) => Err(WriteError::RequestIdReused(reused)),
            None => Ok(None),
        }
    }

    /// Runs one mutation for `ctx` under `request_id` (empty: no retry protection): see the
    /// module documentation for the steps. `change` gets the [`Write`] and returns the response.
    pub async fn write<R, E, F, Fut>(
        &self,
        ctx: &RequestContext,
        request_id: &str,
        change: F,
    ) -> Result<R, E>
    where
        R: Reply,
        E: From<WriteError> + From<DbErr>,
        F: FnOnce(Write) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        concordat_api::request_id::check(request_id)
            .map_err(|reason| E::from(WriteError::RequestIdForm(reason)))?;
        let subject = ctx.subject_key();
        let key = Key {
            service: self.service,
            subject: &subject,
            request_id,
            method: &ctx.method,
        };
        let txn = self.db.begin_write().await?;
        if !request_id.is_empty() {
            let scope = format!("request:{}:{subject}:{request_id}", self.service);
            db::lock_for_transaction(&txn, &scope).await?;
            match idempotency::lookup(&*txn, key).await? {
                Some(Ok(bytes)) => {
                    return R::decode(bytes.as_slice())
                        .map_err(|e| WriteError::StoredReply(e).into());
                }
                Some(Err(reused)) => return Err(WriteError::RequestIdReused(reused).into()),
                None => {}
            }
        }
        let write = Write(Arc::new(Shared {
            txn,
            now: self.clock.now().trunc_subsecs(6),
            pending: Mutex::new(Pending::default()),
        }));
        // `await` consumes the future, so the closure's handle is dropped when it returns.
        let result = change(write.clone()).await;
        let Shared { txn, pending, now } =
            Arc::try_unwrap(write.0).map_err(|_| WriteError::Escaped)?;
        let pending = pending
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let reply = match result {
            Ok(reply) if reply.encoded_len() > self.max_reply_bytes => {
                drop(txn);
                return Err(E::from(WriteError::ReplyTooLarge {
                    size: reply.encoded_len(),
                    limit: self.max_reply_bytes,
                }));
            }
            Ok(reply) => reply,
            Err(err) => {
                drop(txn);
                if let Some(refusal) = pending.refusal
                    && let Err(unrecorded) = record_denial(
                        &self.db,
                        &ctx.principal,
                        &ctx.request_id,
                        &refusal.resource,
                        refusal.reason,
                        &refusal.message,
                    )
                    .await
                {
                    return Err(E::from(WriteError::Unrecorded(unrecorded)));
                }
                return Err(err);
            }
        };
        for (action, resource, summary) in &pending.audit {
            audit::append(
                &*txn,
                NewEntry {
                    ics: &ctx.principal.ics,
                    actor: Actor::of(&ctx.principal),
                    action,
                    resource,
                    request_id: &ctx.request_id,
                    summary: summary.clone(),
                    time: now,
                },
            )
            .await?;
        }
        for (ics, resource, kind, payload) in pending.events {
            self.outbox
                .append(&txn, &ics, &resource, &kind, payload, now)
                .await?;
        }
        idempotency::record(&*txn, key, reply.encode_to_vec()).await?;
        self.outbox.commit(txn).await?;
        Ok(reply)
    }
}
