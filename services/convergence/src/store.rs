//! Convergence's tables: recorded assessments and their divergences, the follower's position and
//! what it knows of each trust, and each ICS's scoring settings. Queries return domain records.

pub mod migrations;

mod entities;
mod plans;

pub use plans::{insert_plan, plan, plans, plans_awaiting, replace_plan, set_achieved};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};

use crate::domain::assessment::{Band, Class, GovernanceClass, Grid, Tally, Weights};
use crate::domain::records::{Assessment, Divergence, Settings, TrustState};
use entities::{assessment, divergence, follow, notice, settings, trust};

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

/// Rows written per statement when an assessment's divergences are inserted.
const INSERT_BATCH: usize = 500;

fn tally_json(cells: &BTreeMap<String, Tally>) -> String {
    let cells: serde_json::Map<String, Value> = cells
        .iter()
        .map(|(domain, t)| {
            let rows: Vec<Value> = t
                .entries()
                .map(|(c, g, n)| json!([c.name(), g.map_or("", GovernanceClass::name), n]))
                .collect();
            (domain.clone(), Value::Array(rows))
        })
        .collect();
    Value::Object(cells).to_string()
}

fn parse_tally(text: &str) -> Result<BTreeMap<String, Tally>> {
    let corrupt = || StoreError::Corrupt("assessment tally", text.chars().take(80).collect());
    let parsed: BTreeMap<String, Vec<(String, String, u64)>> =
        serde_json::from_str(text).map_err(|_| corrupt())?;
    parsed
        .into_iter()
        .map(|(domain, rows)| {
            let mut t = Tally::default();
            for (class, governance, n) in rows {
                let class = Class::parse(&class).ok_or_else(corrupt)?;
                let governance = match governance.as_str() {
                    "" => None,
                    g => Some(GovernanceClass::parse(g).ok_or_else(corrupt)?),
                };
                t.add_many(class, governance, n);
            }
            Ok((domain, t))
        })
        .collect()
}

fn assessment_of(m: assessment::Model) -> Result<Assessment> {
    Ok(Assessment {
        cells: parse_tally(&m.tally)?,
        ics: m.ics,
        id: m.id,
        trust: m.trust,
        snapshot: m.snapshot,
        baseline_revision: m.baseline_revision,
        overlay_revision: m.overlay_revision,
        assess_time: m.assess_time,
        record_time: Some(m.record_time),
        trigger: m.trigger,
        trigger_seq: m.trigger_seq,
        key_count: m.key_count,
    })
}

fn value_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

fn value_of(text: Option<String>) -> Result<Option<Value>> {
    text.map(|t| serde_json::from_str(&t).map_err(|_| StoreError::Corrupt("divergence value", t)))
        .transpose()
}

/// Records `a` and its divergences.
pub async fn insert_assessment<C: ConnectionTrait>(
    c: &C,
    a: &Assessment,
    divergences: &[Divergence],
) -> Result<()> {
    assessment::Entity::insert(assessment::ActiveModel {
        ics: Set(a.ics.clone()),
        id: Set(a.id.clone()),
        trust: Set(a.trust.clone()),
        snapshot: Set(a.snapshot.clone()),
        baseline_revision: Set(a.baseline_revision),
        overlay_revision: Set(a.overlay_revision),
        assess_time: Set(a.assess_time),
        record_time: Set(a.record_time.unwrap_or(a.assess_time)),
        trigger: Set(a.trigger.clone()),
        trigger_seq: Set(a.trigger_seq),
        key_count: Set(a.key_count),
        tally: Set(tally_json(&a.cells)),
    })
    .exec(c)
    .await?;
    for batch in divergences.chunks(INSERT_BATCH) {
        let rows = batch.iter().map(|d| divergence::ActiveModel {
            ics: Set(a.ics.clone()),
            assessment: Set(a.id.clone()),
            kind: Set(d.kind.clone()),
            item_key: Set(d.key.clone()),
            domain: Set(d.domain.clone()),
            class: Set(d.class.name().to_owned()),
            governance: Set(d.governance.name().to_owned()),
            baseline_value: Set(value_text(&d.baseline_value)),
            approved_value: Set(value_text(&d.approved_value)),
            snapshot_value: Set(value_text(&d.snapshot_value)),
            change_request: Set(d.change_request.clone()),
            expire_time: Set(d.expire_time),
            variation_removes: Set(d.variation_removes),
        });
        divergence::Entity::insert_many(rows).exec(c).await?;
    }
    Ok(())
}

/// The recorded assessment `id` of `trust`.
pub async fn assessment<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
    id: &str,
) -> Result<Option<Assessment>> {
    assessment::Entity::find_by_id((ics.to_owned(), id.to_owned()))
        .filter(assessment::Column::Trust.eq(trust))
        .one(c)
        .await?
        .map(assessment_of)
        .transpose()
}

/// The newest assessment of `trust` made for a time at or before `at` (any, when `None`).
pub async fn latest_assessment<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
    at: Option<DateTime<Utc>>,
) -> Result<Option<Assessment>> {
    let mut q = assessment::Entity::find()
        .filter(assessment::Column::Ics.eq(ics))
        .filter(assessment::Column::Trust.eq(trust));
    if let Some(at) = at {
        q = q.filter(assessment::Column::AssessTime.lte(at));
    }
    q.order_by_desc(assessment::Column::AssessTime)
        .order_by_desc(assessment::Column::Id)
        .one(c)
        .await?
        .map(assessment_of)
        .transpose()
}

/// Assessments of `trust`, newest first, after `before` ((time, id) of the last one of the
/// previous page), at most `limit`.
pub async fn assessments<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
    before: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<Assessment>> {
    use sea_orm::Condition;
    let mut q = assessment::Entity::find()
        .filter(assessment::Column::Ics.eq(ics))
        .filter(assessment::Column::Trust.eq(trust));
    if let Some((time, id)) = before {
        q = q.filter(
            Condition::any()
                .add(assessment::Column::AssessTime.lt(time))
                .add(
                    Condition::all()
                        .add(assessment::Column::AssessTime.eq(time))
                        .add(assessment::Column::Id.lt(id)),
                ),
        );
    }
    q.order_by_desc(assessment::Column::AssessTime)
        .order_by_desc(assessment::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(assessment_of)
        .collect()
}

/// Whether an assessment was recorded for the event at `seq`.
pub async fn assessed_event<C: ConnectionTrait>(c: &C, ics: &str, seq: i64) -> Result<bool> {
    Ok(assessment::Entity::find()
        .filter(assessment::Column::Ics.eq(ics))
        .filter(assessment::Column::TriggerSeq.eq(seq))
        .one(c)
        .await?
        .is_some())
}

/// The divergences of assessment `id`, in key order after `after`, of `domain` and `class` when
/// given, at most `limit`.
pub async fn divergences<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
    filter: (Option<&str>, Option<Class>),
    after: Option<(String, String)>,
    limit: u64,
) -> Result<Vec<Divergence>> {
    use sea_orm::Condition;
    let mut q = divergence::Entity::find()
        .filter(divergence::Column::Ics.eq(ics))
        .filter(divergence::Column::Assessment.eq(id));
    if let Some(domain) = filter.0 {
        q = q.filter(divergence::Column::Domain.eq(domain));
    }
    if let Some(class) = filter.1 {
        q = q.filter(divergence::Column::Class.eq(class.name()));
    }
    if let Some((kind, key)) = after {
        q = q.filter(
            Condition::any()
                .add(divergence::Column::Kind.gt(kind.clone()))
                .add(
                    Condition::all()
                        .add(divergence::Column::Kind.eq(kind))
                        .add(divergence::Column::ItemKey.gt(key)),
                ),
        );
    }
    divergences_where(
        c,
        q.order_by_asc(divergence::Column::Kind)
            .order_by_asc(divergence::Column::ItemKey)
            .limit(limit),
    )
    .await
}

async fn divergences_where<C: ConnectionTrait>(
    c: &C,
    q: sea_orm::Select<divergence::Entity>,
) -> Result<Vec<Divergence>> {
    let rows = q.all(c).await?;
    rows.into_iter()
        .map(|m| {
            let corrupt = |what: &str| StoreError::Corrupt("divergence class", what.to_owned());
            Ok(Divergence {
                class: Class::parse(&m.class).ok_or_else(|| corrupt(&m.class))?,
                governance: GovernanceClass::parse(&m.governance)
                    .ok_or_else(|| corrupt(&m.governance))?,
                baseline_value: value_of(m.baseline_value)?,
                approved_value: value_of(m.approved_value)?,
                snapshot_value: value_of(m.snapshot_value)?,
                kind: m.kind,
                key: m.item_key,
                domain: m.domain,
                change_request: m.change_request,
                expire_time: m.expire_time,
                variation_removes: m.variation_removes,
            })
        })
        .collect()
}

/// The divergence at `kind`/`key` of assessment `id`, if the key is not aligned there.
pub async fn divergence<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
    kind: &str,
    key: &str,
) -> Result<Option<Divergence>> {
    let found = divergences_where(
        c,
        divergence::Entity::find()
            .filter(divergence::Column::Ics.eq(ics))
            .filter(divergence::Column::Assessment.eq(id))
            .filter(divergence::Column::Kind.eq(kind))
            .filter(divergence::Column::ItemKey.eq(key)),
    )
    .await?;
    Ok(found.into_iter().next())
}

/// Records the notice `kind` about `subject` at `at`; false if it was given before.
pub async fn record_notice<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    (kind, subject, at): (&str, &str, DateTime<Utc>),
    now: DateTime<Utc>,
) -> Result<bool> {
    let key = (ics.to_owned(), kind.to_owned(), subject.to_owned(), at);
    if notice::Entity::find_by_id(key).one(c).await?.is_some() {
        return Ok(false);
    }
    notice::Entity::insert(notice::ActiveModel {
        ics: Set(ics.to_owned()),
        kind: Set(kind.to_owned()),
        subject: Set(subject.to_owned()),
        at: Set(at),
        notice_time: Set(now),
    })
    .exec(c)
    .await?;
    Ok(true)
}

/// Where the follower of `ics` is (0: at the start).
pub async fn follow_cursor<C: ConnectionTrait>(c: &C, ics: &str) -> Result<i64> {
    Ok(follow::Entity::find_by_id(ics.to_owned())
        .one(c)
        .await?
        .map_or(0, |m| m.cursor))
}

/// Moves the follower of `ics` to `cursor`.
pub async fn set_follow_cursor<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cursor: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    follow::Entity::insert(follow::ActiveModel {
        ics: Set(ics.to_owned()),
        cursor: Set(cursor),
        update_time: Set(now),
    })
    .on_conflict(
        OnConflict::column(follow::Column::Ics)
            .update_columns([follow::Column::Cursor, follow::Column::UpdateTime])
            .to_owned(),
    )
    .exec(c)
    .await?;
    Ok(())
}

/// What the follower knows of `trust`.
pub async fn trust_state<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
) -> Result<Option<TrustState>> {
    Ok(
        trust::Entity::find_by_id((ics.to_owned(), trust.to_owned()))
            .one(c)
            .await?
            .map(|m| TrustState {
                baseline_revision: m.baseline_revision,
                overlay_revision: m.overlay_revision,
                effective_time: m.effective_time,
                snapshot: m.snapshot,
                snapshot_time: m.snapshot_time,
            }),
    )
}

/// Keeps what the follower knows of `trust`.
pub async fn set_trust_state<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
    s: &TrustState,
) -> Result<()> {
    trust::Entity::insert(trust::ActiveModel {
        ics: Set(ics.to_owned()),
        trust: Set(trust.to_owned()),
        baseline_revision: Set(s.baseline_revision),
        overlay_revision: Set(s.overlay_revision),
        effective_time: Set(s.effective_time),
        snapshot: Set(s.snapshot.clone()),
        snapshot_time: Set(s.snapshot_time),
    })
    .on_conflict(
        OnConflict::columns([trust::Column::Ics, trust::Column::Trust])
            .update_columns([
                trust::Column::BaselineRevision,
                trust::Column::OverlayRevision,
                trust::Column::EffectiveTime,
                trust::Column::Snapshot,
                trust::Column::SnapshotTime,
            ])
            .to_owned(),
    )
    .exec(c)
    .await?;
    Ok(())
}

/// The scoring settings of `ics` (the defaults until set).
pub async fn settings<C: ConnectionTrait>(c: &C, ics: &str) -> Result<Settings> {
    let Some(m) = settings::Entity::find_by_id(ics.to_owned()).one(c).await? else {
        return Ok(Settings::defaults(ics));
    };
    let corrupt = |what: &'static str, text: &str| StoreError::Corrupt(what, text.to_owned());
    let w: Vec<f64> =
        serde_json::from_str(&m.weights).map_err(|_| corrupt("weights", &m.weights))?;
    let [locked, bounded, overridable] = w[..] else {
        return Err(corrupt("weights", &m.weights));
    };
    let bands: Vec<(f64, String)> =
        serde_json::from_str(&m.bands).map_err(|_| corrupt("bands", &m.bands))?;
    let grid = Grid::new(
        bands
            .into_iter()
            .map(|(from, label)| Band { from, label })
            .collect(),
    )
    .map_err(|e| corrupt("bands", &e))?;
    Ok(Settings {
        ics: m.ics,
        weights: Weights {
            locked,
            bounded,
            overridable,
        },
        grid,
        notice_days: m.notice_days,
        version: m.version,
        update_time: Some(m.update_time),
    })
}

/// Stores the scoring settings of an ICS.
pub async fn put_settings<C: ConnectionTrait>(c: &C, s: &Settings) -> Result<()> {
    let weights = json!([s.weights.locked, s.weights.bounded, s.weights.overridable]);
    let bands: Vec<Value> = s
        .grid
        .bands()
        .iter()
        .map(|b| json!([b.from, b.label]))
        .collect();
    settings::Entity::insert(settings::ActiveModel {
        ics: Set(s.ics.clone()),
        weights: Set(weights.to_string()),
        bands: Set(Value::Array(bands).to_string()),
        notice_days: Set(s.notice_days),
        version: Set(s.version),
        update_time: Set(s.update_time.unwrap_or_default()),
    })
    .on_conflict(
        OnConflict::column(settings::Column::Ics)
            .update_columns([
                settings::Column::Weights,
                settings::Column::Bands,
                settings::Column::NoticeDays,
                settings::Column::Version,
                settings::Column::UpdateTime,
            ])
            .to_owned(),
    )
    .exec(c)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_is_read_back_as_written() {
        let mut medicines = Tally::default();
        medicines.add_many(Class::Aligned, Some(GovernanceClass::Locked), 3);
        medicines.add(Class::LocalOnly, None);
        medicines.add(Class::Divergent, Some(GovernanceClass::Bounded));
        let cells = BTreeMap::from([
            ("medicines".to_owned(), medicines),
            ("theatres".to_owned(), Tally::default()),
        ]);
        assert_eq!(parse_tally(&tally_json(&cells)).unwrap(), cells);
        assert!(parse_tally(r#"{"x": [["SIDEWAYS", "", 1]]}"#).is_err());
    }
}
