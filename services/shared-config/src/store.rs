//! Storage of shared configuration: entities, migrations, and queries that take and return domain
//! types. Items are stored temporally (each row in force over a range of its layer's revisions),
//! so any revision of any layer can be read; JSON values are stored as text.

mod changesets;
mod effective_revisions;
mod entities;
mod items;
mod kinds;
pub mod migrations;
mod revisions;
mod snapshots;

pub use changesets::*;
pub use effective_revisions::*;
pub use items::*;
pub use kinds::*;
pub use revisions::*;
pub use snapshots::*;
// The families share their row conversions with each other.
#[allow(unused_imports)]
use {changesets::*, effective_revisions::*, items::*, kinds::*, revisions::*, snapshots::*};

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{Condition, ConnectionTrait, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::changeset::Change;
use crate::domain::layer::{Entry, Governance, Key, LayerId, Provenance};
use crate::domain::publish::{Content, Placed};
use crate::domain::records::{
    Changeset, ChangesetState, EffectiveRevision, KindRecord, Revision, Snapshot,
};
use crate::domain::resolve::Difference;
use entities::{changeset, effective, item, kind, revision, snapshot, snapshot_item};

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with that key exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A stored value could not be decoded.
    #[error("stored {0} is corrupt: {1}")]
    Corrupt(&'static str, String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Rows written per statement (well inside SQLite's limit on bound variables).
const CHUNK: usize = 500;

fn parse<T: for<'de> Deserialize<'de>>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(what, e.to_string()))
}

fn unique(err: DbErr, what: String) -> StoreError {
    if concordat_platform::db::is_unique_violation(&err) {
        StoreError::AlreadyExists(what)
    } else {
        StoreError::Db(err)
    }
}

fn layer_of(s: &str) -> Result<LayerId> {
    LayerId::parse(s).ok_or_else(|| StoreError::Corrupt("layer", s.to_owned()))
}
