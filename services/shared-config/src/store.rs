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
use concordat_platform::identity::Person;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{Condition, ConnectionTrait, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::changeset::Change;
use crate::domain::layer::{Entry, Governance, Key, LayerId, Provenance, Variation};
use crate::domain::lthash::LtHash;
use crate::domain::publish::{Content, Placed};
use crate::domain::records::{
    Changeset, ChangesetState, EffectiveRevision, KindRecord, Revision, Snapshot,
};
use crate::domain::resolve::Difference;
use entities::{changeset, effective, item, kind, revision, snapshot, snapshot_item};

pub use concordat_platform::db::StoreError;

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Rows written per statement (well inside SQLite's limit on bound variables).
const CHUNK: usize = 500;

use concordat_platform::db::json_of;
use concordat_platform::db::parse_json as parse;

fn layer_of(s: &str) -> Result<LayerId> {
    LayerId::parse(s).ok_or_else(|| StoreError::Corrupt("layer", s.to_owned()))
}
