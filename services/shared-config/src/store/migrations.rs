//! The shared-configuration tables, with their own migrations table.

use sea_orm::DbErr;
use sea_orm_migration::prelude::*;

use concordat_platform::migrations::schema::{col, index, pk};

/// The outbox table of shared-configuration events.
pub const OUTBOX: &str = "sc_events";

concordat_platform::migrator! {
    /// Shared configuration's migrator.
    Migrator in "concordat_sharedconfig_migrations",
    /// Applies shared configuration's pending migrations.
    migrate,
    [
        M0001Initial = "m0001_initial",
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let t = |name: &str| Table::create().table(Alias::new(name)).to_owned();
        manager
            .create_table(
                t("sc_kinds")
                    .col(col("ics").string().not_null())
                    .col(col("name").string().not_null())
                    .col(col("domain").string().not_null())
                    .col(col("schema").text().not_null())
                    .col(col("description").text().not_null())
                    .col(col("creator").string().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "name"]))
                    .to_owned(),
            )
            .await?;
        // Every version of every item: a row is in force from `from_revision` of its layer until
        // `to_revision` (exclusive; NULL while it is current), so any revision can be read.
        manager
            .create_table(
                t("sc_items")
                    .col(col("ics").string().not_null())
                    .col(col("layer").string().not_null())
                    .col(col("kind").string().not_null())
                    .col(col("item_key").string().not_null())
                    .col(col("from_revision").big_integer().not_null())
                    .col(col("to_revision").big_integer().null())
                    .col(col("value").text().not_null())
                    .col(col("governance").text().not_null())
                    .col(col("owner").text().not_null())
                    .col(col("description").text().not_null())
                    .col(col("suppress").boolean().not_null())
                    .col(col("change_request").string().not_null())
                    .primary_key(&mut pk(&[
                        "ics",
                        "layer",
                        "kind",
                        "item_key",
                        "from_revision",
                    ]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "sc_items_current",
                "sc_items",
                &["ics", "layer", "to_revision", "kind", "item_key"],
            ))
            .await?;
        manager
            .create_table(
                t("sc_revisions")
                    .col(col("ics").string().not_null())
                    .col(col("layer").string().not_null())
                    .col(col("revision").big_integer().not_null())
                    .col(col("changeset").string().not_null())
                    .col(col("change_request").string().not_null())
                    .col(col("publisher").string().not_null())
                    .col(col("publisher_trust").string().not_null())
                    .col(col("publish_time").timestamp_with_time_zone().not_null())
                    .col(col("content_hash").string().not_null())
                    .col(col("item_count").big_integer().not_null())
                    .col(col("restores_revision").big_integer().not_null())
                    .col(col("change_count").big_integer().not_null())
                    .primary_key(&mut pk(&["ics", "layer", "revision"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("sc_changesets")
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("layer").string().not_null())
                    .col(col("base_revision").big_integer().not_null())
                    .col(col("change_request").string().not_null())
                    .col(col("description").text().not_null())
                    .col(col("changes").text().not_null())
                    .col(col("state").string().not_null())
                    .col(col("author").string().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .col(col("published_revision").big_integer().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("sc_effective")
                    .col(col("ics").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("revision").big_integer().not_null())
                    .col(col("baseline_revision").big_integer().not_null())
                    .col(col("overlay_revision").big_integer().not_null())
                    .col(col("content_hash").string().not_null())
                    .col(col("layer").string().not_null())
                    .col(col("change_request").string().not_null())
                    .col(col("publisher").string().not_null())
                    .col(col("publish_time").timestamp_with_time_zone().not_null())
                    .col(col("changes").text().not_null())
                    .primary_key(&mut pk(&["ics", "trust", "revision"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("sc_snapshots")
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("display_name").text().not_null())
                    .col(col("taken_time").timestamp_with_time_zone().not_null())
                    .col(col("content_hash").string().not_null())
                    .col(col("item_count").big_integer().not_null())
                    .col(col("nonconforming_count").big_integer().not_null())
                    .col(col("importer").string().not_null())
                    .col(col("import_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                t("sc_snapshot_items")
                    .col(col("ics").string().not_null())
                    .col(col("snapshot").string().not_null())
                    .col(col("kind").string().not_null())
                    .col(col("item_key").string().not_null())
                    .col(col("value").text().not_null())
                    .primary_key(&mut pk(&["ics", "snapshot", "kind", "item_key"]))
                    .to_owned(),
            )
            .await?;
        concordat_platform::events::create_outbox_table(manager, OUTBOX).await
    }
}
