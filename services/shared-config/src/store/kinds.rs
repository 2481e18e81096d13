//! Config kinds.

use super::*;

/// Registers a kind.
pub async fn insert_kind<C: ConnectionTrait>(c: &C, k: &KindRecord) -> Result<()> {
    kind::ActiveModel {
        ics: Set(k.ics.clone()),
        name: Set(k.name.clone()),
        domain: Set(k.domain.clone()),
        schema: Set(k.schema.to_string()),
        description: Set(k.description.clone()),
        creator: Set(k.creator.subject.clone()),
        creator_issuer: Set(k.creator.issuer.clone()),
        creator_name: Set(k.creator.name.clone()),
        create_time: Set(k.create_time),
    }
    .insert(c)
    .await
    .map(|_| ())
    .map_err(|e| StoreError::unique(e, format!("icss/{}/configKinds/{}", k.ics, k.name)))
}

pub(super) fn kind_of(m: kind::Model) -> Result<KindRecord> {
    Ok(KindRecord {
        schema: parse("kind schema", &m.schema)?,
        ics: m.ics,
        name: m.name,
        domain: m.domain,
        description: m.description,
        creator: Person {
            issuer: m.creator_issuer,
            subject: m.creator,
            name: m.creator_name,
        },
        create_time: m.create_time,
    })
}

/// One kind.
pub async fn kind<C: ConnectionTrait>(c: &C, ics: &str, name: &str) -> Result<Option<KindRecord>> {
    kind::Entity::find_by_id((ics.to_owned(), name.to_owned()))
        .one(c)
        .await?
        .map(kind_of)
        .transpose()
}

/// Every kind of an ICS, by name.
pub async fn kinds<C: ConnectionTrait>(c: &C, ics: &str) -> Result<Vec<KindRecord>> {
    kind::Entity::find()
        .filter(kind::Column::Ics.eq(ics))
        .order_by_asc(kind::Column::Name)
        .all(c)
        .await?
        .into_iter()
        .map(kind_of)
        .collect()
}
