//! The audit chain: an append-only, hash-linked log per ICS.
//!
//! Every entry holds the SHA-256 of the one before and its own hash over a canonical encoding, so
//! changing, removing or reordering any entry breaks every later link, and [`verify`] finds the
//! first broken one. Entries are appended inside the caller's transaction, so a change and its
//! audit entry commit together. Appends lock the ICS's head row first (an UPDATE, which takes a row
//! lock on PostgreSQL and the write lock on SQLite), so concurrent writers queue instead of forking
//! the chain.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect, Set};
use sha2::{Digest, Sha256};

use crate::identity::Principal;

/// Hash of "no previous entry".
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did something, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Issuer of their token (`concordat` for the server itself).
    pub issuer: String,
    /// Subject.
    pub subject: String,
    /// Trust, empty when none.
    pub trust: String,
}

impl Actor {
    /// The actor behind a principal.
    pub fn of(principal: &Principal) -> Self {
        Self {
            issuer: principal.issuer.clone(),
            subject: principal.subject.clone(),
            trust: principal.trust.clone().unwrap_or_default(),
        }
    }

    /// The server itself (background jobs).
    pub fn system() -> Self {
        Self {
            issuer: "concordat".into(),
            subject: "system".into(),
            trust: String::new(),
        }
    }
}

/// What to append.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// The ICS whose chain it joins.
    pub ics: &'a str,
    /// Who.
    pub actor: Actor,
    /// What, e.g. `changeRequest.submit`.
    pub action: &'a str,
    /// Which resource (AIP name).
    pub resource: &'a str,
    /// The request id of the call.
    pub request_id: &'a str,
    /// One line for people.
    pub summary: String,
    /// When (stored to the microsecond): the write's time, from the service's clock.
    pub time: DateTime<Utc>,
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// ICS.
    pub ics: String,
    /// Position, from 1.
    pub sequence: i64,
    /// When.
    pub time: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What.
    pub action: String,
    /// Which resource.
    pub resource: String,
    /// Request id.
    pub request_id: String,
    /// Summary.
    pub summary: String,
    /// Previous entry's hash.
    pub previous_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl Entry {
    /// The SHA-256 (hex) of the canonical encoding: a version tag, then every field but `hash`
    /// as a length-prefixed byte string, so no two different entries encode alike.
    pub fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"concordat-audit-v1");
        let sequence = self.sequence.to_string();
        let time = self.time.timestamp_micros().to_string();
        for field in [
            self.ics.as_str(),
            &sequence,
            &time,
            &self.actor.issuer,
            &self.actor.subject,
            &self.actor.trust,
            &self.action,
            &self.resource,
            &self.request_id,
            &self.summary,
            &self.previous_hash,
        ] {
            hasher.update((field.len() as u64).to_be_bytes());
            hasher.update(field.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

pub(crate) mod entry {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_entries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence: i64,
        pub time: DateTimeUtc,
        pub actor_issuer: String,
        pub actor_subject: String,
        pub actor_trust: String,
        pub action: String,
        pub resource: String,
        pub request_id: String,
        pub summary: String,
        pub previous_hash: String,
        pub hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

mod head {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_heads")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub ics: String,
        pub sequence: i64,
        pub hash: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

impl From<entry::Model> for Entry {
    fn from(m: entry::Model) -> Self {
        Entry {
            ics: m.ics,
            sequence: m.sequence,
            time: m.time,
            actor: Actor {
                issuer: m.actor_issuer,
                subject: m.actor_subject,
                trust: m.actor_trust,
            },
            action: m.action,
            resource: m.resource,
            request_id: m.request_id,
            summary: m.summary,
            previous_hash: m.previous_hash,
            hash: m.hash,
        }
    }
}

/// `text` as the chain records it: control characters (a NUL would not store on PostgreSQL)
/// written as `\u{..}` escapes, and at most `max` characters, so any refusal can be recorded
/// whatever the request held.
fn recorded(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if out.chars().count() >= max {
            out.push('…');
            break;
        }
        if c.is_control() && c != '\n' {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Appends an entry to its ICS's chain inside `txn` (the caller's transaction).
pub async fn append<C: ConnectionTrait>(txn: &C, new: NewEntry<'_>) -> Result<Entry, DbErr> {
    // Lock the head row; create it first if this is the ICS's first entry.
    let lock = || {
        head::Entity::update_many()
            .col_expr(head::Column::Sequence, Expr::col(head::Column::Sequence))
            .filter(head::Column::Ics.eq(new.ics))
            .exec(txn)
    };
    if lock().await?.rows_affected == 0 {
        head::Entity::insert(head::ActiveModel {
            ics: Set(new.ics.to_owned()),
            sequence: Set(0),
            hash: Set(GENESIS_HASH.to_owned()),
        })
        .on_conflict_do_nothing_on([head::Column::Ics])
        .exec(txn)
        .await?;
        lock().await?;
    }
    let current = head::Entity::find_by_id(new.ics.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("audit head of {}", new.ics)))?;

    let mut entry = Entry {
        ics: new.ics.to_owned(),
        sequence: current.sequence + 1,
        time: new.time.trunc_subsecs(6),
        actor: new.actor,
        action: recorded(new.action, 200),
        resource: recorded(new.resource, 1000),
        request_id: recorded(new.request_id, 200),
        summary: recorded(&new.summary, 4000),
        previous_hash: current.hash,
        hash: String::new(),
    };
    entry.hash = entry.compute_hash();
    entry::Entity::insert(entry::ActiveModel {
        ics: Set(entry.ics.clone()),
        sequence: Set(entry.sequence),
        time: Set(entry.time),
        actor_issuer: Set(entry.actor.issuer.clone()),
        actor_subject: Set(entry.actor.subject.clone()),
        actor_trust: Set(entry.actor.trust.clone()),
        action: Set(entry.action.clone()),
        resource: Set(entry.resource.clone()),
        request_id: Set(entry.request_id.clone()),
        summary: Set(entry.summary.clone()),
        previous_hash: Set(entry.previous_hash.clone()),
        hash: Set(entry.hash.clone()),
    })
    .exec_without_returning(txn)
    .await?;
    head::Entity::update_many()
        .col_expr(head::Column::Sequence, Expr::value(entry.sequence))
        .col_expr(head::Column::Hash, Expr::value(entry.hash.clone()))
        .filter(head::Column::Ics.eq(new.ics))
        .exec(txn)
        .await?;
    Ok(entry)
}

/// A filter for [`list`].
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// A resource and everything under it (`icss/QUE/changeRequests/x` also matches its votes);
    /// only what is under it when it ends in `/`.
    pub resource: Option<String>,
    /// Actor issuer.
    pub actor_issuer: Option<String>,
    /// Actor subject.
    pub actor_subject: Option<String>,
    /// Actor trust.
    pub actor_trust: Option<String>,
    /// Action.
    pub action: Option<String>,
    /// At or after.
    pub start: Option<DateTime<Utc>>,
    /// Before.
    pub end: Option<DateTime<Utc>>,
    /// Only entries with a sequence below this (paging, newest first).
    pub before_sequence: Option<i64>,
}

/// Entries of `ics` matching `filter`, newest first, at most `limit`.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    ics: &str,
    filter: &Filter,
    limit: u64,
) -> Result<Vec<Entry>, DbErr> {
    let mut query = entry::Entity::find().filter(entry::Column::Ics.eq(ics));
    if let Some(resource) = &filter.resource {
        query = if resource.ends_with('/') {
            query.filter(entry::Column::Resource.starts_with(resource))
        } else {
            query.filter(
                sea_orm::Condition::any()
                    .add(entry::Column::Resource.eq(resource))
                    .add(entry::Column::Resource.starts_with(format!("{resource}/"))),
            )
        };
    }
    if let Some(v) = &filter.actor_issuer {
        query = query.filter(entry::Column::ActorIssuer.eq(v));
    }
    if let Some(v) = &filter.actor_subject {
        query = query.filter(entry::Column::ActorSubject.eq(v));
    }
    if let Some(v) = &filter.actor_trust {
        query = query.filter(entry::Column::ActorTrust.eq(v));
    }
    if let Some(v) = &filter.action {
        query = query.filter(entry::Column::Action.eq(v));
    }
    if let Some(v) = filter.start {
        query = query.filter(entry::Column::Time.gte(v));
    }
    if let Some(v) = filter.end {
        query = query.filter(entry::Column::Time.lt(v));
    }
    if let Some(v) = filter.before_sequence {
        query = query.filter(entry::Column::Sequence.lt(v));
    }
    let rows = query
        .order_by_desc(entry::Column::Sequence)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(Entry::from).collect())
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Entries checked.
    pub checked: i64,
    /// The first broken entry and why, if any.
    pub broken: Option<(i64, String)>,
    /// The last entry's hash.
    pub head_hash: String,
}

/// Recomputes the chain of `ics` from the start, in pages, and reports the first broken link.
pub async fn verify<C: ConnectionTrait>(db: &C, ics: &str) -> Result<Verification, DbErr> {
    const PAGE: u64 = 1000;
    let mut previous = GENESIS_HASH.to_owned();
    let mut expected = 1i64;
    loop {
        let rows = entry::Entity::find()
            .filter(entry::Column::Ics.eq(ics))
            .filter(entry::Column::Sequence.gte(expected))
            .order_by_asc(entry::Column::Sequence)
            .limit(PAGE)
            .all(db)
            .await?;
        let done = (rows.len() as u64) < PAGE;
        for row in rows {
            let entry = Entry::from(row);
            let problem = if entry.sequence != expected {
                Some(format!("entry {expected} is missing"))
            } else if entry.previous_hash != previous {
                Some("previous_hash does not match the entry before".to_owned())
            } else if entry.compute_hash() != entry.hash {
                Some("hash does not match the entry's content".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Ok(Verification {
                    checked: expected,
                    broken: Some((expected, problem)),
                    head_hash: previous,
                });
            }
            previous = entry.hash;
            expected += 1;
        }
        if done {
            break;
        }
    }
    let head = head::Entity::find_by_id(ics.to_owned()).one(db).await?;
    if let Some(head) = head
        && (head.sequence != expected - 1 || head.hash != previous)
    {
        return Ok(Verification {
            checked: expected - 1,
            broken: Some((
                expected,
                format!("the chain ends early: the head is at {}", head.sequence),
            )),
            head_hash: previous,
        });
    }
    Ok(Verification {
        checked: expected - 1,
        broken: None,
        head_hash: previous,
    })
}
