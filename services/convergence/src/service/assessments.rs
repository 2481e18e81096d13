//! Assessments: computing one from shared configuration's layers and a snapshot, recording it,
//! and the reads a board makes of them (matrix, trajectory, divergences, as of a date).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
#[cfg(test)]
use serde_json::Value;
use serde_json::json;

use super::*;
use crate::domain::assessment::{self, Class, GovernanceClass, KeyFacts, Tally, Variation, Varied};
use crate::domain::records::Divergence;
use crate::store;
use crate::upstream::{Caller, Items, LayerItem, SnapshotItem, SnapshotRef};

/// The domain of keys whose kind is not registered.
pub const UNREGISTERED: &str = "unregistered";

/// What an assessment is made of, before it is classified.
pub(super) struct Inputs {
    pub domains: BTreeMap<String, String>,
    pub baseline: Items<LayerItem>,
    pub overlay: Items<LayerItem>,
    pub snapshot: Items<SnapshotItem>,
}

/// Where an assessment stands: the trust, its snapshot, the layer revisions and the instant.
pub(super) struct Point<'a> {
    pub ics: &'a str,
    pub trust: &'a str,
    pub snapshot: &'a SnapshotRef,
    pub baseline_revision: i64,
    pub overlay_revision: i64,
    pub at: DateTime<Utc>,
}

/// Classifies every key of `inputs` at `at`: the tally per domain and each key that is not
/// ALIGNED.
pub(super) fn classify(
    inputs: Inputs,
    at: DateTime<Utc>,
) -> (BTreeMap<String, Tally>, Vec<Divergence>, i64) {
    let Inputs {
        domains,
        mut baseline,
        mut overlay,
        mut snapshot,
    } = inputs;
    let mut keys: Vec<(String, String)> = baseline
        .keys()
        .chain(overlay.keys())
        .chain(snapshot.keys())
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    let key_count = i64::try_from(keys.len()).unwrap_or(i64::MAX);
    let mut divergences = Vec::new();
    let facts = keys.into_iter().map(|k| {
        let b = baseline.remove(&k);
        let o = overlay.remove(&k);
        let s = snapshot.remove(&k);
        let governance = b.as_ref().map(|b| b.governance);
        let facts = KeyFacts {
            baseline: b.as_ref().map(|b| (b.value.clone(), b.governance)),
            variation: o.as_ref().map(|o| {
                let varied = if o.suppress {
                    Varied::Remove
                } else {
                    Varied::Set(o.value.clone())
                };
                Variation::at(varied, o.expire_time, governance, at)
            }),
            snapshot: s.as_ref().map(|s| (s.value.clone(), s.conforms)),
        };
        ((k, b, o, s), facts)
    });
    let (classes, cells) = assessment::tally(facts, |(k, ..)| {
        domains
            .get(&k.0)
            .cloned()
            .unwrap_or_else(|| UNREGISTERED.to_owned())
    });
    for (((kind, key), b, o, s), class) in classes {
        if class == Class::Aligned {
            continue;
        }
        let governed_only_by_variation = b.is_none();
        divergences.push(Divergence {
            domain: domains
                .get(&kind)
                .cloned()
                .unwrap_or_else(|| UNREGISTERED.to_owned()),
            kind,
            key,
            class,
            governance: b
                .as_ref()
                .map_or(GovernanceClass::Overridable, |b| b.governance),
            baseline_value: b.map(|b| b.value),
            approved_value: o.as_ref().filter(|o| !o.suppress).map(|o| o.value.clone()),
            snapshot_value: s.map(|s| s.value),
            change_request: o
                .as_ref()
                .map_or(String::new(), |o| o.change_request.clone()),
            expire_time: o.as_ref().and_then(|o| o.expire_time),
            variation_removes: o.as_ref().is_some_and(|o| o.suppress)
                && !governed_only_by_variation,
        });
    }
    (cells, divergences, key_count)
}

impl Convergence {
    /// Reads what an assessment at `point` is made of, as `caller`.
    pub(super) async fn inputs(&self, point: &Point<'_>, caller: &Caller) -> Result<Inputs> {
        let (domains, baseline, overlay, snapshot) = futures::try_join!(
            self.shared.kind_domains(point.ics, caller),
            self.shared
                .layer_items(point.ics, "baseline", point.baseline_revision, caller),
            self.shared
                .layer_items(point.ics, point.trust, point.overlay_revision, caller),
            self.shared.snapshot_items(&point.snapshot.name, caller),
        )?;
        Ok(Inputs {
            domains,
            baseline,
            overlay,
            snapshot,
        })
    }

    /// Computes the assessment at `point` (not recorded).
    pub(super) async fn compute(
        &self,
        point: &Point<'_>,
        caller: &Caller,
        trigger: (&str, i64),
    ) -> Result<(Assessment, Vec<Divergence>)> {
        let inputs = self.inputs(point, caller).await?;
        let (cells, divergences, key_count) = classify(inputs, point.at);
        let a = Assessment {
            ics: point.ics.to_owned(),
            id: String::new(),
            trust: point.trust.to_owned(),
            snapshot: point.snapshot.name.clone(),
            baseline_revision: point.baseline_revision,
            overlay_revision: point.overlay_revision,
            assess_time: point.at,
            record_time: None,
            trigger: trigger.0.to_owned(),
            trigger_seq: trigger.1,
            key_count,
            cells,
        };
        Ok((a, divergences))
    }

    /// A trust's assessment as of `at` (now when `None`), computed and not recorded: its newest
    /// snapshot imported by then, against the layer revisions published by then, under the
    /// variations in force then. Returns it with the ICS's settings.
    pub async fn assess_as_of(
        &self,
        ctx: &RequestContext,
        caller: &Caller,
        parent: &str,
        at: Option<DateTime<Utc>>,
    ) -> Result<(Assessment, Settings)> {
        let (ics, trust) = self.trust_in_scope(ctx, "parent", parent).await?;
        let at = at.unwrap_or_else(|| self.writer.clock().now());
        let snapshot = self
            .shared
            .snapshot_at(&ics, &trust, at, caller)
            .await?
            .ok_or_else(|| ConvergenceError::NoSnapshot {
                trust: trust.clone(),
                at,
            })?;
        let (baseline_revision, overlay_revision) = futures::try_join!(
            self.shared.revision_at(&ics, "baseline", at, caller),
            self.shared.revision_at(&ics, &trust, at, caller),
        )?;
        let point = Point {
            ics: &ics,
            trust: &trust,
            snapshot: &snapshot,
            baseline_revision,
            overlay_revision,
            at,
        };
        let (a, _) = self.compute(&point, caller, ("asOf", 0)).await?;
        let settings = store::settings(self.db().conn(), &ics).await?;
        Ok((a, settings))
    }

    /// Every trust's newest assessment made for a time at or before `as_of` (now when `None`),
    /// with the ICS's settings and the time used.
    pub async fn matrix(
        &self,
        ctx: &RequestContext,
        parent: &str,
        as_of: Option<DateTime<Utc>>,
    ) -> Result<(Vec<(String, Option<Assessment>)>, Settings, DateTime<Utc>)> {
        let ics = concordat_api::names::IcsName::parse("parent", parent)?.ics;
        self.require_ics(ctx, &ics, parent).await?;
        let as_of = as_of.unwrap_or_else(|| self.writer.clock().now());
        let c = self.db().conn();
        let mut rows = Vec::new();
        for trust in self.trusts_of(&ics) {
            let a = store::latest_assessment(c, &ics, &trust, Some(as_of)).await?;
            rows.push((trust, a));
        }
        Ok((rows, store::settings(c, &ics).await?, as_of))
    }

    /// A page of a trust's assessments, newest first, with the ICS's settings and the next
    /// page's token.
    pub async fn list_assessments(
        &self,
        ctx: &RequestContext,
        parent: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Assessment>, Settings, String)> {
        let (ics, trust) = self.trust_in_scope(ctx, "parent", parent).await?;
        let limit = page_limit(page_size, 100, 1000)?;
        let query = json!({"list": "assessments", "parent": parent});
        let before =
            match self.decode_token(page_token, &query)? {
                Some(t) => {
                    let time = t["at"][0]
                        .as_str()
                        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                        .map(|d| d.with_timezone(&Utc));
                    let id = t["at"][1].as_str().map(str::to_owned);
                    Some(time.zip(id).ok_or_else(|| {
                        invalid("page_token", "is not a token this list returned")
                    })?)
                }
                None => None,
            };
        let c = self.db().conn();
        let mut list = store::assessments(c, &ics, &trust, before, limit + 1).await?;
        let next = if list.len() as u64 > limit {
            list.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            list.last().map_or(String::new(), |a| {
                self.next_token(&query, json!([a.assess_time.to_rfc3339(), a.id]))
            })
        } else {
            String::new()
        };
        Ok((list, store::settings(c, &ics).await?, next))
    }

    /// A recorded assessment, with the ICS's settings.
    pub async fn get_assessment(
        &self,
        ctx: &RequestContext,
        name: &str,
    ) -> Result<(Assessment, Settings)> {
        let parsed = concordat_api::names::AssessmentName::parse("name", name)?;
        self.require_ics(ctx, &parsed.ics, name).await?;
        let c = self.db().conn();
        let a = store::assessment(c, &parsed.ics, &parsed.trust, &parsed.assessment)
            .await?
            .ok_or_else(|| ConvergenceError::NotFound(name.to_owned()))?;
        Ok((a, store::settings(c, &parsed.ics).await?))
    }

    /// A page of the divergences of an assessment (or a trust's newest), in key order: the
    /// assessment's name, the page and the next page's token.
    pub async fn list_divergences(
        &self,
        ctx: &RequestContext,
        q: &DivergenceQuery<'_>,
    ) -> Result<(String, Vec<Divergence>, String)> {
        let c = self.db().conn();
        let a = if q.parent.contains("/assessments/") {
            let parsed = concordat_api::names::AssessmentName::parse("parent", q.parent)?;
            self.require_ics(ctx, &parsed.ics, q.parent).await?;
            store::assessment(c, &parsed.ics, &parsed.trust, &parsed.assessment).await?
        } else {
            let (ics, trust) = self.trust_in_scope(ctx, "parent", q.parent).await?;
            store::latest_assessment(c, &ics, &trust, None).await?
        }
        .ok_or_else(|| ConvergenceError::NotFound(format!("an assessment of {}", q.parent)))?;
        if q.class == Some(Class::Aligned) {
            return Err(invalid(
                "class",
                "ALIGNED keys are not divergences: list another class, or none",
            ));
        }
        let limit = page_limit(q.page_size, 100, 1000)?;
        let query = json!({
            "list": "divergences", "assessment": a.id, "domain": q.domain,
            "class": q.class.map(Class::name),
        });
        let after = match self.decode_token(q.page_token, &query)? {
            Some(t) => Some(
                t["at"][0]
                    .as_str()
                    .zip(t["at"][1].as_str())
                    .map(|(k, key)| (k.to_owned(), key.to_owned()))
                    .ok_or_else(|| invalid("page_token", "is not a token this list returned"))?,
            ),
            None => None,
        };
        let domain = (!q.domain.is_empty()).then_some(q.domain);
        let mut list =
            store::divergences(c, &a.ics, &a.id, (domain, q.class), after, limit + 1).await?;
        let next = if list.len() as u64 > limit {
            list.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            list.last().map_or(String::new(), |d| {
                self.next_token(&query, json!([d.kind, d.key]))
            })
        } else {
            String::new()
        };
        Ok((assessment_name(&a), list, next))
    }
}

/// What `ListDivergences` asks.
pub struct DivergenceQuery<'a> {
    /// An assessment or a trust.
    pub parent: &'a str,
    /// Only this domain (empty: all).
    pub domain: &'a str,
    /// Only this class.
    pub class: Option<Class>,
    /// The page size asked.
    pub page_size: i32,
    /// The page token sent.
    pub page_token: &'a str,
}

/// `icss/{ics}/trusts/{trust}/assessments/{id}` of a recorded assessment (empty if not recorded).
pub fn assessment_name(a: &Assessment) -> String {
    if a.id.is_empty() {
        String::new()
    } else {
        concordat_api::names::AssessmentName::new(&a.ics, &a.trust, &a.id).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(items: &[(&str, Value, GovernanceClass, Option<DateTime<Utc>>)]) -> Items<LayerItem> {
        items
            .iter()
            .map(|(k, v, g, e)| {
                (
                    ("alert-rule".to_owned(), (*k).to_owned()),
                    LayerItem {
                        value: v.clone(),
                        governance: *g,
                        suppress: v.is_null(),
                        change_request: "icss/QUE/changeRequests/7".into(),
                        expire_time: *e,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn every_key_of_the_three_sources_is_classified_once() {
        let t0 = DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let later = t0 + chrono::Duration::days(1);
        let o = GovernanceClass::Overridable;
        let inputs = || Inputs {
            domains: BTreeMap::from([("alert-rule".to_owned(), "medicines".to_owned())]),
            baseline: layer(&[
                ("aligned", json!(1), o, None),
                ("varied", json!(1), o, None),
                ("missing", json!(1), GovernanceClass::Locked, None),
            ]),
            overlay: layer(&[("varied", json!(2), o, Some(later))]),
            snapshot: [
                ("aligned", json!(1), true),
                ("varied", json!(2), true),
                ("local", json!(9), true),
            ]
            .into_iter()
            .map(|(k, v, conforms)| {
                (
                    ("alert-rule".to_owned(), k.to_owned()),
                    SnapshotItem { value: v, conforms },
                )
            })
            .collect(),
        };
        let (cells, divergences, keys) = classify(inputs(), t0);
        assert_eq!(keys, 4);
        let medicines = &cells["medicines"];
        assert_eq!(
            Class::ALL.map(|c| medicines.of(c)),
            [1, 1, 0, 0, 1, 1, 0],
            "aligned, varied-approved, missing, local-only"
        );
        let classes: Vec<(&str, Class)> = divergences
            .iter()
            .map(|d| (d.key.as_str(), d.class))
            .collect();
        assert_eq!(
            classes,
            [
                ("local", Class::LocalOnly),
                ("missing", Class::Missing),
                ("varied", Class::VariedApproved)
            ]
        );
        let varied = &divergences[2];
        assert_eq!(
            (varied.approved_value.clone(), varied.expire_time),
            (Some(json!(2)), Some(later))
        );
        // At the expiry the same build holds a lapsed variation.
        let (cells, _, _) = classify(inputs(), later);
        assert_eq!(cells["medicines"].of(Class::VariedExpired), 1);
        assert_eq!(cells["medicines"].of(Class::VariedApproved), 0);
    }
}
