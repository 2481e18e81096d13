//! Convergence plans: a row per plan (its dependencies as JSON) and a row per milestone.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};

use super::entities::{milestone, plan};
use super::{Result, StoreError};
use crate::domain::plan::{Dependency, Estimate};
use crate::domain::plans::{DurationSource, Plan, PlanMilestone, kind_name, kind_of};

fn source_name(s: DurationSource) -> &'static str {
    match s {
        DurationSource::Estimates => "estimates",
        DurationSource::History => "history",
    }
}

fn dependencies_json(deps: &[Dependency]) -> String {
    let rows: Vec<Value> = deps
        .iter()
        .map(|d| json!([d.predecessor, d.successor, kind_name(d.kind), d.lag]))
        .collect();
    Value::Array(rows).to_string()
}

fn parse_dependencies(text: &str) -> Result<Vec<Dependency>> {
    let corrupt = || StoreError::Corrupt("plan dependencies", text.chars().take(80).collect());
    let rows: Vec<(String, String, String, f64)> =
        serde_json::from_str(text).map_err(|_| corrupt())?;
    rows.into_iter()
        .map(|(predecessor, successor, kind, lag)| {
            Ok(Dependency {
                predecessor,
                successor,
                kind: kind_of(&kind).ok_or_else(corrupt)?,
                lag,
            })
        })
        .collect()
}

fn plan_of(p: plan::Model, milestones: Vec<milestone::Model>) -> Result<Plan> {
    Ok(Plan {
        dependencies: parse_dependencies(&p.dependencies)?,
        duration_source: if p.duration_source == "history" {
            DurationSource::History
        } else {
            DurationSource::Estimates
        },
        milestones: milestones
            .into_iter()
            .map(|m| PlanMilestone {
                achieved: m.achieve_time.map(|t| (m.achieved_by.clone(), t)),
                id: m.id,
                trust: m.trust,
                domain: m.domain,
                target_convergence: m.target_convergence,
                keys_in_scope: m.keys_in_scope,
                due_time: m.due_time,
                owner: m.owner,
                estimate: Estimate::new(m.optimistic_days, m.most_likely_days, m.pessimistic_days),
            })
            .collect(),
        ics: p.ics,
        id: p.id,
        display_name: p.display_name,
        start_time: p.start_time,
        target_time: p.target_time,
        seed: p.seed as u64,
        version: p.version,
        create_time: p.create_time,
        update_time: p.update_time,
    })
}

fn plan_row(p: &Plan) -> plan::ActiveModel {
    plan::ActiveModel {
        ics: Set(p.ics.clone()),
        id: Set(p.id.clone()),
        display_name: Set(p.display_name.clone()),
        start_time: Set(p.start_time),
        target_time: Set(p.target_time),
        seed: Set(p.seed as i64),
        duration_source: Set(source_name(p.duration_source).to_owned()),
        dependencies: Set(dependencies_json(&p.dependencies)),
        version: Set(p.version),
        create_time: Set(p.create_time),
        update_time: Set(p.update_time),
    }
}

async fn insert_milestones<C: ConnectionTrait>(c: &C, p: &Plan) -> Result<()> {
    if p.milestones.is_empty() {
        return Ok(());
    }
    let rows = p
        .milestones
        .iter()
        .enumerate()
        .map(|(i, m)| milestone::ActiveModel {
            ics: Set(p.ics.clone()),
            plan: Set(p.id.clone()),
            id: Set(m.id.clone()),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            trust: Set(m.trust.clone()),
            domain: Set(m.domain.clone()),
            target_convergence: Set(m.target_convergence),
            keys_in_scope: Set(m.keys_in_scope),
            due_time: Set(m.due_time),
            owner: Set(m.owner.clone()),
            optimistic_days: Set(m.estimate.optimistic),
            most_likely_days: Set(m.estimate.most_likely),
            pessimistic_days: Set(m.estimate.pessimistic),
            achieved_by: Set(m
                .achieved
                .as_ref()
                .map_or(String::new(), |(a, _)| a.clone())),
            achieve_time: Set(m.achieved.as_ref().map(|(_, t)| *t)),
        });
    milestone::Entity::insert_many(rows).exec(c).await?;
    Ok(())
}

/// Stores a new plan.
pub async fn insert_plan<C: ConnectionTrait>(c: &C, p: &Plan) -> Result<()> {
    plan::Entity::insert(plan_row(p)).exec(c).await?;
    insert_milestones(c, p).await
}

/// Replaces a stored plan, milestones and all.
pub async fn replace_plan<C: ConnectionTrait>(c: &C, p: &Plan) -> Result<()> {
    plan::Entity::update(plan_row(p)).exec(c).await?;
    milestone::Entity::delete_many()
        .filter(milestone::Column::Ics.eq(&p.ics))
        .filter(milestone::Column::Plan.eq(&p.id))
        .exec(c)
        .await?;
    insert_milestones(c, p).await
}

async fn milestones_of<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    plan: &str,
) -> Result<Vec<milestone::Model>> {
    Ok(milestone::Entity::find()
        .filter(milestone::Column::Ics.eq(ics))
        .filter(milestone::Column::Plan.eq(plan))
        .order_by_asc(milestone::Column::Position)
        .all(c)
        .await?)
}

/// The plan `id` of `ics`.
pub async fn plan<C: ConnectionTrait>(c: &C, ics: &str, id: &str) -> Result<Option<Plan>> {
    let Some(p) = plan::Entity::find_by_id((ics.to_owned(), id.to_owned()))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    let milestones = milestones_of(c, ics, id).await?;
    plan_of(p, milestones).map(Some)
}

/// Plans of `ics` by id, after `after`, at most `limit`.
pub async fn plans<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Plan>> {
    let mut q = plan::Entity::find().filter(plan::Column::Ics.eq(ics));
    if let Some(after) = after {
        q = q.filter(plan::Column::Id.gt(after));
    }
    let rows = q.order_by_asc(plan::Column::Id).limit(limit).all(c).await?;
    let mut out = Vec::with_capacity(rows.len());
    for p in rows {
        let milestones = milestones_of(c, ics, &p.id).await?;
        out.push(plan_of(p, milestones)?);
    }
    Ok(out)
}

/// The ids of the plans of `ics` with a milestone of `trust` not yet achieved.
pub async fn plans_awaiting<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
) -> Result<Vec<String>> {
    let mut ids: Vec<String> = milestone::Entity::find()
        .select_only()
        .column(milestone::Column::Plan)
        .filter(milestone::Column::Ics.eq(ics))
        .filter(milestone::Column::Trust.eq(trust))
        .filter(milestone::Column::AchievedBy.eq(""))
        .into_tuple()
        .all(c)
        .await?;
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Records that `assessment`, made at `at`, achieved milestone `id` of plan `plan`.
pub async fn set_achieved<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    (plan, id): (&str, &str),
    assessment: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    milestone::Entity::update_many()
        .col_expr(milestone::Column::AchievedBy, assessment.into())
        .col_expr(milestone::Column::AchieveTime, Some(at).into())
        .filter(milestone::Column::Ics.eq(ics))
        .filter(milestone::Column::Plan.eq(plan))
        .filter(milestone::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}
