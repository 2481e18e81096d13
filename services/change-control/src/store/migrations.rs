//! The change-control tables, with their own migrations table.

use sea_orm::DbErr;
use sea_orm_migration::prelude::*;

use concordat_platform::migrations::schema::{col, pk};

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
