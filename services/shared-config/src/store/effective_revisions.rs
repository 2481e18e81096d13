//! Each trust's effective revisions.

use super::*;

#[derive(Serialize, Deserialize)]
pub(super) struct StoredDiff {
    kind: String,
    key: String,
    before: Option<Value>,
    after: Option<Value>,
}

pub(super) fn effective_of(m: effective::Model) -> Result<EffectiveRevision> {
    let diffs: Vec<StoredDiff> = parse("effective changes", &m.changes)?;
    Ok(EffectiveRevision {
        layer: layer_of(&m.layer)?,
        changes: diffs
            .into_iter()
            .map(|d| Difference {
                key: Key::new(&d.kind, &d.key),
                before: d.before,
                after: d.after,
            })
            .collect(),
        ics: m.ics,
        trust: m.trust,
        revision: m.revision,
        baseline_revision: m.baseline_revision,
        overlay_revision: m.overlay_revision,
        content_hash: m.content_hash,
        change_request: m.change_request,
        publisher: Person {
            issuer: m.publisher_issuer,
            subject: m.publisher,
            name: m.publisher_name,
        },
        publish_time: m.publish_time,
        reason: m.reason,
    })
}

/// The stored form of an effective revision's changes (JSON), for [`insert_effective`].
pub fn effective_changes_json(changes: &[Difference]) -> Result<String> {
    let diffs: Vec<StoredDiff> = changes
        .iter()
        .map(|d| StoredDiff {
            kind: d.key.kind.clone(),
            key: d.key.key.clone(),
            before: d.before.clone(),
            after: d.after.clone(),
        })
        .collect();
    json_of("effective changes", &diffs)
}

/// Records a trust's new effective revision, its changes stored as `changes_json` (theirs, as
/// [`effective_changes_json`] writes them: trusts sharing one list of changes share one text).
pub async fn insert_effective<C: ConnectionTrait>(
    c: &C,
    e: &EffectiveRevision,
    state: &LtHash,
    changes_json: &str,
) -> Result<()> {
    effective::ActiveModel {
        ics: Set(e.ics.clone()),
        trust: Set(e.trust.clone()),
        revision: Set(e.revision),
        baseline_revision: Set(e.baseline_revision),
        overlay_revision: Set(e.overlay_revision),
        content_hash: Set(e.content_hash.clone()),
        lthash: Set(Some(state.to_bytes())),
        layer: Set(e.layer.as_str().to_owned()),
        change_request: Set(e.change_request.clone()),
        publisher: Set(e.publisher.subject.clone()),
        publisher_issuer: Set(e.publisher.issuer.clone()),
        publisher_name: Set(e.publisher.name.clone()),
        publish_time: Set(e.publish_time),
        changes: Set(changes_json.to_owned()),
        reason: Set(e.reason.clone()),
    }
    .insert(c)
    .await
    .map(|_| ())
    .map_err(|err| {
        StoreError::unique(
            err,
            format!("effective revision {} of {}", e.revision, e.trust),
        )
    })
}

/// A trust's effective revision `rev`, or its newest when `rev` is 0, without its changes (left
/// empty) or its LtHash state: what a read of the configuration at that revision needs. A seed's
/// revision records every item as a change, which a read has no use for; the changes are read
/// with [`effective_after`].
pub async fn effective_head<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
    rev: i64,
) -> Result<Option<EffectiveRevision>> {
    use effective::Column as E;
    let mut q = effective::Entity::find()
        .select_only()
        .columns([
            E::Ics,
            E::Trust,
            E::Revision,
            E::BaselineRevision,
            E::OverlayRevision,
            E::ContentHash,
            E::Layer,
            E::ChangeRequest,
            E::Publisher,
            E::PublisherIssuer,
            E::PublisherName,
            E::PublishTime,
            E::Reason,
        ])
        .column_as(Expr::val("[]"), E::Changes.as_str())
        .column_as(Expr::val(Option::<Vec<u8>>::None), E::Lthash.as_str())
        .filter(E::Ics.eq(ics))
        .filter(E::Trust.eq(trust));
    if rev > 0 {
        q = q.filter(E::Revision.eq(rev));
    }
    q.order_by_desc(E::Revision)
        .into_model::<effective::Model>()
        .one(c)
        .await?
        .map(effective_of)
        .transpose()
}

/// A trust's newest effective revision and its LtHash state (`None` for a row that has none).
pub async fn effective_state<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
) -> Result<Option<(i64, Option<LtHash>)>> {
    Ok(effective::Entity::find()
        .filter(effective::Column::Ics.eq(ics))
        .filter(effective::Column::Trust.eq(trust))
        .order_by_desc(effective::Column::Revision)
        .one(c)
        .await?
        .map(|m| (m.revision, m.lthash.as_deref().and_then(LtHash::from_bytes))))
}

/// A trust's effective revisions after `after`, oldest first, at most `limit`.
pub async fn effective_after<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    trust: &str,
    after: i64,
    limit: u64,
) -> Result<Vec<EffectiveRevision>> {
    effective::Entity::find()
        .filter(effective::Column::Ics.eq(ics))
        .filter(effective::Column::Trust.eq(trust))
        .filter(effective::Column::Revision.gt(after))
        .order_by_asc(effective::Column::Revision)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(effective_of)
        .collect()
}
