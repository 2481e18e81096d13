//! Impact assessments.

use super::*;

pub(super) fn recommendation_str(r: Recommendation) -> &'static str {
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
        assessor: Set(a.assessor.subject.clone()),
        assessor_issuer: Set(a.assessor.issuer.clone()),
        assessor_name: Set(a.assessor.name.clone()),
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
    let mut by_cr = assessments_where(c, ics, assessment::Column::ChangeRequest.eq(cr)).await?;
    Ok(by_cr.remove(cr).unwrap_or_default())
}

/// The assessments of every change request of an ICS in one of `states`, by change request id, in
/// one query whatever their number.
pub async fn assessments_in_states<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    states: &[State],
) -> Result<BTreeMap<String, Vec<ImpactAssessment>>, StoreError> {
    let ids = ids_in_states(ics, states);
    assessments_where(c, ics, assessment::Column::ChangeRequest.in_subquery(ids)).await
}

async fn assessments_where<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<BTreeMap<String, Vec<ImpactAssessment>>, StoreError> {
    let rows = assessment::Entity::find()
        .filter(assessment::Column::Ics.eq(ics))
        .filter(which)
        .order_by_asc(assessment::Column::ChangeRequest)
        .order_by_asc(assessment::Column::Trust)
        .all(c)
        .await?;
    let mut out: BTreeMap<String, Vec<ImpactAssessment>> = BTreeMap::new();
    for m in rows {
        out.entry(m.change_request.clone())
            .or_default()
            .push(assessment_of(m));
    }
    Ok(out)
}

fn assessment_of(m: assessment::Model) -> ImpactAssessment {
    ImpactAssessment {
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
        assessor: Person {
            issuer: m.assessor_issuer,
            subject: m.assessor,
            name: m.assessor_name,
        },
        update_time: m.update_time,
    }
}
