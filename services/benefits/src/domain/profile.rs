//! A benefit profile and its rules: what a good benefit must say (the four tests, owners, an SRO,
//! how it is measured and valued, the change requests that enable it), checked field by field
//! before anything is written. The checks against other services (that the change requests
//! exist, that the rate card values the chain) are the use case's.

use concordat_platform::identity::Person;

use super::exact::Ratio;
use super::period::Month;
use super::rollup::{Aggregation, Benefit, Category};

/// The most owners, enabling change requests and conversion units a profile may hold.
pub const MAX_OWNERS: usize = 100;
/// The most enabling change requests.
pub const MAX_ENABLING: usize = 50;
/// The most units a valuation converts through.
pub const MAX_UNITS: usize = 10;

/// Whom a benefit reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// The trust's own patients and staff.
    Direct,
    /// Others in the system.
    Indirect,
    /// Society at large.
    WiderSocial,
}

/// The four tests of a good benefit.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FourTests {
    /// What precisely.
    pub precisely: String,
    /// The observable outcome.
    pub observable_outcome: String,
    /// Why this change can claim it.
    pub why_this_change: String,
    /// How and when it is measured.
    pub how_measured: String,
}

/// A value at (or by) a month.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasureAt {
    /// The value per month.
    pub value: Ratio,
    /// The month.
    pub month: Month,
}

/// How a benefit is valued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valuation {
    /// The rate card's id.
    pub rate_card: String,
    /// Its version.
    pub version: i64,
    /// The units converted through after the measure's own.
    pub units: Vec<String>,
}

/// A benefit profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The ICS.
    pub ics: String,
    /// The id.
    pub id: String,
    /// The title.
    pub title: String,
    /// The description.
    pub description: String,
    /// The four tests.
    pub four_tests: FourTests,
    /// An owner per trust.
    pub owners: Vec<(String, Person)>,
    /// The senior responsible owner.
    pub sro: Person,
    /// Cash-releasing, non-cash-releasing or qualitative.
    pub category: Category,
    /// Direct, indirect or wider social.
    pub dimension: Dimension,
    /// The measure's unit.
    pub unit: String,
    /// Whether higher is better.
    pub higher_is_better: bool,
    /// How months add up.
    pub aggregation: Aggregation,
    /// The baseline.
    pub baseline: Option<MeasureAt>,
    /// The target.
    pub target: Option<MeasureAt>,
    /// A dis-benefit.
    pub dis_benefit: bool,
    /// The enabling change requests' ids, in the order given.
    pub enabling: Vec<String>,
    /// How it is valued.
    pub valuation: Option<Valuation>,
    /// The version: one more at every update.
    pub version: i64,
    /// When created.
    pub create_time: chrono::DateTime<chrono::Utc>,
    /// When last changed.
    pub update_time: chrono::DateTime<chrono::Utc>,
}

impl Profile {
    /// The rollup's view of it: the chain of units from the measure's through the valuation's.
    pub fn benefit(&self) -> Benefit {
        let mut chain = vec![self.unit.clone()];
        if let Some(v) = &self.valuation {
            chain.extend(v.units.iter().cloned());
        }
        Benefit {
            category: self.category,
            dis_benefit: self.dis_benefit,
            aggregation: self.aggregation,
            chain,
        }
    }
}

/// Whether `id` may name a benefit or a rate card: 1–63 lowercase letters, digits or hyphens,
/// starting with a letter.
pub fn is_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// What is wrong with `p` (fields under `prefix`), given which trusts are the ICS's.
pub fn check(p: &Profile, prefix: &str, is_trust: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut bad =
        |field: &str, reason: &str| v.push((format!("{prefix}.{field}"), reason.to_owned()));
    if p.title.trim().is_empty() {
        bad("title", "must not be blank");
    }
    for (field, text) in [
        ("four_tests.precisely", &p.four_tests.precisely),
        (
            "four_tests.observable_outcome",
            &p.four_tests.observable_outcome,
        ),
        ("four_tests.why_this_change", &p.four_tests.why_this_change),
        ("four_tests.how_measured", &p.four_tests.how_measured),
    ] {
        if text.trim().is_empty() {
            bad(
                field,
                "must answer the test: a benefit that cannot is not yet one",
            );
        }
    }
    if p.owners.len() > MAX_OWNERS {
        bad("owners", "at most 100");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, (trust, person)) in p.owners.iter().enumerate() {
        if !is_trust(trust) {
            bad(&format!("owners[{i}].trust"), "is not a trust of the ICS");
        } else if !seen.insert(trust) {
            bad(&format!("owners[{i}].trust"), "has an owner already");
        }
        if person.issuer.is_empty() || person.subject.is_empty() {
            bad(
                &format!("owners[{i}].owner"),
                "must name an issuer and a subject",
            );
        }
    }
    if p.sro.issuer.is_empty() || p.sro.subject.is_empty() {
        bad(
            "senior_responsible_owner",
            "must name an issuer and a subject",
        );
    }
    if p.unit.trim().is_empty() {
        bad("measure.unit", "must not be blank");
    }
    if p.enabling.is_empty() {
        bad(
            "enabling_change_requests",
            "at least one change request must enable the benefit",
        );
    } else if p.enabling.len() > MAX_ENABLING {
        bad("enabling_change_requests", "at most 50");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, cr) in p.enabling.iter().enumerate() {
        if !seen.insert(cr) {
            bad(&format!("enabling_change_requests[{i}]"), "is named twice");
        }
    }
    match (&p.valuation, p.category) {
        (Some(_), Category::Qualitative) => {
            bad("valuation", "a qualitative benefit is not valued in money")
        }
        (None, Category::CashReleasing | Category::NonCashReleasing) => bad(
            "valuation",
            "a cash-releasing or non-cash-releasing benefit needs a rate card to be valued",
        ),
        (Some(val), _) => {
            if val.version < 1 {
                bad("valuation.rate_card_version", "must be 1 or more");
            }
            if val.units.len() > MAX_UNITS {
                bad("valuation.units", "at most 10");
            }
            for (i, u) in val.units.iter().enumerate() {
                if u.trim().is_empty() {
                    bad(&format!("valuation.units[{i}]"), "must not be blank");
                }
            }
        }
        (None, Category::Qualitative) => {}
    }
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn person(s: &str) -> Person {
        Person::new("https://login.rgt.nhs.uk", s)
    }

    fn profile() -> Profile {
        Profile {
            ics: "QUE".into(),
            id: "allergy-alerts".into(),
            title: "Fewer adverse drug reactions from allergy alerts".into(),
            description: String::new(),
            four_tests: FourTests {
                precisely: "a".into(),
                observable_outcome: "b".into(),
                why_this_change: "c".into(),
                how_measured: "d".into(),
            },
            owners: vec![("RGT".into(), person("alice"))],
            sro: person("sro"),
            category: Category::NonCashReleasing,
            dimension: Dimension::Direct,
            unit: "adverse drug reaction prevented".into(),
            higher_is_better: true,
            aggregation: Aggregation::Sum,
            baseline: None,
            target: None,
            dis_benefit: false,
            enabling: vec!["42".into()],
            valuation: Some(Valuation {
                rate_card: "standard".into(),
                version: 1,
                units: vec!["bed day".into()],
            }),
            version: 1,
            create_time: chrono::DateTime::UNIX_EPOCH,
            update_time: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn fields(p: &Profile) -> Vec<String> {
        check(p, "benefit", |t| ["RGT", "RGM"].contains(&t))
            .into_iter()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn a_good_benefit_passes_and_its_chain_runs_through_the_valuation() {
        assert!(fields(&profile()).is_empty());
        assert_eq!(
            profile().benefit().chain,
            ["adverse drug reaction prevented", "bed day"]
        );
    }

    #[test]
    fn each_missing_test_owner_and_valuation_is_named() {
        let mut p = profile();
        p.four_tests.why_this_change = " ".into();
        p.owners.push(("RGT".into(), person("bob")));
        p.owners.push(("XYZ".into(), person("carol")));
        p.enabling = vec!["42".into(), "42".into()];
        p.category = Category::Qualitative;
        assert_eq!(
            fields(&p),
            [
                "benefit.four_tests.why_this_change",
                "benefit.owners[1].trust",
                "benefit.owners[2].trust",
                "benefit.enabling_change_requests[1]",
                "benefit.valuation",
            ]
        );
        p.valuation = None;
        p.category = Category::CashReleasing;
        p.enabling.clear();
        assert!(fields(&p).contains(&"benefit.valuation".to_owned()));
        assert!(fields(&p).contains(&"benefit.enabling_change_requests".to_owned()));
    }

    #[test]
    fn ids_are_lowercase_words() {
        assert!(is_id("allergy-alerts"));
        assert!(!is_id("Allergy"));
        assert!(!is_id("-x"));
        assert!(!is_id(&"a".repeat(64)));
    }
}
