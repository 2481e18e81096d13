//! Measurement cells and their versions, and the yearly summaries (`bn_cell_years`) the
//! rollups and charts read them through.

use super::*;

/// Which cell: ICS, benefit, trust, month.
pub type CellKey<'a> = (&'a str, &'a str, &'a str, Month);

fn state(text: &str) -> Result<State> {
    State::parse(text).ok_or_else(|| corrupt("measurement state", text))
}

fn person_of(text: Option<String>) -> Result<Option<Person>> {
    text.map(|t| from_json("person", &t)).transpose()
}

fn measurement_of(m: measurement::Model) -> Result<Measurement> {
    Ok(Measurement {
        month: month(&m.month)?,
        value: ratio("measurement value", &m.value)?,
        state: state(&m.state)?,
        submitter: person_of(m.submitter)?,
        validator: person_of(m.validator)?,
        acceptor: person_of(m.acceptor)?,
        ics: m.ics,
        benefit: m.benefit,
        trust: m.trust,
        note: m.note,
        link: m.link,
        version: m.version,
        first_submit_time: m.first_submit_time,
        on_time: m.on_time,
        reason: m.reason,
        update_time: m.update_time,
    })
}

/// The cell `key`, if written.
pub async fn measurement<C: ConnectionTrait>(
    c: &C,
    (ics, benefit, trust, m): CellKey<'_>,
) -> Result<Option<Measurement>> {
    measurement::Entity::find_by_id((
        ics.to_owned(),
        benefit.to_owned(),
        m.to_string(),
        trust.to_owned(),
    ))
    .one(c)
    .await?
    .map(measurement_of)
    .transpose()
}

/// Writes `m` as it now stands and records `v` as its new version.
pub async fn put_measurement<C: ConnectionTrait>(
    c: &C,
    m: &Measurement,
    v: &Version,
) -> Result<()> {
    let person = |p: &Option<Person>| p.as_ref().map(to_json);
    measurement::Entity::insert(measurement::ActiveModel {
        ics: Set(m.ics.clone()),
        benefit: Set(m.benefit.clone()),
        month: Set(m.month.to_string()),
        trust: Set(m.trust.clone()),
        value: Set(m.value.to_string()),
        note: Set(m.note.clone()),
        link: Set(m.link.clone()),
        state: Set(m.state.to_string()),
        version: Set(m.version),
        submitter: Set(person(&m.submitter)),
        first_submit_time: Set(m.first_submit_time),
        on_time: Set(m.on_time),
        validator: Set(person(&m.validator)),
        acceptor: Set(person(&m.acceptor)),
        reason: Set(m.reason.clone()),
        update_time: Set(m.update_time),
    })
    .on_conflict(
        OnConflict::columns([
            measurement::Column::Ics,
            measurement::Column::Benefit,
            measurement::Column::Month,
            measurement::Column::Trust,
        ])
        .update_columns([
            measurement::Column::Value,
            measurement::Column::Note,
            measurement::Column::Link,
            measurement::Column::State,
            measurement::Column::Version,
            measurement::Column::Submitter,
            measurement::Column::FirstSubmitTime,
            measurement::Column::OnTime,
            measurement::Column::Validator,
            measurement::Column::Acceptor,
            measurement::Column::Reason,
            measurement::Column::UpdateTime,
        ])
        .to_owned(),
    )
    .exec(c)
    .await?;
    refresh_cell_year(c, (&m.ics, &m.benefit, &m.trust, m.month)).await?;
    version::Entity::insert(version::ActiveModel {
        ics: Set(m.ics.clone()),
        benefit: Set(m.benefit.clone()),
        month: Set(m.month.to_string()),
        trust: Set(m.trust.clone()),
        version: Set(v.version),
        act: Set(v.act.name().to_owned()),
        state: Set(v.state.to_string()),
        value: Set(v.value.to_string()),
        note: Set(v.note.clone()),
        link: Set(v.link.clone()),
        actor: Set(to_json(&v.actor)),
        reason: Set(v.reason.clone()),
        time: Set(v.time),
    })
    .exec(c)
    .await?;
    Ok(())
}

/// What ListMeasurements selects.
#[derive(Debug, Clone, Default)]
pub struct MeasurementQuery {
    /// One trust's only.
    pub trust: Option<String>,
    /// Months from, to (inclusive).
    pub months: Option<(Month, Month)>,
    /// One state's only.
    pub state: Option<State>,
}

/// Up to `limit` cells of `benefit` by trust then month, after `after` (trust, month).
pub async fn measurements<C: ConnectionTrait>(
    c: &C,
    (ics, benefit): (&str, &str),
    q: &MeasurementQuery,
    after: Option<(String, String)>,
    limit: u64,
) -> Result<Vec<Measurement>> {
    use sea_orm::sea_query::Condition;
    let mut s = measurement::Entity::find()
        .filter(measurement::Column::Ics.eq(ics))
        .filter(measurement::Column::Benefit.eq(benefit));
    if let Some(t) = &q.trust {
        s = s.filter(measurement::Column::Trust.eq(t));
    }
    if let Some((from, to)) = q.months {
        s = s
            .filter(measurement::Column::Month.gte(from.to_string()))
            .filter(measurement::Column::Month.lte(to.to_string()));
    }
    if let Some(st) = q.state {
        s = s.filter(measurement::Column::State.eq(st.to_string()));
    }
    if let Some((trust, m)) = after {
        s = s.filter(
            Condition::any()
                .add(measurement::Column::Trust.gt(trust.clone()))
                .add(
                    Condition::all()
                        .add(measurement::Column::Trust.eq(trust))
                        .add(measurement::Column::Month.gt(m)),
                ),
        );
    }
    s.order_by_asc(measurement::Column::Trust)
        .order_by_asc(measurement::Column::Month)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(measurement_of)
        .collect()
}

/// Every version of the cell `key`, oldest first.
pub async fn versions<C: ConnectionTrait>(
    c: &C,
    (ics, benefit, trust, m): CellKey<'_>,
) -> Result<Vec<Version>> {
    version::Entity::find()
        .filter(version::Column::Ics.eq(ics))
        .filter(version::Column::Benefit.eq(benefit))
        .filter(version::Column::Month.eq(m.to_string()))
        .filter(version::Column::Trust.eq(trust))
        .order_by_asc(version::Column::Version)
        .all(c)
        .await?
        .into_iter()
        .map(|v| {
            Ok(Version {
                version: v.version,
                act: Act::parse(&v.act).ok_or_else(|| corrupt("measurement act", &v.act))?,
                state: state(&v.state)?,
                value: ratio("measurement value", &v.value)?,
                note: v.note,
                link: v.link,
                actor: from_json("person", &v.actor)?,
                reason: v.reason,
                time: v.time,
            })
        })
        .collect()
}

/// The cells of `benefit` from `first` to `last` (inclusive), as a chart reads them: from the
/// yearly summaries of the years they fall in.
pub async fn cells<C: ConnectionTrait>(
    c: &C,
    (ics, benefit): (&str, &str),
    months: (Month, Month),
) -> Result<Vec<Cell>> {
    Ok(summarised_cells(c, ics, Some(benefit), months)
        .await?
        .into_values()
        .next()
        .unwrap_or_default())
}

/// The cells of every benefit of `ics` from `first` to `last` (inclusive), by benefit id, as an
/// ICS's rollup reads them: from the yearly summaries (one row per benefit, trust and financial
/// year, kept by [`put_measurement`]), so a year of an ICS is as many rows as it has benefits ×
/// trusts, however many cells the table holds.
pub async fn ics_cells<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    months: (Month, Month),
) -> Result<BTreeMap<String, Vec<Cell>>> {
    summarised_cells(c, ics, None, months).await
}

/// The cells of `ics` (of `benefit` only, when given) from `first` to `last` (inclusive), by
/// benefit id, read from the yearly summaries of the financial years they fall in.
async fn summarised_cells<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    benefit: Option<&str>,
    (first, last): (Month, Month),
) -> Result<BTreeMap<String, Vec<Cell>>> {
    let backend = c.get_database_backend();
    let mut years = Vec::new();
    let mut fy = first.financial_year();
    while fy <= last.financial_year() {
        years.push(fy.segment());
        fy = FinancialYear {
            start: fy.start + 1,
        };
    }
    let p = placeholders(backend);
    let mut sql = format!(
        "SELECT benefit, trust, cells FROM bn_cell_years WHERE ics = {} AND year IN ({})",
        p(1),
        (2..years.len() + 2).map(&p).collect::<Vec<_>>().join(", ")
    );
    let mut values: Vec<sea_orm::Value> = vec![ics.into()];
    if benefit.is_some() {
        sql.push_str(&format!(" AND benefit = {}", p(years.len() + 2)));
    }
    values.extend(years.into_iter().map(sea_orm::Value::from));
    if let Some(benefit) = benefit {
        values.push(benefit.into());
    }
    let rows = c
        .query_all_raw(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await?;
    let mut out: BTreeMap<String, Vec<Cell>> = BTreeMap::new();
    for row in rows {
        let benefit: String = row.try_get("", "benefit")?;
        let trust: String = row.try_get("", "trust")?;
        let encoded: String = row.try_get("", "cells")?;
        let cells = out.entry(benefit).or_default();
        for text in encoded.split(',') {
            let mut parts = text.splitn(4, ';');
            let (Some(m), Some(value), Some(st), Some(on_time)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(corrupt("yearly summary cell", text));
            };
            let m = month(m)?;
            if m < first || m > last {
                continue;
            }
            cells.push(Cell {
                trust: trust.clone(),
                month: m,
                value: ratio("measurement value", value)?,
                state: state(st)?,
                on_time: on_time == "1",
            });
        }
    }
    Ok(out)
}

/// `$n` on PostgreSQL, `?` on SQLite.
fn placeholders(backend: sea_orm::DatabaseBackend) -> impl Fn(usize) -> String {
    move |i| {
        if backend == sea_orm::DatabaseBackend::Postgres {
            format!("${i}")
        } else {
            "?".into()
        }
    }
}

/// The statement (re)writing yearly summaries from the cells `condition` selects (a SQL
/// condition on `bn_measurements`, with its placeholders): one row per ICS, benefit, trust and
/// financial year (`2025-26`), its cells as `month;value;state;on_time` (on time `1` or `0`)
/// joined by `,`. [`put_measurement`] runs it for the cell's year; the migration that made the
/// table, and bulk loads, for every cell.
pub fn cell_years_sql(backend: sea_orm::DatabaseBackend, condition: &str) -> String {
    let cell = "month || ';' || value || ';' || state || ';' || \
                CASE WHEN on_time THEN '1' ELSE '0' END";
    let joined = if backend == sea_orm::DatabaseBackend::Postgres {
        format!("string_agg({cell}, ',')")
    } else {
        format!("group_concat({cell}, ',')")
    };
    // The financial year's first calendar year: the month's year from April, the year before
    // until March.
    let start = "(CAST(substr(month, 1, 4) AS INTEGER) - \
                 CASE WHEN CAST(substr(month, 6, 2) AS INTEGER) < 4 THEN 1 ELSE 0 END)";
    format!(
        "INSERT INTO bn_cell_years (ics, year, benefit, trust, cells) \
         SELECT ics, CAST({start} AS TEXT) || '-' || substr(CAST({start} + 1 AS TEXT), 3, 2), \
         benefit, trust, {joined} FROM bn_measurements WHERE {condition} \
         GROUP BY ics, {start}, benefit, trust \
         ON CONFLICT (ics, year, benefit, trust) DO UPDATE SET cells = excluded.cells"
    )
}

/// Rewrites the yearly summary of `key`'s benefit, trust and financial year from its cells.
async fn refresh_cell_year<C: ConnectionTrait>(
    c: &C,
    (ics, benefit, trust, m): CellKey<'_>,
) -> Result<()> {
    let backend = c.get_database_backend();
    let p = placeholders(backend);
    let months = m.financial_year().months();
    let condition = format!(
        "ics = {} AND benefit = {} AND trust = {} AND month >= {} AND month <= {}",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5)
    );
    c.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend,
        cell_years_sql(backend, &condition),
        [
            ics.into(),
            benefit.into(),
            trust.into(),
            months[0].to_string().into(),
            months[11].to_string().into(),
        ],
    ))
    .await?;
    Ok(())
}
