//! The rules of publishing: what a changeset may contain for its layer, which trusts it changes
//! and how, and whether its change request allows it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::changeset::Change;
use super::kind::{ConfigKind, Violation};
use super::layer::{
    Baseline, BaselineItem, Entry, Governance, Key, LayerId, Local, Overlay, OverlayItem,
    Provenance, check_overlay_entry,
};
use super::lthash::LtHash;
use super::resolve::{
    Changes, Difference, Effective, Resolved, diff, item_element, resolve_sorted,
};

/// A layer entry with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// The entry.
    pub entry: Entry,
    /// The revision and change request that put it there.
    pub provenance: Provenance,
}

/// A layer's content with provenance, by key.
pub type Content = BTreeMap<Key, Placed>;

/// The content as a baseline.
pub fn as_baseline(content: &Content) -> Baseline {
    content
        .iter()
        .map(|(k, p)| {
            (
                k.clone(),
                BaselineItem {
                    value: p.entry.value.clone(),
                    governance: p.entry.governance.clone(),
                    provenance: p.provenance.clone(),
                },
            )
        })
        .collect()
}

/// The effective configuration of a baseline's content with an overlay's at `at`:
/// [`super::resolve::resolve_owned`] of the two, their entries moved rather than copied.
pub fn resolve_contents(baseline: Content, overlay: Content, at: DateTime<Utc>) -> Effective {
    resolve_placed(baseline, overlay, at).collect()
}

/// [`resolve_contents`] as the entries come, for entries given in key order: see
/// [`super::resolve::resolve_sorted`].
pub fn resolve_placed<B, O>(
    baseline: B,
    overlay: O,
    at: DateTime<Utc>,
) -> impl Iterator<Item = (Key, Resolved)>
where
    B: IntoIterator<Item = (Key, Placed)>,
    O: IntoIterator<Item = (Key, Placed)>,
{
    let baseline = baseline.into_iter().map(|(k, p)| {
        (
            k,
            BaselineItem {
                value: p.entry.value,
                governance: p.entry.governance,
                provenance: p.provenance,
            },
        )
    });
    let overlay = overlay.into_iter().map(|(k, p)| (k, overlay_item(p)));
    resolve_sorted(baseline, overlay, at)
}

/// An overlay's entry as resolution applies it: a suppression removes the key, any other entry
/// sets its value.
pub fn overlay_item(p: Placed) -> OverlayItem {
    let local = if p.entry.suppress {
        Local::Remove
    } else {
        Local::Set(p.entry.value)
    };
    OverlayItem {
        local,
        provenance: p.provenance,
        variation: p.entry.variation,
    }
}

/// The content as an overlay.
pub fn as_overlay(content: &Content) -> Overlay {
    content
        .iter()
        .map(|(k, p)| {
            (
                k.clone(),
                OverlayItem {
                    local: p.entry.local(),
                    provenance: p.provenance.clone(),
                    variation: p.entry.variation.clone(),
                },
            )
        })
        .collect()
}

/// The element one layer entry adds to its layer's hash: its key with its canonical form
/// (value, governance, owner, description, suppress).
pub fn entry_element(key: &Key, entry: &Entry) -> Vec<u8> {
    item_element(key, &entry.canonical())
}

/// The LtHash of a layer's content, computed from scratch (a publish updates the previous
/// revision's with [`entry_element`] instead).
pub fn layer_lthash(content: &Content) -> LtHash {
    let mut state = LtHash::new();
    for (key, p) in content {
        state.add(&entry_element(key, &p.entry));
    }
    state
}

/// The entries without provenance.
pub fn entries(content: &Content) -> BTreeMap<Key, Entry> {
    content
        .iter()
        .map(|(k, p)| (k.clone(), p.entry.clone()))
        .collect()
}

/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 200;

/// Every way `changes` do not fit `layer`: unregistered kinds, bad keys, values breaking their
/// kind's schema (with JSON pointers), baseline governance that is malformed or that the baseline
/// value itself breaks, and overlay entries the baseline's governance forbids. `baseline` must
/// hold the baseline entries of the changed keys (for an overlay).
pub fn validate(
    layer: &LayerId,
    changes: &[Change<Entry>],
    kinds: &BTreeMap<String, ConfigKind>,
    baseline: &Baseline,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if changes.is_empty() {
        out.push((
            "changeset.changes".into(),
            "must hold at least one change".into(),
        ));
    }
    for (i, change) in changes.iter().enumerate() {
        let field = format!("changeset.changes[{i}].item");
        let key = change.key();
        let kind = kinds.get(&key.kind);
        if kind.is_none() {
            out.push((
                format!("{field}.kind"),
                format!("`{}` is not a registered kind", key.kind),
            ));
        }
        if key.key.is_empty()
            || key.key.len() > MAX_KEY_LEN
            || key.key.chars().any(|c| c.is_control() || c == '/')
        {
            out.push((
                format!("{field}.key"),
                format!("must be 1–{MAX_KEY_LEN} characters without `/` or control characters"),
            ));
        }
        let entry = match change {
            Change::Add(_, e) | Change::Modify(_, e) => e,
            Change::Remove(_) => continue,
        };
        if let Some(kind) = kind
            && !entry.suppress
        {
            if entry.value.is_null() && !kind_allows_null(kind) {
                out.push((format!("{field}.value"), "is required".into()));
            } else {
                out.extend(kind.check(&format!("{field}.value"), &entry.value));
            }
        }
        match layer {
            LayerId::Baseline => {
                if entry.suppress {
                    out.push((
                        format!("{field}.suppress"),
                        "only a trust's overlay can suppress a baseline item".into(),
                    ));
                }
                if let Governance::Bounded(bounds) = &entry.governance {
                    if bounds.is_empty() {
                        out.push((
                            format!("{field}.governance.bounds"),
                            "a bounded key needs at least one bound".into(),
                        ));
                    }
                    for (j, bound) in bounds.iter().enumerate() {
                        if let super::layer::Bound::Range {
                            min: Some(lo),
                            max: Some(hi),
                            ..
                        } = bound
                            && lo > hi
                        {
                            out.push((
                                format!("{field}.governance.bounds[{j}]"),
                                format!("min {lo} is above max {hi}"),
                            ));
                        } else if let Some(reason) = bound.check(&entry.value) {
                            out.push((
                                format!("{field}.governance.bounds[{j}]"),
                                format!("the baseline value itself breaks this bound: {reason}"),
                            ));
                        }
                    }
                }
            }
            LayerId::Trust(_) => {
                if entry.governance != Governance::Overridable {
                    out.push((
                        format!("{field}.governance"),
                        "is set on baseline items only".into(),
                    ));
                }
                if entry.suppress && !entry.value.is_null() {
                    out.push((
                        format!("{field}.value"),
                        "must be empty when the item suppresses the baseline item".into(),
                    ));
                }
                if let Err((_, reason)) = check_overlay_entry(baseline, key, &entry.local()) {
                    out.push((field, format!("{key} {reason}")));
                }
            }
        }
    }
    out
}

fn kind_allows_null(kind: &ConfigKind) -> bool {
    kind.check("", &Value::Null).is_empty()
}

/// What the effective configuration of each trust becomes, restricted to `keys` (resolution is
/// per key, so the rest is unchanged). Trusts whose configuration does not change are left out.
///
/// A key no overlay entry covers changes at every trust as it changes in the baseline: that
/// difference is computed once, and only the keys a trust's overlay covers are resolved for it,
/// before at `at.0` and after at `at.1` (a publish's own instant for both; a variation's lapse
/// from the trust's previous revision to the instant it lapses).
pub fn effective_changes(
    keys: &BTreeSet<Key>,
    baseline: (&Content, &Content),
    overlays: &BTreeMap<String, (Content, Content)>,
    at: (DateTime<Utc>, DateTime<Utc>),
) -> BTreeMap<String, Changes> {
    let values = |c: &Content| -> BTreeMap<Key, Value> {
        keys.iter()
            .filter_map(|k| c.get(k).map(|p| (k.clone(), p.entry.value.clone())))
            .collect()
    };
    let unvaried: Changes = diff(&values(baseline.0), &values(baseline.1)).into();
    let mut out = BTreeMap::new();
    for (trust, (o_before, o_after)) in overlays {
        let covered: BTreeSet<&Key> = o_before
            .keys()
            .chain(o_after.keys())
            .filter(|k| keys.contains(*k))
            .collect();
        let changes = if covered.is_empty() {
            Changes::clone(&unvaried)
        } else {
            let restrict = |c: &Content| -> Content {
                covered
                    .iter()
                    .filter_map(|k| c.get(*k).map(|p| ((*k).clone(), p.clone())))
                    .collect()
            };
            let resolved = |b: &Content, o: &Content, at| -> BTreeMap<Key, Value> {
                resolve_contents(restrict(b), restrict(o), at)
                    .into_iter()
                    .map(|(k, r)| (k, r.value))
                    .collect()
            };
            let varied = diff(
                &resolved(baseline.0, o_before, at.0),
                &resolved(baseline.1, o_after, at.1),
            );
            merge_by_key(
                unvaried
                    .iter()
                    .filter(|d| !covered.contains(&d.key))
                    .cloned(),
                varied,
            )
            .into()
        };
        if !changes.is_empty() {
            out.insert(trust.clone(), changes);
        }
    }
    out
}

/// The values of a layer's content, by key.
pub fn values(content: &Content) -> BTreeMap<Key, Value> {
    content
        .iter()
        .map(|(k, p)| (k.clone(), p.entry.value.clone()))
        .collect()
}

/// What `overlay` changes at `at` in the configuration `baseline` alone gives: the baseline's
/// values become the effective ones, key by key. Costs in proportion to the overlay, not the
/// baseline.
pub fn overlay_effect(baseline: &Content, overlay: Content, at: DateTime<Utc>) -> Vec<Difference> {
    let under: Content = overlay
        .keys()
        .filter_map(|k| baseline.get(k).map(|p| (k.clone(), p.clone())))
        .collect();
    let before = values(&under);
    let after = resolve_contents(under, overlay, at)
        .into_iter()
        .map(|(k, r)| (k, r.value))
        .collect();
    diff(&before, &after)
}

/// Two key-ordered lists of differences with no key in common, as one in key order.
fn merge_by_key(a: impl Iterator<Item = Difference>, b: Vec<Difference>) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut b = b.into_iter().peekable();
    for d in a {
        while let Some(next) = b.next_if(|n| n.key < d.key) {
            out.push(next);
        }
        out.push(d);
    }
    out.extend(b);
    out
}

/// What change control says about a change request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRequestFacts {
    /// `icss/{ics}/changeRequests/{id}`.
    pub name: String,
    /// `CR-YYYY-NNNN`.
    pub number: String,
    /// Its state, e.g. `APPROVED`.
    pub state: String,
    /// Its clinical domain.
    pub domain: String,
    /// The trusts it affects.
    pub affected_trusts: BTreeSet<String>,
}

/// Why a change request does not allow a publish.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// Not APPROVED or SCHEDULED.
    NotApproved(String),
    /// A kind of another domain `(kind, its domain)`.
    Domain(String, String),
    /// Trusts it changes that the change request does not affect.
    DoesNotCover(Vec<String>),
}

/// Whether `cr` allows publishing changes to kinds `kinds` (name → domain) that change the
/// effective configuration of `changed_trusts`.
pub fn check_change_request(
    cr: &ChangeRequestFacts,
    kinds: &BTreeMap<String, String>,
    changed_trusts: &BTreeSet<String>,
) -> Result<(), Refusal> {
    if !matches!(cr.state.as_str(), "APPROVED" | "SCHEDULED") {
        return Err(Refusal::NotApproved(cr.state.clone()));
    }
    if let Some((kind, domain)) = kinds.iter().find(|(_, d)| **d != cr.domain) {
        return Err(Refusal::Domain(kind.clone(), domain.clone()));
    }
    let missing: Vec<String> = changed_trusts
        .difference(&cr.affected_trusts)
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::DoesNotCover(missing));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::layer::Bound;
    use serde_json::json;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn kinds() -> BTreeMap<String, ConfigKind> {
        let kind = ConfigKind::new(
            "alert-rule",
            "medicines",
            json!({"type": "object", "properties": {"threshold": {"type": "integer"}}, "required": ["threshold"]}),
        )
        .unwrap();
        BTreeMap::from([("alert-rule".to_owned(), kind)])
    }

    fn placed(value: Value, governance: Governance, cr: &str) -> Placed {
        Placed {
            entry: Entry {
                value,
                governance,
                ..Entry::default()
            },
            provenance: Provenance {
                revision: 1,
                change_request: cr.into(),
            },
        }
    }

    fn sepsis() -> Key {
        Key::new("alert-rule", "sepsis-news2")
    }

    fn bounded() -> Governance {
        Governance::Bounded(vec![Bound::Range {
            pointer: "/threshold".into(),
            min: Some(3.0),
            max: Some(7.0),
        }])
    }

    #[test]
    fn a_changeset_is_checked_against_schema_and_governance() {
        let baseline: Content =
            BTreeMap::from([(sepsis(), placed(json!({"threshold": 5}), bounded(), "CR-1"))]);
        let set = |value: Value| Entry {
            value,
            ..Entry::default()
        };
        let overlay = LayerId::Trust("RGM".into());
        let ok = validate(
            &overlay,
            &[Change::Add(sepsis(), set(json!({"threshold": 6})))],
            &kinds(),
            &as_baseline(&baseline),
        );
        assert!(ok.is_empty(), "{ok:?}");
        let bad = validate(
            &overlay,
            &[
                Change::Add(sepsis(), set(json!({"threshold": 9}))),
                Change::Add(Key::new("order-set", "x"), set(json!(1))),
                Change::Add(
                    Key::new("alert-rule", "y"),
                    set(json!({"threshold": "high"})),
                ),
            ],
            &kinds(),
            &as_baseline(&baseline),
        );
        let fields: Vec<&str> = bad.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "changeset.changes[0].item",
                "changeset.changes[1].item.kind",
                "changeset.changes[2].item.value/threshold"
            ]
        );
        let own_bound = validate(
            &LayerId::Baseline,
            &[Change::Add(
                sepsis(),
                Entry {
                    value: json!({"threshold": 9}),
                    governance: bounded(),
                    ..Entry::default()
                },
            )],
            &kinds(),
            &Baseline::new(),
        );
        assert_eq!(own_bound.len(), 1);
        assert_eq!(
            own_bound[0].0,
            "changeset.changes[0].item.governance.bounds[0]"
        );
    }

    #[test]
    fn only_trusts_whose_configuration_changes_are_affected() {
        let before: Content =
            BTreeMap::from([(sepsis(), placed(json!({"threshold": 5}), bounded(), "CR-1"))]);
        let after: Content =
            BTreeMap::from([(sepsis(), placed(json!({"threshold": 4}), bounded(), "CR-2"))]);
        let rgm: Content = BTreeMap::from([(
            sepsis(),
            placed(json!({"threshold": 6}), Governance::Overridable, "CR-3"),
        )]);
        let overlays = BTreeMap::from([
            ("RGT".to_owned(), (Content::new(), Content::new())),
            ("RGM".to_owned(), (rgm.clone(), rgm)),
        ]);
        let keys = BTreeSet::from([sepsis()]);
        let changed = effective_changes(&keys, (&before, &after), &overlays, (t0(), t0()));
        assert_eq!(
            changed.keys().collect::<Vec<_>>(),
            ["RGT"],
            "RGM keeps its variation"
        );
        assert_eq!(changed["RGT"][0].after, Some(json!({"threshold": 4})));
    }

    #[test]
    fn the_change_request_must_be_approved_of_the_domain_and_cover_the_trusts() {
        let cr = ChangeRequestFacts {
            name: "icss/QUE/changeRequests/1".into(),
            number: "CR-2026-0001".into(),
            state: "APPROVED".into(),
            domain: "medicines".into(),
            affected_trusts: BTreeSet::from(["RGT".to_owned(), "RGM".to_owned()]),
        };
        let kinds = BTreeMap::from([("alert-rule".to_owned(), "medicines".to_owned())]);
        let trusts = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(check_change_request(&cr, &kinds, &trusts(&["RGT"])), Ok(()));
        assert_eq!(
            check_change_request(&cr, &kinds, &trusts(&["RGT", "RGN"])),
            Err(Refusal::DoesNotCover(vec!["RGN".into()]))
        );
        let draft = ChangeRequestFacts {
            state: "DA_REVIEW".into(),
            ..cr.clone()
        };
        assert_eq!(
            check_change_request(&draft, &kinds, &trusts(&["RGT"])),
            Err(Refusal::NotApproved("DA_REVIEW".into()))
        );
        let theatres = BTreeMap::from([("theatre-list".to_owned(), "theatres".to_owned())]);
        assert!(matches!(
            check_change_request(&cr, &theatres, &trusts(&["RGT"])),
            Err(Refusal::Domain(..))
        ));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod incremental_hash {
    use super::*;
    use crate::domain::resolve::{lthash_of, update_hash};
    use proptest::prelude::*;
    use serde_json::json;

    fn content(entries: BTreeMap<u8, Option<i64>>, governed: bool) -> Content {
        entries
            .into_iter()
            .map(|(k, v)| {
                let key = Key::new("alert-rule", &format!("k{k}"));
                let entry = Entry {
                    value: v.map_or(Value::Null, |n| json!({ "n": n })),
                    governance: if governed && k % 3 == 0 {
                        Governance::Locked
                    } else {
                        Governance::Overridable
                    },
                    suppress: v.is_none(),
                    ..Entry::default()
                };
                let placed = Placed {
                    entry,
                    provenance: Provenance {
                        revision: 1,
                        change_request: "icss/QUE/changeRequests/x".into(),
                    },
                };
                (key, placed)
            })
            .collect()
    }

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn layer() -> impl Strategy<Value = BTreeMap<u8, Option<i64>>> {
        proptest::collection::btree_map(0u8..24, proptest::option::weighted(0.85, 0i64..6), 0..16)
    }

    fn values_of(b: &Content, o: &Content) -> BTreeMap<Key, Value> {
        crate::domain::resolve::resolve(&as_baseline(b), &as_overlay(o), t0())
            .into_iter()
            .map(|(k, r)| (k, r.value))
            .collect()
    }

    fn hash_of(b: &Content, o: &Content) -> crate::domain::lthash::LtHash {
        lthash_of(&values_of(b, o))
    }

    /// Changing the baseline (or a trust's overlay) to anything: the hash kept up to date from the
    /// changed keys alone always equals the hash computed from scratch.
    fn check(b1: &Content, b2: &Content, o1: &Content, o2: &Content) -> Result<(), TestCaseError> {
        let keys: BTreeSet<Key> = b1
            .iter()
            .chain(b2.iter())
            .filter(|(k, _)| b1.get(*k).map(|p| &p.entry) != b2.get(*k).map(|p| &p.entry))
            .chain(
                o1.iter()
                    .chain(o2.iter())
                    .filter(|(k, _)| o1.get(*k).map(|p| &p.entry) != o2.get(*k).map(|p| &p.entry)),
            )
            .map(|(k, _)| k.clone())
            .collect();
        let changes = effective_changes(
            &keys,
            (b1, b2),
            &BTreeMap::from([
                ("RGT".to_owned(), (o1.clone(), o2.clone())),
                ("RGM".to_owned(), (Content::new(), Content::new())),
            ]),
            (t0(), t0()),
        );
        // What each trust is told changed is exactly the difference of its whole configurations.
        prop_assert_eq!(
            changes.get("RGT").map_or(Vec::new(), |c| c.to_vec()),
            diff(&values_of(b1, o1), &values_of(b2, o2))
        );
        prop_assert_eq!(
            changes.get("RGM").map_or(Vec::new(), |c| c.to_vec()),
            diff(
                &values_of(b1, &Content::new()),
                &values_of(b2, &Content::new())
            )
        );
        // A trust's hash from scratch: the baseline's values' hash, updated by its overlay.
        let mut from_baseline = lthash_of(&values(b2));
        update_hash(&mut from_baseline, &overlay_effect(b2, o2.clone(), t0()));
        prop_assert_eq!(from_baseline, hash_of(b2, o2));
        let mut state = hash_of(b1, o1);
        update_hash(&mut state, changes.get("RGT").map_or(&[][..], |c| &c[..]));
        prop_assert_eq!(state, hash_of(b2, o2));
        Ok(())
    }

    proptest! {
        #[test]
        fn a_baseline_change_keeps_every_hash_equal_to_its_recomputation(
            b1 in layer(), b2 in layer(), o in layer(),
        ) {
            let (b1, b2, o) = (content(b1, true), content(b2, true), content(o, false));
            check(&b1, &b2, &o, &o)?;
        }

        #[test]
        fn an_overlay_change_keeps_the_hash_equal_to_its_recomputation(
            b in layer(), o1 in layer(), o2 in layer(),
        ) {
            let (b, o1, o2) = (content(b, true), content(o1, false), content(o2, false));
            check(&b, &b, &o1, &o2)?;
        }
    }
}
