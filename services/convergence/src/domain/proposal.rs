//! Proposing from evidence: the text of a change request that would approve a trust's
//! divergences as variations, or align its build with the baseline. Drafting mutes nothing: the
//! divergences stay until a publish or a new snapshot changes them.

use serde_json::Value;

use super::records::Divergence;

/// What a proposed change request would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Approve the trust's values as variations.
    ApproveAsVariations,
    /// Align the trust's build with the baseline.
    Align,
}

fn shown(v: &Option<Value>) -> String {
    v.as_ref().map_or("(none)".to_owned(), Value::to_string)
}

/// The title (unless `title` is given) and description of the change request proposing `intent`
/// for `divergences` of `trust`'s assessment `assessment`, in `domain`.
pub fn draft(
    intent: Intent,
    (trust, domain, assessment): (&str, &str, &str),
    divergences: &[Divergence],
    title: &str,
) -> (String, String) {
    let title = if title.trim().is_empty() {
        match intent {
            Intent::ApproveAsVariations => {
                format!("Approve {trust}'s {domain} build differences as variations")
            }
            Intent::Align => format!("Align {trust}'s {domain} build with the baseline"),
        }
    } else {
        title.to_owned()
    };
    let mut description = match intent {
        Intent::ApproveAsVariations => format!(
            "Proposed from {assessment}: approve {trust}'s values below as variations in its \
             overlay (each needs its rationale, review date and expiry).\n"
        ),
        Intent::Align => format!(
            "Proposed from {assessment}: change {trust}'s build to the governed values below.\n"
        ),
    };
    for d in divergences {
        description.push_str(&format!(
            "\n- {}/{} ({}): baseline {}, approved {}, in the build {}",
            d.kind,
            d.key,
            d.class.name(),
            shown(&d.baseline_value),
            shown(&d.approved_value),
            shown(&d.snapshot_value),
        ));
        if !d.change_request.is_empty() {
            description.push_str(&format!(", variation under {}", d.change_request));
        }
    }
    (title, description)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assessment::{Class, GovernanceClass};
    use serde_json::json;

    #[test]
    fn the_draft_lists_each_divergence_with_its_values() {
        let d = Divergence {
            kind: "alert-rule".into(),
            key: "sepsis-news2".into(),
            domain: "medicines".into(),
            class: Class::Divergent,
            governance: GovernanceClass::Bounded,
            baseline_value: Some(json!({"threshold": 5})),
            approved_value: None,
            snapshot_value: Some(json!({"threshold": 8})),
            change_request: String::new(),
            expire_time: None,
            variation_removes: false,
        };
        let (title, description) = draft(
            Intent::Align,
            ("RGN", "medicines", "icss/QUE/trusts/RGN/assessments/1"),
            &[d],
            "",
        );
        assert_eq!(title, "Align RGN's medicines build with the baseline");
        assert!(description.contains(
            "- alert-rule/sepsis-news2 (DIVERGENT): baseline {\"threshold\":5}, approved (none), in the build {\"threshold\":8}"
        ), "{description}");
    }
}
