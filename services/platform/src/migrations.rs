//! The platform's own tables: the audit chain, its per-ICS heads, and the outbox watermarks.
//!
//! Each service has its own migrator and migrations table, so services deployed apart can be
//! migrated independently; [`run`] applies any set of them in order.

use sea_orm::DbErr;
use sea_orm_migration::prelude::*;

use crate::db::Database;

/// The platform's migrator.
pub struct PlatformMigrator;

#[async_trait::async_trait]
impl MigratorTrait for PlatformMigrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(M0001AuditAndOutbox),
            Box::new(M0002IdempotencyKeys),
            Box::new(M0003ServerSecrets),
        ]
    }

    fn migration_table_name() -> DynIden {
        Alias::new("concordat_platform_migrations").into_iden()
    }
}

/// A function applying one service's pending migrations.
pub type MigrateFn = for<'a> fn(
    &'a Database,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), DbErr>> + Send + 'a>,
>;

/// Applies the platform's pending migrations.
pub fn migrate_platform(
    db: &Database,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DbErr>> + Send + '_>> {
    Box::pin(async move { PlatformMigrator::up(db.conn(), None).await })
}

/// Applies the platform's migrations and then each of `services`' in order.
pub async fn run(db: &Database, services: &[MigrateFn]) -> Result<(), DbErr> {
    migrate_platform(db).await?;
    for migrate in services {
        migrate(db).await?;
    }
    Ok(())
}

struct M0001AuditAndOutbox;

impl MigrationName for M0001AuditAndOutbox {
    fn name(&self) -> &str {
        "m0001_audit_and_outbox"
    }
}

/// Helpers every service's migrations use to describe its tables.
pub mod schema {
    use sea_orm_migration::prelude::*;

    /// A column named `name`.
    pub fn col(name: &str) -> ColumnDef {
        ColumnDef::new(Alias::new(name))
    }

    /// A primary key over `cols`.
    pub fn pk(cols: &[&str]) -> IndexCreateStatement {
        let mut index = Index::create();
        for c in cols {
            index.col(Alias::new(*c));
        }
        index
    }

    /// An index `name` of `table` over `cols`.
    pub fn index(name: &str, table: &str, cols: &[&str]) -> IndexCreateStatement {
        let mut index = Index::create();
        index.name(name).table(Alias::new(table));
        for c in cols {
            index.col(Alias::new(*c));
        }
        index
    }
}

use schema::col;

/// Applies the pending migrations of a service's migrator `M` (its own migrations table): the
/// body of every service's `migrate`, a [`MigrateFn`].
pub fn run_migrator<M: MigratorTrait>(
    db: &Database,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DbErr>> + Send + '_>> {
    Box::pin(async move { M::up(db.conn(), None).await })
}

#[async_trait::async_trait]
impl MigrationTrait for M0001AuditAndOutbox {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("audit_entries"))
                    .col(col("ics").string().not_null())
                    .col(col("sequence").big_integer().not_null())
                    .col(col("time").timestamp_with_time_zone().not_null())
                    .col(col("actor_issuer").string().not_null())
                    .col(col("actor_subject").string().not_null())
                    .col(col("actor_trust").string().not_null())
                    .col(col("action").string().not_null())
                    .col(col("resource").string().not_null())
                    .col(col("request_id").string().not_null())
                    .col(col("summary").text().not_null())
                    .col(col("previous_hash").string().not_null())
                    .col(col("hash").string().not_null())
                    .primary_key(
                        Index::create()
                            .col(Alias::new("ics"))
                            .col(Alias::new("sequence")),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("audit_entries_resource", "resource"),
            ("audit_entries_actor", "actor_subject"),
            ("audit_entries_time", "time"),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Alias::new("audit_entries"))
                        .col(Alias::new("ics"))
                        .col(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("audit_heads"))
                    .col(col("ics").string().not_null().primary_key())
                    .col(col("sequence").big_integer().not_null())
                    .col(col("hash").string().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("outbox_watermarks"))
                    .col(col("outbox").string().not_null().primary_key())
                    .col(col("pruned_through").big_integer().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["outbox_watermarks", "audit_heads", "audit_entries"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

struct M0002IdempotencyKeys;

impl MigrationName for M0002IdempotencyKeys {
    fn name(&self) -> &str {
        "m0002_idempotency_keys"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0002IdempotencyKeys {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("idempotency_keys"))
                    .col(col("service").string().not_null())
                    .col(col("subject").string().not_null())
                    .col(col("request_id").string().not_null())
                    .col(col("method").string().not_null())
                    .col(col("response").blob().not_null())
                    .col(col("create_time").timestamp_with_time_zone().not_null())
                    .primary_key(
                        Index::create()
                            .col(Alias::new("service"))
                            .col(Alias::new("subject"))
                            .col(Alias::new("request_id")),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("idempotency_keys"))
                    .to_owned(),
            )
            .await
    }
}

/// The name of the page-token key in `server_secrets`.
pub const PAGE_TOKEN_KEY: &str = "page_tokens";

struct M0003ServerSecrets;

impl MigrationName for M0003ServerSecrets {
    fn name(&self) -> &str {
        "m0003_server_secrets"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for M0003ServerSecrets {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("server_secrets"))
                    .col(col("name").string().not_null().primary_key())
                    .col(col("value").blob().not_null())
                    .to_owned(),
            )
            .await?;
        // One key for every replica: made once, with the table, from the operating system's
        // random source.
        let key: [u8; 32] = rand::random();
        let insert = Query::insert()
            .into_table(Alias::new("server_secrets"))
            .columns([Alias::new("name"), Alias::new("value")])
            .values_panic([PAGE_TOKEN_KEY.into(), key.to_vec().into()])
            .to_owned();
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alias::new("server_secrets")).to_owned())
            .await
    }
}
