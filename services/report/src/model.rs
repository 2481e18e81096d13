//! The report's model: every figure the board reads, with where it came from. Built by the
//! command line from the API, rendered by [`crate::pdf`] and [`crate::html`] alike. Lists are in
//! a fixed order (the builder sorts them), so the same data gives the same document.

use serde::Serialize;

/// The board report of one ICS for one financial year.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// The ICS's code, e.g. `QUE`.
    pub ics: String,
    /// Its name.
    pub ics_name: String,
    /// The financial year, `2025/26`.
    pub year: String,
    /// The date the report is as of, `2026-12-06`: the document's date.
    pub as_of: String,
    /// Page 1.
    pub summary: Summary,
    /// Section 2.
    pub change_control: ChangeControl,
    /// Section 3.
    pub convergence: Convergence,
    /// Section 4.
    pub benefits: Benefits,
    /// Section 5.
    pub assurance: Assurance,
}

/// The one-page summary.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Change requests approved from the year's start to the report's date (decided by the
    /// design authority or the board).
    pub approved: Vec<String>,
    /// Change requests rejected in the same time.
    pub rejected: Vec<String>,
    /// The ICS's convergence now (the mean of the assessed trusts' totals), 0–1.
    pub convergence_now: Option<f64>,
    /// The same 90 days before.
    pub convergence_before: Option<f64>,
    /// How many trusts have been assessed.
    pub trusts_assessed: usize,
    /// Cash-releasing benefits realised in the year, as money.
    pub cash_realised: String,
    /// Non-cash-releasing benefits realised in the year, as money.
    pub non_cash_realised: String,
    /// Whether the audit chain verified.
    pub chain_valid: bool,
    /// Entries it checked.
    pub chain_entries: i64,
}

/// A benefit's year against its target.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct AgainstTarget {
    /// The benefit's title.
    pub benefit: String,
    /// `cash-releasing` or `non-cash-releasing`.
    pub category: String,
    /// Realised, in its unit (a decimal).
    pub realised: String,
    /// The target for the year, in its unit (empty: none set).
    pub target: String,
    /// How the year's target follows from the profile's monthly one, e.g. `75 a month by
    /// 2026-03, × 12 months`.
    pub basis: String,
    /// The unit.
    pub unit: String,
    /// Realised as a share of the target, 0–1 (none without a target).
    pub share: Option<f64>,
    /// Whether the target is met: realised at or above it, or at or below it when lower is
    /// better (none without a target).
    pub met: Option<bool>,
    /// Its value.
    pub value: String,
}

/// Change control in the year.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct ChangeControl {
    /// How many change requests are in each state now, in the lifecycle's order.
    pub pipeline: Vec<StateCount>,
    /// Every decision from the year's start to the report's date, oldest first.
    pub decisions: Vec<Decision>,
    /// Emergency changes approved and awaiting their retrospective review.
    pub emergencies: Vec<Deadline>,
    /// Change requests past an assessment or voting deadline.
    pub past_deadline: Vec<Deadline>,
}

/// Change requests in one state.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct StateCount {
    /// The state, e.g. `DA review`.
    pub state: String,
    /// How many.
    pub count: usize,
}

/// A design authority's (and the board's) decision on a change request.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// The change request's number.
    pub number: String,
    /// Its title.
    pub title: String,
    /// `approved` or `rejected`.
    pub outcome: String,
    /// The charter's rule that decided it, e.g. `unanimous: 4 of 4 member trusts approve`.
    pub rule: String,
    /// Approvals, rejections, abstentions.
    pub votes: String,
    /// The charter version it was decided under.
    pub charter_version: i32,
    /// The board's decision and minutes, when the board decided.
    pub board: String,
    /// When, `2026-11-30`.
    pub date: String,
}

/// A change request and a date it is held to.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Deadline {
    /// Its number.
    pub number: String,
    /// Its title.
    pub title: String,
    /// Its state.
    pub state: String,
    /// What the date is for, e.g. `impact assessment`.
    pub what: String,
    /// The date.
    pub date: String,
    /// Whether the date has passed.
    pub overdue: bool,
}

/// Convergence now and its trend.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Convergence {
    /// The trusts, in the federation's order.
    pub trusts: Vec<String>,
    /// The clinical domains.
    pub domains: Vec<String>,
    /// Each assessed trust × domain.
    pub cells: Vec<Cell>,
    /// Each assessed trust over every domain.
    pub totals: Vec<Cell>,
    /// Each trust's assessments over time.
    pub trajectories: Vec<Series>,
    /// Approved variations lapsing within 90 days.
    pub expiring: Vec<Expiring>,
    /// The convergence plans.
    pub plans: Vec<Plan>,
}

/// One trust × domain (or a trust's total).
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Cell {
    /// The trust.
    pub trust: String,
    /// The domain (empty for a total).
    pub domain: String,
    /// Convergence, 0–1.
    pub value: f64,
    /// Its band, e.g. `converged`.
    pub band: String,
    /// The assessment it comes from.
    pub assessment: String,
}

/// A series of values over time, with its SPC reading.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// Whose (a trust, or a benefit).
    pub name: String,
    /// What it measures, e.g. `convergence` or a unit.
    pub unit: String,
    /// The points, oldest first.
    pub points: Vec<Point>,
    /// The Making Data Count variation icon: `common-cause`, `improvement-high`, …
    pub variation: String,
    /// The assurance icon: `pass`, `fail`, `hit-and-miss` or empty without a target.
    pub assurance: String,
    /// The target, if any.
    pub target: Option<f64>,
    /// Where the points come from, e.g. `12 accepted measurements, RGT`.
    pub source: String,
}

/// One point of a series.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Point {
    /// Its label, e.g. `2025-04` or `2026-11-30`.
    pub label: String,
    /// The value.
    pub value: f64,
    /// The process mean.
    pub mean: f64,
    /// The lower process limit.
    pub lower: f64,
    /// The upper process limit.
    pub upper: f64,
    /// A special-cause signal at this point (outside the limits, a shift, a trend, two of three).
    pub special: bool,
}

/// An approved variation that lapses soon.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Expiring {
    /// The trust.
    pub trust: String,
    /// `kind/key`.
    pub key: String,
    /// The change request that approved it.
    pub change_request: String,
    /// When it lapses.
    pub date: String,
}

/// A convergence plan's schedule and forecast.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// Its title.
    pub title: String,
    /// The target date.
    pub target: String,
    /// The critical path, `RGN medicines → RGM medicines`.
    pub critical_path: String,
    /// The 50th percentile finish.
    pub p50: String,
    /// The 85th percentile finish.
    pub p85: String,
    /// The chance of finishing by the target, 0–1.
    pub on_time: f64,
    /// Whether the P85 finish is on or before the target.
    pub holds: bool,
    /// The forecast's seed and iterations, for provenance.
    pub source: String,
}

/// Benefits in the year.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Benefits {
    /// Each benefit's realised quantity against its target, at the ICS.
    pub against_target: Vec<AgainstTarget>,
    /// Each benefit at each trust and at the ICS.
    pub figures: Vec<Figure>,
    /// What each change request delivered.
    pub by_change_request: Vec<Delivery>,
    /// Each benefit's SPC chart (the ICS's series).
    pub charts: Vec<Series>,
    /// Evidence completeness per trust, over every benefit.
    pub evidence: Vec<Evidence>,
    /// The rate cards (and versions) that valued the year.
    pub rate_cards: Vec<String>,
}

/// A benefit at a trust (or the ICS) over the year.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Figure {
    /// The benefit's title.
    pub benefit: String,
    /// The trust, or `ICS`.
    pub trust: String,
    /// The quantity, in its unit.
    pub quantity: String,
    /// The converted quantity and its unit, e.g. `2,450 bed days`.
    pub converted: String,
    /// Its value.
    pub value: String,
    /// `cash-releasing` or `non-cash-releasing`.
    pub category: String,
    /// Accepted of expected measurements, `12/12`.
    pub accepted: String,
    /// The rate card and version that valued it.
    pub rate_card: String,
}

/// What one change request delivered.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Delivery {
    /// Its number (or `unattributed`).
    pub change_request: String,
    /// Cash-releasing value.
    pub cash: String,
    /// Non-cash-releasing value.
    pub non_cash: String,
}

/// A trust's evidence over every benefit.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    /// The trust.
    pub trust: String,
    /// Measurements expected.
    pub expected: i64,
    /// Submitted.
    pub submitted: i64,
    /// Validated by the trust.
    pub validated: i64,
    /// Accepted by the ICS.
    pub accepted: i64,
}

/// The governance held.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Assurance {
    /// Whether the audit chain verified end to end.
    pub valid: bool,
    /// Entries checked.
    pub entries: i64,
    /// The head hash.
    pub head: String,
    /// What broke it, when it did.
    pub problem: String,
    /// Refusals from the year's start to the report's date by reason, most first.
    pub refusals: Vec<Refusals>,
}

/// Refusals of one reason.
#[derive(Serialize, Clone, Debug, Default, PartialEq)]
pub struct Refusals {
    /// The reason, e.g. `ROLE_NOT_PERMITTED`.
    pub reason: String,
    /// How many.
    pub count: usize,
}
