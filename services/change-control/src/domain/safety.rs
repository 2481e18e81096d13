//! The hazard log (DCB0129/DCB0160) and what it, with the charter, stops: the safety checks
//! before approval, and what a standard or emergency change must meet.

use chrono::{DateTime, Utc};
use concordat_platform::identity::Person;

use super::change_request::{ChangeRequest, Violation};
use super::charter::{ChangeClass, Charter};

/// A hazard log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    /// Id.
    pub id: String,
    /// The hazard.
    pub description: String,
    /// Cause.
    pub cause: String,
    /// Effect.
    pub effect: String,
    /// Existing controls.
    pub existing_controls: String,
    /// Initial likelihood 1–5.
    pub initial_likelihood: i32,
    /// Initial severity 1–5.
    pub initial_severity: i32,
    /// Initial risk 1–5.
    pub initial_risk: u8,
    /// Further controls.
    pub further_controls: String,
    /// Residual likelihood 1–5.
    pub residual_likelihood: i32,
    /// Residual severity 1–5.
    pub residual_severity: i32,
    /// Residual risk 1–5.
    pub residual_risk: u8,
    /// Who signed it off, once signed.
    pub signed_off_by: Option<Person>,
    /// Their trust.
    pub signed_off_trust: String,
    /// When.
    pub sign_off_time: Option<DateTime<Utc>>,
}

impl Hazard {
    /// Computes both risks, or says which inputs are off the scale.
    pub fn assess(mut self) -> Result<Self, Vec<Violation>> {
        let mut v: Vec<Violation> = Vec::new();
        if self.description.trim().is_empty() {
            v.push(("hazard.description".into(), "must not be empty".into()));
        }
        let mut rate = |l: i32, s: i32, lf: &str, sf: &str| -> u8 {
            let mut ok = true;
            for (value, field) in [(l, lf), (s, sf)] {
                if !(1..=5).contains(&value) {
                    v.push((
                        format!("hazard.{field}"),
                        format!("must be between 1 and 5, got {value}"),
                    ));
                    ok = false;
                }
            }
            if ok {
                super::risk::risk(l, s).unwrap_or(0)
            } else {
                0
            }
        };
        self.initial_risk = rate(
            self.initial_likelihood,
            self.initial_severity,
            "initial_likelihood",
            "initial_severity",
        );
        self.residual_risk = rate(
            self.residual_likelihood,
            self.residual_severity,
            "residual_likelihood",
            "residual_severity",
        );
        // Controls reduce a risk or leave it; a residual risk above the initial one is an error
        // of entry, not a control.
        if self.initial_risk > 0 && self.residual_risk > self.initial_risk {
            v.push((
                "hazard.residual_severity".into(),
                format!(
                    "the residual risk ({}) is above the initial risk ({}): controls cannot raise a risk",
                    self.residual_risk, self.initial_risk
                ),
            ));
        }
        if v.is_empty() { Ok(self) } else { Err(v) }
    }
}

/// Why a change request cannot be approved now, if anything stops it: the residual risk above the
/// charter's limit, or hazards lacking a required CSO sign-off.
pub fn safety_blockers(cr: &ChangeRequest, charter: &Charter, hazards: &[Hazard]) -> Vec<String> {
    let mut blockers = Vec::new();
    if cr.residual_risk > charter.max_residual_risk {
        blockers.push(format!(
            "residual risk {} is above the charter's limit of {}",
            cr.residual_risk, charter.max_residual_risk
        ));
    }
    if charter.rule(cr.change_class).cso_sign_off_required {
        if hazards.is_empty() {
            blockers.push(format!(
                "a {} change needs a hazard log signed off by a clinical safety officer",
                cr.change_class.as_str()
            ));
        }
        for h in hazards.iter().filter(|h| h.signed_off_by.is_none()) {
            blockers.push(format!("hazard {} has no CSO sign-off", h.id));
        }
    }
    blockers
}

/// Why a standard change cannot be approved on submission: it must be routine, clear of the
/// charter's safety checks (as a vote would require) and below the thresholds that send a change
/// to the programme board; anything else goes to its design authority as a normal change.
pub fn standard_blockers(cr: &ChangeRequest, charter: &Charter, hazards: &[Hazard]) -> Vec<String> {
    let mut blockers = Vec::new();
    if cr.change_class != ChangeClass::Routine {
        blockers.push(format!("it is {}, not ROUTINE", cr.change_class.as_str()));
    }
    blockers.extend(safety_blockers(cr, charter, hazards));
    if charter.needs_board(cr.residual_risk, cr.cost_estimate_pence) {
        blockers.push(format!(
            "its residual risk {} or cost of {} pence needs the programme board",
            cr.residual_risk, cr.cost_estimate_pence
        ));
    }
    blockers
}

/// Why the chair cannot approve an emergency change now: an emergency always needs a hazard log
/// with every hazard signed off by a CSO, and a residual risk within the charter's limit.
pub fn emergency_blockers(
    cr: &ChangeRequest,
    charter: &Charter,
    hazards: &[Hazard],
) -> Vec<String> {
    let mut blockers: Vec<String> = Vec::new();
    if hazards.is_empty() {
        blockers.push(
            "an emergency change needs a hazard log signed off by a clinical safety officer".into(),
        );
    }
    blockers.extend(
        hazards
            .iter()
            .filter(|h| h.signed_off_by.is_none())
            .map(|h| format!("hazard {} has no CSO sign-off", h.id)),
    );
    if cr.residual_risk > charter.max_residual_risk {
        blockers.push(format!(
            "residual risk {} is above the charter's limit of {}",
            cr.residual_risk, charter.max_residual_risk
        ));
    }
    blockers
}
