//! Changesets: a proposed set of item changes to one layer, applied to produce the layer's next
//! content, and inverted to roll it back.

use std::collections::BTreeMap;

use serde_json::Value;

use super::kind::Violation;
use super::layer::Key;

/// One item change; `T` is what a layer holds per key (a bare value, or a layer [`Entry`]).
///
/// [`Entry`]: super::layer::Entry
#[derive(Debug, Clone, PartialEq)]
pub enum Change<T = Value> {
    /// Add an item that does not exist.
    Add(Key, T),
    /// Replace an existing item's value.
    Modify(Key, T),
    /// Remove an existing item.
    Remove(Key),
}

impl<T> Change<T> {
    /// The key it touches.
    pub fn key(&self) -> &Key {
        match self {
            Change::Add(k, _) | Change::Modify(k, _) | Change::Remove(k) => k,
        }
    }
}

/// Applies `changes` to a layer's content, refusing all of them (with every reason, by change
/// index) when any does not fit: adding an existing key, modifying or removing a missing one, or
/// touching one key twice.
pub fn apply<T: Clone>(
    content: &BTreeMap<Key, T>,
    changes: &[Change<T>],
) -> Result<BTreeMap<Key, T>, Vec<Violation>> {
    let mut next = content.clone();
    let mut violations = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, change) in changes.iter().enumerate() {
        let field = format!("changes[{i}]");
        if !seen.insert(change.key().clone()) {
            violations.push((
                field,
                format!("{} is changed twice in one changeset", change.key()),
            ));
            continue;
        }
        match change {
            Change::Add(k, v) => {
                if next.contains_key(k) {
                    violations.push((field, format!("{k} exists already: modify it")));
                } else {
                    next.insert(k.clone(), v.clone());
                }
            }
            Change::Modify(k, v) => match next.get_mut(k) {
                Some(slot) => *slot = v.clone(),
                None => violations.push((field, format!("{k} does not exist: add it"))),
            },
            Change::Remove(k) => {
                if next.remove(k).is_none() {
                    violations.push((field, format!("{k} does not exist")));
                }
            }
        }
    }
    if violations.is_empty() {
        Ok(next)
    } else {
        Err(violations)
    }
}

/// The changes that take `after` back to `before` (for rollback).
pub fn inverse<T: Clone + PartialEq>(
    before: &BTreeMap<Key, T>,
    after: &BTreeMap<Key, T>,
) -> Vec<Change<T>> {
    super::resolve::diff(after, before)
        .into_iter()
        .map(|d| match (d.before, d.after) {
            (None, Some(v)) => Change::Add(d.key, v),
            (Some(_), Some(v)) => Change::Modify(d.key, v),
            (Some(_), None) | (None, None) => Change::Remove(d.key),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resolve::content_hash;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn every_misfit_is_reported_by_index() {
        let content = BTreeMap::from([(Key::new("alert-rule", "a"), json!(1))]);
        let err = apply(
            &content,
            &[
                Change::Add(Key::new("alert-rule", "a"), json!(2)),
                Change::Modify(Key::new("alert-rule", "b"), json!(2)),
                Change::Remove(Key::new("alert-rule", "c")),
            ],
        )
        .unwrap_err();
        let fields: Vec<_> = err.into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["changes[0]", "changes[1]", "changes[2]"]);
    }

    fn content() -> impl Strategy<Value = BTreeMap<Key, Value>> {
        proptest::collection::btree_map(
            (0u8..30).prop_map(|n| Key::new("order-set", &format!("k{n}"))),
            (0i64..100).prop_map(|n| json!({"n": n})),
            0..25,
        )
    }

    proptest! {
        #[test]
        fn a_changeset_followed_by_its_rollback_restores_the_content_hash(
            before in content(),
            edits in proptest::collection::btree_map((0u8..30).prop_map(|n| Key::new("order-set", &format!("k{n}"))), proptest::option::of((0i64..100).prop_map(|n| json!({"n": n}))), 0..15),
        ) {
            let changes: Vec<Change> = edits
                .into_iter()
                .map(|(k, v)| match (before.contains_key(&k), v) {
                    (true, Some(v)) => Change::Modify(k, v),
                    (true, None) => Change::Remove(k),
                    (false, Some(v)) => Change::Add(k, v),
                    (false, None) => Change::Add(k, json!(null)),
                })
                .collect();
            let after = apply(&before, &changes).unwrap();
            let rolled_back = apply(&after, &inverse(&before, &after)).unwrap();
            prop_assert_eq!(content_hash(&rolled_back), content_hash(&before));
            prop_assert_eq!(rolled_back, before);
        }
    }
}
