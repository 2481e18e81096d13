//! Design authorities, their charter versions, and standard templates.

use super::*;

pub(super) fn threshold_str(t: Threshold) -> &'static str {
    match t {
        Threshold::SimpleMajority => "SIMPLE_MAJORITY",
        Threshold::TwoThirds => "TWO_THIRDS",
        Threshold::Unanimous => "UNANIMOUS",
    }
}

pub(super) fn class_of(s: &str) -> Result<ChangeClass, StoreError> {
    ChangeClass::ALL
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or(StoreError::Corrupt("change class", s.into()))
}

pub(super) fn charter_json(c: &Charter) -> Result<String, StoreError> {
    json(
        "charter",
        &CharterDto {
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
            effective_time: c.effective_time,
        },
    )
}

pub(super) fn charter_of(text: &str) -> Result<Charter, StoreError> {
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
        effective_time: d.effective_time,
    })
}

pub(super) fn da_of(m: design_authority::Model) -> Result<DesignAuthority, StoreError> {
    Ok(DesignAuthority {
        ics: m.ics,
        id: m.id,
        display_name: m.display_name,
        domains: parse("domains", &m.domains)?,
        members: parse("members", &m.members)?,
        chair: Person {
            issuer: m.chair_issuer,
            subject: m.chair,
            name: m.chair_name,
        },
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
        domains: Set(json("domains", &da.domains)?),
        members: Set(json("members", &da.members)?),
        chair: Set(da.chair.subject.clone()),
        chair_issuer: Set(da.chair.issuer.clone()),
        chair_name: Set(da.chair.name.clone()),
        charter: Set(charter_json(&da.charter)?),
        charter_version: Set(da.charter.version as i32),
        version: Set(da.version),
        create_time: Set(da.create_time),
        update_time: Set(da.update_time),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| StoreError::unique(e, da.name()))?;
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
        charter: Set(charter_json(charter)?),
        effective_time: Set(at),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| StoreError::unique(e, format!("charter version {}", charter.version)))?;
    Ok(())
}

/// Applies `update` with the design authority's new version and update time, if it is still at
/// `expected` (otherwise a conflict: someone changed it since it was read).
async fn at_version<C: ConnectionTrait>(
    c: &C,
    da: &DesignAuthority,
    expected: i64,
    update: sea_orm::UpdateMany<design_authority::Entity>,
) -> Result<(), StoreError> {
    let updated = update
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
    Ok(())
}

/// Replaces the display name, members and chair, if the design authority is still at
/// `expected`.
pub async fn update_design_authority<C: ConnectionTrait>(
    c: &C,
    da: &DesignAuthority,
    expected: i64,
) -> Result<(), StoreError> {
    let update = design_authority::Entity::update_many()
        .col_expr(
            design_authority::Column::DisplayName,
            Expr::value(da.display_name.clone()),
        )
        .col_expr(
            design_authority::Column::Members,
            Expr::value(json("members", &da.members)?),
        )
        .col_expr(
            design_authority::Column::Chair,
            Expr::value(da.chair.subject.clone()),
        )
        .col_expr(
            design_authority::Column::ChairIssuer,
            Expr::value(da.chair.issuer.clone()),
        )
        .col_expr(
            design_authority::Column::ChairName,
            Expr::value(da.chair.name.clone()),
        );
    at_version(c, da, expected, update).await
}

/// Replaces the charter with a new version, if the design authority is still at `expected`.
pub async fn update_charter<C: ConnectionTrait>(
    c: &C,
    da: &DesignAuthority,
    expected: i64,
) -> Result<(), StoreError> {
    let update = design_authority::Entity::update_many()
        .col_expr(
            design_authority::Column::Charter,
            Expr::value(charter_json(&da.charter)?),
        )
        .col_expr(
            design_authority::Column::CharterVersion,
            Expr::value(da.charter.version as i32),
        );
    at_version(c, da, expected, update).await?;
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
        creator: Set(t.creator.subject.clone()),
        creator_issuer: Set(t.creator.issuer.clone()),
        creator_name: Set(t.creator.name.clone()),
        create_time: Set(t.create_time),
    })
    .exec_without_returning(c)
    .await
    .map_err(|e| StoreError::unique(e, t.name()))?;
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
            .map(template_of),
    )
}

/// The standard templates of an ICS, by id.
pub async fn templates<C: ConnectionTrait>(
    c: &C,
    ics: &str,
) -> Result<Vec<StandardTemplate>, StoreError> {
    Ok(template::Entity::find()
        .filter(template::Column::Ics.eq(ics))
        .order_by_asc(template::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(template_of)
        .collect())
}

fn template_of(m: template::Model) -> StandardTemplate {
    StandardTemplate {
        ics: m.ics,
        id: m.id,
        display_name: m.display_name,
        description: m.description,
        design_authority: m.design_authority,
        creator: Person {
            issuer: m.creator_issuer,
            subject: m.creator,
            name: m.creator_name,
        },
        create_time: m.create_time,
    }
}
