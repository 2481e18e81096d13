//! The sentences both renderers print, so the PDF and the HTML say the same thing.

use crate::charts::percent;
use crate::model::{Assurance, Summary};

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
