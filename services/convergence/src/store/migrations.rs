//! The convergence tables, with their own migrations table.

use sea_orm::DbErr;
use sea_orm_migration::prelude::*;

use concordat_platform::migrations::schema::{col, index, pk};

/// The outbox table of convergence events.
pub const OUTBOX: &str = "cv_events";

concordat_platform::migrator! {
    /// Convergence's migrator.
    Migrator in "concordat_convergence_migrations",
    /// Applies convergence's pending migrations.
    migrate,
    [
        M0001Initial = "m0001_initial",
        M0002Plans = "m0002_plans",
        M0003Notices = "m0003_notices",
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let t = |name: &str| Table::create().table(Alias::new(name)).to_owned();
        // One row per recorded assessment; `tally` holds, per domain, the keys per class and
        // governance class, from which scores are made with the ICS's weights of the day.
        manager
            .create_table(
                t("cv_assessments")
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("snapshot").string().not_null())
                    .col(col("baseline_revision").big_integer().not_null())
                    .col(col("overlay_revision").big_integer().not_null())
                    .col(col("assess_time").timestamp_with_time_zone().not_null())
                    .col(col("record_time").timestamp_with_time_zone().not_null())
                    .col(col("trigger").string().not_null())
                    .col(col("trigger_seq").big_integer().not_null())
                    .col(col("key_count").big_integer().not_null())
                    .col(col("tally").text().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "cv_assessments_by_trust",
                "cv_assessments",
                &["ics", "trust", "assess_time", "id"],
            ))
            .await?;
        // The keys of an assessment that are not ALIGNED.
        manager
            .create_table(
                t("cv_divergences")
                    .col(col("ics").string().not_null())
                    .col(col("assessment").string().not_null())
                    .col(col("kind").string().not_null())
                    .col(col("item_key").string().not_null())
                    .col(col("domain").string().not_null())
                    .col(col("class").string().not_null())
                    .col(col("governance").string().not_null())
                    .col(col("baseline_value").text().null())
                    .col(col("approved_value").text().null())
                    .col(col("snapshot_value").text().null())
                    .col(col("change_request").string().not_null())
                    .col(col("expire_time").timestamp_with_time_zone().null())
                    .col(col("variation_removes").boolean().not_null())
                    .primary_key(&mut pk(&["ics", "assessment", "kind", "item_key"]))
                    .to_owned(),
            )
            .await?;
        // Where the follower of shared configuration's events is, per ICS.
        manager
            .create_table(
                t("cv_follow")
                    .col(col("ics").string().not_null())
                    .col(col("cursor").big_integer().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics"]))
                    .to_owned(),
            )
            .await?;
        // What the follower knows of each trust: its effective revision in force and its newest
        // snapshot.
        manager
            .create_table(
                t("cv_trusts")
                    .col(col("ics").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("baseline_revision").big_integer().not_null())
                    .col(col("overlay_revision").big_integer().not_null())
                    .col(col("effective_time").timestamp_with_time_zone().null())
                    .col(col("snapshot").string().not_null())
                    .col(col("snapshot_time").timestamp_with_time_zone().null())
                    .primary_key(&mut pk(&["ics", "trust"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("cv_settings")
                    .col(col("ics").string().not_null())
                    .col(col("weights").text().not_null())
                    .col(col("bands").text().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics"]))
                    .to_owned(),
            )
            .await?;
        concordat_platform::events::create_outbox_table(manager, OUTBOX).await
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002Plans {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let t = |name: &str| Table::create().table(Alias::new(name)).to_owned();
        // A plan; its dependencies as JSON (they are read and written with the plan, whole).
        manager
            .create_table(
                t("cv_plans")
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("display_name").string().not_null())
                    .col(col("start_time").timestamp_with_time_zone().not_null())
                    .col(col("target_time").timestamp_with_time_zone().null())
                    .col(col("seed").big_integer().not_null())
                    .col(col("duration_source").string().not_null())
                    .col(col("dependencies").text().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        // Its milestones, one row each, found by trust when an assessment may achieve them.
        manager
            .create_table(
                t("cv_milestones")
                    .col(col("ics").string().not_null())
                    .col(col("plan").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("position").integer().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("domain").string().not_null())
                    .col(col("target_convergence").double().not_null())
                    .col(col("keys_in_scope").big_integer().not_null())
                    .col(col("due_time").timestamp_with_time_zone().null())
                    .col(col("owner").string().not_null())
                    .col(col("optimistic_days").double().not_null())
                    .col(col("most_likely_days").double().not_null())
                    .col(col("pessimistic_days").double().not_null())
                    .col(col("achieved_by").string().not_null())
                    .col(col("achieve_time").timestamp_with_time_zone().null())
                    .primary_key(&mut pk(&["ics", "plan", "id"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "cv_milestones_by_trust",
                "cv_milestones",
                &["ics", "trust", "achieved_by"],
            ))
            .await
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003Notices {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("cv_settings"))
                    .add_column(col("notice_days").integer().not_null().default(30))
                    .to_owned(),
            )
            .await?;
        // What WatchConvergence has announced (a variation expiring, a milestone at risk), so each
        // is announced once for each instant it is about.
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("cv_notices"))
                    .col(col("ics").string().not_null())
                    .col(col("kind").string().not_null())
                    .col(col("subject").string().not_null())
                    .col(col("at").timestamp_with_time_zone().not_null())
                    .col(col("notice_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "kind", "subject", "at"]))
                    .to_owned(),
            )
            .await
    }
}
