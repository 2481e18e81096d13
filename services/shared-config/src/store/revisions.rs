//! Layer revisions.

use super::*;

pub(super) fn revision_of(m: revision::Model) -> Result<Revision> {
    Ok(Revision {
        layer: layer_of(&m.layer)?,
        ics: m.ics,
        revision: m.revision,
        changeset: m.changeset,
        change_request: m.change_request,
        publisher: Person {
            issuer: m.publisher_issuer,
            subject: m.publisher,
            name: m.publisher_name,
        },
        publisher_trust: m.publisher_trust,
        publish_time: m.publish_time,
        content_hash: m.content_hash,
        item_count: m.item_count,
        restores_revision: m.restores_revision,
        change_count: m.change_count,
    })
}

/// Records a revision; a concurrent publish of the same number fails as `AlreadyExists`.
pub async fn insert_revision<C: ConnectionTrait>(c: &C, r: &Revision) -> Result<()> {
    revision::ActiveModel {
        ics: Set(r.ics.clone()),
        layer: Set(r.layer.as_str().to_owned()),
        revision: Set(r.revision),
        changeset: Set(r.changeset.clone()),
        change_request: Set(r.change_request.clone()),
        publisher: Set(r.publisher.subject.clone()),
        publisher_issuer: Set(r.publisher.issuer.clone()),
        publisher_name: Set(r.publisher.name.clone()),
        publisher_trust: Set(r.publisher_trust.clone()),
        publish_time: Set(r.publish_time),
        content_hash: Set(r.content_hash.clone()),
        item_count: Set(r.item_count),
        restores_revision: Set(r.restores_revision),
        change_count: Set(r.change_count),
    }
    .insert(c)
    .await
    .map(|_| ())
    .map_err(|e| {
        StoreError::unique(
            e,
            format!(
                "icss/{}/layers/{}/revisions/{}",
                r.ics,
                r.layer.as_str(),
                r.revision
            ),
        )
    })
}

/// Sets a revision's content hash and item count once its items are written.
pub async fn finish_revision<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    rev: i64,
    content_hash: &str,
    item_count: i64,
) -> Result<()> {
    revision::Entity::update_many()
        .col_expr(revision::Column::ContentHash, Expr::value(content_hash))
        .col_expr(revision::Column::ItemCount, Expr::value(item_count))
        .filter(revision::Column::Ics.eq(ics))
        .filter(revision::Column::Layer.eq(layer.as_str()))
        .filter(revision::Column::Revision.eq(rev))
        .exec(c)
        .await?;
    Ok(())
}

/// The newest revision of a layer.
pub async fn head<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
) -> Result<Option<Revision>> {
    revision::Entity::find()
        .filter(revision::Column::Ics.eq(ics))
        .filter(revision::Column::Layer.eq(layer.as_str()))
        .order_by_desc(revision::Column::Revision)
        .one(c)
        .await?
        .map(revision_of)
        .transpose()
}

/// One revision.
pub async fn revision<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    rev: i64,
) -> Result<Option<Revision>> {
    revision::Entity::find_by_id((ics.to_owned(), layer.as_str().to_owned(), rev))
        .one(c)
        .await?
        .map(revision_of)
        .transpose()
}

/// Revisions of a layer older than `before` (all when `None`), newest first.
pub async fn revisions<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<Revision>> {
    let mut q = revision::Entity::find()
        .filter(revision::Column::Ics.eq(ics))
        .filter(revision::Column::Layer.eq(layer.as_str()));
    if let Some(before) = before {
        q = q.filter(revision::Column::Revision.lt(before));
    }
    q.order_by_desc(revision::Column::Revision)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(revision_of)
        .collect()
}
