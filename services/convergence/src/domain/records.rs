//! The records convergence keeps, as the use cases and the adapter see them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::assessment::{Class, GovernanceClass, Grid, Tally, Weights};

/// A recorded (or computed) assessment of one trust's snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    /// The ICS.
    pub ics: String,
    /// Its id (empty for one computed and not recorded).
    pub id: String,
    /// The trust.
    pub trust: String,
    /// The snapshot assessed (`icss/{ics}/snapshots/{id}`).
    pub snapshot: String,
    /// The baseline revision compared with.
    pub baseline_revision: i64,
    /// The overlay revision compared with.
    pub overlay_revision: i64,
    /// The instant the governance is taken at.
    pub assess_time: DateTime<Utc>,
    /// When it was recorded (`None`: computed, not recorded).
    pub record_time: Option<DateTime<Utc>>,
    /// What led to it: `snapshot.imported`, `effectiveConfig.published` or `asOf`.
    pub trigger: String,
    /// The cursor of the event that led to it (0: none).
    pub trigger_seq: i64,
    /// How many keys it classified.
    pub key_count: i64,
    /// Per clinical domain, the keys per class and governance class.
    pub cells: BTreeMap<String, Tally>,
}

impl Assessment {
    /// The whole trust's tally: every domain's together.
    pub fn total(&self) -> Tally {
        let mut total = Tally::default();
        for t in self.cells.values() {
            total.merge(t);
        }
        total
    }
}

/// A key of an assessment that is not ALIGNED.
#[derive(Debug, Clone, PartialEq)]
pub struct Divergence {
    /// The item's kind.
    pub kind: String,
    /// The item's key.
    pub key: String,
    /// The clinical domain of its kind.
    pub domain: String,
    /// Its class.
    pub class: Class,
    /// The governance whose weight it carries.
    pub governance: GovernanceClass,
    /// The baseline's value.
    pub baseline_value: Option<Value>,
    /// The variation's value (`None`: none, or a removal).
    pub approved_value: Option<Value>,
    /// The snapshot's value.
    pub snapshot_value: Option<Value>,
    /// The change request that approved the variation.
    pub change_request: String,
    /// When the variation lapses or lapsed.
    pub expire_time: Option<DateTime<Utc>>,
    /// Whether the variation removes the key.
    pub variation_removes: bool,
}

/// The notice period of expiring variations until an ICS sets one.
pub const DEFAULT_NOTICE_DAYS: i32 = 30;

/// An ICS's scoring settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The ICS.
    pub ics: String,
    /// The divergence weights.
    pub weights: Weights,
    /// The band grid.
    pub grid: Grid,
    /// Days before a variation lapses that it is announced.
    pub notice_days: i32,
    /// The version (0: the defaults, never set).
    pub version: i64,
    /// When they were last set.
    pub update_time: Option<DateTime<Utc>>,
}

impl Settings {
    /// The defaults of `ics`.
    pub fn defaults(ics: &str) -> Self {
        Self {
            ics: ics.to_owned(),
            weights: Weights::default(),
            grid: Grid::default(),
            notice_days: DEFAULT_NOTICE_DAYS,
            version: 0,
            update_time: None,
        }
    }
}

/// What the follower knows of a trust.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrustState {
    /// The baseline revision of its effective revision in force.
    pub baseline_revision: i64,
    /// The overlay revision of its effective revision in force.
    pub overlay_revision: i64,
    /// When that effective revision took effect.
    pub effective_time: Option<DateTime<Utc>>,
    /// Its newest snapshot (empty: none yet).
    pub snapshot: String,
    /// When that snapshot was imported.
    pub snapshot_time: Option<DateTime<Utc>>,
}
