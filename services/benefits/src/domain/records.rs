//! What the service keeps: measurement cells and their versions, attributions, rate card
//! versions and an ICS's settings, as plain records.

use chrono::{DateTime, Duration, Utc};
use concordat_platform::identity::Person;

use super::attribution::Attribution;
use super::exact::Ratio;
use super::measurement::State;
use super::period::{FinancialYear, Month};
use super::valuation::RateCard;

/// The default number of days after a month's end by which its measurements are due.
pub const DEFAULT_SUBMISSION_DAYS: i32 = 15;

/// What was done to a measurement, as its versions record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// Written as a draft.
    Saved,
    /// Submitted.
    Submitted,
    /// Validated.
    Validated,
    /// Accepted.
    Accepted,
    /// Returned.
    Returned,
    /// Reopened.
    Reopened,
}

impl Act {
    /// The name stored and shown in audit entries.
    pub fn name(self) -> &'static str {
        match self {
            Act::Saved => "saved",
            Act::Submitted => "submitted",
            Act::Validated => "validated",
            Act::Accepted => "accepted",
            Act::Returned => "returned",
            Act::Reopened => "reopened",
        }
    }

    /// The act stored as `name`.
    pub fn parse(name: &str) -> Option<Act> {
        [
            Act::Saved,
            Act::Submitted,
            Act::Validated,
            Act::Accepted,
            Act::Returned,
            Act::Reopened,
        ]
        .into_iter()
        .find(|a| a.name() == name)
    }
}

/// A measurement cell as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The ICS.
    pub ics: String,
    /// The benefit's id.
    pub benefit: String,
    /// The trust.
    pub trust: String,
    /// The month.
    pub month: Month,
    /// The value.
    pub value: Ratio,
    /// The evidence's note.
    pub note: String,
    /// The evidence's link.
    pub link: String,
    /// The state.
    pub state: State,
    /// The version.
    pub version: i64,
    /// Who last submitted it.
    pub submitter: Option<Person>,
    /// When first submitted.
    pub first_submit_time: Option<DateTime<Utc>>,
    /// Whether first submitted by the deadline.
    pub on_time: bool,
    /// Who validated it (while validated or accepted).
    pub validator: Option<Person>,
    /// Who accepted it (while accepted).
    pub acceptor: Option<Person>,
    /// The last return's or reopening's reason.
    pub reason: String,
    /// When last changed.
    pub update_time: DateTime<Utc>,
}

/// One version of a cell: what it was after one act.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    /// The version.
    pub version: i64,
    /// What was done.
    pub act: Act,
    /// The state after.
    pub state: State,
    /// The value after.
    pub value: Ratio,
    /// The note after.
    pub note: String,
    /// The link after.
    pub link: String,
    /// Who did it.
    pub actor: Person,
    /// The reason given.
    pub reason: String,
    /// When.
    pub time: DateTime<Utc>,
}

/// An ICS's benefits settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The ICS.
    pub ics: String,
    /// Whether validated cells count in rollups too.
    pub count_validated: bool,
    /// Days after a month's end by which its measurements are due.
    pub submission_days: i32,
    /// The version (0: the defaults, never written).
    pub version: i64,
    /// When last written.
    pub update_time: Option<DateTime<Utc>>,
}

impl Settings {
    /// The defaults of `ics`.
    pub fn defaults(ics: &str) -> Settings {
        Settings {
            ics: ics.to_owned(),
            count_validated: false,
            submission_days: DEFAULT_SUBMISSION_DAYS,
            version: 0,
            update_time: None,
        }
    }

    /// Whether a first submission of `month` at `at` is on time: by the end of the day
    /// `submission_days` after the month's last.
    pub fn on_time(&self, month: Month, at: DateTime<Utc>) -> bool {
        let due = month.last_day() + Duration::days(i64::from(self.submission_days));
        at.date_naive() <= due
    }
}

/// A benefit's attribution at one trust in one financial year.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributionRecord {
    /// The ICS.
    pub ics: String,
    /// The benefit's id.
    pub benefit: String,
    /// The trust.
    pub trust: String,
    /// The year.
    pub year: FinancialYear,
    /// The shares by change request id, as fractions of one.
    pub shares: Attribution,
    /// Why.
    pub rationale: String,
    /// The version (0: never set).
    pub version: i64,
    /// When last set.
    pub update_time: Option<DateTime<Utc>>,
}

/// A stored rate card version.
#[derive(Debug, Clone, PartialEq)]
pub struct CardRecord {
    /// The ICS.
    pub ics: String,
    /// The card (id, version, factors, values).
    pub card: RateCard,
    /// Its title.
    pub title: String,
    /// Where its figures come from.
    pub description: String,
    /// Who wrote this version.
    pub author: Person,
    /// When.
    pub update_time: DateTime<Utc>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_month_is_on_time_until_the_end_of_its_due_day() {
        let s = Settings::defaults("QUE");
        let april = Month::parse("2025-04").unwrap();
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        assert!(s.on_time(april, at("2025-05-15T23:59:59Z")));
        assert!(!s.on_time(april, at("2025-05-16T00:00:00Z")));
        assert!(s.on_time(april, at("2025-04-20T09:00:00Z")));
    }

    #[test]
    fn acts_round_trip() {
        for a in [Act::Saved, Act::Reopened] {
            assert_eq!(Act::parse(a.name()), Some(a));
        }
    }
}
