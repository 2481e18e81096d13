//! A design authority's charter: the rules it decides by, held as data and versioned.

use std::collections::BTreeMap;

/// How votes are counted for a class of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Threshold {
    /// More approvals than rejections.
    SimpleMajority,
    /// At least two thirds of approve-or-reject votes approve.
    TwoThirds,
    /// Every member trust approves.
    Unanimous,
}

/// What silence at the voting deadline counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SilencePolicy {
    /// Abstention.
    Abstain,
    /// Rejection.
    Blocks,
}

/// The class of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeClass {
    /// Low impact.
    Routine,
    /// Noticeable to clinicians.
    Significant,
    /// Could harm a patient.
    SafetyCritical,
}

impl ChangeClass {
    /// Every class.
    pub const ALL: [ChangeClass; 3] = [
        ChangeClass::Routine,
        ChangeClass::Significant,
        ChangeClass::SafetyCritical,
    ];

    /// The API name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeClass::Routine => "ROUTINE",
            ChangeClass::Significant => "SIGNIFICANT",
            ChangeClass::SafetyCritical => "SAFETY_CRITICAL",
        }
    }
}

/// The rule for one class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassRule {
    /// How votes are counted.
    pub threshold: Threshold,
    /// Whether every hazard needs a CSO sign-off.
    pub cso_sign_off_required: bool,
}

/// A charter version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charter {
    /// Version, from 1.
    pub version: u32,
    /// Share of member trusts (percent) that must vote.
    pub quorum_percent: u32,
    /// The rule for each class.
    pub rules: BTreeMap<ChangeClass, ClassRule>,
    /// Silence at the deadline.
    pub silence: SilencePolicy,
    /// Residual risk at or above which the board must approve (0: never).
    pub board_risk_threshold: u8,
    /// Cost (pence) at or above which the board must approve (0: never).
    pub board_cost_threshold_pence: i64,
    /// Highest residual risk the design authority may approve.
    pub max_residual_risk: u8,
    /// Default assessment period, days.
    pub assessment_days: u32,
    /// Default voting period, days.
    pub voting_days: u32,
    /// Retrospective review period after an emergency approval, days.
    pub emergency_review_days: u32,
    /// When this version took effect (none: not yet written, or written before it was kept,
    /// when the design authority's last update stands for it).
    pub effective_time: Option<chrono::DateTime<chrono::Utc>>,
}

/// A field of a charter that is wrong, as `(field, reason)`.
pub type Violation = (String, String);

impl Charter {
    /// Checks every field; returns all violations at once (`charter.`-relative field paths).
    pub fn validate(&self) -> Result<(), Vec<Violation>> {
        let mut v = Vec::new();
        let mut bad =
            |field: &str, reason: &str| v.push((format!("charter.{field}"), reason.to_owned()));
        if !(1..=100).contains(&self.quorum_percent) {
            bad("quorum_percent", "must be between 1 and 100");
        }
        for class in ChangeClass::ALL {
            if !self.rules.contains_key(&class) {
                bad("rules", &format!("needs a rule for {}", class.as_str()));
            }
        }
        if self.board_risk_threshold > 5 {
            bad("board_risk_threshold", "must be between 0 (never) and 5");
        }
        if self.board_cost_threshold_pence < 0 {
            bad("board_cost_threshold_pence", "must not be negative");
        }
        if !(1..=5).contains(&self.max_residual_risk) {
            bad("max_residual_risk", "must be between 1 and 5");
        }
        for (field, days) in [
            ("assessment_days", self.assessment_days),
            ("voting_days", self.voting_days),
            ("emergency_review_days", self.emergency_review_days),
        ] {
            if !(1..=365).contains(&days) {
                bad(field, "must be between 1 and 365 days");
            }
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    /// The rule for `class`.
    pub fn rule(&self, class: ChangeClass) -> ClassRule {
        self.rules.get(&class).copied().unwrap_or(ClassRule {
            threshold: Threshold::Unanimous,
            cso_sign_off_required: true,
        })
    }

    /// True when the board must also approve a change of this residual risk and cost.
    pub fn needs_board(&self, residual_risk: u8, cost_pence: i64) -> bool {
        (self.board_risk_threshold > 0 && residual_risk >= self.board_risk_threshold)
            || (self.board_cost_threshold_pence > 0
                && cost_pence >= self.board_cost_threshold_pence)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The golden scenario's Medicines charter: safety-critical changes need every trust and a CSO
    /// sign-off; others a simple majority with a 75% quorum.
    pub fn medicines() -> Charter {
        let rule = |threshold, cso| ClassRule {
            threshold,
            cso_sign_off_required: cso,
        };
        Charter {
            version: 1,
            quorum_percent: 75,
            rules: BTreeMap::from([
                (ChangeClass::Routine, rule(Threshold::SimpleMajority, false)),
                (
                    ChangeClass::Significant,
                    rule(Threshold::SimpleMajority, false),
                ),
                (
                    ChangeClass::SafetyCritical,
                    rule(Threshold::Unanimous, true),
                ),
            ]),
            silence: SilencePolicy::Abstain,
            board_risk_threshold: 3,
            board_cost_threshold_pence: 5_000_000,
            max_residual_risk: 3,
            effective_time: None,
            assessment_days: 14,
            voting_days: 7,
            emergency_review_days: 10,
        }
    }

    #[test]
    fn the_medicines_charter_is_valid() {
        medicines().validate().unwrap();
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let mut c = medicines();
        c.quorum_percent = 0;
        c.rules.remove(&ChangeClass::Significant);
        c.max_residual_risk = 9;
        c.voting_days = 0;
        let fields: Vec<_> = c
            .validate()
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "charter.quorum_percent",
                "charter.rules",
                "charter.max_residual_risk",
                "charter.voting_days"
            ]
        );
    }

    #[test]
    fn the_board_is_needed_above_risk_or_cost() {
        let c = medicines();
        assert!(!c.needs_board(2, 1_000));
        assert!(c.needs_board(3, 0));
        assert!(c.needs_board(1, 5_000_000));
        let mut never = c.clone();
        never.board_risk_threshold = 0;
        never.board_cost_threshold_pence = 0;
        assert!(!never.needs_board(5, i64::MAX));
    }
}
