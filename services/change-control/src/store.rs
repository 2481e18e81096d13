//! Storage of change control: entities, migrations, and queries that take and return domain
//! types. Nested values (members, charters, decisions, lists) are stored as JSON text.

mod entities;
pub mod migrations;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
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

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A row with that key exists.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The row changed since it was read.
    #[error("{0} was changed concurrently")]
    Conflict(String),
    /// A stored value could not be decoded.
    #[error("stored {0} is corrupt: {1}")]
    Corrupt(&'static str, String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn parse<T: for<'de> Deserialize<'de>>(what: &'static str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(what, e.to_string()))
}

fn unique(err: DbErr, what: String) -> StoreError {
    if concordat_platform::db::is_unique_violation(&err) {
        StoreError::AlreadyExists(what)
    } else {
        StoreError::Db(err)
    }
}

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
}

fn threshold_str(t: Threshold) -> &'static str {
    match t {
        Threshold::SimpleMajority => "SIMPLE_MAJORITY",
        Threshold::TwoThirds => "TWO_THIRDS",
        Threshold::Unanimous => "UNANIMOUS",
    }
}

fn class_of(s: &str) -> Result<ChangeClass, StoreError> {
    ChangeClass::ALL
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or(StoreError::Corrupt("change class", s.into()))
}

fn charter_json(c: &Charter) -> String {
    json(&CharterDto {
        version: c.version,
        quorum_percent: c.quorum_percent,
        rules: c
            .rules
            .iter()
            .map(|(class, r)| {
                (
                    class.as_str().into(),
                    threshold_str(r.threshold).into(),
                    r.cso_sign_off_required,
                )
            })
            .collect(),
        silence: match c.silence {
            SilencePolicy::Abstain => "ABSTAIN".into(),
            SilencePolicy::Blocks => "BLOCKS".into(),
        },
        board_risk_threshold: c.board_risk_threshold,
        board_cost_threshold_pence: c.board_cost_threshold_pence,
        max_residual_risk: c.max_residual_risk,
        assessment_days: c.assessment_days,
        voting_days: c.voting_days,
        emergency_review_days: c.emergency_review_days,
    })
}

fn charter_of(text: &str) -> Result<Charter, StoreError> {
    let d: CharterDto = parse("charter", text)?;
    let mut rules = BTreeMap::new();
    for (class, threshold, cso) in d.rules {
        let threshold = match threshold.as_str() {
            "SIMPLE_MAJORITY" => Threshold::SimpleMajority,
            "TWO_THIRDS" => Threshold::TwoThirds,
            "UNANIMOUS" => Threshold::Unanimous,
            other => return Err(StoreError::Corrupt("threshold", other.into())),
        };
        rules.insert(
            class_of(&class)?,
            ClassRule {
                threshold,
                cso_sign_off_required: cso,
            },
        );
    }
    Ok(Charter {
        version: d.version,
        quorum_percent: d.quorum_percent,
        rules,
        silence: if d.silence == "BLOCKS" {
            SilencePolicy::Blocks
        } else {
            SilencePolicy::Abstain
        },
        board_risk_threshold: d.board_risk_threshold,
        board_cost_threshold_pence: d.board_cost_threshold_pence,
        max_residual_risk: d.max_residual_risk,
        assessment_days: d.assessment_days,
        voting_days: d.voting_days,
        emergency_review_days: d.emergency_review_days,
    })
}

fn da_of(m: design_authority::Model) -> Result<DesignAuthority, StoreError> {
    Ok(DesignAuthority {
        ics: m.ics,
        id: m.id,
        display_name: m.display_name,
        domains: parse("domains", &m.domains)?,
        members: parse("members", &m.members)?,
        chair: m.chair,
        charter: charter_of(&m.charter)?,
        version: m.version,
        create_time: m.create_time,
        update_time: m.update_time,
    })
}

/// Inserts a new design authority and its first charter version.
pub async fn insert_design_authority<C: ConnectionTrait>(
    c: &C,
    da: &DesignAuthority,
) -> Result<(), StoreError> {
    design_authority::Entity::insert(design_authority::ActiveModel {
        ics: Set(da.ics.clone()),
        id: Set(da.id.clone()),
        display_name: Set(da.display_name.clone()),
        domains: Set(json(&da.domains)),
        members: Set(json(&da.members)),
        chair: Set(da.chair.clone()),
        charter: Set(charter_json(&da.charter)),
        charter_version: Set(da.charter.version as i32),
        version: Set(da.version),
        create_time: Set(da.create_time),
        update_time: Set(da.update_time),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| unique(e, da.name()))?;
    insert_charter_version(c, &da.ics, &da.id, &da.charter, da.update_time).await
}

async fn insert_charter_version<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    da: &str,
    charter: &Charter,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    charter::Entity::insert(charter::ActiveModel {
        ics: Set(ics.into()),
        design_authority: Set(da.into()),
        version: Set(charter.version as i32),
        charter: Set(charter_json(charter)),
        effective_time: Set(at),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| unique(e, format!("charter version {}", charter.version)))?;
    Ok(())
}

/// Replaces the charter with a new version, if the design authority is still at `expected`.
pub async fn update_charter<C: ConnectionTrait>(
    c: &C,
    da: &DesignAuthority,
    expected: i64,
) -> Result<(), StoreError> {
    let updated = design_authority::Entity::update_many()
        .col_expr(
            design_authority::Column::Charter,
            Expr::value(charter_json(&da.charter)),
        )
        .col_expr(
            design_authority::Column::CharterVersion,
            Expr::value(da.charter.version as i32),
        )
        .col_expr(design_authority::Column::Version, Expr::value(da.version))
        .col_expr(
            design_authority::Column::UpdateTime,
            Expr::value(da.update_time),
        )
        .filter(design_authority::Column::Ics.eq(&da.ics))
        .filter(design_authority::Column::Id.eq(&da.id))
        .filter(design_authority::Column::Version.eq(expected))
        .exec(c)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::Conflict(da.name()));
    }
    insert_charter_version(c, &da.ics, &da.id, &da.charter, da.update_time).await
}

/// A design authority.
pub async fn design_authority<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
) -> Result<Option<DesignAuthority>, StoreError> {
    design_authority::Entity::find_by_id((ics.to_owned(), id.to_owned()))
        .one(c)
        .await?
        .map(da_of)
        .transpose()
}

/// Every design authority of an ICS, by id.
pub async fn design_authorities<C: ConnectionTrait>(
    c: &C,
    ics: &str,
) -> Result<Vec<DesignAuthority>, StoreError> {
    design_authority::Entity::find()
        .filter(design_authority::Column::Ics.eq(ics))
        .order_by_asc(design_authority::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(da_of)
        .collect()
}

/// A charter version of a design authority.
pub async fn charter_version<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    da: &str,
    version: u32,
) -> Result<Option<Charter>, StoreError> {
    charter::Entity::find_by_id((ics.to_owned(), da.to_owned(), version as i32))
        .one(c)
        .await?
        .map(|m| charter_of(&m.charter))
        .transpose()
}

/// Allocates the next CR sequence number of `year` (locks the counter row until commit).
pub async fn next_sequence<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    year: i32,
) -> Result<i64, StoreError> {
    let bump = || {
        counter::Entity::update_many()
            .col_expr(
                counter::Column::Last,
                Expr::col(counter::Column::Last).add(1),
            )
            .filter(counter::Column::Ics.eq(ics))
            .filter(counter::Column::Year.eq(year))
            .exec(c)
    };
    if bump().await?.rows_affected == 0 {
        counter::Entity::insert(counter::ActiveModel {
            ics: Set(ics.into()),
            year: Set(year),
            last: Set(0),
        })
        .on_conflict_do_nothing_on([counter::Column::Ics, counter::Column::Year])
        .exec(c)
        .await?;
        bump().await?;
    }
    let row = counter::Entity::find_by_id((ics.to_owned(), year))
        .one(c)
        .await?
        .ok_or(StoreError::Corrupt("counter", format!("{ics}/{year}")))?;
    Ok(row.last)
}

fn state_of(s: &str) -> Result<State, StoreError> {
    State::parse(s).ok_or(StoreError::Corrupt("state", s.into()))
}

fn type_str(t: ChangeType) -> &'static str {
    match t {
        ChangeType::Standard => "STANDARD",
        ChangeType::Normal => "NORMAL",
        ChangeType::Emergency => "EMERGENCY",
    }
}

#[derive(Serialize, Deserialize)]
struct DecisionDto {
    approved: bool,
    rule: String,
    approvals: u32,
    rejections: u32,
    abstentions: u32,
    charter_version: u32,
    decide_time: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct BoardDto {
    approved: bool,
    minutes_reference: String,
    recorded_by: String,
    decide_time: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct DeploymentDto {
    trust: String,
    deployed: bool,
    note: String,
    reported_by: String,
    report_time: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct FreezeDto {
    trust: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    reason: String,
}

fn cr_of(m: change_request::Model) -> Result<ChangeRequest, StoreError> {
    let decision = m
        .decision
        .as_deref()
        .map(|t| {
            parse::<DecisionDto>("decision", t).map(|d| Decision {
                approved: d.approved,
                rule: d.rule,
                approvals: d.approvals,
                rejections: d.rejections,
                abstentions: d.abstentions,
                charter_version: d.charter_version,
                decide_time: d.decide_time,
            })
        })
        .transpose()?;
    let board_decision = m
        .board_decision
        .as_deref()
        .map(|t| {
            parse::<BoardDto>("board decision", t).map(|d| BoardDecision {
                approved: d.approved,
                minutes_reference: d.minutes_reference,
                recorded_by: d.recorded_by,
                decide_time: d.decide_time,
            })
        })
        .transpose()?;
    Ok(ChangeRequest {
        ics: m.ics,
        id: m.id,
        number: m.number,
        title: m.title,
        description: m.description,
        rationale: m.rationale,
        requesting_trust: m.requesting_trust,
        requester: m.requester,
        domain: m.domain,
        design_authority: m.design_authority,
        affected_trusts: parse("affected trusts", &m.affected_trusts)?,
        change_type: match m.change_type.as_str() {
            "STANDARD" => ChangeType::Standard,
            "EMERGENCY" => ChangeType::Emergency,
            _ => ChangeType::Normal,
        },
        change_class: class_of(&m.change_class)?,
        standard_template: m.standard_template,
        cost_estimate_pence: m.cost_estimate_pence,
        effort_days: m.effort_days,
        target_release: m.target_release,
        configuration_links: parse("configuration links", &m.configuration_links)?,
        configuration_items: parse("configuration items", &m.configuration_items)?,
        benefit_links: parse("benefit links", &m.benefit_links)?,
        state: state_of(&m.state)?,
        charter_version: m.charter_version as u32,
        assessment_deadline: m.assessment_deadline,
        voting_deadline: m.voting_deadline,
        residual_risk: m.residual_risk as u8,
        decision,
        board_decision,
        missing_assessment_trusts: parse("missing assessments", &m.missing_assessment_trusts)?,
        deployments: parse::<Vec<DeploymentDto>>("deployments", &m.deployments)?
            .into_iter()
            .map(|d| Deployment {
                trust: d.trust,
                deployed: d.deployed,
                note: d.note,
                reported_by: d.reported_by,
                report_time: d.report_time,
            })
            .collect(),
        retrospective_review_deadline: m.retrospective_review_deadline,
        retrospective_review_time: m.retrospective_review_time,
        version: m.version,
        create_time: m.create_time,
        update_time: m.update_time,
    })
}

fn cr_model(cr: &ChangeRequest) -> change_request::ActiveModel {
    change_request::ActiveModel {
        ics: Set(cr.ics.clone()),
        id: Set(cr.id.clone()),
        number: Set(cr.number.clone()),
        title: Set(cr.title.clone()),
        description: Set(cr.description.clone()),
        rationale: Set(cr.rationale.clone()),
        requesting_trust: Set(cr.requesting_trust.clone()),
        requester: Set(cr.requester.clone()),
        domain: Set(cr.domain.clone()),
        design_authority: Set(cr.design_authority.clone()),
        affected_trusts: Set(json(&cr.affected_trusts)),
        change_type: Set(type_str(cr.change_type).into()),
        change_class: Set(cr.change_class.as_str().into()),
        standard_template: Set(cr.standard_template.clone()),
        cost_estimate_pence: Set(cr.cost_estimate_pence),
        effort_days: Set(cr.effort_days),
        target_release: Set(cr.target_release.clone()),
        configuration_links: Set(json(&cr.configuration_links)),
        configuration_items: Set(json(&cr.configuration_items)),
        benefit_links: Set(json(&cr.benefit_links)),
        state: Set(cr.state.as_str().into()),
        charter_version: Set(cr.charter_version as i32),
        assessment_deadline: Set(cr.assessment_deadline),
        voting_deadline: Set(cr.voting_deadline),
        residual_risk: Set(cr.residual_risk as i32),
        decision: Set(cr.decision.as_ref().map(|d| {
            json(&DecisionDto {
                approved: d.approved,
                rule: d.rule.clone(),
                approvals: d.approvals,
                rejections: d.rejections,
                abstentions: d.abstentions,
                charter_version: d.charter_version,
                decide_time: d.decide_time,
            })
        })),
        board_decision: Set(cr.board_decision.as_ref().map(|d| {
            json(&BoardDto {
                approved: d.approved,
                minutes_reference: d.minutes_reference.clone(),
                recorded_by: d.recorded_by.clone(),
                decide_time: d.decide_time,
            })
        })),
        missing_assessment_trusts: Set(json(&cr.missing_assessment_trusts)),
        deployments: Set(json(
            &cr.deployments
                .iter()
                .map(|d| DeploymentDto {
                    trust: d.trust.clone(),
                    deployed: d.deployed,
                    note: d.note.clone(),
                    reported_by: d.reported_by.clone(),
                    report_time: d.report_time,
                })
                .collect::<Vec<_>>(),
        )),
        retrospective_review_deadline: Set(cr.retrospective_review_deadline),
        retrospective_review_time: Set(cr.retrospective_review_time),
        version: Set(cr.version),
        create_time: Set(cr.create_time),
        update_time: Set(cr.update_time),
    }
}

/// Inserts a new change request.
pub async fn insert_change_request<C: ConnectionTrait>(
    c: &C,
    cr: &ChangeRequest,
) -> Result<(), StoreError> {
    change_request::Entity::insert(cr_model(cr))
        .exec_without_returning(c)
        .await
        .map_err(|e| unique(e, cr.name()))?;
    Ok(())
}

/// A change request; with `lock`, its row stays locked until the transaction ends (PostgreSQL;
/// SQLite writers are serialised already).
pub async fn change_request<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
    lock: bool,
) -> Result<Option<ChangeRequest>, StoreError> {
    let mut query = change_request::Entity::find_by_id((ics.to_owned(), id.to_owned()));
    if lock {
        query = query.lock_exclusive();
    }
    query.one(c).await?.map(cr_of).transpose()
}

/// Writes `cr` (its `version` already the new one) if the stored row is still at `expected`.
pub async fn update_change_request<C: ConnectionTrait>(
    c: &C,
    cr: &ChangeRequest,
    expected: i64,
) -> Result<(), StoreError> {
    let mut model = cr_model(cr);
    model.ics = sea_orm::ActiveValue::Unchanged(cr.ics.clone());
    model.id = sea_orm::ActiveValue::Unchanged(cr.id.clone());
    let updated = change_request::Entity::update_many()
        .set(model)
        .filter(change_request::Column::Ics.eq(&cr.ics))
        .filter(change_request::Column::Id.eq(&cr.id))
        .filter(change_request::Column::Version.eq(expected))
        .exec(c)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::Conflict(cr.name()));
    }
    Ok(())
}

/// A list query over change requests.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// State.
    pub state: Option<State>,
    /// Design authority id.
    pub design_authority: Option<String>,
    /// Requesting or affected trust.
    pub trust: Option<String>,
    /// Requester subject.
    pub requester: Option<String>,
    /// Residual risk at least.
    pub min_residual_risk: Option<u8>,
    /// Title or description contains.
    pub text: Option<String>,
    /// Order column and descending.
    pub order: (ListOrder, bool),
    /// Rows to skip.
    pub offset: u64,
    /// Rows to return.
    pub limit: u64,
}

/// Orderings of [`ListQuery`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListOrder {
    /// Creation time.
    #[default]
    CreateTime,
    /// Last change.
    UpdateTime,
    /// Number.
    Number,
    /// Residual risk.
    ResidualRisk,
}

/// Change requests of `ics` matching `q`, and how many match in all.
pub async fn list_change_requests<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    q: &ListQuery,
) -> Result<(Vec<ChangeRequest>, u64), StoreError> {
    use change_request::Column as Col;
    let mut cond = Condition::all().add(Col::Ics.eq(ics));
    if let Some(state) = q.state {
        cond = cond.add(Col::State.eq(state.as_str()));
    }
    if let Some(da) = &q.design_authority {
        cond = cond.add(Col::DesignAuthority.eq(da));
    }
    if let Some(trust) = &q.trust {
        cond = cond.add(
            Condition::any()
                .add(Col::RequestingTrust.eq(trust))
                .add(Col::AffectedTrusts.contains(format!("\"{trust}\""))),
        );
    }
    if let Some(r) = &q.requester {
        cond = cond.add(Col::Requester.eq(r));
    }
    if let Some(risk) = q.min_residual_risk {
        cond = cond.add(Col::ResidualRisk.gte(risk as i32));
    }
    if let Some(text) = &q.text {
        let pattern = format!(
            "%{}%",
            text.to_lowercase().replace('%', "\\%").replace('_', "\\_")
        );
        cond = cond.add(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(Col::Title))).like(pattern.clone()))
                .add(Expr::expr(Func::lower(Expr::col(Col::Description))).like(pattern)),
        );
    }
    let total = change_request::Entity::find()
        .filter(cond.clone())
        .count(c)
        .await?;
    let column = match q.order.0 {
        ListOrder::CreateTime => Col::CreateTime,
        ListOrder::UpdateTime => Col::UpdateTime,
        ListOrder::Number => Col::Number,
        ListOrder::ResidualRisk => Col::ResidualRisk,
    };
    let mut query = change_request::Entity::find().filter(cond);
    query = if q.order.1 {
        query.order_by_desc(column)
    } else {
        query.order_by_asc(column)
    };
    // A stable tiebreak so pages never overlap.
    query = query.order_by_asc(Col::Id);
    let rows = query.offset(q.offset).limit(q.limit).all(c).await?;
    Ok((
        rows.into_iter().map(cr_of).collect::<Result<_, _>>()?,
        total,
    ))
}

fn recommendation_str(r: Recommendation) -> &'static str {
    match r {
        Recommendation::Support => "SUPPORT",
        Recommendation::Object => "OBJECT",
        Recommendation::Abstain => "ABSTAIN",
    }
}

/// Inserts or replaces a trust's assessment.
pub async fn upsert_assessment<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    a: &ImpactAssessment,
) -> Result<(), StoreError> {
    assessment::Entity::delete_many()
        .filter(assessment::Column::Ics.eq(ics))
        .filter(assessment::Column::ChangeRequest.eq(cr))
        .filter(assessment::Column::Trust.eq(&a.trust))
        .exec(c)
        .await?;
    assessment::Entity::insert(assessment::ActiveModel {
        ics: Set(ics.into()),
        change_request: Set(cr.into()),
        trust: Set(a.trust.clone()),
        effort_days: Set(a.effort_days),
        local_configuration_impact: Set(a.local_configuration_impact.clone()),
        training_impact: Set(a.training_impact.clone()),
        clinical_risk_notes: Set(a.clinical_risk_notes.clone()),
        readiness_date: Set(a.readiness_date.clone()),
        recommendation: Set(recommendation_str(a.recommendation).into()),
        assessor: Set(a.assessor.clone()),
        update_time: Set(a.update_time),
    })
    .exec_without_returning(c)
    .await?;
    Ok(())
}

/// The assessments of a change request, by trust.
pub async fn assessments<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
) -> Result<Vec<ImpactAssessment>, StoreError> {
    let rows = assessment::Entity::find()
        .filter(assessment::Column::Ics.eq(ics))
        .filter(assessment::Column::ChangeRequest.eq(cr))
        .order_by_asc(assessment::Column::Trust)
        .all(c)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| ImpactAssessment {
            trust: m.trust,
            effort_days: m.effort_days,
            local_configuration_impact: m.local_configuration_impact,
            training_impact: m.training_impact,
            clinical_risk_notes: m.clinical_risk_notes,
            readiness_date: m.readiness_date,
            recommendation: match m.recommendation.as_str() {
                "SUPPORT" => Recommendation::Support,
                "OBJECT" => Recommendation::Object,
                _ => Recommendation::Abstain,
            },
            assessor: m.assessor,
            update_time: m.update_time,
        })
        .collect())
}

fn hazard_model(ics: &str, cr: &str, h: &Hazard, created: DateTime<Utc>) -> hazard::ActiveModel {
    hazard::ActiveModel {
        ics: Set(ics.into()),
        change_request: Set(cr.into()),
        id: Set(h.id.clone()),
        description: Set(h.description.clone()),
        cause: Set(h.cause.clone()),
        effect: Set(h.effect.clone()),
        existing_controls: Set(h.existing_controls.clone()),
        initial_likelihood: Set(h.initial_likelihood),
        initial_severity: Set(h.initial_severity),
        initial_risk: Set(h.initial_risk as i32),
        further_controls: Set(h.further_controls.clone()),
        residual_likelihood: Set(h.residual_likelihood),
        residual_severity: Set(h.residual_severity),
        residual_risk: Set(h.residual_risk as i32),
        signed_off_by: Set(h.signed_off_by.clone()),
        signed_off_trust: Set(h.signed_off_trust.clone()),
        sign_off_time: Set(h.sign_off_time),
        create_time: Set(created),
    }
}

/// Adds a hazard.
pub async fn insert_hazard<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    h: &Hazard,
) -> Result<(), StoreError> {
    hazard::Entity::insert(hazard_model(ics, cr, h, Utc::now()))
        .exec_without_returning(c)
        .await
        .map_err(|e| unique(e, format!("hazard {}", h.id)))?;
    Ok(())
}

/// Records a hazard's sign-off.
pub async fn sign_off_hazard<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    h: &Hazard,
) -> Result<(), StoreError> {
    hazard::Entity::update_many()
        .col_expr(
            hazard::Column::SignedOffBy,
            Expr::value(h.signed_off_by.clone()),
        )
        .col_expr(
            hazard::Column::SignedOffTrust,
            Expr::value(h.signed_off_trust.clone()),
        )
        .col_expr(hazard::Column::SignOffTime, Expr::value(h.sign_off_time))
        .filter(hazard::Column::Ics.eq(ics))
        .filter(hazard::Column::ChangeRequest.eq(cr))
        .filter(hazard::Column::Id.eq(&h.id))
        .exec(c)
        .await?;
    Ok(())
}

/// The hazard log, oldest first.
pub async fn hazards<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
) -> Result<Vec<Hazard>, StoreError> {
    let rows = hazard::Entity::find()
        .filter(hazard::Column::Ics.eq(ics))
        .filter(hazard::Column::ChangeRequest.eq(cr))
        .order_by_asc(hazard::Column::CreateTime)
        .order_by_asc(hazard::Column::Id)
        .all(c)
        .await?;
    Ok(rows
        .into_iter()
        .map(|m| Hazard {
            id: m.id,
            description: m.description,
            cause: m.cause,
            effect: m.effect,
            existing_controls: m.existing_controls,
            initial_likelihood: m.initial_likelihood,
            initial_severity: m.initial_severity,
            initial_risk: m.initial_risk as u8,
            further_controls: m.further_controls,
            residual_likelihood: m.residual_likelihood,
            residual_severity: m.residual_severity,
            residual_risk: m.residual_risk as u8,
            signed_off_by: m.signed_off_by,
            signed_off_trust: m.signed_off_trust,
            sign_off_time: m.sign_off_time,
        })
        .collect())
}

fn choice_str(c: Choice) -> &'static str {
    match c {
        Choice::Approve => "APPROVE",
        Choice::Reject => "REJECT",
        Choice::Abstain => "ABSTAIN",
    }
}

fn disposition_str(d: Disposition) -> &'static str {
    match d {
        Disposition::Persuasive => "PERSUASIVE",
        Disposition::NotPersuasive => "NOT_PERSUASIVE",
        Disposition::ConsideredForFuture => "CONSIDERED_FOR_FUTURE",
    }
}

/// Casts a vote: a second vote of the same trust is `AlreadyExists` (stale votes are replaced).
pub async fn insert_vote<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    v: &Vote,
) -> Result<(), StoreError> {
    vote::Entity::delete_many()
        .filter(vote::Column::Ics.eq(ics))
        .filter(vote::Column::ChangeRequest.eq(cr))
        .filter(vote::Column::Trust.eq(&v.trust))
        .filter(vote::Column::Stale.eq(true))
        .exec(c)
        .await?;
    vote::Entity::insert(vote::ActiveModel {
        ics: Set(ics.into()),
        change_request: Set(cr.into()),
        trust: Set(v.trust.clone()),
        voter: Set(v.voter.clone()),
        choice: Set(choice_str(v.choice).into()),
        reason: Set(v.reason.clone()),
        comment: Set(v.comment.clone()),
        stale: Set(v.stale),
        disposition: Set(v.disposition.map(|d| disposition_str(d).to_owned())),
        disposition_note: Set(v.disposition_note.clone()),
        cast_time: Set(v.cast_time),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| unique(e, format!("the vote of {}", v.trust)))?;
    Ok(())
}

/// Records a disposition.
pub async fn dispose<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    v: &Vote,
) -> Result<(), StoreError> {
    vote::Entity::update_many()
        .col_expr(
            vote::Column::Disposition,
            Expr::value(v.disposition.map(|d| disposition_str(d).to_owned())),
        )
        .col_expr(
            vote::Column::DispositionNote,
            Expr::value(v.disposition_note.clone()),
        )
        .filter(vote::Column::Ics.eq(ics))
        .filter(vote::Column::ChangeRequest.eq(cr))
        .filter(vote::Column::Trust.eq(&v.trust))
        .exec(c)
        .await?;
    Ok(())
}

/// Marks every vote on a change request stale.
pub async fn mark_votes_stale<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
) -> Result<u64, StoreError> {
    Ok(vote::Entity::update_many()
        .col_expr(vote::Column::Stale, Expr::value(true))
        .filter(vote::Column::Ics.eq(ics))
        .filter(vote::Column::ChangeRequest.eq(cr))
        .exec(c)
        .await?
        .rows_affected)
}

/// The votes on a change request, by trust.
pub async fn votes<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
) -> Result<Vec<Vote>, StoreError> {
    let rows = vote::Entity::find()
        .filter(vote::Column::Ics.eq(ics))
        .filter(vote::Column::ChangeRequest.eq(cr))
        .order_by_asc(vote::Column::Trust)
        .all(c)
        .await?;
    rows.into_iter()
        .map(|m| {
            Ok(Vote {
                trust: m.trust,
                voter: m.voter,
                choice: match m.choice.as_str() {
                    "APPROVE" => Choice::Approve,
                    "REJECT" => Choice::Reject,
                    "ABSTAIN" => Choice::Abstain,
                    other => return Err(StoreError::Corrupt("vote", other.into())),
                },
                reason: m.reason,
                comment: m.comment,
                stale: m.stale,
                disposition: match m.disposition.as_deref() {
                    None => None,
                    Some("PERSUASIVE") => Some(Disposition::Persuasive),
                    Some("NOT_PERSUASIVE") => Some(Disposition::NotPersuasive),
                    Some(_) => Some(Disposition::ConsideredForFuture),
                },
                disposition_note: m.disposition_note,
                cast_time: m.cast_time,
            })
        })
        .collect()
}

/// Member trusts → voters, as stored (for tests of the JSON form).
pub fn members_json(members: &BTreeMap<String, BTreeSet<String>>) -> String {
    json(members)
}

/// Inserts a release.
pub async fn insert_release<C: ConnectionTrait>(c: &C, r: &Release) -> Result<(), StoreError> {
    let freezes: Vec<FreezeDto> = r
        .freezes
        .iter()
        .map(|f| FreezeDto {
            trust: f.trust.clone(),
            start: f.start,
            end: f.end,
            reason: f.reason.clone(),
        })
        .collect();
    release::Entity::insert(release::ActiveModel {
        ics: Set(r.ics.clone()),
        id: Set(r.id.clone()),
        display_name: Set(r.display_name.clone()),
        window_start: Set(r.window_start),
        window_end: Set(r.window_end),
        freezes: Set(json(&freezes)),
        create_time: Set(r.create_time),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| unique(e, r.name()))?;
    Ok(())
}

/// A release.
pub async fn release<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
) -> Result<Option<Release>, StoreError> {
    let Some(m) = release::Entity::find_by_id((ics.to_owned(), id.to_owned()))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    let freezes: Vec<FreezeDto> = parse("freezes", &m.freezes)?;
    Ok(Some(Release {
        ics: m.ics,
        id: m.id,
        display_name: m.display_name,
        window_start: m.window_start,
        window_end: m.window_end,
        freezes: freezes
            .into_iter()
            .map(|f| Freeze {
                trust: f.trust,
                start: f.start,
                end: f.end,
                reason: f.reason,
            })
            .collect(),
        create_time: m.create_time,
    }))
}

/// The change requests targeting a release.
pub async fn release_members<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    release: &str,
) -> Result<Vec<ChangeRequest>, StoreError> {
    change_request::Entity::find()
        .filter(change_request::Column::Ics.eq(ics))
        .filter(change_request::Column::TargetRelease.eq(release))
        .order_by_asc(change_request::Column::Number)
        .all(c)
        .await?
        .into_iter()
        .map(cr_of)
        .collect()
}

/// Inserts a standard template.
pub async fn insert_template<C: ConnectionTrait>(
    c: &C,
    t: &StandardTemplate,
) -> Result<(), StoreError> {
    template::Entity::insert(template::ActiveModel {
        ics: Set(t.ics.clone()),
        id: Set(t.id.clone()),
        display_name: Set(t.display_name.clone()),
        description: Set(t.description.clone()),
        design_authority: Set(t.design_authority.clone()),
        creator: Set(t.creator.clone()),
        create_time: Set(t.create_time),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| unique(e, t.name()))?;
    Ok(())
}

/// A standard template.
pub async fn template<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
) -> Result<Option<StandardTemplate>, StoreError> {
    Ok(
        template::Entity::find_by_id((ics.to_owned(), id.to_owned()))
            .one(c)
            .await?
            .map(|m| StandardTemplate {
                ics: m.ics,
                id: m.id,
                display_name: m.display_name,
                description: m.description,
                design_authority: m.design_authority,
                creator: m.creator,
                create_time: m.create_time,
            }),
    )
}

/// Change requests of `ics` that may still need someone's action.
pub async fn active_change_requests<C: ConnectionTrait>(
    c: &C,
    ics: &str,
) -> Result<Vec<ChangeRequest>, StoreError> {
    let active = [
        State::Submitted,
        State::ImpactAssessment,
        State::DaReview,
        State::BoardReview,
        State::Approved,
        State::Scheduled,
    ];
    change_request::Entity::find()
        .filter(change_request::Column::Ics.eq(ics))
        .filter(
            Condition::any()
                .add(change_request::Column::State.is_in(active.map(|s| s.as_str())))
                .add(
                    Condition::all()
                        .add(change_request::Column::RetrospectiveReviewDeadline.is_not_null())
                        .add(change_request::Column::RetrospectiveReviewTime.is_null()),
                ),
        )
        .order_by_asc(change_request::Column::Number)
        .all(c)
        .await?
        .into_iter()
        .map(cr_of)
        .collect()
}
