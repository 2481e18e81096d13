//! Layers: the ICS baseline, with per-key governance, and one overlay per trust.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::kind::Violation;

/// An item's identity: its kind and its key within the kind.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    /// Kind, e.g. `alert-rule`.
    pub kind: String,
    /// Key, e.g. `sepsis-news2`.
    pub key: String,
}

impl Key {
    /// A key.
    pub fn new(kind: &str, key: &str) -> Self {
        Self {
            kind: kind.into(),
            key: key.into(),
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.key)
    }
}

/// A constraint a bounded key's local values must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    /// The number at `pointer` (a JSON pointer into the value; empty for the value itself) lies in
    /// `[min, max]`.
    Range {
        /// Where the number is.
        pointer: String,
        /// Lowest allowed.
        min: Option<f64>,
        /// Highest allowed.
        max: Option<f64>,
    },
    /// The value at `pointer` is one of `allowed`.
    OneOf {
        /// Where the value is.
        pointer: String,
        /// The allowed values.
        allowed: Vec<Value>,
    },
}

impl Bound {
    /// Why `value` breaks the bound, if it does.
    pub fn check(&self, value: &Value) -> Option<String> {
        match self {
            Bound::Range { pointer, min, max } => {
                let Some(n) = value.pointer(pointer).and_then(Value::as_f64) else {
                    return Some(format!("needs a number at `{pointer}`"));
                };
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    let show = |b: &Option<f64>| b.map_or("-".to_owned(), |v| v.to_string());
                    return Some(format!(
                        "{n} at `{pointer}` is outside [{}, {}]",
                        show(min),
                        show(max)
                    ));
                }
                None
            }
            Bound::OneOf { pointer, allowed } => {
                let found = value.pointer(pointer);
                if found.is_some_and(|v| allowed.contains(v)) {
                    None
                } else {
                    Some(format!(
                        "the value at `{pointer}` must be one of {}",
                        Value::Array(allowed.clone())
                    ))
                }
            }
        }
    }
}

/// How far a trust may vary a baseline key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Governance {
    /// No trust may vary it.
    Locked,
    /// Trusts may override or remove it.
    #[default]
    Overridable,
    /// Trusts may override it within these bounds (and not remove it).
    Bounded(Vec<Bound>),
}

/// Where a value was put, by which change request and revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    /// The layer revision that published it.
    pub revision: u64,
    /// The change request it was published under.
    pub change_request: String,
}

/// A baseline item.
#[derive(Debug, Clone, PartialEq)]
pub struct BaselineItem {
    /// The value.
    pub value: Value,
    /// Governance.
    pub governance: Governance,
    /// Provenance.
    pub provenance: Provenance,
}

/// An overlay entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Local {
    /// Replace the baseline value (or add a local-only item when the baseline lacks the key).
    Set(Value),
    /// Remove the baseline item at this trust.
    Remove,
}

/// An overlay item.
#[derive(Debug, Clone, PartialEq)]
pub struct OverlayItem {
    /// What the trust does with the key.
    pub local: Local,
    /// Provenance.
    pub provenance: Provenance,
    /// The entry's terms as a variation: when it lapses, if it does (see [`in_force`]), and why
    /// it was approved.
    pub variation: Variation,
}

/// Whether a trust's variation that lapses at `expires` (never, when `None`) is in force at `at`.
/// The one rule every reader applies: an effective configuration is resolved at its revision's
/// publish time, a publish at its own instant, an assessment at the time it is made for.
pub fn in_force(expires: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
    expires.is_none_or(|e| at < e)
}

/// What makes a trust's overlay entry a governed variation: why it was approved, the hazard it
/// was assessed under, when it is to be reviewed and when it lapses. Set in the changeset under
/// its change request; baseline entries have none.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Variation {
    /// Why the trust varies the key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rationale: String,
    /// The hazard log entry it was assessed under
    /// (`icss/{ics}/changeRequests/{cr}/hazards/{hazard}`), if any.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hazard: String,
    /// When it is to be reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_date: Option<NaiveDate>,
    /// When it lapses: from that instant the baseline's value is in force again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<DateTime<Utc>>,
}

impl Variation {
    /// Whether no term is set.
    pub fn is_empty(&self) -> bool {
        *self == Variation::default()
    }
}

/// The ICS baseline.
pub type Baseline = BTreeMap<Key, BaselineItem>;

/// A trust's overlay.
pub type Overlay = BTreeMap<Key, OverlayItem>;

/// Which layer: the ICS baseline or one trust's overlay.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LayerId {
    /// The ICS baseline.
    Baseline,
    /// A trust's overlay (ODS code).
    Trust(String),
}

impl LayerId {
    /// `baseline` or the ODS code, as in `icss/{ics}/layers/{id}`.
    pub fn as_str(&self) -> &str {
        match self {
            LayerId::Baseline => "baseline",
            LayerId::Trust(t) => t,
        }
    }

    /// Parses `baseline` or an ODS code (2–10 uppercase letters and digits).
    pub fn parse(id: &str) -> Option<Self> {
        if id == "baseline" {
            Some(LayerId::Baseline)
        } else if (2..=10).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            Some(LayerId::Trust(id.to_owned()))
        } else {
            None
        }
    }
}

/// What a layer holds for one key, as a changeset writes it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Entry {
    /// The value (`null` when `suppress`).
    pub value: Value,
    /// How far trusts may vary the key (baseline entries only).
    pub governance: Governance,
    /// Who owns the item.
    pub owner: String,
    /// What it is for.
    pub description: String,
    /// An overlay entry removing the baseline item at its trust.
    pub suppress: bool,
    /// An overlay entry's terms as a variation (empty for the baseline's).
    pub variation: Variation,
}

impl Entry {
    /// The entry as one JSON object: what a layer's content hash and diffs cover. The variation's
    /// terms are in it only when set, so an entry without them hashes as it always has.
    pub fn canonical(&self) -> Value {
        let mut out = json!({
            "value": self.value,
            "governance": serde_json::to_value(&self.governance).unwrap_or(Value::Null),
            "owner": self.owner,
            "description": self.description,
            "suppress": self.suppress,
        });
        if !self.variation.is_empty()
            && let Value::Object(map) = &mut out
        {
            map.insert(
                "variation".into(),
                serde_json::to_value(&self.variation).unwrap_or(Value::Null),
            );
        }
        out
    }

    /// The overlay entry as what the trust does with the key.
    pub fn local(&self) -> Local {
        if self.suppress {
            Local::Remove
        } else {
            Local::Set(self.value.clone())
        }
    }
}

/// Whether an overlay entry for `key` is allowed by the baseline's governance.
pub fn check_overlay_entry(baseline: &Baseline, key: &Key, local: &Local) -> Result<(), Violation> {
    let field = format!("{key}");
    let Some(item) = baseline.get(key) else {
        return match local {
            Local::Set(_) => Ok(()),
            Local::Remove => Err((field, "the baseline has no such item to remove".into())),
        };
    };
    match (&item.governance, local) {
        (Governance::Locked, _) => Err((field, "is locked: no trust may vary it".into())),
        (Governance::Overridable, _) => Ok(()),
        (Governance::Bounded(_), Local::Remove) => Err((
            field,
            "is bounded: a trust may vary it within bounds, not remove it".into(),
        )),
        (Governance::Bounded(bounds), Local::Set(value)) => {
            match bounds.iter().find_map(|b| b.check(value)) {
                Some(reason) => Err((field, reason)),
                None => Ok(()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn baseline() -> Baseline {
        let item = |value, governance| BaselineItem {
            value,
            governance,
            provenance: Provenance::default(),
        };
        BTreeMap::from([
            (
                Key::new("alert-rule", "allergy"),
                item(json!({"interrupt": true}), Governance::Locked),
            ),
            (
                Key::new("alert-rule", "sepsis-news2"),
                item(
                    json!({"threshold": 5}),
                    Governance::Bounded(vec![Bound::Range {
                        pointer: "/threshold".into(),
                        min: Some(3.0),
                        max: Some(7.0),
                    }]),
                ),
            ),
            (
                Key::new("form-template", "admission"),
                item(json!({"sections": 4}), Governance::Overridable),
            ),
        ])
    }

    #[test]
    fn governance_decides_what_an_overlay_may_do() {
        let b = baseline();
        let set = |v| Local::Set(v);
        assert!(
            check_overlay_entry(
                &b,
                &Key::new("alert-rule", "allergy"),
                &set(json!({"interrupt": false}))
            )
            .is_err()
        );
        assert!(
            check_overlay_entry(
                &b,
                &Key::new("alert-rule", "sepsis-news2"),
                &set(json!({"threshold": 6}))
            )
            .is_ok()
        );
        let err = check_overlay_entry(
            &b,
            &Key::new("alert-rule", "sepsis-news2"),
            &set(json!({"threshold": 9})),
        )
        .unwrap_err();
        assert!(err.1.contains("outside [3, 7]"), "{err:?}");
        assert!(
            check_overlay_entry(&b, &Key::new("alert-rule", "sepsis-news2"), &Local::Remove)
                .is_err()
        );
        assert!(
            check_overlay_entry(&b, &Key::new("form-template", "admission"), &Local::Remove)
                .is_ok()
        );
        assert!(
            check_overlay_entry(&b, &Key::new("code-set", "local-wards"), &set(json!(["A"])))
                .is_ok(),
            "local-only"
        );
        assert!(
            check_overlay_entry(&b, &Key::new("code-set", "local-wards"), &Local::Remove).is_err()
        );
    }

    #[test]
    fn one_of_bounds_compare_whole_values() {
        let bound = Bound::OneOf {
            pointer: "/route".into(),
            allowed: vec![json!("oral"), json!("iv")],
        };
        assert_eq!(bound.check(&json!({"route": "iv"})), None);
        assert!(bound.check(&json!({"route": "im"})).is_some());
        assert!(bound.check(&json!({})).is_some());
    }
}
