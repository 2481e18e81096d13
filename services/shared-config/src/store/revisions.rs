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
        lthash: Set(None),
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
    state: &LtHash,
    item_count: i64,
) -> Result<()> {
    revision::Entity::update_many()
        .col_expr(revision::Column::ContentHash, Expr::value(state.checksum()))
        .col_expr(revision::Column::ItemCount, Expr::value(item_count))
        .col_expr(revision::Column::Lthash, Expr::value(state.to_bytes()))
        .filter(revision::Column::Ics.eq(ics))
        .filter(revision::Column::Layer.eq(layer.as_str()))
        .filter(revision::Column::Revision.eq(rev))
        .exec(c)
        .await?;
    Ok(())
}

/// The LtHash state and item count of a layer at `rev` (0: empty).
pub async fn revision_state<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    rev: i64,
) -> Result<(LtHash, i64)> {
    if rev <= 0 {
        return Ok((LtHash::new(), 0));
    }
    let row = revision::Entity::find_by_id((ics.to_owned(), layer.as_str().to_owned(), rev))
        .one(c)
        .await?
        .ok_or_else(|| {
            StoreError::Corrupt(
                "revision",
                format!("{} revision {rev} is missing", layer.as_str()),
            )
        })?;
    let state = row
        .lthash
        .as_deref()
        .and_then(LtHash::from_bytes)
        .ok_or_else(|| {
            StoreError::Corrupt(
                "revision hash state",
                format!("{} revision {rev} has none", layer.as_str()),
            )
        })?;
    Ok((state, row.item_count))
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

/// Gives every stored layer revision, effective revision and snapshot its LtHash state and
/// checksum, computed from its content (the migration to incremental hashes). Costs a read of
/// each revision's content: once.
pub async fn rehash_all<C: ConnectionTrait>(c: &C) -> Result<()> {
    use crate::domain::publish::{layer_lthash, resolve_contents};
    use crate::domain::resolve::{lthash_of, values};
    let layer_of =
        |id: &str| LayerId::parse(id).ok_or_else(|| StoreError::Corrupt("layer", id.to_owned()));
    for row in revision::Entity::find().all(c).await? {
        let layer = layer_of(&row.layer)?;
        let content = content_before_variations(c, &row.ics, &layer, row.revision).await?;
        let state = layer_lthash(&content);
        let count = i64::try_from(content.len()).unwrap_or(i64::MAX);
        finish_revision(c, &row.ics, &layer, row.revision, &state, count).await?;
    }
    for row in effective::Entity::find()
        .select_only()
        .columns([
            effective::Column::Ics,
            effective::Column::Trust,
            effective::Column::Revision,
            effective::Column::BaselineRevision,
            effective::Column::OverlayRevision,
            effective::Column::PublishTime,
        ])
        .into_tuple::<(String, String, i64, i64, i64, DateTime<Utc>)>()
        .all(c)
        .await?
    {
        let (ics, trust, revision, baseline_revision, overlay_revision, publish_time) = row;
        let baseline =
            content_before_variations(c, &ics, &LayerId::Baseline, baseline_revision).await?;
        let overlay_id = LayerId::Trust(trust.clone());
        let overlay = content_before_variations(c, &ics, &overlay_id, overlay_revision).await?;
        let resolved = resolve_contents(baseline, overlay, publish_time);
        let state = lthash_of(&values(resolved.iter().map(|(k, r)| (k, &r.value))));
        effective::Entity::update_many()
            .col_expr(
                effective::Column::ContentHash,
                Expr::value(state.checksum()),
            )
            .col_expr(effective::Column::Lthash, Expr::value(state.to_bytes()))
            .filter(effective::Column::Ics.eq(&ics))
            .filter(effective::Column::Trust.eq(&trust))
            .filter(effective::Column::Revision.eq(revision))
            .exec(c)
            .await?;
    }
    for row in snapshot::Entity::find().all(c).await? {
        let items = snapshot_items(c, &row.ics, &row.id, None, None).await?;
        snapshot::Entity::update_many()
            .col_expr(
                snapshot::Column::ContentHash,
                Expr::value(crate::domain::resolve::content_hash(&items)),
            )
            .filter(snapshot::Column::Ics.eq(&row.ics))
            .filter(snapshot::Column::Id.eq(&row.id))
            .exec(c)
            .await?;
    }
    Ok(())
}
