//! The sentences both renderers print, so the PDF and the HTML say the same thing.

use crate::charts::percent;
use crate::model::{AgainstTarget, Assurance, Benefits, Summary};

/// A list for a sentence: `CR-2026-0001, CR-2026-0003`, or `none`.
pub fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Convergence now and 90 days before.
pub fn convergence_now(s: &Summary) -> String {
    match (s.convergence_now, s.convergence_before) {
        (None, _) => "no trust assessed yet".to_owned(),
        (Some(now), Some(before)) => format!(
            "{} across {} assessed trusts ({} 90 days before)",
            percent(now),
            s.trusts_assessed,
            percent(before)
        ),
        (Some(now), None) => format!(
            "{} across {} assessed trusts (none assessed 90 days before)",
            percent(now),
            s.trusts_assessed
        ),
    }
}

/// A benefit's target for the year and how it follows from the monthly one, or that none is set.
pub fn target(a: &AgainstTarget) -> String {
    if a.target.is_empty() {
        "no target set".to_owned()
    } else {
        format!("{} {} ({})", a.target, a.unit, a.basis)
    }
}

/// The summary's count of benefits against their targets, a row per category (in the order the
/// categories first appear): category, benefits, with a target, met, not met.
pub fn targets_met(b: &Benefits) -> Vec<Vec<String>> {
    let mut rows: Vec<(String, [usize; 4])> = Vec::new();
    for a in &b.against_target {
        let at = match rows.iter().position(|(c, _)| *c == a.category) {
            Some(at) => at,
            None => {
                rows.push((a.category.clone(), [0; 4]));
                rows.len() - 1
            }
        };
        let n = &mut rows[at].1;
        n[0] += 1;
        match a.met {
            Some(true) => (n[1], n[2]) = (n[1] + 1, n[2] + 1),
            Some(false) => (n[1], n[3]) = (n[1] + 1, n[3] + 1),
            None => {}
        }
    }
    rows.into_iter()
        .map(|(category, n)| {
            std::iter::once(category)
                .chain(n.iter().map(ToString::to_string))
                .collect()
        })
        .collect()
}

/// The audit chain's status in a few words.
pub fn chain(s: &Summary) -> String {
    if s.chain_valid {
        format!("verified: {} entries", s.chain_entries)
    } else {
        format!("BROKEN after checking {} entries", s.chain_entries)
    }
}

/// The audit chain's verification in a sentence.
pub fn verification(a: &Assurance) -> String {
    if a.valid {
        format!(
            "The audit chain verified end to end: {} entries checked, head hash {}.",
            a.entries, a.head
        )
    } else {
        format!(
            "The audit chain did NOT verify: {} ({} entries checked).",
            a.problem, a.entries
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benefits_against_targets_are_counted_by_category() {
        let benefit = |category: &str, met: Option<bool>| AgainstTarget {
            category: category.into(),
            met,
            ..Default::default()
        };
        let b = Benefits {
            against_target: vec![
                benefit("cash-releasing", Some(true)),
                benefit("non-cash-releasing", None),
                benefit("cash-releasing", Some(false)),
                benefit("cash-releasing", Some(true)),
            ],
            ..Default::default()
        };
        assert_eq!(
            targets_met(&b),
            vec![
                vec!["cash-releasing", "3", "3", "2", "1"],
                vec!["non-cash-releasing", "1", "0", "0", "0"],
            ]
        );
        assert_eq!(target(&b.against_target[1]), "no target set");
    }
}
