//! Benefits' tables: profiles, rate card versions, measurement cells and their versions,
//! attributions and settings. Queries return domain records.

pub mod migrations;

mod entities;
mod measurements;

pub use measurements::*;

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use concordat_platform::identity::Person;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::domain::attribution::Attribution;
use crate::domain::exact::{Money, Ratio};
use crate::domain::measurement::State;
use crate::domain::period::{FinancialYear, Month};
use crate::domain::profile::{Dimension, FourTests, MeasureAt, Profile, Valuation};
use crate::domain::records::{Act, AttributionRecord, CardRecord, Measurement, Settings, Version};
use crate::domain::rollup::{Aggregation, Category, Cell};
use crate::domain::valuation::{Factor, RateCard, UnitValue};
use entities::{attribution, benefit, measurement, rate_card, settings, version};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
    /// A stored value could not be read back.
    #[error("stored {0} is corrupt: {1}")]
    Corrupt(&'static str, String),
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

fn corrupt(what: &'static str, text: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what, text.into())
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn from_json<T: for<'a> Deserialize<'a>>(what: &'static str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|_| corrupt(what, text.chars().take(80).collect::<String>()))
}

fn ratio(what: &'static str, text: &str) -> Result<Ratio> {
    Ratio::parse(text).map_err(|_| corrupt(what, text))
}

fn month(text: &str) -> Result<Month> {
    Month::parse(text).ok_or_else(|| corrupt("month", text))
}

// ----------------------------------------------------------------------------------------------
// Profiles
// ----------------------------------------------------------------------------------------------

/// A profile as stored: its fields as JSON (names as the API's).
#[derive(Serialize, Deserialize)]
struct ProfileJson {
    title: String,
    description: String,
    four_tests: FourTests,
    owners: Vec<(String, Person)>,
    sro: Person,
    category: String,
    dimension: String,
    unit: String,
    higher_is_better: bool,
    aggregation: String,
    baseline: Option<(String, String)>,
    target: Option<(String, String)>,
    dis_benefit: bool,
    enabling: Vec<String>,
    valuation: Option<(String, i64, Vec<String>)>,
}

const CATEGORIES: [(Category, &str); 3] = [
    (Category::CashReleasing, "cash-releasing"),
    (Category::NonCashReleasing, "non-cash-releasing"),
    (Category::Qualitative, "qualitative"),
];
const DIMENSIONS: [(Dimension, &str); 3] = [
    (Dimension::Direct, "direct"),
    (Dimension::Indirect, "indirect"),
    (Dimension::WiderSocial, "wider-social"),
];
const AGGREGATIONS: [(Aggregation, &str); 3] = [
    (Aggregation::Sum, "sum"),
    (Aggregation::Mean, "mean"),
    (Aggregation::Last, "last"),
];

fn name_of<T: PartialEq + Copy>(table: &[(T, &'static str)], v: T) -> &'static str {
    table.iter().find(|(t, _)| *t == v).map_or("", |(_, n)| n)
}

fn value_of<T: Copy>(what: &'static str, table: &[(T, &'static str)], n: &str) -> Result<T> {
    table
        .iter()
        .find(|(_, name)| *name == n)
        .map(|(t, _)| *t)
        .ok_or_else(|| corrupt(what, n))
}

fn at_json(at: &Option<MeasureAt>) -> Option<(String, String)> {
    at.as_ref()
        .map(|a| (a.value.to_string(), a.month.to_string()))
}

fn at_of(at: Option<(String, String)>) -> Result<Option<MeasureAt>> {
    at.map(|(v, m)| {
        Ok(MeasureAt {
            value: ratio("profile value", &v)?,
            month: month(&m)?,
        })
    })
    .transpose()
}

fn profile_json(p: &Profile) -> String {
    to_json(&ProfileJson {
        title: p.title.clone(),
        description: p.description.clone(),
        four_tests: p.four_tests.clone(),
        owners: p.owners.clone(),
        sro: p.sro.clone(),
        category: name_of(&CATEGORIES, p.category).to_owned(),
        dimension: name_of(&DIMENSIONS, p.dimension).to_owned(),
        unit: p.unit.clone(),
        higher_is_better: p.higher_is_better,
        aggregation: name_of(&AGGREGATIONS, p.aggregation).to_owned(),
        baseline: at_json(&p.baseline),
        target: at_json(&p.target),
        dis_benefit: p.dis_benefit,
        enabling: p.enabling.clone(),
        valuation: p
            .valuation
            .as_ref()
            .map(|v| (v.rate_card.clone(), v.version, v.units.clone())),
    })
}

fn profile_of(m: benefit::Model) -> Result<Profile> {
    let j: ProfileJson = from_json("benefit profile", &m.profile)?;
    Ok(Profile {
        ics: m.ics,
        id: m.id,
        title: j.title,
        description: j.description,
        four_tests: j.four_tests,
        owners: j.owners,
        sro: j.sro,
        category: value_of("category", &CATEGORIES, &j.category)?,
        dimension: value_of("dimension", &DIMENSIONS, &j.dimension)?,
        unit: j.unit,
        higher_is_better: j.higher_is_better,
        aggregation: value_of("aggregation", &AGGREGATIONS, &j.aggregation)?,
        baseline: at_of(j.baseline)?,
        target: at_of(j.target)?,
        dis_benefit: j.dis_benefit,
        enabling: j.enabling,
        valuation: j.valuation.map(|(rate_card, version, units)| Valuation {
            rate_card,
            version,
            units,
        }),
        version: m.version,
        create_time: m.create_time,
        update_time: m.update_time,
    })
}

/// The profile `id` of `ics`.
pub async fn profile<C: ConnectionTrait>(c: &C, ics: &str, id: &str) -> Result<Option<Profile>> {
    benefit::Entity::find_by_id((ics.to_owned(), id.to_owned()))
        .one(c)
        .await?
        .map(profile_of)
        .transpose()
}

/// Up to `limit` profiles of `ics` by id, after `after`.
pub async fn profiles<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Profile>> {
    let mut q = benefit::Entity::find().filter(benefit::Column::Ics.eq(ics));
    if let Some(after) = after {
        q = q.filter(benefit::Column::Id.gt(after));
    }
    q.order_by_asc(benefit::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(profile_of)
        .collect()
}

/// Writes `p` (inserting or replacing).
pub async fn put_profile<C: ConnectionTrait>(c: &C, p: &Profile) -> Result<()> {
    benefit::Entity::insert(benefit::ActiveModel {
        ics: Set(p.ics.clone()),
        id: Set(p.id.clone()),
        version: Set(p.version),
        profile: Set(profile_json(p)),
        create_time: Set(p.create_time),
        update_time: Set(p.update_time),
    })
    .on_conflict(
        OnConflict::columns([benefit::Column::Ics, benefit::Column::Id])
            .update_columns([
                benefit::Column::Version,
                benefit::Column::Profile,
                benefit::Column::UpdateTime,
            ])
            .to_owned(),
    )
    .exec(c)
    .await?;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Rate cards
// ----------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
struct Entries {
    factors: Vec<(String, String, String, NaiveDate)>,
    values: Vec<(String, String, NaiveDate)>,
}

fn card_of(m: rate_card::Model) -> Result<CardRecord> {
    let e: Entries = from_json("rate card", &m.entries)?;
    let factors = e
        .factors
        .into_iter()
        .map(|(from_unit, to_unit, f, effective_from)| {
            Ok(Factor {
                from_unit,
                to_unit,
                factor: ratio("rate card factor", &f)?,
                effective_from,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let values = e
        .values
        .into_iter()
        .map(|(unit, pence, effective_from)| {
            Ok(UnitValue {
                unit,
                value: Money(ratio("rate card value", &pence)?),
                effective_from,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(CardRecord {
        ics: m.ics,
        card: RateCard {
            id: m.id,
            version: m.version,
            factors,
            values,
        },
        title: m.title,
        description: m.description,
        author: from_json("rate card author", &m.author)?,
        update_time: m.update_time,
    })
}

/// Version `version` of card `id` of `ics` (`None`: the newest).
pub async fn card<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
    version: Option<i64>,
) -> Result<Option<CardRecord>> {
    let mut q = rate_card::Entity::find()
        .filter(rate_card::Column::Ics.eq(ics))
        .filter(rate_card::Column::Id.eq(id));
    if let Some(v) = version {
        q = q.filter(rate_card::Column::Version.eq(v));
    }
    q.order_by_desc(rate_card::Column::Version)
        .one(c)
        .await?
        .map(card_of)
        .transpose()
}

/// Up to `limit` cards of `ics` (newest versions) by id, after `after`.
pub async fn cards<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<CardRecord>> {
    let mut q = rate_card::Entity::find().filter(rate_card::Column::Ics.eq(ics));
    if let Some(after) = after {
        q = q.filter(rate_card::Column::Id.gt(after));
    }
    // Every version of the page's cards, newest first within a card; the first of each is kept.
    let rows = q
        .order_by_asc(rate_card::Column::Id)
        .order_by_desc(rate_card::Column::Version)
        .all(c)
        .await?;
    let mut out: Vec<CardRecord> = Vec::new();
    for row in rows {
        if out.last().is_some_and(|last| last.card.id == row.id) {
            continue;
        }
        if out.len() as u64 == limit {
            break;
        }
        out.push(card_of(row)?);
    }
    Ok(out)
}

/// Inserts a card version.
pub async fn insert_card<C: ConnectionTrait>(c: &C, r: &CardRecord) -> Result<()> {
    let entries = Entries {
        factors: r
            .card
            .factors
            .iter()
            .map(|f| {
                (
                    f.from_unit.clone(),
                    f.to_unit.clone(),
                    f.factor.to_string(),
                    f.effective_from,
                )
            })
            .collect(),
        values: r
            .card
            .values
            .iter()
            .map(|v| (v.unit.clone(), v.value.0.to_string(), v.effective_from))
            .collect(),
    };
    rate_card::Entity::insert(rate_card::ActiveModel {
        ics: Set(r.ics.clone()),
        id: Set(r.card.id.clone()),
        version: Set(r.card.version),
        title: Set(r.title.clone()),
        description: Set(r.description.clone()),
        entries: Set(to_json(&entries)),
        author: Set(to_json(&r.author)),
        update_time: Set(r.update_time),
    })
    .exec(c)
    .await?;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Attributions
// ----------------------------------------------------------------------------------------------

fn attribution_of(m: attribution::Model) -> Result<AttributionRecord> {
    let shares: Vec<(String, String)> = from_json("attribution shares", &m.shares)?;
    let shares = shares
        .into_iter()
        .map(|(cr, s)| Ok((cr, ratio("attribution share", &s)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(AttributionRecord {
        year: FinancialYear::parse_segment(&m.year)
            .ok_or_else(|| corrupt("attribution year", &m.year))?,
        shares: Attribution::new(shares)
            .map_err(|e| corrupt("attribution shares", format!("{e:?}")))?,
        ics: m.ics,
        benefit: m.benefit,
        trust: m.trust,
        rationale: m.rationale,
        version: m.version,
        update_time: Some(m.update_time),
    })
}

/// The attribution of `benefit` at `trust` in `year` (an empty one, version 0, if never set).
pub async fn attribution<C: ConnectionTrait>(
    c: &C,
    (ics, benefit, trust): (&str, &str, &str),
    year: FinancialYear,
) -> Result<AttributionRecord> {
    let row = attribution::Entity::find_by_id((
        ics.to_owned(),
        benefit.to_owned(),
        year.segment(),
        trust.to_owned(),
    ))
    .one(c)
    .await?;
    match row {
        Some(row) => attribution_of(row),
        None => Ok(AttributionRecord {
            ics: ics.to_owned(),
            benefit: benefit.to_owned(),
            trust: trust.to_owned(),
            year,
            shares: Attribution::default(),
            rationale: String::new(),
            version: 0,
            update_time: None,
        }),
    }
}

/// Every attribution set for `benefit` (every benefit, if `None`) of `ics` in `year`.
pub async fn attributions<C: ConnectionTrait>(
    c: &C,
    (ics, benefit): (&str, Option<&str>),
    year: FinancialYear,
) -> Result<Vec<AttributionRecord>> {
    let mut q = attribution::Entity::find().filter(attribution::Column::Ics.eq(ics));
    if let Some(benefit) = benefit {
        q = q.filter(attribution::Column::Benefit.eq(benefit));
    }
    q.filter(attribution::Column::Year.eq(year.segment()))
        .all(c)
        .await?
        .into_iter()
        .map(attribution_of)
        .collect()
}

/// Writes `a`.
pub async fn put_attribution<C: ConnectionTrait>(c: &C, a: &AttributionRecord) -> Result<()> {
    let shares: Vec<(String, String)> = a
        .shares
        .shares()
        .iter()
        .map(|(cr, s)| (cr.clone(), s.to_string()))
        .collect();
    attribution::Entity::insert(attribution::ActiveModel {
        ics: Set(a.ics.clone()),
        benefit: Set(a.benefit.clone()),
        year: Set(a.year.segment()),
        trust: Set(a.trust.clone()),
        version: Set(a.version),
        shares: Set(to_json(&shares)),
        rationale: Set(a.rationale.clone()),
        update_time: Set(a.update_time.unwrap_or(DateTime::<Utc>::UNIX_EPOCH)),
    })
    .on_conflict(
        OnConflict::columns([
            attribution::Column::Ics,
            attribution::Column::Benefit,
            attribution::Column::Year,
            attribution::Column::Trust,
        ])
        .update_columns([
            attribution::Column::Version,
            attribution::Column::Shares,
            attribution::Column::Rationale,
            attribution::Column::UpdateTime,
        ])
        .to_owned(),
    )
    .exec(c)
    .await?;
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Settings
// ----------------------------------------------------------------------------------------------

/// The settings of `ics` (the defaults, version 0, until written).
pub async fn settings<C: ConnectionTrait>(c: &C, ics: &str) -> Result<Settings> {
    Ok(
        match settings::Entity::find_by_id(ics.to_owned()).one(c).await? {
            Some(m) => Settings {
                ics: m.ics,
                count_validated: m.count_validated,
                submission_days: m.submission_days,
                version: m.version,
                update_time: Some(m.update_time),
            },
            None => Settings::defaults(ics),
        },
    )
}

/// Writes `s`.
pub async fn put_settings<C: ConnectionTrait>(c: &C, s: &Settings) -> Result<()> {
    settings::Entity::insert(settings::ActiveModel {
        ics: Set(s.ics.clone()),
        version: Set(s.version),
        count_validated: Set(s.count_validated),
        submission_days: Set(s.submission_days),
        update_time: Set(s.update_time.unwrap_or(DateTime::<Utc>::UNIX_EPOCH)),
    })
    .on_conflict(
        OnConflict::column(settings::Column::Ics)
            .update_columns([
                settings::Column::Version,
                settings::Column::CountValidated,
                settings::Column::SubmissionDays,
                settings::Column::UpdateTime,
            ])
            .to_owned(),
    )
    .exec(c)
    .await?;
    Ok(())
}
