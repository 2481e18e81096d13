//! The effective configuration of a trust: the baseline with the trust's overlay applied,
//! deterministic and explaining itself — for every key, which layer it came from and which change
//! request put it there.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::layer::{
    Baseline, BaselineItem, Governance, Key, Local, Overlay, OverlayItem, Provenance, Variation,
    in_force,
};
use super::lthash::{LtHash, element};

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The baseline, unvaried.
    Baseline,
    /// The trust's override of a baseline item.
    Override,
    /// A trust-only item the baseline lacks.
    LocalOnly,
}

/// One effective item and its explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The value in force.
    pub value: Value,
    /// Which layer it came from.
    pub source: Source,
    /// Which revision and change request put it there.
    pub provenance: Provenance,
    /// When an overlay entry was not applied, why (its variation lapsed, or a key locked or
    /// bounded after the overlay was published): the baseline value is in force instead.
    pub ignored: Option<String>,
    /// The terms of the overlay entry applied, as a variation (empty: none, or no overlay entry
    /// applied).
    pub variation: Variation,
}

/// An effective configuration.
pub type Effective = BTreeMap<Key, Resolved>;

/// Applies `overlay` to `baseline` at `at`. Overlay entries whose variation has lapsed by `at`,
/// and those the baseline's governance no longer allows, are not applied and are reported in
/// `ignored`, so a lapsed variation no longer counts, a locked key never differs from the
/// baseline and a bounded key never leaves its bounds.
pub fn resolve(baseline: &Baseline, overlay: &Overlay, at: DateTime<Utc>) -> Effective {
    resolve_owned(baseline.clone(), overlay.clone(), at)
}

/// [`resolve`], taking the layers: their values move into the result instead of being copied.
pub fn resolve_owned(baseline: Baseline, overlay: Overlay, at: DateTime<Utc>) -> Effective {
    resolve_sorted(baseline, overlay, at).collect()
}

/// One key of two layers merged in key order: the baseline's item, the overlay's, or both.
pub enum Merged<B, O> {
    /// Only the baseline has the key.
    Baseline(B),
    /// Both have it.
    Both(B, O),
    /// Only the overlay has it.
    Overlay(O),
}

/// Two sequences in key order (`key_of_*` gives each element's key) merged key by key, as they
/// come: the one merge every resolution walks, whatever form its layers are held in.
pub fn merge_sorted<B, O>(
    baseline: impl IntoIterator<Item = B>,
    overlay: impl IntoIterator<Item = O>,
    key_of_baseline: impl Fn(&B) -> &Key,
    key_of_overlay: impl Fn(&O) -> &Key,
) -> impl Iterator<Item = Merged<B, O>> {
    let mut baseline = baseline.into_iter().peekable();
    let mut overlay = overlay.into_iter().peekable();
    std::iter::from_fn(move || {
        let overlay_first = match (baseline.peek(), overlay.peek()) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(b), Some(o)) => key_of_overlay(o) < key_of_baseline(b),
        };
        if overlay_first {
            return overlay.next().map(Merged::Overlay);
        }
        let b = baseline.next()?;
        let o = overlay.next_if(|o| key_of_overlay(o) == key_of_baseline(&b));
        Some(match o {
            Some(o) => Merged::Both(b, o),
            None => Merged::Baseline(b),
        })
    })
}

/// Resolution as the items come, for layers given in key order (a map's order, or rows read in
/// key order): one merge pass, each effective item produced as soon as its key is settled, so a
/// page is built without collecting either layer into a map first.
pub fn resolve_sorted<B, O>(
    baseline: B,
    overlay: O,
    at: DateTime<Utc>,
) -> impl Iterator<Item = (Key, Resolved)>
where
    B: IntoIterator<Item = (Key, BaselineItem)>,
    O: IntoIterator<Item = (Key, OverlayItem)>,
{
    // A removal applied yields nothing for its key.
    merge_sorted(baseline, overlay, |(k, _)| k, |(k, _)| k).filter_map(move |m| match m {
        Merged::Baseline((key, item)) => applied(key, item, None, at),
        Merged::Both((key, item), (_, local)) => applied(key, item, Some(local), at),
        Merged::Overlay((key, local)) => local_only(key, local, at),
    })
}

/// Why an overlay entry is not applied over a baseline item governed by `governance` at `at`,
/// if it is not: its variation has lapsed ([`in_force`]), or governance refuses it
/// ([`refusal`]).
pub fn not_applied(
    governance: &Governance,
    local: &OverlayItem,
    at: DateTime<Utc>,
) -> Option<String> {
    lapse(local.variation.expire_time, at).or_else(|| refusal(governance, &local.local))
}

/// Why a variation lapsing at `expires` does not apply at `at`, if it does not.
pub fn lapse(expires: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Option<String> {
    let e = expires.filter(|_| !in_force(expires, at))?;
    Some(format!(
        "overlay entry not applied: its variation lapsed at {}",
        e.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    ))
}

/// Why the baseline's `governance` does not let an overlay entry doing `local` apply, if it
/// does not: the key is locked, or bounded and the entry removes it or leaves its bounds.
pub fn refusal(governance: &Governance, local: &Local) -> Option<String> {
    let why = match (governance, local) {
        (Governance::Locked, _) => "the key is locked".to_owned(),
        (Governance::Bounded(_), Local::Remove) => "a bounded key cannot be removed".to_owned(),
        (Governance::Bounded(bounds), Local::Set(v)) => bounds.iter().find_map(|b| b.check(v))?,
        (Governance::Overridable, _) => return None,
    };
    Some(format!("overlay entry not applied: {why}"))
}

/// A baseline item with the overlay's entry for its key, if any, applied where governance allows.
fn applied(
    key: Key,
    item: BaselineItem,
    local: Option<OverlayItem>,
    at: DateTime<Utc>,
) -> Option<(Key, Resolved)> {
    let mut base = Resolved {
        value: item.value,
        source: Source::Baseline,
        provenance: item.provenance,
        ignored: None,
        variation: Variation::default(),
    };
    let Some(local) = local else {
        return Some((key, base));
    };
    if let Some(why) = not_applied(&item.governance, &local, at) {
        base.ignored = Some(why);
        return Some((key, base));
    }
    match local.local {
        Local::Remove => None,
        Local::Set(value) => Some((
            key,
            Resolved {
                value,
                source: Source::Override,
                provenance: local.provenance,
                ignored: None,
                variation: local.variation,
            },
        )),
    }
}

/// An overlay entry for a key the baseline lacks: a local-only item, unless it removes or its
/// variation has lapsed by `at`.
pub fn local_only(key: Key, local: OverlayItem, at: DateTime<Utc>) -> Option<(Key, Resolved)> {
    if !in_force(local.variation.expire_time, at) {
        return None;
    }
    match local.local {
        Local::Set(value) => Some((
            key,
            Resolved {
                value,
                source: Source::LocalOnly,
                provenance: local.provenance,
                ignored: None,
                variation: local.variation,
            },
        )),
        Local::Remove => None,
    }
}

/// The values of an effective configuration or a layer, by key.
pub fn values<'a, I>(items: I) -> BTreeMap<Key, Value>
where
    I: IntoIterator<Item = (&'a Key, &'a Value)>,
{
    items
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The LtHash of key → value: one element per key, its kind, key and value as compact JSON with
/// object members sorted (serde_json's default map is ordered). Equal content, equal hash,
/// whatever the order; see [`super::lthash`].
pub fn lthash_of(values: &BTreeMap<Key, Value>) -> LtHash {
    let mut state = LtHash::new();
    for (key, value) in values {
        state.add(&item_element(key, value));
    }
    state
}

/// The content hash of key → value: the checksum of its [`lthash_of`].
pub fn content_hash(values: &BTreeMap<Key, Value>) -> String {
    lthash_of(values).checksum()
}

/// The element one key with its value adds to a hash.
pub fn item_element(key: &Key, value: &Value) -> Vec<u8> {
    element(&[
        key.kind.as_bytes(),
        key.key.as_bytes(),
        value.to_string().as_bytes(),
    ])
}

/// `state` updated by `changes` (each key's value before and after): what was there leaves,
/// what comes enters. Costs in proportion to the changes.
pub fn update_hash(state: &mut LtHash, changes: &[Difference]) {
    for change in changes {
        if let Some(before) = &change.before {
            state.remove(&item_element(&change.key, before));
        }
        if let Some(after) = &change.after {
            state.add(&item_element(&change.key, after));
        }
    }
}

/// A list of differences, shared: a baseline change that no overlay varies is the same list for
/// every trust, held once.
pub type Changes = std::sync::Arc<[Difference]>;

/// One difference between two configurations.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference<T = Value> {
    /// The key.
    pub key: Key,
    /// Before (`None`: absent).
    pub before: Option<T>,
    /// After (`None`: absent).
    pub after: Option<T>,
}

/// What changes from `before` to `after`, in key order: one merge pass over the two ordered maps.
pub fn diff<T: Clone + PartialEq>(
    before: &BTreeMap<Key, T>,
    after: &BTreeMap<Key, T>,
) -> Vec<Difference<T>> {
    use std::cmp::Ordering;
    let mut out = Vec::new();
    let (mut b, mut a) = (before.iter().peekable(), after.iter().peekable());
    loop {
        let step = match (b.peek(), a.peek()) {
            (None, None) => return out,
            (Some((kb, _)), Some((ka, _))) => kb.cmp(ka),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
        };
        let (key, before, after) = match step {
            Ordering::Less => match b.next() {
                Some((k, v)) => (k, Some(v), None),
                None => return out,
            },
            Ordering::Greater => match a.next() {
                Some((k, v)) => (k, None, Some(v)),
                None => return out,
            },
            Ordering::Equal => match (b.next(), a.next()) {
                (Some((k, vb)), Some((_, va))) if vb != va => (k, Some(vb), Some(va)),
                _ => continue,
            },
        };
        out.push(Difference {
            key: key.clone(),
            before: before.cloned(),
            after: after.cloned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::layer::{BaselineItem, Bound, OverlayItem};
    use proptest::prelude::*;
    use serde_json::json;

    /// The instant the tests resolve at.
    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn prov(cr: &str) -> Provenance {
        Provenance {
            revision: 1,
            change_request: cr.into(),
        }
    }

    #[test]
    fn the_golden_scenario_one_trust_varies_the_threshold() {
        let baseline: Baseline = BTreeMap::from([
            (
                Key::new("alert-rule", "allergy-interruptive"),
                BaselineItem {
                    value: json!({"interrupt": true}),
                    governance: Governance::Locked,
                    provenance: prov("CR-2026-0001"),
                },
            ),
            (
                Key::new("alert-rule", "sepsis-news2"),
                BaselineItem {
                    value: json!({"threshold": 5}),
                    governance: Governance::Bounded(vec![Bound::Range {
                        pointer: "/threshold".into(),
                        min: Some(3.0),
                        max: Some(7.0),
                    }]),
                    provenance: prov("CR-2026-0001"),
                },
            ),
        ]);
        let rgm: Overlay = BTreeMap::from([(
            Key::new("alert-rule", "sepsis-news2"),
            OverlayItem {
                local: Local::Set(json!({"threshold": 6})),
                provenance: prov("CR-2026-0007"),
                variation: Variation::default(),
            },
        )]);
        let effective = resolve(&baseline, &rgm, t0());
        let sepsis = &effective[&Key::new("alert-rule", "sepsis-news2")];
        assert_eq!(
            (
                sepsis.value.clone(),
                sepsis.source.clone(),
                sepsis.provenance.change_request.as_str()
            ),
            (json!({"threshold": 6}), Source::Override, "CR-2026-0007")
        );
        let rgt = resolve(&baseline, &Overlay::new(), t0());
        let differences = diff(
            &values(rgt.iter().map(|(k, r)| (k, &r.value))),
            &values(effective.iter().map(|(k, r)| (k, &r.value))),
        );
        assert_eq!(
            differences.len(),
            1,
            "the trusts differ exactly at the varied key"
        );
        assert_eq!(differences[0].key, Key::new("alert-rule", "sepsis-news2"));
    }

    fn key() -> impl Strategy<Value = Key> {
        (
            prop_oneof![Just("alert-rule"), Just("order-set"), Just("code-set")],
            0u8..12,
        )
            .prop_map(|(k, n)| Key::new(k, &format!("k{n}")))
    }

    fn governance() -> impl Strategy<Value = Governance> {
        prop_oneof![
            Just(Governance::Locked),
            Just(Governance::Overridable),
            (0i64..5, 5i64..10).prop_map(|(lo, hi)| Governance::Bounded(vec![Bound::Range {
                pointer: "/n".into(),
                min: Some(lo as f64),
                max: Some(hi as f64)
            }])),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        (-5i64..15).prop_map(|n| json!({ "n": n }))
    }

    fn baseline() -> impl Strategy<Value = Baseline> {
        proptest::collection::btree_map(key(), (value(), governance()), 0..20).prop_map(|m| {
            m.into_iter()
                .map(|(k, (value, governance))| {
                    (
                        k,
                        BaselineItem {
                            value,
                            governance,
                            provenance: prov("CR-B"),
                        },
                    )
                })
                .collect()
        })
    }

    fn overlay() -> impl Strategy<Value = Overlay> {
        // Some entries lapse, some before the instant resolved at and some after.
        let expires = proptest::option::of(-3i64..3);
        proptest::collection::btree_map(key(), (proptest::option::of(value()), expires), 0..20)
            .prop_map(|m| {
                m.into_iter()
                    .map(|(k, (v, hours))| {
                        (
                            k,
                            OverlayItem {
                                local: v.map_or(Local::Remove, Local::Set),
                                provenance: prov("CR-O"),
                                variation: Variation {
                                    expire_time: hours.map(|h| t0() + chrono::Duration::hours(h)),
                                    ..Variation::default()
                                },
                            },
                        )
                    })
                    .collect()
            })
    }

    proptest! {
        #[test]
        fn resolution_is_deterministic(b in baseline(), o in overlay()) {
            let first = resolve(&b, &o, t0());
            // Rebuild both maps in reverse insertion order: the result must not change.
            let b2: Baseline = b.clone().into_iter().rev().collect();
            let o2: Overlay = o.clone().into_iter().rev().collect();
            prop_assert_eq!(&first, &resolve(&b2, &o2, t0()));
            let hash = |e: &Effective| content_hash(&values(e.iter().map(|(k, r)| (k, &r.value))));
            prop_assert_eq!(hash(&first), hash(&resolve(&b, &o, t0())));
        }

        #[test]
        fn the_merge_diff_finds_every_difference(x in overlay(), y in overlay()) {
            let as_values = |o: &Overlay| -> BTreeMap<Key, Value> {
                o.iter().map(|(k, i)| (k.clone(), match &i.local { Local::Set(v) => v.clone(), Local::Remove => json!("removed") })).collect()
            };
            let (before, after) = (as_values(&x), as_values(&y));
            let got = diff(&before, &after);
            let mut keys: Vec<&Key> = before.keys().chain(after.keys()).collect();
            keys.sort();
            keys.dedup();
            let expected: Vec<Difference> = keys.into_iter().filter(|k| before.get(*k) != after.get(*k)).map(|k| Difference { key: k.clone(), before: before.get(k).cloned(), after: after.get(k).cloned() }).collect();
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn a_lapsed_variation_never_applies(b in baseline(), o in overlay()) {
            let effective = resolve(&b, &o, t0());
            for (key, local) in o.iter().filter(|(_, l)| !in_force(l.variation.expire_time, t0())) {
                match b.get(key) {
                    Some(item) => {
                        let r = &effective[key];
                        prop_assert_eq!(&r.value, &item.value);
                        prop_assert_eq!(&r.source, &Source::Baseline);
                        prop_assert!(r.ignored.as_deref().is_some_and(|w| w.contains("lapsed")));
                    }
                    None => prop_assert!(!effective.contains_key(key), "{key} lapsed: {local:?}"),
                }
            }
            // A variation in force applies as if it never lapsed: the same overlay without
            // expiries resolves those keys alike.
            let forever: Overlay = o.iter().filter(|(_, l)| in_force(l.variation.expire_time, t0())).map(|(k, l)| (k.clone(), OverlayItem { variation: Variation::default(), ..l.clone() })).collect();
            let without = resolve(&b, &forever, t0());
            for key in forever.keys() {
                prop_assert_eq!(effective.get(key).map(|r| &r.value), without.get(key).map(|r| &r.value));
            }
        }

        #[test]
        fn a_variation_is_in_force_until_the_instant_it_expires(minutes in -120i64..120) {
            let at = t0() + chrono::Duration::minutes(minutes);
            prop_assert!(in_force(None, at));
            prop_assert_eq!(in_force(Some(t0()), at), minutes < 0);
        }

        #[test]
        fn a_locked_key_never_differs_from_the_baseline(b in baseline(), o in overlay()) {
            let effective = resolve(&b, &o, t0());
            for (key, item) in b.iter().filter(|(_, i)| i.governance == Governance::Locked) {
                prop_assert_eq!(&effective[key].value, &item.value);
            }
        }

        #[test]
        fn bounded_keys_stay_in_bounds(b in baseline(), o in overlay()) {
            let effective = resolve(&b, &o, t0());
            for (key, item) in &b {
                if let Governance::Bounded(bounds) = &item.governance {
                    let resolved = effective.get(key);
                    prop_assert!(resolved.is_some(), "a bounded key is never removed");
                    let resolved = resolved.unwrap();
                    if resolved.source == Source::Override {
                        for bound in bounds {
                            prop_assert_eq!(bound.check(&resolved.value), None);
                        }
                    }
                }
            }
        }

        #[test]
        fn every_effective_key_explains_itself(b in baseline(), o in overlay()) {
            for (key, r) in resolve(&b, &o, t0()) {
                match r.source {
                    Source::Baseline => prop_assert_eq!(&r.provenance.change_request, "CR-B"),
                    Source::Override => prop_assert!(b.contains_key(&key) && r.provenance.change_request == "CR-O"),
                    Source::LocalOnly => prop_assert!(!b.contains_key(&key)),
                }
            }
        }
    }
}
