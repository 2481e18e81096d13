//! Snapshots of a trust's actual build.

use super::*;

pub(super) fn snapshot_of(m: snapshot::Model) -> Snapshot {
    Snapshot {
        ics: m.ics,
        id: m.id,
        trust: m.trust,
        display_name: m.display_name,
        taken_time: m.taken_time,
        content_hash: m.content_hash,
        item_count: m.item_count,
        nonconforming_count: m.nonconforming_count,
        importer: Person {
            issuer: m.importer_issuer,
            subject: m.importer,
            name: m.importer_name,
        },
        import_time: m.import_time,
    }
}

/// Stores a snapshot and its items.
pub async fn insert_snapshot<C: ConnectionTrait>(
    c: &C,
    s: &Snapshot,
    items: &BTreeMap<Key, Value>,
) -> Result<()> {
    snapshot::ActiveModel {
        ics: Set(s.ics.clone()),
        id: Set(s.id.clone()),
        trust: Set(s.trust.clone()),
        display_name: Set(s.display_name.clone()),
        taken_time: Set(s.taken_time),
        content_hash: Set(s.content_hash.clone()),
        item_count: Set(s.item_count),
        nonconforming_count: Set(s.nonconforming_count),
        importer: Set(s.importer.subject.clone()),
        importer_issuer: Set(s.importer.issuer.clone()),
        importer_name: Set(s.importer.name.clone()),
        import_time: Set(s.import_time),
    }
    .insert(c)
    .await
    .map_err(|e| StoreError::unique(e, format!("icss/{}/snapshots/{}", s.ics, s.id)))?;
    let rows: Vec<_> = items
        .iter()
        .map(|(k, v)| snapshot_item::ActiveModel {
            ics: Set(s.ics.clone()),
            snapshot: Set(s.id.clone()),
            kind: Set(k.kind.clone()),
            item_key: Set(k.key.clone()),
            value: Set(v.to_string()),
        })
        .collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        snapshot_item::Entity::insert_many(chunk).exec(c).await?;
    }
    Ok(())
}

/// One snapshot.
pub async fn snapshot<C: ConnectionTrait>(c: &C, ics: &str, id: &str) -> Result<Option<Snapshot>> {
    Ok(
        snapshot::Entity::find_by_id((ics.to_owned(), id.to_owned()))
            .one(c)
            .await?
            .map(snapshot_of),
    )
}

/// A snapshot's items in key order: after `after`, at most `limit` of them.
pub async fn snapshot_items<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
    after: Option<&Key>,
    limit: Option<u64>,
) -> Result<BTreeMap<Key, Value>> {
    let mut q = snapshot_item::Entity::find()
        .filter(snapshot_item::Column::Ics.eq(ics))
        .filter(snapshot_item::Column::Snapshot.eq(id));
    if let Some(after) = after {
        q = q.filter(after_key(
            snapshot_item::Column::Kind,
            snapshot_item::Column::ItemKey,
            after,
        ));
    }
    q = q
        .order_by_asc(snapshot_item::Column::Kind)
        .order_by_asc(snapshot_item::Column::ItemKey);
    if let Some(limit) = limit {
        q = q.limit(limit);
    }
    q.all(c)
        .await?
        .into_iter()
        .map(|m| {
            Ok((
                Key::new(&m.kind, &m.item_key),
                parse("snapshot value", &m.value)?,
            ))
        })
        .collect()
}

/// Snapshots newest first (by import time), optionally of one trust, after a page position.
pub async fn snapshots<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: Option<&str>,
    after: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<Snapshot>> {
    let mut q = snapshot::Entity::find().filter(snapshot::Column::Ics.eq(ics));
    if let Some(trust) = trust {
        q = q.filter(snapshot::Column::Trust.eq(trust));
    }
    if let Some((time, id)) = after {
        q = q.filter(
            Condition::any()
                .add(snapshot::Column::ImportTime.lt(time))
                .add(
                    Condition::all()
                        .add(snapshot::Column::ImportTime.eq(time))
                        .add(snapshot::Column::Id.lt(id)),
                ),
        );
    }
    Ok(q.order_by_desc(snapshot::Column::ImportTime)
        .order_by_desc(snapshot::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(snapshot_of)
        .collect())
}
