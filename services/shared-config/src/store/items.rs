//! Items: temporal rows of every layer, written per revision and read at any revision.

use super::*;

#[derive(Serialize, Deserialize)]
pub(super) struct StoredChange {
    pub(super) op: String,
    pub(super) kind: String,
    pub(super) key: String,
    #[serde(default)]
    pub(super) value: Value,
    #[serde(default)]
    pub(super) governance: Governance,
    #[serde(default)]
    pub(super) owner: String,
    #[serde(default)]
    pub(super) description: String,
    #[serde(default)]
    pub(super) suppress: bool,
    #[serde(default, skip_serializing_if = "Variation::is_empty")]
    pub(super) variation: Variation,
}

/// A variation's terms as stored beside its expiry: the rationale, hazard and review date as
/// JSON (empty when none is set), the expiry in its own column.
pub(super) fn terms_json(v: &Variation) -> Result<String> {
    let terms = Variation {
        expire_time: None,
        ..v.clone()
    };
    if terms.is_empty() {
        return Ok(String::new());
    }
    json_of("variation terms", &terms)
}

/// The variation of a stored row: its terms and expiry.
pub(super) fn variation_of(terms: &str, expire_time: Option<DateTime<Utc>>) -> Result<Variation> {
    let mut v: Variation = if terms.is_empty() {
        Variation::default()
    } else {
        parse("variation terms", terms)?
    };
    v.expire_time = expire_time;
    Ok(v)
}

/// Rows whose `(kind, key)` comes after `after`: a row comparison, so a page starts where the key
/// index says rather than after a scan from the first key.
pub(super) fn after_key(
    kind: impl ColumnTrait,
    key: impl ColumnTrait,
    after: &Key,
) -> sea_orm::sea_query::SimpleExpr {
    Expr::tuple([Expr::col(kind), Expr::col(key)]).gt(Expr::tuple([
        Expr::value(after.kind.as_str()),
        Expr::value(after.key.as_str()),
    ]))
}

pub(super) fn in_force_at(revision: i64) -> Condition {
    Condition::all()
        .add(item::Column::FromRevision.lte(revision))
        .add(
            Condition::any()
                .add(item::Column::ToRevision.is_null())
                .add(item::Column::ToRevision.gt(revision)),
        )
}

pub(super) fn placed_of(m: item::Model) -> Result<(Key, Placed)> {
    Ok((
        Key::new(&m.kind, &m.item_key),
        Placed {
            entry: Entry {
                value: parse("item value", &m.value)?,
                governance: parse("item governance", &m.governance)?,
                owner: m.owner,
                description: m.description,
                suppress: m.suppress,
                variation: variation_of(&m.variation, m.expire_time)?,
            },
            provenance: Provenance {
                revision: u64::try_from(m.from_revision).unwrap_or_default(),
                change_request: m.change_request,
            },
        },
    ))
}

/// A layer's content at `revision` (0: empty), optionally of one kind, optionally a page after
/// `after` of at most `limit` items.
pub async fn content<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
    kind_filter: Option<&str>,
    after: Option<&Key>,
    limit: Option<u64>,
) -> Result<Content> {
    if revision <= 0 {
        return Ok(Content::new());
    }
    content_query(ics, layer, revision, kind_filter, after, limit)
        .all(c)
        .await?
        .into_iter()
        .map(placed_of)
        .collect()
}

/// [`content`] as it was stored before variations had terms (the columns of `m0001`): what the
/// migrations before `m0005_variations` read, when the later columns do not exist yet.
pub(super) async fn content_before_variations<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
) -> Result<Content> {
    if revision <= 0 {
        return Ok(Content::new());
    }
    type Row = (
        String,
        String,
        i64,
        String,
        String,
        String,
        String,
        bool,
        String,
    );
    let rows: Vec<Row> = content_query(ics, layer, revision, None, None, None)
        .select_only()
        .columns([
            item::Column::Kind,
            item::Column::ItemKey,
            item::Column::FromRevision,
            item::Column::Value,
            item::Column::Governance,
            item::Column::Owner,
            item::Column::Description,
            item::Column::Suppress,
            item::Column::ChangeRequest,
        ])
        .into_tuple()
        .all(c)
        .await?;
    rows.into_iter()
        .map(
            |(kind, key, from, value, governance, owner, description, suppress, cr)| {
                let entry = Entry {
                    value: parse("item value", &value)?,
                    governance: parse_governance(&governance)?,
                    owner,
                    description,
                    suppress,
                    variation: Variation::default(),
                };
                let provenance = Provenance {
                    revision: u64::try_from(from).unwrap_or_default(),
                    change_request: cr,
                };
                Ok((Key { kind, key }, Placed { entry, provenance }))
            },
        )
        .collect()
}

/// [`content`] as resolving reads it (effective configurations, their hashes and exports): the
/// value, governance, suppression, variation and provenance of each entry, without its owner
/// and description, which are left empty. Fewer columns read and decoded per row.
pub async fn resolving_content<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
    kind_filter: Option<&str>,
    after: Option<&Key>,
    limit: Option<u64>,
) -> Result<Content> {
    let rows = resolving_rows(c, ics, layer, revision, kind_filter, after, limit).await?;
    Ok(rows.into_iter().collect())
}

/// [`resolving_content`] as a list in key order (the order keys compare in, whatever the
/// database's collation), for reads that merge it as it comes instead of building a map.
pub async fn resolving_rows<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
    kind_filter: Option<&str>,
    after: Option<&Key>,
    limit: Option<u64>,
) -> Result<Vec<(Key, Placed)>> {
    if revision <= 0 {
        return Ok(Vec::new());
    }
    type Row = (
        String,
        String,
        i64,
        String,
        String,
        bool,
        String,
        String,
        Option<DateTime<Utc>>,
    );
    let rows: Vec<Row> = content_query(ics, layer, revision, kind_filter, after, limit)
        .select_only()
        .columns([
            item::Column::Kind,
            item::Column::ItemKey,
            item::Column::FromRevision,
            item::Column::Value,
            item::Column::Governance,
            item::Column::Suppress,
            item::Column::ChangeRequest,
            item::Column::Variation,
            item::Column::ExpireTime,
        ])
        .into_tuple()
        .all(c)
        .await?;
    rows.into_iter()
        .map(
            |(
                kind,
                key,
                from_revision,
                value,
                governance,
                suppress,
                change_request,
                terms,
                expires,
            )| {
                Ok((
                    Key { kind, key },
                    Placed {
                        entry: Entry {
                            value: parse("item value", &value)?,
                            governance: parse_governance(&governance)?,
                            owner: String::new(),
                            description: String::new(),
                            suppress,
                            variation: variation_of(&terms, expires)?,
                        },
                        provenance: Provenance {
                            revision: u64::try_from(from_revision).unwrap_or_default(),
                            change_request,
                        },
                    },
                ))
            },
        )
        .collect::<Result<Vec<_>>>()
        .map(in_key_order)
}

/// `rows` sorted by key, which they already are unless the database collates text otherwise.
fn in_key_order(mut rows: Vec<(Key, Placed)>) -> Vec<(Key, Placed)> {
    if !rows.is_sorted_by(|a, b| a.0 < b.0) {
        rows.sort_by(|a, b| a.0.cmp(&b.0));
    }
    rows
}

/// A stored governance; the common case, overridable, without a JSON parse.
fn parse_governance(text: &str) -> Result<Governance> {
    if text == OVERRIDABLE {
        return Ok(Governance::Overridable);
    }
    parse("item governance", text)
}

/// How [`Governance::Overridable`] is stored.
const OVERRIDABLE: &str = "\"overridable\"";

/// The rows of a layer's content at `revision`, in key order: see [`content`].
fn content_query(
    ics: &str,
    layer: &LayerId,
    revision: i64,
    kind_filter: Option<&str>,
    after: Option<&Key>,
    limit: Option<u64>,
) -> sea_orm::Select<item::Entity> {
    let mut q = item::Entity::find()
        .filter(item::Column::Ics.eq(ics))
        .filter(item::Column::Layer.eq(layer.as_str()))
        .filter(in_force_at(revision));
    if let Some(k) = kind_filter {
        q = q.filter(item::Column::Kind.eq(k));
    }
    // A first page starts after the empty key: the bound keeps SQLite on the key index, in key
    // order, rather than on `sc_items_opened` with a sort of the whole layer.
    let first = Key::new("", "");
    q = q.filter(after_key(
        item::Column::Kind,
        item::Column::ItemKey,
        after.unwrap_or(&first),
    ));
    q = q
        .order_by_asc(item::Column::Kind)
        .order_by_asc(item::Column::ItemKey);
    if let Some(limit) = limit {
        q = q.limit(limit);
    }
    q
}

/// The entries of `keys` in a layer at `revision`.
pub async fn content_of_keys<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
    keys: &BTreeSet<Key>,
) -> Result<Content> {
    let mut out = Content::new();
    if revision <= 0 {
        return Ok(out);
    }
    // Many keys of a layer with far fewer items (an overlay, when a large baseline change asks
    // each trust's overlay for its keys): one read of the layer, not one query per chunk of
    // keys; only the rows of the keys asked for are decoded. A layer about as large as the keys
    // (a baseline asked for a large change's keys, most of them new) is asked by key.
    if keys.len() > CHUNK
        && super::revision(c, ics, layer, revision)
            .await?
            .is_some_and(|r| usize::try_from(r.item_count).is_ok_and(|n| n <= keys.len() / 4))
    {
        let wanted: std::collections::HashSet<(&str, &str)> = keys
            .iter()
            .map(|k| (k.kind.as_str(), k.key.as_str()))
            .collect();
        return content_query(ics, layer, revision, None, None, None)
            .all(c)
            .await?
            .into_iter()
            .filter(|m| wanted.contains(&(m.kind.as_str(), m.item_key.as_str())))
            .map(placed_of)
            .collect();
    }
    let mut by_kind: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for k in keys {
        by_kind.entry(&k.kind).or_default().push(&k.key);
    }
    for (kind, names) in by_kind {
        for chunk in names.chunks(CHUNK) {
            let rows = item::Entity::find()
                .filter(item::Column::Ics.eq(ics))
                .filter(item::Column::Layer.eq(layer.as_str()))
                .filter(item::Column::Kind.eq(kind))
                .filter(item::Column::ItemKey.is_in(chunk.iter().copied()))
                .filter(in_force_at(revision))
                .all(c)
                .await?;
            for row in rows {
                let (k, p) = placed_of(row)?;
                out.insert(k, p);
            }
        }
    }
    Ok(out)
}

/// Writes revision `revision` of a layer: closes the current rows of modified and removed keys
/// and inserts the new entries, all under `change_request`.
pub async fn write_items<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    revision: i64,
    change_request: &str,
    changes: &[Change<Entry>],
) -> Result<()> {
    let mut closing: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut rows = Vec::new();
    for change in changes {
        let key = change.key();
        if !matches!(change, Change::Add(..)) {
            closing.entry(&key.kind).or_default().push(&key.key);
        }
        if let Change::Add(_, e) | Change::Modify(_, e) = change {
            rows.push(item::ActiveModel {
                ics: Set(ics.to_owned()),
                layer: Set(layer.as_str().to_owned()),
                kind: Set(key.kind.clone()),
                item_key: Set(key.key.clone()),
                from_revision: Set(revision),
                to_revision: Set(None),
                value: Set(e.value.to_string()),
                governance: Set(json_of("item governance", &e.governance)?),
                owner: Set(e.owner.clone()),
                description: Set(e.description.clone()),
                suppress: Set(e.suppress),
                change_request: Set(change_request.to_owned()),
                variation: Set(terms_json(&e.variation)?),
                expire_time: Set(e.variation.expire_time),
            });
        }
    }
    for (kind, names) in closing {
        for chunk in names.chunks(CHUNK) {
            item::Entity::update_many()
                .col_expr(item::Column::ToRevision, Expr::value(revision))
                .filter(item::Column::Ics.eq(ics))
                .filter(item::Column::Layer.eq(layer.as_str()))
                .filter(item::Column::Kind.eq(kind))
                .filter(item::Column::ItemKey.is_in(chunk.iter().copied()))
                .filter(item::Column::ToRevision.is_null())
                .exec(c)
                .await?;
        }
    }
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        item::Entity::insert_many(chunk).exec(c).await?;
    }
    Ok(())
}

/// The current overlay entries of an ICS whose variation expires after `since` (if given) and at
/// `until` or before, as `(trust, key, expiry)` in expiry order: read through
/// `sc_items_expiring`, so what it costs follows the variations expiring in that span, not the
/// items.
pub async fn expired_variations<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    (since, until): (Option<DateTime<Utc>>, DateTime<Utc>),
) -> Result<Vec<(String, Key, DateTime<Utc>)>> {
    let mut q = item::Entity::find();
    if let Some(since) = since {
        q = q.filter(item::Column::ExpireTime.gt(since));
    }
    let rows: Vec<(String, String, String, Option<DateTime<Utc>>)> = q
        .select_only()
        .columns([
            item::Column::Layer,
            item::Column::Kind,
            item::Column::ItemKey,
            item::Column::ExpireTime,
        ])
        .filter(item::Column::ExpireTime.lte(until))
        .filter(item::Column::Ics.eq(ics))
        .filter(item::Column::ToRevision.is_null())
        .filter(item::Column::Layer.ne(LayerId::Baseline.as_str()))
        .order_by_asc(item::Column::ExpireTime)
        .into_tuple()
        .all(c)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(layer, kind, key, expiry)| Some((layer, Key { kind, key }, expiry?)))
        .collect())
}

/// The keys of a layer changed by revisions after `base` up to `head`.
pub async fn keys_changed_between<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    base: i64,
    head: i64,
) -> Result<BTreeSet<Key>> {
    let keys = keys_changed_page(c, ics, layer, (base, head), None, u64::MAX).await?;
    Ok(keys.into_iter().collect())
}

/// A page of [`keys_changed_between`]: the first `limit` keys after `after`, in key order. The
/// rows the revisions opened and those they closed are read apart, each through its own index
/// (`sc_items_opened`, `sc_items_current`), so the cost follows what those revisions changed.
pub async fn keys_changed_page<C: ConnectionTrait>(
    c: &C,
    ics: &str,
    layer: &LayerId,
    (base, head): (i64, i64),
    after: Option<&Key>,
    limit: u64,
) -> Result<Vec<Key>> {
    let mut keys = BTreeSet::new();
    for column in [item::Column::FromRevision, item::Column::ToRevision] {
        let rows: Vec<(String, String)> = item::Entity::find()
            .select_only()
            .column(item::Column::Kind)
            .column(item::Column::ItemKey)
            .filter(item::Column::Ics.eq(ics))
            .filter(item::Column::Layer.eq(layer.as_str()))
            .filter(column.gt(base))
            .filter(column.lte(head))
            .into_tuple()
            .all(c)
            .await?;
        keys.extend(rows.into_iter().map(|(k, n)| Key::new(&k, &n)));
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    Ok(keys
        .into_iter()
        .filter(|k| after.is_none_or(|a| k > a))
        .take(limit)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_a_collation_ordered_otherwise_come_back_in_key_order() {
        let row = |kind: &str, key: &str| {
            let placed = Placed {
                entry: Entry::default(),
                provenance: Provenance::default(),
            };
            (Key::new(kind, key), placed)
        };
        // A locale collation puts `b` before `C`; keys compare by bytes.
        let rows = in_key_order(vec![row("a", "b"), row("a", "C"), row("B", "z")]);
        let keys: Vec<String> = rows.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(keys, ["B/z", "a/C", "a/b"]);
    }

    #[test]
    fn overridable_is_stored_as_its_serde_form() {
        assert_eq!(
            serde_json::to_string(&Governance::Overridable).unwrap_or_default(),
            OVERRIDABLE
        );
        assert_eq!(
            parse_governance(OVERRIDABLE).ok(),
            Some(Governance::Overridable)
        );
        assert_eq!(
            parse_governance("\"locked\"").ok(),
            Some(Governance::Locked)
        );
    }
}
