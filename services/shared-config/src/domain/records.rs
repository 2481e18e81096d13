//! The records of shared configuration as the use cases read and write them.

use chrono::{DateTime, Utc};
use concordat_platform::identity::Person;
use serde_json::Value;

use super::changeset::Change;
use super::layer::{Entry, LayerId};
use super::resolve::Changes;

/// A registered kind as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct KindRecord {
    /// The ICS.
    pub ics: String,
    /// The kind's name.
    pub name: String,
    /// The owning clinical domain.
    pub domain: String,
    /// The JSON Schema.
    pub schema: Value,
    /// What it configures.
    pub description: String,
    /// Who registered it.
    pub creator: Person,
    /// When.
    pub create_time: DateTime<Utc>,
}

/// A published revision of a layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    /// The ICS.
    pub ics: String,
    /// The layer.
    pub layer: LayerId,
    /// Its number, from 1.
    pub revision: i64,
    /// The changeset's id (empty for a rollback).
    pub changeset: String,
    /// The change request's name.
    pub change_request: String,
    /// Who published it.
    pub publisher: Person,
    /// The publisher's trust, if any.
    pub publisher_trust: String,
    /// When.
    pub publish_time: DateTime<Utc>,
    /// The layer's content hash at this revision.
    pub content_hash: String,
    /// The layer's item count at this revision.
    pub item_count: i64,
    /// For a rollback, the revision restored.
    pub restores_revision: i64,
    /// How many items changed.
    pub change_count: i64,
}

/// The state of a changeset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangesetState {
    /// Proposed.
    Open,
    /// Published.
    Published,
    /// Discarded.
    Discarded,
}

impl ChangesetState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangesetState::Open => "OPEN",
            ChangesetState::Published => "PUBLISHED",
            ChangesetState::Discarded => "DISCARDED",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "OPEN" => Some(ChangesetState::Open),
            "PUBLISHED" => Some(ChangesetState::Published),
            "DISCARDED" => Some(ChangesetState::Discarded),
            _ => None,
        }
    }
}

/// A proposed set of changes to one layer.
#[derive(Debug, Clone, PartialEq)]
pub struct Changeset {
    /// The ICS.
    pub ics: String,
    /// Its id.
    pub id: String,
    /// The layer it changes.
    pub layer: LayerId,
    /// The layer revision it was written against.
    pub base_revision: i64,
    /// The change request's name.
    pub change_request: String,
    /// What and why.
    pub description: String,
    /// The changes.
    pub changes: Vec<Change<Entry>>,
    /// The state.
    pub state: ChangesetState,
    /// Who proposed it.
    pub author: Person,
    /// When.
    pub create_time: DateTime<Utc>,
    /// Last change of state.
    pub update_time: DateTime<Utc>,
    /// The revision it became (0 until published).
    pub published_revision: i64,
}

impl Changeset {
    /// `icss/{ics}/changesets/{id}`.
    pub fn name(&self) -> String {
        format!("icss/{}/changesets/{}", self.ics, self.id)
    }
}

/// A new effective revision of one trust.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveRevision {
    /// The ICS.
    pub ics: String,
    /// The trust.
    pub trust: String,
    /// The trust's effective revision, from 1.
    pub revision: i64,
    /// The baseline revision it combines.
    pub baseline_revision: i64,
    /// The overlay revision it combines.
    pub overlay_revision: i64,
    /// Content hash of the effective keys and values.
    pub content_hash: String,
    /// The layer whose publication caused it.
    pub layer: LayerId,
    /// The change request.
    pub change_request: String,
    /// The publisher.
    pub publisher: Person,
    /// When.
    pub publish_time: DateTime<Utc>,
    /// What changed in the trust's effective configuration.
    pub changes: Changes,
    /// Why the system published it when no changeset did (variations lapsing); empty otherwise.
    pub reason: String,
}

/// A trust's actual build, imported.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The ICS.
    pub ics: String,
    /// Its id.
    pub id: String,
    /// The trust.
    pub trust: String,
    /// A label.
    pub display_name: String,
    /// When the build was read.
    pub taken_time: DateTime<Utc>,
    /// Content hash of its keys and values.
    pub content_hash: String,
    /// How many items.
    pub item_count: i64,
    /// Items of unknown kinds or breaking their schema.
    pub nonconforming_count: i64,
    /// Who imported it.
    pub importer: Person,
    /// When.
    pub import_time: DateTime<Utc>,
}
