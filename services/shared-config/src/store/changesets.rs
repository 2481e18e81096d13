//! Changesets.

use super::*;

pub(super) fn changes_json(changes: &[Change<Entry>]) -> Result<String> {
    let stored: Vec<StoredChange> = changes
        .iter()
        .map(|change| {
            let (op, entry) = match change {
                Change::Add(_, e) => ("add", Some(e)),
                Change::Modify(_, e) => ("modify", Some(e)),
                Change::Remove(_) => ("remove", None),
            };
            let e = entry.cloned().unwrap_or_default();
            StoredChange {
                op: op.into(),
                kind: change.key().kind.clone(),
                key: change.key().key.clone(),
                value: e.value,
                governance: e.governance,
                owner: e.owner,
                description: e.description,
                suppress: e.suppress,
                variation: e.variation,
            }
        })
        .collect();
    json_of("changeset changes", &stored)
}

pub(super) fn changes_of(text: &str) -> Result<Vec<Change<Entry>>> {
    let stored: Vec<StoredChange> = parse("changeset changes", text)?;
    stored
        .into_iter()
        .map(|s| {
            let key = Key::new(&s.kind, &s.key);
            let entry = Entry {
                value: s.value,
                governance: s.governance,
                owner: s.owner,
                description: s.description,
                suppress: s.suppress,
                variation: s.variation,
            };
            match s.op.as_str() {
                "add" => Ok(Change::Add(key, entry)),
                "modify" => Ok(Change::Modify(key, entry)),
                "remove" => Ok(Change::Remove(key)),
                other => Err(StoreError::Corrupt("changeset operation", other.to_owned())),
            }
        })
        .collect()
}

pub(super) fn changeset_of(m: changeset::Model) -> Result<Changeset> {
    Ok(Changeset {
        layer: layer_of(&m.layer)?,
        changes: changes_of(&m.changes)?,
        state: ChangesetState::parse(&m.state)
            .ok_or_else(|| StoreError::Corrupt("changeset state", m.state.clone()))?,
        ics: m.ics,
        id: m.id,
        base_revision: m.base_revision,
        change_request: m.change_request,
        description: m.description,
        author: Person {
            issuer: m.author_issuer,
            subject: m.author,
            name: m.author_name,
        },
        create_time: m.create_time,
        update_time: m.update_time,
        published_revision: m.published_revision,
    })
}

/// Stores a new changeset.
pub async fn insert_changeset<C: ConnectionTrait>(c: &C, cs: &Changeset) -> Result<()> {
    changeset::ActiveModel {
        ics: Set(cs.ics.clone()),
        id: Set(cs.id.clone()),
        layer: Set(cs.layer.as_str().to_owned()),
        base_revision: Set(cs.base_revision),
        change_request: Set(cs.change_request.clone()),
        description: Set(cs.description.clone()),
        changes: Set(changes_json(&cs.changes)?),
        state: Set(cs.state.as_str().to_owned()),
        author: Set(cs.author.subject.clone()),
        author_issuer: Set(cs.author.issuer.clone()),
        author_name: Set(cs.author.name.clone()),
        create_time: Set(cs.create_time),
        update_time: Set(cs.update_time),
        published_revision: Set(cs.published_revision),
    }
    .insert(c)
    .await
    .map(|_| ())
    .map_err(|e| StoreError::unique(e, cs.name()))
}

/// Records a changeset's new state.
pub async fn update_changeset_state<C: ConnectionTrait>(c: &C, cs: &Changeset) -> Result<()> {
    changeset::Entity::update_many()
        .col_expr(changeset::Column::State, Expr::value(cs.state.as_str()))
        .col_expr(changeset::Column::UpdateTime, Expr::value(cs.update_time))
        .col_expr(
            changeset::Column::PublishedRevision,
            Expr::value(cs.published_revision),
        )
        .filter(changeset::Column::Ics.eq(cs.ics.as_str()))
        .filter(changeset::Column::Id.eq(cs.id.as_str()))
        .exec(c)
        .await?;
    Ok(())
}

/// One changeset; with `lock`, its row stays locked until the transaction ends (PostgreSQL).
pub async fn changeset<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
    lock: bool,
) -> Result<Option<Changeset>> {
    let mut q = changeset::Entity::find_by_id((ics.to_owned(), id.to_owned()));
    if lock {
        q = q.lock_exclusive();
    }
    q.one(c).await?.map(changeset_of).transpose()
}

/// [`changeset`] without its changes (left empty), unlocked: what is checked before a write
/// opens, without decoding every change of a large changeset.
pub async fn changeset_head<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    id: &str,
) -> Result<Option<Changeset>> {
    use changeset::Column as C;
    changeset::Entity::find_by_id((ics.to_owned(), id.to_owned()))
        .select_only()
        .columns([
            C::Ics,
            C::Id,
            C::Layer,
            C::BaseRevision,
            C::ChangeRequest,
            C::Description,
            C::State,
            C::Author,
            C::AuthorIssuer,
            C::AuthorName,
            C::CreateTime,
            C::UpdateTime,
            C::PublishedRevision,
        ])
        .column_as(Expr::val("[]"), C::Changes.as_str())
        .into_model::<changeset::Model>()
        .one(c)
        .await?
        .map(changeset_of)
        .transpose()
}

/// Changesets newest first, after the page position `(create_time, id)`.
pub async fn changesets<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: Option<&LayerId>,
    state: Option<ChangesetState>,
    after: Option<(DateTime<Utc>, String)>,
    limit: u64,
) -> Result<Vec<Changeset>> {
    let mut q = changeset::Entity::find().filter(changeset::Column::Ics.eq(ics));
    if let Some(layer) = layer {
        q = q.filter(changeset::Column::Layer.eq(layer.as_str()));
    }
    if let Some(state) = state {
        q = q.filter(changeset::Column::State.eq(state.as_str()));
    }
    if let Some((time, id)) = after {
        q = q.filter(
            Condition::any()
                .add(changeset::Column::CreateTime.lt(time))
                .add(
                    Condition::all()
                        .add(changeset::Column::CreateTime.eq(time))
                        .add(changeset::Column::Id.lt(id)),
                ),
        );
    }
    q.order_by_desc(changeset::Column::CreateTime)
        .order_by_desc(changeset::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(changeset_of)
        .collect()
}
