//! The shared-configuration tables, with their own migrations table.

use sea_orm::DbErr;
use sea_orm_migration::prelude::*;

use concordat_platform::migrations::schema::{
    col, index, name_people, people_issuer_or_refuse, pk,
};

/// The outbox table of shared-configuration events.
pub const OUTBOX: &str = "sc_events";

concordat_platform::migrator! {
    /// Shared configuration's migrator.
    Migrator in "concordat_sharedconfig_migrations",
    /// Applies shared configuration's pending migrations.
    migrate,
    [
        M0001Initial = "m0001_initial",
        M0002PeopleByIssuer = "m0002_people_by_issuer",
        M0003IncrementalHashes = "m0003_incremental_hashes",
        M0004ItemsByOpeningRevision = "m0004_items_by_opening_revision",
        M0005Variations = "m0005_variations",
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

/// People were stored as bare subjects; they are named by issuer and subject from here on, by the
/// same rule as change control's migration (`identity.existing_people_issuer`).
#[async_trait::async_trait]
impl MigrationTrait for M0002PeopleByIssuer {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        const PEOPLE: [(&str, &str, &str); 5] = [
            ("sc_kinds", "creator", "kind creators"),
            ("sc_revisions", "publisher", "revision publishers"),
            ("sc_changesets", "author", "changeset authors"),
            ("sc_effective", "publisher", "effective-revision publishers"),
            ("sc_snapshots", "importer", "snapshot importers"),
        ];
        let conditions: Vec<(&str, String)> = PEOPLE
            .iter()
            .map(|(table, column, _)| (*table, format!("{column} <> ''")))
            .collect();
        let rows: Vec<(&str, &str)> = conditions
            .iter()
            .map(|(table, condition)| (*table, condition.as_str()))
            .collect();
        people_issuer_or_refuse(
            manager,
            "shared-configuration records naming people are",
            &rows,
        )
        .await?;
        for (table, column, what) in PEOPLE {
            name_people(manager, table, &[column], what).await?;
        }
        Ok(())
    }
}

/// Content hashes become LtHash checksums, and layer and effective revisions keep the LtHash
/// state, so that a publish updates them in proportion to what it changes. Every stored
/// revision, effective revision and snapshot is rehashed from its content.
#[async_trait::async_trait]
impl MigrationTrait for M0003IncrementalHashes {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["sc_revisions", "sc_effective"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(col("lthash").binary().null())
                        .to_owned(),
                )
                .await?;
        }
        crate::store::rehash_all(manager.get_connection())
            .await
            .map_err(|e| DbErr::Migration(format!("rehashing shared configuration: {e}")))
    }
}

/// Items are also found by the revision that opened them, so that what a range of revisions
/// changed is read without a scan of the layer (DiffRevisions, rebase checks); the revision that
/// closed them is the `sc_items_current` index's.
#[async_trait::async_trait]
impl MigrationTrait for M0004ItemsByOpeningRevision {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(
                "sc_items_opened",
                "sc_items",
                &["ics", "layer", "from_revision", "kind", "item_key"],
            ))
            .await
    }
}

/// A trust's overlay entry becomes a governed variation: its terms (rationale, hazard, review
/// date) and its expiry, found by expiry so that lapses due are read without a scan; an
/// effective revision says why the system published it (a lapse) when no changeset did.
#[async_trait::async_trait]
impl MigrationTrait for M0005Variations {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            col("variation").text().not_null().default(""),
            col("expire_time").timestamp_with_time_zone().null(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("sc_items"))
                        .add_column(column.to_owned())
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(index("sc_items_expiring", "sc_items", &["expire_time"]))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("sc_effective"))
                    .add_column(col("reason").text().not_null().default(""))
                    .to_owned(),
            )
            .await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use chrono::Utc;
    use concordat_platform::migrations::run_with_people_issuer;
    use sea_orm::ActiveValue::{NotSet, Set};
    use sea_orm::EntityTrait;
    use sea_orm_migration::MigratorTrait;

    use super::Migrator;
    use crate::store::entities::kind;

    const ISSUER: &str = "https://login.que-ics.nhs.uk";

    concordat_platform::both_backends!(stored_people_get_the_configured_issuer, |db| {
        // A kind registered before people were named by issuer.
        Migrator::up(db.conn(), Some(1)).await.unwrap();
        kind::Entity::insert(kind::ActiveModel {
            ics: Set("QUE".into()),
            name: Set("alert-rule".into()),
            domain: Set("medicines".into()),
            schema: Set(r#"{"type":"object"}"#.into()),
            description: Set(String::new()),
            creator: Set("admin".into()),
            creator_issuer: NotSet,
            creator_name: NotSet,
            create_time: Set(Utc::now()),
        })
        .exec_without_returning(db.conn())
        .await
        .unwrap();
        let migrate =
            [crate::store::migrations::migrate as concordat_platform::migrations::MigrateFn];
        let refused = run_with_people_issuer(&db, &migrate, None)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("1 shared-configuration records naming people")
                && refused.contains("identity.existing_people_issuer"),
            "{refused}"
        );
        run_with_people_issuer(&db, &migrate, Some(ISSUER.into()))
            .await
            .unwrap();
        let kind = crate::store::kind(db.conn(), "QUE", "alert-rule")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kind.creator.key(), (ISSUER, "admin"));
    });
}
