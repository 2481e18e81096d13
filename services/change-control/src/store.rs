//! Storage of change control: entities, migrations, and queries that take and return domain
//! types. Nested values (members, charters, decisions, lists) are stored as JSON text.

mod assessments;
mod change_requests;
mod design_authorities;
mod entities;
mod hazards;
pub mod migrations;
mod releases;
mod votes;

pub use assessments::*;
pub use change_requests::*;
pub use design_authorities::*;
pub use hazards::*;
pub use releases::*;
pub use votes::*;
// The families share their row conversions with each other.
#[allow(unused_imports)]
use {
    assessments::*, change_requests::*, design_authorities::*, hazards::*, releases::*, votes::*,
};

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use concordat_platform::identity::Person;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{Condition, ConnectionTrait, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};

use crate::domain::change_request::{
    BoardDecision, ChangeRequest, ChangeType, Decision, Deployment, DesignAuthority, Disposition,
    Hazard, ImpactAssessment, Recommendation, StandardTemplate, Vote,
};
use crate::domain::charter::{ChangeClass, Charter, ClassRule, SilencePolicy, Threshold};
use crate::domain::decision::Choice;
use crate::domain::lifecycle::State;
use crate::domain::release::{Freeze, Release};
use entities::{
    assessment, change_request, charter, counter, design_authority, hazard, release, template, vote,
};

pub use concordat_platform::db::StoreError;

/// `value` as JSON for the column `what`: an error, never an empty string, when it cannot be.
fn json<T: Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    concordat_platform::db::json_of(what, value)
}

use concordat_platform::db::parse_json as parse;

#[derive(Serialize, Deserialize)]
struct CharterDto {
    version: u32,
    quorum_percent: u32,
    rules: Vec<(String, String, bool)>,
    silence: String,
    board_risk_threshold: u8,
    board_cost_threshold_pence: i64,
    max_residual_risk: u8,
    assessment_days: u32,
    voting_days: u32,
    emergency_review_days: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    effective_time: Option<DateTime<Utc>>,
}
