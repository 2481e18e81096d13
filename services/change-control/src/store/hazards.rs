//! The hazard log.

use super::*;

pub(super) fn hazard_model(
    ics: &str,
    cr: &str,
    h: &Hazard,
    created: DateTime<Utc>,
) -> hazard::ActiveModel {
    let signer = h.signed_off_by.clone().unwrap_or_default();
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
        signed_off_by: Set(signer.subject.clone()),
        signed_off_by_issuer: Set(signer.issuer.clone()),
        signed_off_by_name: Set(signer.name.clone()),
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
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    hazard::Entity::insert(hazard_model(ics, cr, h, now))
        .exec_without_returning(c)
        .await
        .map_err(|e| StoreError::unique(e, format!("hazard {}", h.id)))?;
    Ok(())
}

/// Replaces a hazard's fields (and its sign-off) by `h`'s; its creation time stays.
pub async fn replace_hazard<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    h: &Hazard,
) -> Result<(), StoreError> {
    let model = hazard::ActiveModel {
        create_time: sea_orm::ActiveValue::NotSet,
        ..hazard_model(ics, cr, h, Utc::now())
    };
    hazard::Entity::update(model).exec(c).await?;
    Ok(())
}

/// Records a hazard's sign-off.
pub async fn sign_off_hazard<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    cr: &str,
    h: &Hazard,
) -> Result<(), StoreError> {
    let signer = h.signed_off_by.clone().unwrap_or_default();
    hazard::Entity::update_many()
        .col_expr(hazard::Column::SignedOffBy, Expr::value(signer.subject))
        .col_expr(
            hazard::Column::SignedOffByIssuer,
            Expr::value(signer.issuer),
        )
        .col_expr(hazard::Column::SignedOffByName, Expr::value(signer.name))
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
    let mut by_cr = hazards_where(c, ics, hazard::Column::ChangeRequest.eq(cr)).await?;
    Ok(by_cr.remove(cr).unwrap_or_default())
}

/// The hazards of every change request of an ICS in one of `states`, by change request id, in
/// one query whatever their number.
pub async fn hazards_in_states<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    states: &[State],
) -> Result<BTreeMap<String, Vec<Hazard>>, StoreError> {
    let ids = ids_in_states(ics, states);
    hazards_where(c, ics, hazard::Column::ChangeRequest.in_subquery(ids)).await
}

async fn hazards_where<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    which: sea_orm::sea_query::SimpleExpr,
) -> Result<BTreeMap<String, Vec<Hazard>>, StoreError> {
    let rows = hazard::Entity::find()
        .filter(hazard::Column::Ics.eq(ics))
        .filter(which)
        .order_by_asc(hazard::Column::ChangeRequest)
        .order_by_asc(hazard::Column::CreateTime)
        .order_by_asc(hazard::Column::Id)
        .all(c)
        .await?;
    let mut out: BTreeMap<String, Vec<Hazard>> = BTreeMap::new();
    for m in rows {
        out.entry(m.change_request.clone())
            .or_default()
            .push(hazard_of(m));
    }
    Ok(out)
}

fn hazard_of(m: hazard::Model) -> Hazard {
    Hazard {
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
        signed_off_by: (!m.signed_off_by.is_empty()).then_some(Person {
            issuer: m.signed_off_by_issuer,
            subject: m.signed_off_by,
            name: m.signed_off_by_name,
        }),
        signed_off_trust: m.signed_off_trust,
        sign_off_time: m.sign_off_time,
    }
}
