//! Safe retries: a mutation's `request_id` is remembered with its response, in the same
//! transaction as the change, so a retry of the same request returns the first response instead
//! of acting twice.

use sea_orm::entity::prelude::*;
use sea_orm::{ConnectionTrait, Set};

pub(crate) mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub service: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub subject: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub request_id: String,
        pub method: String,
        pub response: Vec<u8>,
        pub create_time: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A request id and whose it is.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    /// The service, e.g. `changecontrol`.
    pub service: &'a str,
    /// The caller's issuer-qualified subject (request ids are per caller).
    pub subject: &'a str,
    /// The client's `request_id`.
    pub request_id: &'a str,
    /// The method, so a request id reused for another method is refused.
    pub method: &'a str,
}

/// A request id already used for another method.
#[derive(Debug, thiserror::Error)]
#[error("request_id {0} was already used for {1}")]
pub struct Reused(pub String, pub String);

/// The stored response of an earlier request with this key, if any.
pub async fn lookup<C: ConnectionTrait>(
    db: &C,
    key: Key<'_>,
) -> Result<Option<Result<Vec<u8>, Reused>>, DbErr> {
    if key.request_id.is_empty() {
        return Ok(None);
    }
    let found = entity::Entity::find_by_id((
        key.service.to_owned(),
        key.subject.to_owned(),
        key.request_id.to_owned(),
    ))
    .one(db)
    .await?;
    Ok(found.map(|m| {
        if m.method == key.method {
            Ok(m.response)
        } else {
            Err(Reused(key.request_id.to_owned(), m.method))
        }
    }))
}

/// Remembers `response` for `key` (inside the change's transaction).
pub async fn record<C: ConnectionTrait>(
    db: &C,
    key: Key<'_>,
    response: Vec<u8>,
) -> Result<(), DbErr> {
    if key.request_id.is_empty() {
        return Ok(());
    }
    entity::Entity::insert(entity::ActiveModel {
        service: Set(key.service.to_owned()),
        subject: Set(key.subject.to_owned()),
        request_id: Set(key.request_id.to_owned()),
        method: Set(key.method.to_owned()),
        response: Set(response),
        create_time: Set(chrono::Utc::now()),
    })
    .exec_without_returning(db)
    .await
    .map(|_| ())
}

/// Forgets request ids recorded before `cutoff`: a retry is expected within minutes, and the table
/// must not grow without bound.
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    cutoff: chrono::DateTime<chrono::Utc>,
) -> Result<u64, DbErr> {
    Ok(entity::Entity::delete_many()
        .filter(entity::Column::CreateTime.lt(cutoff))
        .exec(db)
        .await?
        .rows_affected)
}
