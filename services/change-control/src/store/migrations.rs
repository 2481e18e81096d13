//! The change-control tables, with their own migrations table.

use sea_orm::DbErr;
use sea_orm_migration::prelude::*;

use concordat_platform::migrations::schema::{
    col, name_people, name_people_in_json, people_issuer_or_refuse, person_json, pk,
};
use serde_json::Value;

/// The outbox table of change-control events.
pub const OUTBOX: &str = "cc_events";

concordat_platform::migrator! {
    /// Change control's migrator.
    Migrator in "concordat_changecontrol_migrations",
    /// Applies change control's pending migrations.
    migrate,
    [
        M0001Initial = "m0001_initial",
        M0002ReleasesTemplatesDeployments = "m0002_releases_templates_deployments",
        M0003PeopleByIssuer = "m0003_people_by_issuer",
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let t = |name: &str| Table::create().table(Alias::new(name)).to_owned();
        manager
            .create_table(
                t("cc_design_authorities")
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("display_name").string().not_null())
                    .col(col("domains").text().not_null())
                    .col(col("members").text().not_null())
                    .col(col("chair").string().not_null())
                    .col(col("charter").text().not_null())
                    .col(col("charter_version").integer().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("cc_charters")
                    .col(col("ics").string().not_null())
                    .col(col("design_authority").string().not_null())
                    .col(col("version").integer().not_null())
                    .col(col("charter").text().not_null())
                    .col(col("effective_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "design_authority", "version"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("cc_change_requests")
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("number").string().not_null())
                    .col(col("title").string().not_null())
                    .col(col("description").text().not_null())
                    .col(col("rationale").text().not_null())
                    .col(col("requesting_trust").string().not_null())
                    .col(col("requester").string().not_null())
                    .col(col("domain").string().not_null())
                    .col(col("design_authority").string().not_null())
                    .col(col("affected_trusts").text().not_null())
                    .col(col("change_type").string().not_null())
                    .col(col("change_class").string().not_null())
                    .col(col("standard_template").string().not_null())
                    .col(col("cost_estimate_pence").big_integer().not_null())
                    .col(col("effort_days").integer().not_null())
                    .col(col("target_release").string().not_null())
                    .col(col("configuration_links").text().not_null())
                    .col(col("configuration_items").text().not_null())
                    .col(col("benefit_links").text().not_null())
                    .col(col("state").string().not_null())
                    .col(col("charter_version").integer().not_null())
                    .col(col("assessment_deadline").timestamp_with_time_zone().null())
                    .col(col("voting_deadline").timestamp_with_time_zone().null())
                    .col(col("residual_risk").integer().not_null())
                    .col(col("decision").text().null())
                    .col(col("board_decision").text().null())
                    .col(col("missing_assessment_trusts").text().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("cc_change_requests_number", ["ics", "number"], true),
            ("cc_change_requests_state", ["ics", "state"], false),
            ("cc_change_requests_created", ["ics", "create_time"], false),
            (
                "cc_change_requests_authority",
                ["ics", "design_authority"],
                false,
            ),
        ] {
            let mut index = Index::create()
                .name(name)
                .table(Alias::new("cc_change_requests"))
                .to_owned();
            for c in cols {
                index.col(Alias::new(c));
            }
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }
        manager
            .create_table(
                t("cc_counters")
                    .col(col("ics").string().not_null())
                    .col(col("year").integer().not_null())
                    .col(col("last").big_integer().not_null())
                    .primary_key(&mut pk(&["ics", "year"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("cc_impact_assessments")
                    .col(col("ics").string().not_null())
                    .col(col("change_request").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("effort_days").integer().not_null())
                    .col(col("local_configuration_impact").text().not_null())
                    .col(col("training_impact").text().not_null())
                    .col(col("clinical_risk_notes").text().not_null())
                    .col(col("readiness_date").string().not_null())
                    .col(col("recommendation").string().not_null())
                    .col(col("assessor").string().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "change_request", "trust"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("cc_hazards")
                    .col(col("ics").string().not_null())
                    .col(col("change_request").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("description").text().not_null())
                    .col(col("cause").text().not_null())
                    .col(col("effect").text().not_null())
                    .col(col("existing_controls").text().not_null())
                    .col(col("initial_likelihood").integer().not_null())
                    .col(col("initial_severity").integer().not_null())
                    .col(col("initial_risk").integer().not_null())
                    .col(col("further_controls").text().not_null())
                    .col(col("residual_likelihood").integer().not_null())
                    .col(col("residual_severity").integer().not_null())
                    .col(col("residual_risk").integer().not_null())
                    .col(col("signed_off_by").string().not_null())
                    .col(col("signed_off_trust").string().not_null())
                    .col(col("sign_off_time").timestamp_with_time_zone().null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "change_request", "id"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("cc_votes")
                    .col(col("ics").string().not_null())
                    .col(col("change_request").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("voter").string().not_null())
                    .col(col("choice").string().not_null())
                    .col(col("reason").text().not_null())
                    .col(col("comment").text().not_null())
                    .col(col("stale").boolean().not_null())
                    .col(col("disposition").string().null())
                    .col(col("disposition_note").text().not_null())
                    .col(col("cast_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "change_request", "trust"]))
                    .to_owned(),
            )
            .await?;
        concordat_platform::events::create_outbox_table(manager, OUTBOX).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            OUTBOX,
            "cc_votes",
            "cc_hazards",
            "cc_impact_assessments",
            "cc_counters",
            "cc_change_requests",
            "cc_charters",
            "cc_design_authorities",
        ] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002ReleasesTemplatesDeployments {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for column in [
            col("deployments")
                .text()
                .not_null()
                .default("[]")
                .to_owned(),
            col("retrospective_review_deadline")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            col("retrospective_review_time")
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("cc_change_requests"))
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("cc_releases"))
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("display_name").string().not_null())
                    .col(col("window_start").timestamp_with_time_zone().not_null())
                    .col(col("window_end").timestamp_with_time_zone().not_null())
                    .col(col("freezes").text().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("cc_standard_templates"))
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("display_name").string().not_null())
                    .col(col("description").text().not_null())
                    .col(col("design_authority").string().not_null())
                    .col(col("creator").string().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("cc_change_requests_release")
                    .table(Alias::new("cc_change_requests"))
                    .col(Alias::new("ics"))
                    .col(Alias::new("target_release"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["cc_standard_templates", "cc_releases"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        for column in [
            "deployments",
            "retrospective_review_deadline",
            "retrospective_review_time",
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("cc_change_requests"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// People were stored as bare subjects; they are named by issuer and subject from here on. Every
/// stored subject gets the issuer `identity.existing_people_issuer` says (by default the
/// development issuer, or the federation's only issuer); with several issuers and people stored,
/// the migration refuses rather than guess.
#[async_trait::async_trait]
impl MigrationTrait for M0003PeopleByIssuer {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Refuse before changing anything when people are stored and no issuer can be told.
        people_issuer_or_refuse(
            manager,
            "change-control records naming people are",
            &[
                ("cc_design_authorities", "chair <> '' OR members <> '{}'"),
                ("cc_change_requests", "requester <> ''"),
                ("cc_impact_assessments", "assessor <> ''"),
                ("cc_hazards", "signed_off_by <> ''"),
                ("cc_votes", "voter <> ''"),
                ("cc_standard_templates", "creator <> ''"),
            ],
        )
        .await?;
        for (table, column, what) in [
            ("cc_design_authorities", "chair", "design-authority chairs"),
            (
                "cc_change_requests",
                "requester",
                "change-request requesters",
            ),
            ("cc_impact_assessments", "assessor", "impact assessors"),
            ("cc_hazards", "signed_off_by", "hazard sign-offs"),
            ("cc_votes", "voter", "voters"),
            (
                "cc_standard_templates",
                "creator",
                "standard-template creators",
            ),
        ] {
            name_people(manager, table, &[column], what).await?;
        }
        // Member trust -> [subject] becomes member trust -> [person].
        name_people_in_json(
            manager,
            "cc_design_authorities",
            &["ics", "id"],
            "members",
            "voting members",
            |members, issuer| {
                let mut turned = 0;
                if let Value::Object(trusts) = members {
                    for voters in trusts.values_mut() {
                        if let Value::Array(voters) = voters {
                            for voter in voters.iter_mut() {
                                if let Value::String(subject) = voter {
                                    *voter = person_json(issuer, subject);
                                    turned += 1;
                                }
                            }
                        }
                    }
                }
                turned
            },
        )
        .await?;
        name_people_in_json(
            manager,
            "cc_change_requests",
            &["ics", "id"],
            "board_decision",
            "board-decision recorders",
            |decision, issuer| turn_field(decision, "recorded_by", issuer),
        )
        .await?;
        name_people_in_json(
            manager,
            "cc_change_requests",
            &["ics", "id"],
            "deployments",
            "deployment reporters",
            |deployments, issuer| match deployments {
                Value::Array(items) => items
                    .iter_mut()
                    .map(|d| turn_field(d, "reported_by", issuer))
                    .sum(),
                _ => 0,
            },
        )
        .await
    }
}

/// Turns the bare subject in `object[field]` into a person of `issuer`: 1 when it did.
fn turn_field(object: &mut Value, field: &str, issuer: &str) -> u64 {
    match object.get_mut(field) {
        Some(value @ Value::String(_)) => {
            let subject = value.as_str().unwrap_or_default().to_owned();
            *value = person_json(issuer, &subject);
            1
        }
        _ => 0,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::Utc;
    use concordat_platform::identity::Person;
    use concordat_platform::migrations::run_with_people_issuer;
    use sea_orm::ActiveValue::{NotSet, Set};
    use sea_orm::EntityTrait;
    use sea_orm_migration::MigratorTrait;

    use super::Migrator;
    use crate::domain::change_request::tests::sample;
    use crate::domain::charter::tests::medicines;
    use crate::store::entities::{change_request, design_authority};

    const ISSUER: &str = "https://login.que-ics.nhs.uk";

    /// Change control's tables as they were before people were named by issuer, with a design
    /// authority and a change request naming people by bare subject.
    async fn before_people_had_issuers(db: &concordat_platform::db::Database) {
        Migrator::up(db.conn(), Some(2)).await.unwrap();
        let now = Utc::now();
        design_authority::Entity::insert(design_authority::ActiveModel {
            ics: Set("QUE".into()),
            id: Set("medicines".into()),
            display_name: Set("Medicines".into()),
            domains: Set(r#"["medicines"]"#.into()),
            members: Set(r#"{"RGM":["bob"],"RGT":["alice"]}"#.into()),
            chair: Set("carol".into()),
            chair_issuer: NotSet,
            chair_name: NotSet,
            charter: Set(crate::store::design_authorities::charter_json(&medicines()).unwrap()),
            charter_version: Set(1),
            version: Set(1),
            create_time: Set(now),
            update_time: Set(now),
        })
        .exec_without_returning(db.conn())
        .await
        .unwrap();
        let mut cr = crate::store::change_requests::cr_model(&sample()).unwrap();
        cr.requester = Set("pharmacist".into());
        cr.requester_issuer = NotSet;
        cr.requester_name = NotSet;
        cr.board_decision = Set(Some(format!(
            r#"{{"approved":true,"minutes_reference":"PB-1","recorded_by":"dave","decide_time":"{}"}}"#,
            now.to_rfc3339()
        )));
        cr.deployments = Set(format!(
            r#"[{{"trust":"RGT","deployed":true,"note":"","reported_by":"erin","report_time":"{}"}}]"#,
            now.to_rfc3339()
        ));
        change_request::Entity::insert(cr)
            .exec_without_returning(db.conn())
            .await
            .unwrap();
    }

    concordat_platform::both_backends!(stored_people_get_the_configured_issuer, |db| {
        before_people_had_issuers(&db).await;
        // No issuer to give them: refused, naming the setting, and nothing is changed.
        let refused = run_with_people_issuer(&db, &[crate::store::migrations::migrate], None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("2 change-control records naming people")
                && refused.contains("identity.existing_people_issuer"),
            "{refused}"
        );
        // Given one, every stored person carries it.
        run_with_people_issuer(
            &db,
            &[crate::store::migrations::migrate],
            Some(ISSUER.into()),
        )
        .await
        .unwrap();
        let at = |subject: &str| Person::new(ISSUER, subject);
        let da = crate::store::design_authority(db.conn(), "QUE", "medicines")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(da.chair, at("carol"));
        assert_eq!(da.chair.issuer, ISSUER);
        assert!(da.may_vote("RGT", &at("alice")));
        assert!(!da.may_vote("RGT", &Person::new("https://elsewhere", "alice")));
        let cr = crate::store::change_request(db.conn(), "QUE", &sample().id, false)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cr.requester.key(), (ISSUER, "pharmacist"));
        assert_eq!(
            cr.board_decision.unwrap().recorded_by.key(),
            (ISSUER, "dave")
        );
        assert_eq!(cr.deployments[0].reported_by.key(), (ISSUER, "erin"));
    });

    concordat_platform::both_backends!(an_empty_database_needs_no_issuer, |db| {
        run_with_people_issuer(&db, &[crate::store::migrations::migrate], None)
            .await
            .unwrap();
    });
}
