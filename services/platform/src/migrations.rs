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

/// Applies the platform's migrations and then each of `services`' in order, one process at a
/// time: every target's processes migrate the platform's tables, and replicas start together.
pub async fn run(db: &Database, services: &[MigrateFn]) -> Result<(), DbErr> {
    crate::db::with_session_lock(db, "concordat.migrations", async {
        migrate_platform(db).await?;
        for migrate in services {
            migrate(db).await?;
        }
        Ok(())
    })
    .await
}

tokio::task_local! {
    static PEOPLE_ISSUER: Option<String>;
}

/// Runs `run` (the platform's and `services`' migrations) with `issuer` as the issuer of the
/// people stored before people were named by issuer and subject ([`schema::name_people`]).
pub async fn run_with_people_issuer(
    db: &Database,
    services: &[MigrateFn],
    issuer: Option<String>,
) -> Result<(), DbErr> {
    PEOPLE_ISSUER.scope(issuer, run(db, services)).await
}

/// The issuer given to people stored before people were named by issuer and subject, when the
/// running migration was given one ([`run_with_people_issuer`]).
pub fn existing_people_issuer() -> Option<String> {
    PEOPLE_ISSUER
        .try_with(Clone::clone)
        .ok()
        .flatten()
        .filter(|i| !i.is_empty())
}

/// The error of a migration that must name people and cannot tell their issuer.
pub fn cannot_tell_the_issuer(what: &str, count: u64) -> DbErr {
    DbErr::Migration(format!(
        "{count} {what} stored before people were named by issuer and subject, and their \
         issuer cannot be told (the federation file has several issuers): set \
         identity.existing_people_issuer (CONCORDAT_IDENTITY__EXISTING_PEOPLE_ISSUER) to the \
         issuer they signed in with"
    ))
}

/// Helpers every service's migrations use to describe its tables.
pub mod schema {
    use sea_orm_migration::prelude::*;

    /// A column named `name`.
    pub fn col(name: &str) -> ColumnDef {
        ColumnDef::new(Alias::new(name))
    }

    /// Names the people of `table`'s `columns` (each holding a subject) by issuer and subject:
    /// adds `<column>_issuer` and `<column>_name` beside each, and gives every stored subject the
    /// [`super::existing_people_issuer`], refusing when there is none to give. `what` says what
    /// the rows are, for the refusal.
    pub async fn name_people(
        manager: &SchemaManager<'_>,
        table: &str,
        columns: &[&str],
        what: &str,
    ) -> Result<(), DbErr> {
        use sea_orm::{ConnectionTrait, Statement};
        for column in columns {
            for suffix in ["issuer", "name"] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Alias::new(table))
                            .add_column(
                                col(&format!("{column}_{suffix}"))
                                    .string()
                                    .not_null()
                                    .default(""),
                            )
                            .to_owned(),
                    )
                    .await?;
            }
        }
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let mut stored = 0u64;
        for column in columns {
            stored += count_rows(manager, table, &format!("{column} <> ''")).await?;
        }
        if stored == 0 {
            return Ok(());
        }
        let issuer = super::existing_people_issuer()
            .ok_or_else(|| super::cannot_tell_the_issuer(what, stored))?;
        for column in columns {
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                format!(
                    "UPDATE {table} SET {column}_issuer = {} WHERE {column} <> ''",
                    placeholder(backend, 1)
                ),
                [issuer.clone().into()],
            ))
            .await?;
        }
        Ok(())
    }

    /// Names the people held in the JSON column `column` of `table` (rows keyed by the string
    /// columns `keys`) by issuer and subject: `rewrite` turns each bare subject it finds into
    /// [`person_json`] with the issuer it is given, and says how many it turned. Refuses, as
    /// [`name_people`] does, when there are such subjects and no issuer to give them.
    pub async fn name_people_in_json(
        manager: &SchemaManager<'_>,
        table: &str,
        keys: &[&str],
        column: &str,
        what: &str,
        rewrite: impl Fn(&mut serde_json::Value, &str) -> u64,
    ) -> Result<(), DbErr> {
        use sea_orm::{ConnectionTrait, Statement};
        let db = manager.get_connection();
        let backend = db.get_database_backend();
        let issuer = super::existing_people_issuer();
        let rows = db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT {}, {column} FROM {table} WHERE {column} IS NOT NULL",
                    keys.join(", ")
                ),
            ))
            .await?;
        let mut turned = 0u64;
        let mut updates = Vec::new();
        for row in rows {
            let text: String = row.try_get("", column)?;
            let mut value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| DbErr::Migration(format!("{table}.{column}: {e}")))?;
            let n = rewrite(&mut value, issuer.as_deref().unwrap_or_default());
            if n > 0 {
                turned += n;
                let key_values = keys
                    .iter()
                    .map(|k| row.try_get::<String>("", k))
                    .collect::<Result<Vec<_>, _>>()?;
                updates.push((value.to_string(), key_values));
            }
        }
        if turned == 0 {
            return Ok(());
        }
        if issuer.is_none() {
            return Err(super::cannot_tell_the_issuer(what, turned));
        }
        let placeholder = |i: usize| placeholder(backend, i);
        let conditions: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = {}", placeholder(i + 2)))
            .collect();
        let sql = format!(
            "UPDATE {table} SET {column} = {} WHERE {}",
            placeholder(1),
            conditions.join(" AND ")
        );
        for (text, key_values) in updates {
            let mut values: Vec<sea_orm::Value> = vec![text.into()];
            values.extend(key_values.into_iter().map(Into::into));
            db.execute_raw(Statement::from_sql_and_values(backend, sql.clone(), values))
                .await?;
        }
        Ok(())
    }

    /// Refuses, before a migration changes anything, when rows name people by bare subject
    /// (each `(table, condition)` counts some) and no issuer can be given to them. `what` says
    /// what the rows are.
    pub async fn people_issuer_or_refuse(
        manager: &SchemaManager<'_>,
        what: &str,
        rows: &[(&str, &str)],
    ) -> Result<(), DbErr> {
        if super::existing_people_issuer().is_some() {
            return Ok(());
        }
        let mut stored = 0;
        for (table, condition) in rows {
            stored += count_rows(manager, table, condition).await?;
        }
        if stored > 0 {
            return Err(super::cannot_tell_the_issuer(what, stored));
        }
        Ok(())
    }

    /// The `i`-th (from 1) bind parameter of a raw statement on `backend`.
    fn placeholder(backend: sea_orm::DbBackend, i: usize) -> String {
        match backend {
            sea_orm::DbBackend::Postgres => format!("${i}"),
            _ => "?".to_owned(),
        }
    }

    /// How many rows of `table` match the SQL `condition`.
    pub async fn count_rows(
        manager: &SchemaManager<'_>,
        table: &str,
        condition: &str,
    ) -> Result<u64, DbErr> {
        use sea_orm::{ConnectionTrait, Statement};
        let db = manager.get_connection();
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table} WHERE {condition}"),
            ))
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0)
            .unsigned_abs())
    }

    /// A person as the services' JSON columns hold one.
    pub fn person_json(issuer: &str, subject: &str) -> serde_json::Value {
        serde_json::json!({ "issuer": issuer, "subject": subject })
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
