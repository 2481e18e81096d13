//! The platform's own tables: the audit chain, its per-ICS heads, and the outbox watermarks.
//!
//! Each service has its own migrator and migrations table, so services deployed apart can be
//! migrated independently; [`run`] applies any set of them in order.

use sea_orm::DbErr;
use sea_orm_migration::prelude::*;

use crate::db::Database;

/// Declares a migrator: the struct `$migrator` with its own migrations table `$table`, the
/// migrations in order (each a unit struct with its stored name, whose `MigrationTrait` the
/// caller writes), and `$migrate`, a [`MigrateFn`] applying the pending ones.
#[macro_export]
macro_rules! migrator {
    (
        $(#[$doc:meta])* $migrator:ident in $table:literal,
        $(#[$mdoc:meta])* $migrate:ident,
        [$($migration:ident = $name:literal),+ $(,)?]
    ) => {
        $(#[$doc])*
        pub struct $migrator;

        #[$crate::migrations::__rt::async_trait]
        impl $crate::migrations::__rt::MigratorTrait for $migrator {
            fn migrations() -> Vec<Box<dyn $crate::migrations::__rt::MigrationTrait>> {
                vec![$(Box::new($migration)),+]
            }

            fn migration_table_name() -> $crate::migrations::__rt::DynIden {
                use $crate::migrations::__rt::IntoIden;
                $crate::migrations::__rt::Alias::new($table).into_iden()
            }
        }

        $(#[$mdoc])*
        pub fn $migrate(db: &$crate::db::Database) -> $crate::migrations::MigrateFuture<'_> {
            $crate::migrations::run_migrator::<$migrator>(db)
        }

        $(
            struct $migration;

            impl $crate::migrations::__rt::MigrationName for $migration {
                fn name(&self) -> &str {
                    $name
                }
            }
        )+
    };
}

#[doc(hidden)]
pub mod __rt {
    pub use async_trait::async_trait;
    pub use sea_orm_migration::prelude::{
        Alias, DynIden, IntoIden, MigrationName, MigrationTrait, MigratorTrait,
    };
}

/// What a [`MigrateFn`] returns.
pub type MigrateFuture<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), DbErr>> + Send + 'a>>;

crate::migrator! {
    /// The platform's migrator.
    PlatformMigrator in "concordat_platform_migrations",
    /// Applies the platform's pending migrations.
    migrate_platform,
    [
        M0001AuditAndOutbox = "m0001_audit_and_outbox",
        M0002IdempotencyKeys = "m0002_idempotency_keys",
        M0003ServerSecrets = "m0003_server_secrets",
    ]
}

/// A function applying one service's pending migrations.
pub type MigrateFn = for<'a> fn(&'a Database) -> MigrateFuture<'a>;

/// Applies the platform's migrations and then each of `services`' in order.
pub async fn run(db: &Database, services: &[MigrateFn]) -> Result<(), DbErr> {
    migrate_platform(db).await?;
    for migrate in services {
        migrate(db).await?;
    }
    Ok(())
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
pub fn run_migrator<M: MigratorTrait>(db: &Database) -> MigrateFuture<'_> {
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
