//! A trust's variation as a governed record: the terms its overlay entry carries (rationale,
//! hazard, review date, expiry), what they must satisfy when a changeset sets them, and renewal
//! after a lapse. Whether a variation is in force is [`super::layer::in_force`]'s, the one rule.

use chrono::{DateTime, Utc};

use super::changeset::Change;
use super::kind::Violation;
use super::layer::{Entry, LayerId, in_force};
use super::publish::Content;

/// Every way the variation terms of `changes` do not fit: terms on a baseline entry or on a
/// removal, an expiry not after `now` (a variation published already lapsed), a review date after
/// the expiry, a hazard reference that is not a hazard of a change request of `ics`.
pub fn validate_variations(
    ics: &str,
    layer: &LayerId,
    changes: &[Change<Entry>],
    now: DateTime<Utc>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let (Change::Add(_, entry) | Change::Modify(_, entry)) = change else {
            continue;
        };
        let terms = &entry.variation;
        if terms.is_empty() {
            continue;
        }
        let field = format!("changeset.changes[{i}].item.variation");
        if *layer == LayerId::Baseline {
            out.push((
                field,
                "only a trust's overlay entry is a variation: baseline items have no terms".into(),
            ));
            continue;
        }
        if let Some(expiry) = terms.expire_time
            && expiry <= now
        {
            out.push((
                format!("{field}.expire_time"),
                format!(
                    "must be after now ({}): a variation cannot be published already lapsed",
                    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            ));
        }
        if let (Some(review), Some(expiry)) = (terms.review_date, terms.expire_time)
            && review > expiry.date_naive()
        {
            out.push((
                format!("{field}.review_date"),
                "must not be after the expiry: review a variation before it lapses".into(),
            ));
        }
        if !terms.hazard.is_empty() && !is_hazard_of(ics, &terms.hazard) {
            out.push((
                format!("{field}.hazard"),
                format!("must name a hazard of a change request of {ics}: `icss/{ics}/changeRequests/{{cr}}/hazards/{{hazard}}`"),
            ));
        }
    }
    out
}

/// Every entry of `changes` that renews a lapsed variation under the change request that approved
/// it: a variation of `current` (the layer's entries at the changeset's base) that has lapsed at
/// `now` is renewed only under a new change request, so that renewal is decided again.
pub fn check_renewals(
    current: &Content,
    changes: &[Change<Entry>],
    change_request: &str,
    now: DateTime<Utc>,
) -> Vec<Violation> {
    changes
        .iter()
        .filter(|change| matches!(change, Change::Add(..) | Change::Modify(..)))
        .filter_map(|change| {
            let key = change.key();
            let lapsed = current.get(key)?;
            let expiry = lapsed.entry.variation.expire_time?;
            (!in_force(Some(expiry), now) && lapsed.provenance.change_request == change_request)
                .then(|| {
                    (
                        "changeset.change_request".to_owned(),
                        format!(
                            "approved the variation of {key} that lapsed at {}: renewing it takes a new change request",
                            expiry.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                        ),
                    )
                })
        })
        .collect()
}

/// Whether `name` is `icss/{ics}/changeRequests/{cr}/hazards/{hazard}`.
fn is_hazard_of(ics: &str, name: &str) -> bool {
    let parts: Vec<&str> = name.split('/').collect();
    matches!(
        parts.as_slice(),
        ["icss", i, "changeRequests", cr, "hazards", h]
            if *i == ics && !cr.is_empty() && !h.is_empty()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::layer::{Governance, Key, Provenance, Variation};
    use crate::domain::publish::Placed;
    use chrono::NaiveDate;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn sepsis() -> Key {
        Key::new("alert-rule", "sepsis-news2")
    }

    fn varied(expire_time: Option<DateTime<Utc>>) -> Entry {
        Entry {
            value: json!({"threshold": 6}),
            governance: Governance::Overridable,
            variation: Variation {
                rationale: "Paediatric sepsis pathway".into(),
                hazard: "icss/QUE/changeRequests/7/hazards/2".into(),
                review_date: NaiveDate::from_ymd_opt(2026, 9, 1),
                expire_time,
            },
            ..Entry::default()
        }
    }

    #[test]
    fn variation_terms_are_checked_field_by_field() {
        let rgm = LayerId::Trust("RGM".into());
        let later = t0() + chrono::Duration::days(365);
        let ok = [Change::Add(sepsis(), varied(Some(later)))];
        assert_eq!(validate_variations("QUE", &rgm, &ok, t0()), vec![]);
        assert_eq!(
            validate_variations("QUE", &rgm, &[Change::Add(sepsis(), varied(None))], t0()),
            vec![],
            "no expiry: in force until changed"
        );
        let fields = |layer: &LayerId, entry: Entry| -> Vec<String> {
            validate_variations("QUE", layer, &[Change::Modify(sepsis(), entry)], t0())
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        };
        assert_eq!(
            fields(&LayerId::Baseline, varied(Some(later))),
            ["changeset.changes[0].item.variation"]
        );
        assert_eq!(
            fields(&rgm, varied(Some(t0()))),
            ["changeset.changes[0].item.variation.expire_time"],
            "an expiry of now is already lapsed"
        );
        let mut late_review = varied(Some(t0() + chrono::Duration::days(1)));
        late_review.variation.review_date = NaiveDate::from_ymd_opt(2100, 1, 1);
        assert_eq!(
            fields(&rgm, late_review),
            ["changeset.changes[0].item.variation.review_date"]
        );
        for hazard in [
            "icss/OTH/changeRequests/7/hazards/2",
            "icss/QUE/changeRequests/7",
            "icss/QUE/changeRequests//hazards/2",
        ] {
            let mut e = varied(Some(later));
            e.variation.hazard = hazard.into();
            assert_eq!(
                fields(&rgm, e),
                ["changeset.changes[0].item.variation.hazard"],
                "{hazard}"
            );
        }
    }

    #[test]
    fn a_lapsed_variation_is_renewed_only_under_a_new_change_request() {
        let expiry = t0() + chrono::Duration::hours(1);
        let current: Content = BTreeMap::from([(
            sepsis(),
            Placed {
                entry: varied(Some(expiry)),
                provenance: Provenance {
                    revision: 1,
                    change_request: "icss/QUE/changeRequests/7".into(),
                },
            },
        )]);
        let renew = [Change::Modify(sepsis(), varied(None))];
        let before = expiry - chrono::Duration::seconds(1);
        assert_eq!(
            check_renewals(&current, &renew, "icss/QUE/changeRequests/7", before),
            vec![],
            "in force: changed under its own change request"
        );
        let refused = check_renewals(&current, &renew, "icss/QUE/changeRequests/7", expiry);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, "changeset.change_request");
        assert!(refused[0].1.contains("lapsed"), "{}", refused[0].1);
        assert_eq!(
            check_renewals(&current, &renew, "icss/QUE/changeRequests/8", expiry),
            vec![]
        );
        assert_eq!(
            check_renewals(
                &current,
                &[Change::Remove(sepsis())],
                "icss/QUE/changeRequests/7",
                expiry
            ),
            vec![],
            "removing a lapsed variation is not renewing it"
        );
    }
}
