//! Change requests: numbering, rows, listing with filters and order.

use super::*;

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

pub(super) fn state_of(s: &str) -> Result<State, StoreError> {
    State::parse(s).ok_or(StoreError::Corrupt("state", s.into()))
}

pub(super) fn type_str(t: ChangeType) -> &'static str {
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
    recorded_by: Person,
    decide_time: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
struct DeploymentDto {
    trust: String,
    deployed: bool,
    note: String,
    reported_by: Person,
    report_time: DateTime<Utc>,
}

pub(super) fn cr_of(m: change_request::Model) -> Result<ChangeRequest, StoreError> {
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
        requester: Person {
            issuer: m.requester_issuer,
            subject: m.requester,
            name: m.requester_name,
        },
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

pub(super) fn cr_model(cr: &ChangeRequest) -> Result<change_request::ActiveModel, StoreError> {
    Ok(change_request::ActiveModel {
        ics: Set(cr.ics.clone()),
        id: Set(cr.id.clone()),
        number: Set(cr.number.clone()),
        title: Set(cr.title.clone()),
        description: Set(cr.description.clone()),
        rationale: Set(cr.rationale.clone()),
        requesting_trust: Set(cr.requesting_trust.clone()),
        requester: Set(cr.requester.subject.clone()),
        requester_issuer: Set(cr.requester.issuer.clone()),
        requester_name: Set(cr.requester.name.clone()),
        domain: Set(cr.domain.clone()),
        design_authority: Set(cr.design_authority.clone()),
        affected_trusts: Set(json("affected_trusts", &cr.affected_trusts)?),
        change_type: Set(type_str(cr.change_type).into()),
        change_class: Set(cr.change_class.as_str().into()),
        standard_template: Set(cr.standard_template.clone()),
        cost_estimate_pence: Set(cr.cost_estimate_pence),
        effort_days: Set(cr.effort_days),
        target_release: Set(cr.target_release.clone()),
        configuration_links: Set(json("configuration_links", &cr.configuration_links)?),
        configuration_items: Set(json("configuration_items", &cr.configuration_items)?),
        benefit_links: Set(json("benefit_links", &cr.benefit_links)?),
        state: Set(cr.state.as_str().into()),
        charter_version: Set(cr.charter_version as i32),
        assessment_deadline: Set(cr.assessment_deadline),
        voting_deadline: Set(cr.voting_deadline),
        residual_risk: Set(cr.residual_risk as i32),
        decision: Set(cr
            .decision
            .as_ref()
            .map(|d| {
                json(
                    "decision",
                    &DecisionDto {
                        approved: d.approved,
                        rule: d.rule.clone(),
                        approvals: d.approvals,
                        rejections: d.rejections,
                        abstentions: d.abstentions,
                        charter_version: d.charter_version,
                        decide_time: d.decide_time,
                    },
                )
            })
            .transpose()?),
        board_decision: Set(cr
            .board_decision
            .as_ref()
            .map(|d| {
                json(
                    "board_decision",
                    &BoardDto {
                        approved: d.approved,
                        minutes_reference: d.minutes_reference.clone(),
                        recorded_by: d.recorded_by.clone(),
                        decide_time: d.decide_time,
                    },
                )
            })
            .transpose()?),
        missing_assessment_trusts: Set(json(
            "missing_assessment_trusts",
            &cr.missing_assessment_trusts,
        )?),
        deployments: Set(json(
            "deployments",
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
        )?),
        retrospective_review_deadline: Set(cr.retrospective_review_deadline),
        retrospective_review_time: Set(cr.retrospective_review_time),
        version: Set(cr.version),
        create_time: Set(cr.create_time),
        update_time: Set(cr.update_time),
    })
}

/// Inserts a new change request.
pub async fn insert_change_request<C: ConnectionTrait>(
    c: &C,
    cr: &ChangeRequest,
) -> Result<(), StoreError> {
    change_request::Entity::insert(cr_model(cr)?)
        .exec_without_returning(c)
        .await
        .map_err(|e| StoreError::unique(e, cr.name()))?;
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
    let mut model = cr_model(cr)?;
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
    /// Requester issuer.
    pub requester_issuer: Option<String>,
    /// Number, e.g. `CR-2026-0001`.
    pub number: Option<String>,
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
    if let Some(issuer) = &q.requester_issuer {
        cond = cond.add(Col::RequesterIssuer.eq(issuer));
    }
    if let Some(number) = &q.number {
        cond = cond.add(Col::Number.eq(number));
    }
    if let Some(risk) = q.min_residual_risk {
        cond = cond.add(Col::ResidualRisk.gte(risk as i32));
    }
    if let Some(text) = &q.text {
        // `%` and `_` match themselves: escaped, with the escape character said (SQLite has no
        // default one).
        let pattern = format!(
            "%{}%",
            text.to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        let like = || sea_orm::sea_query::LikeExpr::new(pattern.clone()).escape('\\');
        cond = cond.add(
            Condition::any()
                .add(Expr::expr(Func::lower(Expr::col(Col::Title))).like(like()))
                .add(Expr::expr(Func::lower(Expr::col(Col::Description))).like(like())),
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

/// The ids of an ICS's change requests in one of `states`, as a subquery.
pub(super) fn ids_in_states(ics: &str, states: &[State]) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(change_request::Column::Id)
        .from(change_request::Entity)
        .and_where(change_request::Column::Ics.eq(ics))
        .and_where(change_request::Column::State.is_in(states.iter().map(|s| s.as_str())))
        .to_owned()
}
