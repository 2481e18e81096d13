//! Proto ↔ domain: requests destructured field by field (a new proto field breaks the build
//! until someone decides what it means), resources encoded for replies and events.

use chrono::NaiveDate;
use concordat_api::names::{
    AttributionName, BenefitName, BenefitsSettingsName, MeasurementName, RateCardName,
};
use concordat_api::time::timestamp;
use concordat_platform::identity::Person;
use concordat_proto::benefits::v1 as pb;
use concordat_proto::platform::v1 as platform_pb;
use prost::Message;

use crate::domain::exact::{Money, Ratio};
use crate::domain::measurement::State;
use crate::domain::period::Month;
use crate::domain::profile::{Dimension, FourTests, MeasureAt, Profile, Valuation};
use crate::domain::records::{Act, AttributionRecord, CardRecord, Measurement, Settings, Version};
use crate::domain::rollup::{Aggregation, Category};
use crate::domain::valuation::{Factor, RateCard, UnitValue};
use crate::service::{Amount, BenefitsError, CardInput, Totals, Violation};

/// Collects field violations while a request converts.
#[derive(Default)]
pub(super) struct Fields(pub Vec<Violation>);

impl Fields {
    fn bad(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push((field.into(), reason.into()));
    }

    /// An exact number in `field`.
    pub(super) fn ratio(&mut self, field: &str, text: &str) -> Ratio {
        Ratio::parse(text).unwrap_or_else(|_| {
            self.bad(field, "must be an exact number: `71`, `12.5` or `2450/850`");
            Ratio::ZERO
        })
    }

    fn month(&mut self, field: &str, text: &str) -> Month {
        Month::parse(text).unwrap_or_else(|| {
            self.bad(field, "must be a month written `2025-04`");
            Month {
                year: 1970,
                month: 1,
            }
        })
    }

    fn date(&mut self, field: &str, text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|_| {
            self.bad(field, "must be a date written `2025-04-01`");
            NaiveDate::MIN
        })
    }

    fn person(&mut self, field: &str, p: Option<platform_pb::Person>) -> Person {
        match p {
            Some(p) if !p.issuer.is_empty() && !p.subject.is_empty() => Person::from(p),
            _ => {
                self.bad(field, "must name an issuer and a subject");
                Person::default()
            }
        }
    }

    /// The violations so far, as an error, or `value`.
    pub(super) fn done<T>(self, value: T) -> Result<T, BenefitsError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(BenefitsError::Invalid(self.0))
        }
    }
}

const CATEGORIES: [(pb::Category, Category); 3] = [
    (pb::Category::CashReleasing, Category::CashReleasing),
    (pb::Category::NonCashReleasing, Category::NonCashReleasing),
    (pb::Category::Qualitative, Category::Qualitative),
];
const DIMENSIONS: [(pb::Dimension, Dimension); 3] = [
    (pb::Dimension::Direct, Dimension::Direct),
    (pb::Dimension::Indirect, Dimension::Indirect),
    (pb::Dimension::WiderSocial, Dimension::WiderSocial),
];
const AGGREGATIONS: [(pb::Aggregation, Aggregation); 3] = [
    (pb::Aggregation::Sum, Aggregation::Sum),
    (pb::Aggregation::Mean, Aggregation::Mean),
    (pb::Aggregation::Last, Aggregation::Last),
];
const STATES: [(pb::MeasurementState, State); 5] = [
    (pb::MeasurementState::Draft, State::Draft),
    (pb::MeasurementState::Submitted, State::Submitted),
    (pb::MeasurementState::TrustValidated, State::TrustValidated),
    (pb::MeasurementState::IcsAccepted, State::IcsAccepted),
    (pb::MeasurementState::Returned, State::Returned),
];

fn from_pb<P: Copy + Into<i32>, D: Copy>(table: &[(P, D)], v: i32) -> Option<D> {
    table
        .iter()
        .find(|(p, _)| (*p).into() == v)
        .map(|(_, d)| *d)
}

fn to_pb<P: Copy + Into<i32>, D: Copy + PartialEq>(table: &[(P, D)], v: D) -> i32 {
    table
        .iter()
        .find(|(_, d)| *d == v)
        .map_or(0, |(p, _)| (*p).into())
}

/// The category's proto value.
pub(super) fn category_pb(c: Category) -> i32 {
    to_pb(&CATEGORIES, c)
}

/// A state sent in a request (`None` when unspecified).
pub(super) fn state_of(v: i32) -> Option<State> {
    from_pb(&STATES, v)
}

/// A profile from a request's `benefit`.
pub(super) fn profile_input(b: pb::Benefit) -> Result<Profile, BenefitsError> {
    let pb::Benefit {
        name: _,
        title,
        description,
        four_tests,
        owners,
        senior_responsible_owner,
        category,
        dimension,
        measure,
        baseline,
        target,
        frequency,
        dis_benefit,
        enabling_change_requests,
        valuation,
        etag: _,
        create_time: _,
        update_time: _,
    } = b;
    let mut f = Fields::default();
    let pb::FourTests {
        precisely,
        observable_outcome,
        why_this_change,
        how_measured,
    } = four_tests.unwrap_or_default();
    let owners = owners
        .into_iter()
        .enumerate()
        .map(|(i, pb::BenefitOwner { trust, owner })| {
            (
                trust,
                f.person(&format!("benefit.owners[{i}].owner"), owner),
            )
        })
        .collect();
    let sro = f.person("benefit.senior_responsible_owner", senior_responsible_owner);
    let category = from_pb(&CATEGORIES, category).unwrap_or_else(|| {
        f.bad(
            "benefit.category",
            "must be cash-releasing, non-cash-releasing or qualitative",
        );
        Category::Qualitative
    });
    let dimension = from_pb(&DIMENSIONS, dimension).unwrap_or_else(|| {
        f.bad(
            "benefit.dimension",
            "must be direct, indirect or wider social",
        );
        Dimension::Direct
    });
    let pb::Measure {
        unit,
        higher_is_better,
        aggregation,
    } = measure.unwrap_or_default();
    let aggregation = from_pb(&AGGREGATIONS, aggregation).unwrap_or_else(|| {
        f.bad("benefit.measure.aggregation", "must be sum, mean or last");
        Aggregation::Sum
    });
    if frequency != pb::Frequency::Monthly as i32 {
        f.bad("benefit.frequency", "must be FREQUENCY_MONTHLY");
    }
    let mut at = |field: &str, a: Option<pb::MeasureAt>| {
        a.map(|pb::MeasureAt { value, month }| MeasureAt {
            value: f.ratio(&format!("benefit.{field}.value"), &value),
            month: f.month(&format!("benefit.{field}.month"), &month),
        })
    };
    let baseline = at("baseline", baseline);
    let target = at("target", target);
    let valuation = valuation.map(
        |pb::Valuation {
             rate_card,
             rate_card_version,
             units,
         }| Valuation {
            rate_card,
            version: rate_card_version,
            units,
        },
    );
    f.done(Profile {
        ics: String::new(),
        id: String::new(),
        title,
        description,
        four_tests: FourTests {
            precisely,
            observable_outcome,
            why_this_change,
            how_measured,
        },
        owners,
        sro,
        category,
        dimension,
        unit,
        higher_is_better,
        aggregation,
        baseline,
        target,
        dis_benefit,
        enabling: enabling_change_requests,
        valuation,
        version: 0,
        create_time: chrono::DateTime::UNIX_EPOCH,
        update_time: chrono::DateTime::UNIX_EPOCH,
    })
}

/// A profile as the API shows it.
pub(super) fn benefit_pb(p: &Profile) -> pb::Benefit {
    let at = |a: &Option<MeasureAt>| {
        a.as_ref().map(|a| pb::MeasureAt {
            value: a.value.to_string(),
            month: a.month.to_string(),
        })
    };
    pb::Benefit {
        name: BenefitName::new(&p.ics, &p.id).to_string(),
        title: p.title.clone(),
        description: p.description.clone(),
        four_tests: Some(pb::FourTests {
            precisely: p.four_tests.precisely.clone(),
            observable_outcome: p.four_tests.observable_outcome.clone(),
            why_this_change: p.four_tests.why_this_change.clone(),
            how_measured: p.four_tests.how_measured.clone(),
        }),
        owners: p
            .owners
            .iter()
            .map(|(trust, owner)| pb::BenefitOwner {
                trust: trust.clone(),
                owner: Some(owner.into()),
            })
            .collect(),
        senior_responsible_owner: Some((&p.sro).into()),
        category: category_pb(p.category),
        dimension: to_pb(&DIMENSIONS, p.dimension),
        measure: Some(pb::Measure {
            unit: p.unit.clone(),
            higher_is_better: p.higher_is_better,
            aggregation: to_pb(&AGGREGATIONS, p.aggregation),
        }),
        baseline: at(&p.baseline),
        target: at(&p.target),
        frequency: pb::Frequency::Monthly as i32,
        dis_benefit: p.dis_benefit,
        enabling_change_requests: p.enabling.clone(),
        valuation: p.valuation.as_ref().map(|v| pb::Valuation {
            rate_card: v.rate_card.clone(),
            rate_card_version: v.version,
            units: v.units.clone(),
        }),
        etag: concordat_api::etag::etag(p.version),
        create_time: Some(timestamp(p.create_time)),
        update_time: Some(timestamp(p.update_time)),
    }
}

/// A rate card version from a request's `rate_card`.
pub(super) fn card_input(c: pb::RateCard) -> Result<CardInput, BenefitsError> {
    let pb::RateCard {
        name: _,
        title,
        version: _,
        factors,
        unit_values,
        description,
        etag: _,
        author: _,
        update_time: _,
    } = c;
    let mut f = Fields::default();
    let factors = factors
        .into_iter()
        .enumerate()
        .map(
            |(
                i,
                pb::ConversionFactor {
                    from_unit,
                    to_unit,
                    factor,
                    effective_from,
                },
            )| Factor {
                factor: f.ratio(&format!("rate_card.factors[{i}].factor"), &factor),
                effective_from: f.date(
                    &format!("rate_card.factors[{i}].effective_from"),
                    &effective_from,
                ),
                from_unit,
                to_unit,
            },
        )
        .collect();
    let values = unit_values
        .into_iter()
        .enumerate()
        .map(
            |(
                i,
                pb::UnitValue {
                    unit,
                    pounds,
                    effective_from,
                },
            )| {
                let field = format!("rate_card.unit_values[{i}].pounds");
                let value = Money::parse_pounds(&pounds).unwrap_or_else(|_| {
                    f.bad(
                        field,
                        "must be an exact amount in pounds: `400` or `400.00`",
                    );
                    Money::pence(0)
                });
                UnitValue {
                    value,
                    effective_from: f.date(
                        &format!("rate_card.unit_values[{i}].effective_from"),
                        &effective_from,
                    ),
                    unit,
                }
            },
        )
        .collect();
    f.done(CardInput {
        title,
        description,
        card: RateCard {
            id: String::new(),
            version: 0,
            factors,
            values,
        },
    })
}

/// Pounds as the API writes them: exact, `400` or `2450/3`.
fn pounds(m: Money) -> String {
    m.0.checked_div(Ratio::int(100))
        .map_or_else(|_| m.0.to_string(), |r| r.to_string())
}

/// A rate card version as the API shows it.
pub(super) fn card_pb(r: &CardRecord) -> pb::RateCard {
    pb::RateCard {
        name: RateCardName::new(&r.ics, &r.card.id).to_string(),
        title: r.title.clone(),
        version: r.card.version,
        factors: r
            .card
            .factors
            .iter()
            .map(|f| pb::ConversionFactor {
                from_unit: f.from_unit.clone(),
                to_unit: f.to_unit.clone(),
                factor: f.factor.to_string(),
                effective_from: f.effective_from.to_string(),
            })
            .collect(),
        unit_values: r
            .card
            .values
            .iter()
            .map(|v| pb::UnitValue {
                unit: v.unit.clone(),
                pounds: pounds(v.value),
                effective_from: v.effective_from.to_string(),
            })
            .collect(),
        description: r.description.clone(),
        etag: concordat_api::etag::etag(r.card.version),
        author: Some((&r.author).into()),
        update_time: Some(timestamp(r.update_time)),
    }
}

/// Money as the API shows it.
pub(super) fn money_pb(m: Money) -> pb::Money {
    pb::Money {
        exact_pence: m.0.to_string(),
        pence: i64::try_from(m.rounded_pence()).unwrap_or(i64::MAX),
        display: m.to_string(),
    }
}

/// An amount as the API shows it.
pub(super) fn amount_pb(a: &Amount) -> pb::Amount {
    pb::Amount {
        quantity: a.quantity.to_string(),
        converted: a.converted.to_string(),
        value: a.value.map(money_pb),
    }
}

/// Totals by category as the API shows them.
pub(super) fn totals_pb(t: &Totals) -> Vec<pb::CategoryTotal> {
    t.iter()
        .map(|(category, (value, cards))| pb::CategoryTotal {
            category: category_pb(*category),
            value: Some(money_pb(*value)),
            rate_cards: cards.iter().cloned().collect(),
        })
        .collect()
}

fn evidence_pb(note: &str, link: &str) -> pb::Evidence {
    pb::Evidence {
        note: note.to_owned(),
        link: link.to_owned(),
    }
}

/// A measurement as the API shows it.
pub fn measurement_pb(m: &Measurement) -> pb::Measurement {
    let person = |p: &Option<Person>| p.as_ref().map(platform_pb::Person::from);
    pb::Measurement {
        name: MeasurementName::new(&m.ics, &m.benefit, &m.trust, m.month.to_string()).to_string(),
        value: m.value.to_string(),
        evidence: Some(evidence_pb(&m.note, &m.link)),
        state: to_pb(&STATES, m.state),
        version: m.version,
        submitter: person(&m.submitter),
        first_submit_time: m.first_submit_time.map(timestamp),
        on_time: m.on_time,
        validator: person(&m.validator),
        acceptor: person(&m.acceptor),
        reason: m.reason.clone(),
        etag: concordat_api::etag::etag(m.version),
        update_time: Some(timestamp(m.update_time)),
    }
}

/// A version of a measurement as the API shows it.
pub(super) fn version_pb(v: &Version) -> pb::MeasurementVersion {
    let action = match v.act {
        Act::Saved => pb::MeasurementAction::Saved,
        Act::Submitted => pb::MeasurementAction::Submitted,
        Act::Validated => pb::MeasurementAction::Validated,
        Act::Accepted => pb::MeasurementAction::Accepted,
        Act::Returned => pb::MeasurementAction::Returned,
        Act::Reopened => pb::MeasurementAction::Reopened,
    };
    pb::MeasurementVersion {
        version: v.version,
        action: action as i32,
        state: to_pb(&STATES, v.state),
        value: v.value.to_string(),
        evidence: Some(evidence_pb(&v.note, &v.link)),
        actor: Some((&v.actor).into()),
        reason: v.reason.clone(),
        time: Some(timestamp(v.time)),
    }
}

/// A percentage as the API writes it, from a fraction of one.
fn percent(fraction: Ratio) -> String {
    fraction
        .checked_mul(Ratio::int(100))
        .map_or_else(|_| fraction.to_string(), |r| r.to_string())
}

/// An attribution as the API shows it.
pub(super) fn attribution_pb(a: &AttributionRecord) -> pb::Attribution {
    pb::Attribution {
        name: AttributionName::new(&a.ics, &a.benefit, &a.trust, a.year.segment()).to_string(),
        shares: a
            .shares
            .shares()
            .iter()
            .map(|(cr, s)| pb::Share {
                change_request: cr.clone(),
                percent: percent(*s),
            })
            .collect(),
        unattributed_percent: percent(a.shares.unattributed()),
        rationale: a.rationale.clone(),
        etag: concordat_api::etag::etag(a.version),
        update_time: a.update_time.map(timestamp),
    }
}

/// Settings as the API shows them.
pub(super) fn settings_pb(s: &Settings) -> pb::BenefitsSettings {
    pb::BenefitsSettings {
        name: BenefitsSettingsName::new(&s.ics).to_string(),
        count_validated: s.count_validated,
        submission_days: s.submission_days,
        etag: concordat_api::etag::etag(s.version),
        update_time: s.update_time.map(timestamp),
    }
}

/// A measurement, encoded for an event.
pub fn encode_measurement(m: &Measurement) -> Vec<u8> {
    measurement_pb(m).encode_to_vec()
}

/// A profile, encoded for an event.
pub fn encode_benefit(p: &Profile) -> Vec<u8> {
    benefit_pb(p).encode_to_vec()
}

/// A rate card version, encoded for an event.
pub fn encode_card(r: &CardRecord) -> Vec<u8> {
    card_pb(r).encode_to_vec()
}

/// An attribution, encoded for an event.
pub fn encode_attribution(a: &AttributionRecord) -> Vec<u8> {
    attribution_pb(a).encode_to_vec()
}

/// Settings, encoded for an event.
pub fn encode_settings(s: &Settings) -> Vec<u8> {
    settings_pb(s).encode_to_vec()
}
