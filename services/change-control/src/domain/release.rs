//! Releases: named deployment windows with per-trust freezes, and the conflicts a change would
//! bring into one.

use chrono::{DateTime, Utc};

use super::change_request::{ChangeRequest, Violation};
use super::lifecycle::State;

/// A per-trust freeze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Freeze {
    /// Trust.
    pub trust: String,
    /// Start.
    pub start: DateTime<Utc>,
    /// End.
    pub end: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// A release window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// ICS.
    pub ics: String,
    /// Id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Window start.
    pub window_start: DateTime<Utc>,
    /// Window end.
    pub window_end: DateTime<Utc>,
    /// Freezes.
    pub freezes: Vec<Freeze>,
    /// Created.
    pub create_time: DateTime<Utc>,
}

impl Release {
    /// The resource name.
    pub fn name(&self) -> String {
        format!("icss/{}/releases/{}", self.ics, self.id)
    }

    /// Checks the fields (`known_trust` says whether an ODS code is a trust of the ICS).
    pub fn validate(&self, known_trust: impl Fn(&str) -> bool) -> Result<(), Vec<Violation>> {
        let mut v: Vec<Violation> = Vec::new();
        if !super::change_request::valid_id(&self.id) {
            v.push((
                "release_id".into(),
                "must be 1–63 lowercase letters, digits or hyphens, starting with a letter".into(),
            ));
        }
        if self.display_name.trim().is_empty() {
            v.push(("release.display_name".into(), "must not be empty".into()));
        }
        if self.window_end <= self.window_start {
            v.push((
                "release.window_end_time".into(),
                "must be after window_start_time".into(),
            ));
        }
        for (i, f) in self.freezes.iter().enumerate() {
            if !known_trust(&f.trust) {
                v.push((
                    format!("release.freezes[{i}].trust"),
                    format!("{} is not a trust of this ICS", f.trust),
                ));
            }
            if f.end <= f.start {
                v.push((
                    format!("release.freezes[{i}].end_time"),
                    "must be after start_time".into(),
                ));
            }
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }
}

/// One reason a change cannot go into a release, as `(kind, subject, description)`.
pub type Conflict = (&'static str, String, String);

/// The conflicts of scheduling `cr` into `release`, given the changes already in it.
pub fn conflicts(
    cr: &ChangeRequest,
    release: &Release,
    scheduled: &[ChangeRequest],
) -> Vec<Conflict> {
    let mut found = Vec::new();
    for other in scheduled.iter().filter(|o| {
        o.id != cr.id
            && matches!(
                o.state,
                State::Scheduled | State::Implemented | State::Closed
            )
    }) {
        for item in cr
            .configuration_items
            .iter()
            .filter(|i| other.configuration_items.contains(i))
        {
            found.push((
                "CONFIGURATION_ITEM",
                item.clone(),
                format!(
                    "{item} is also changed by {} in release {}",
                    other.number, release.display_name
                ),
            ));
        }
    }
    for freeze in &release.freezes {
        let overlaps = freeze.start < release.window_end && release.window_start < freeze.end;
        if overlaps && cr.affected_trusts.contains(&freeze.trust) {
            found.push((
                "TRUST_FREEZE",
                freeze.trust.clone(),
                format!(
                    "{} is frozen from {} to {} ({}), inside the release window",
                    freeze.trust,
                    freeze.start.format("%Y-%m-%d"),
                    freeze.end.format("%Y-%m-%d"),
                    freeze.reason
                ),
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, day, 0, 0, 0)
            .single()
            .unwrap()
    }

    fn release(freezes: Vec<Freeze>) -> Release {
        Release {
            ics: "QUE".into(),
            id: "r1".into(),
            display_name: "2026.12".into(),
            window_start: at(10),
            window_end: at(12),
            freezes,
            create_time: at(1),
        }
    }

    fn cr(id: &str, items: &[&str], trusts: &[&str], state: State) -> ChangeRequest {
        let mut c = super::super::change_request::tests::sample();
        c.id = id.into();
        c.number = format!("CR-2026-{id}");
        c.configuration_items = items.iter().map(|s| s.to_string()).collect();
        c.affected_trusts = trusts.iter().map(|s| s.to_string()).collect();
        c.state = state;
        c
    }

    #[test]
    fn a_shared_configuration_item_conflicts() {
        let mine = cr(
            "1",
            &["alert-rule/allergy", "order-set/x"],
            &["RGT"],
            State::Approved,
        );
        let theirs = cr("2", &["alert-rule/allergy"], &["RGM"], State::Scheduled);
        let c = conflicts(&mine, &release(vec![]), &[theirs]);
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].0, c[0].1.as_str()),
            ("CONFIGURATION_ITEM", "alert-rule/allergy")
        );
    }

    #[test]
    fn a_freeze_overlapping_the_window_conflicts_only_for_affected_trusts() {
        let freeze = |trust: &str, from, to| Freeze {
            trust: trust.into(),
            start: at(from),
            end: at(to),
            reason: "winter".into(),
        };
        let mine = cr("1", &[], &["RGT"], State::Approved);
        assert_eq!(
            conflicts(&mine, &release(vec![freeze("RGT", 11, 20)]), &[]).len(),
            1
        );
        assert!(conflicts(&mine, &release(vec![freeze("RGM", 11, 20)]), &[]).is_empty());
        assert!(
            conflicts(&mine, &release(vec![freeze("RGT", 12, 20)]), &[]).is_empty(),
            "touching is not overlapping"
        );
    }

    #[test]
    fn a_window_must_end_after_it_starts() {
        let mut r = release(vec![]);
        r.window_end = r.window_start;
        assert_eq!(
            r.validate(|_| true).unwrap_err()[0].0,
            "release.window_end_time"
        );
    }
}
