//! The benefits tables, with their own migrations table.

use sea_orm::DbErr;
use sea_orm_migration::prelude::*;

use concordat_platform::migrations::schema::{col, index, pk};

/// The outbox table of benefits events.
pub const OUTBOX: &str = "bn_events";

concordat_platform::migrator! {
    /// Benefits' migrator.
    Migrator in "concordat_benefits_migrations",
    /// Applies benefits' pending migrations.
    migrate,
    [
        M0001Initial = "m0001_initial",
        M0002CellYears = "m0002_cell_years",
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for M0001Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let t = |name: &str| Table::create().table(Alias::new(name)).to_owned();
        // Benefit profiles: the profile's fields as JSON, with its version.
        manager
            .create_table(
                t("bn_benefits")
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("profile").text().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "id"]))
                    .to_owned(),
            )
            .await?;
        // Every version of every rate card; the newest is the current one.
        manager
            .create_table(
                t("bn_rate_cards")
                    .col(col("ics").string().not_null())
                    .col(col("id").string().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("title").string().not_null())
                    .col(col("description").text().not_null())
                    .col(col("entries").text().not_null())
                    .col(col("author").text().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "id", "version"]))
                    .to_owned(),
            )
            .await?;
        // One row per measurement cell as it stands. The key leads with the benefit and month
        // so a period's rollup reads one contiguous range per benefit.
        manager
            .create_table(
                t("bn_measurements")
                    .col(col("ics").string().not_null())
                    .col(col("benefit").string().not_null())
                    .col(col("month").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("value").string().not_null())
                    .col(col("note").text().not_null())
                    .col(col("link").string().not_null())
                    .col(col("state").string().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("submitter").text().null())
                    .col(col("first_submit_time").timestamp_with_time_zone().null())
                    .col(col("on_time").boolean().not_null())
                    .col(col("validator").text().null())
                    .col(col("acceptor").text().null())
                    .col(col("reason").text().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "benefit", "month", "trust"]))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "bn_measurements_by_trust",
                "bn_measurements",
                &["ics", "benefit", "trust", "month"],
            ))
            .await?;
        // Every version of every cell: each save and decision, by whom and why.
        manager
            .create_table(
                t("bn_measurement_versions")
                    .col(col("ics").string().not_null())
                    .col(col("benefit").string().not_null())
                    .col(col("month").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("act").string().not_null())
                    .col(col("state").string().not_null())
                    .col(col("value").string().not_null())
                    .col(col("note").text().not_null())
                    .col(col("link").string().not_null())
                    .col(col("actor").text().not_null())
                    .col(col("reason").text().not_null())
                    .col(col("time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "benefit", "month", "trust", "version"]))
                    .to_owned(),
            )
            .await?;
        // Attributions per benefit, trust and financial year (`2025-26`).
        manager
            .create_table(
                t("bn_attributions")
                    .col(col("ics").string().not_null())
                    .col(col("benefit").string().not_null())
                    .col(col("year").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("shares").text().not_null())
                    .col(col("rationale").text().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics", "benefit", "year", "trust"]))
                    .to_owned(),
            )
            .await?;
        // Each ICS's settings, once written.
        manager
            .create_table(
                t("bn_settings")
                    .col(col("ics").string().not_null())
                    .col(col("version").big_integer().not_null())
                    .col(col("count_validated").boolean().not_null())
                    .col(col("submission_days").integer().not_null())
                    .col(col("update_time").timestamp_with_time_zone().not_null())
                    .primary_key(&mut pk(&["ics"]))
                    .to_owned(),
            )
            .await?;
        concordat_platform::events::create_outbox_table(manager, OUTBOX).await
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002CellYears {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A summary per benefit, trust and financial year of its cells (`month;value;state;
        // on_time`, joined by `,`), rewritten with each cell: an ICS's rollup of a year reads one
        // row per benefit and trust instead of every cell.
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("bn_cell_years"))
                    .col(col("ics").string().not_null())
                    .col(col("year").string().not_null())
                    .col(col("benefit").string().not_null())
                    .col(col("trust").string().not_null())
                    .col(col("cells").text().not_null())
                    .primary_key(&mut pk(&["ics", "year", "benefit", "trust"]))
                    .to_owned(),
            )
            .await?;
        use sea_orm::ConnectionTrait as _;
        let backend = manager.get_database_backend();
        manager
            .get_connection()
            .execute_unprepared(&crate::store::cell_years_sql(backend, "true"))
            .await
            .map(|_| ())
    }
}
