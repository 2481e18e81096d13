//! Change requests, design authorities and the records attached to a change request: impact
//! assessments, hazards and votes.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use concordat_platform::identity::Person;

use super::charter::{ChangeClass, Charter};
use super::decision::Choice;
use super::lifecycle::State;
pub use super::safety::{Hazard, emergency_blockers, safety_blockers, standard_blockers};

/// A field that is wrong, as `(field path, reason)`.
pub type Violation = (String, String);

/// How a change is governed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    /// From a pre-approved template.
    Standard,
    /// Assessed and voted on.
    Normal,
    /// Approved by the chair with a CSO; reviewed afterwards.
    Emergency,
}

/// A design authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignAuthority {
    /// The ICS.
    pub ics: String,
    /// The id within the ICS.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Clinical domains.
    pub domains: Vec<String>,
    /// Member trust → the people who may vote for it.
    pub members: BTreeMap<String, BTreeSet<Person>>,
    /// The chair.
    pub chair: Person,
    /// The charter in force.
    pub charter: Charter,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Created.
    pub create_time: DateTime<Utc>,
    /// Last changed.
    pub update_time: DateTime<Utc>,
}

impl DesignAuthority {
    /// The resource name.
    pub fn name(&self) -> String {
        format!("icss/{}/designAuthorities/{}", self.ics, self.id)
    }

    /// The member trusts.
    pub fn member_trusts(&self) -> BTreeSet<String> {
        self.members.keys().cloned().collect()
    }

    /// True when `person` may vote for `trust`.
    pub fn may_vote(&self, trust: &str, person: &Person) -> bool {
        self.members
            .get(trust)
            .is_some_and(|voters| voters.contains(person))
    }
}

/// True for ids of lowercase letters, digits and hyphens, 1–63 long, starting with a letter.
pub fn valid_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Checks a new design authority's fields (`known_trust` says whether an ODS code is a trust of
/// the ICS, `known_issuer` whether a URL is an issuer of the federation).
pub fn validate_design_authority(
    id: &str,
    display_name: &str,
    members: &BTreeMap<String, BTreeSet<Person>>,
    chair: &Person,
    charter: &Charter,
    known_trust: impl Fn(&str) -> bool,
    known_issuer: impl Fn(&str) -> bool,
) -> Result<(), Vec<Violation>> {
    let mut v: Vec<Violation> = Vec::new();
    if !valid_id(id) {
        v.push((
            "design_authority_id".into(),
            "must be 1–63 lowercase letters, digits or hyphens, starting with a letter".into(),
        ));
    }
    if display_name.trim().is_empty() {
        v.push((
            "design_authority.display_name".into(),
            "must not be empty".into(),
        ));
    }
    if members.is_empty() {
        v.push((
            "design_authority.members".into(),
            "needs at least one member trust".into(),
        ));
    }
    for (trust, voters) in members {
        if !known_trust(trust) {
            v.push((
                "design_authority.members".into(),
                format!("{trust} is not a trust of this ICS"),
            ));
        }
        if voters.is_empty() {
            v.push((
                "design_authority.members".into(),
                format!("{trust} has no voting member"),
            ));
        }
    }
    if chair.subject.trim().is_empty() {
        v.push((
            "design_authority.chair.subject".into(),
            "must name the chair's subject".into(),
        ));
    }
    if !known_issuer(&chair.issuer) {
        v.push((
            "design_authority.chair.issuer".into(),
            format!("{} is not an issuer of the federation", chair.issuer),
        ));
    }
    for (trust, voters) in members {
        for voter in voters.iter().filter(|p| !known_issuer(&p.issuer)) {
            v.push((
                "design_authority.members".into(),
                format!(
                    "{trust}: the issuer of {} is not an issuer of the federation",
                    voter.subject
                ),
            ));
        }
    }
    if let Err(mut charter) = charter.validate() {
        for (field, _) in charter.iter_mut() {
            *field = format!("design_authority.{field}");
        }
        v.extend(charter);
    }
    if v.is_empty() { Ok(()) } else { Err(v) }
}

/// The programme board's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardDecision {
    /// Approved.
    pub approved: bool,
    /// Minutes reference.
    pub minutes_reference: String,
    /// Who recorded it.
    pub recorded_by: Person,
    /// When.
    pub decide_time: DateTime<Utc>,
}

/// The design authority's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Approved.
    pub approved: bool,
    /// The rule, for people.
    pub rule: String,
    /// Approvals.
    pub approvals: u32,
    /// Rejections.
    pub rejections: u32,
    /// Abstentions.
    pub abstentions: u32,
    /// Charter version.
    pub charter_version: u32,
    /// When.
    pub decide_time: DateTime<Utc>,
}

/// A change request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequest {
    /// The ICS.
    pub ics: String,
    /// The id.
    pub id: String,
    /// `CR-YYYY-NNNN`.
    pub number: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Rationale.
    pub rationale: String,
    /// Requesting trust.
    pub requesting_trust: String,
    /// Requesting person.
    pub requester: Person,
    /// Clinical domain.
    pub domain: String,
    /// Deciding design authority id.
    pub design_authority: String,
    /// Affected trusts.
    pub affected_trusts: BTreeSet<String>,
    /// Governance type.
    pub change_type: ChangeType,
    /// Class.
    pub change_class: ChangeClass,
    /// Standard template id.
    pub standard_template: String,
    /// Cost, pence.
    pub cost_estimate_pence: i64,
    /// Effort, days.
    pub effort_days: i32,
    /// Target release id.
    pub target_release: String,
    /// Changesets.
    pub configuration_links: Vec<String>,
    /// Items touched, `kind/key`.
    pub configuration_items: Vec<String>,
    /// Benefits.
    pub benefit_links: Vec<String>,
    /// State.
    pub state: State,
    /// Charter version at voting open (0 before).
    pub charter_version: u32,
    /// Assessment deadline.
    pub assessment_deadline: Option<DateTime<Utc>>,
    /// Voting deadline.
    pub voting_deadline: Option<DateTime<Utc>>,
    /// Highest residual hazard risk (0: none).
    pub residual_risk: u8,
    /// The DA's decision.
    pub decision: Option<Decision>,
    /// The board's decision.
    pub board_decision: Option<BoardDecision>,
    /// Trusts that had not assessed at voting open.
    pub missing_assessment_trusts: Vec<String>,
    /// Deployment reports by trust.
    pub deployments: Vec<Deployment>,
    /// Emergency changes: when the retrospective review is due.
    pub retrospective_review_deadline: Option<DateTime<Utc>>,
    /// Emergency changes: when it was done.
    pub retrospective_review_time: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Created.
    pub create_time: DateTime<Utc>,
    /// Last changed.
    pub update_time: DateTime<Utc>,
}

impl ChangeRequest {
    /// The resource name.
    pub fn name(&self) -> String {
        format!("icss/{}/changeRequests/{}", self.ics, self.id)
    }

    /// Checks the editable fields; `known_trust` says whether an ODS code is a trust of the ICS.
    pub fn validate(&self, known_trust: impl Fn(&str) -> bool) -> Result<(), Vec<Violation>> {
        let mut v: Vec<Violation> = Vec::new();
        let mut bad = |f: &str, r: String| v.push((format!("change_request.{f}"), r));
        if self.title.trim().is_empty() {
            bad("title", "must not be empty".into());
        } else if self.title.chars().count() > 200 {
            bad("title", "must be at most 200 characters".into());
        }
        if self.description.trim().is_empty() {
            bad("description", "must not be empty".into());
        }
        if self.domain.trim().is_empty() {
            bad("domain", "must not be empty".into());
        }
        if self.affected_trusts.is_empty() {
            bad("affected_trusts", "must name at least one trust".into());
        }
        for trust in &self.affected_trusts {
            if !known_trust(trust) {
                bad(
                    "affected_trusts",
                    format!("{trust} is not a trust of this ICS"),
                );
            }
        }
        if self.cost_estimate_pence < 0 {
            bad("cost_estimate_pence", "must not be negative".into());
        }
        if self.effort_days < 0 {
            bad("effort_days", "must not be negative".into());
        }
        if self.change_type == ChangeType::Standard && self.standard_template.is_empty() {
            bad(
                "standard_template",
                "a standard change names its template".into(),
            );
        }
        if self.change_type == ChangeType::Standard && self.change_class != ChangeClass::Routine {
            bad(
                "change_class",
                format!(
                    "a standard change is ROUTINE; a {} change goes to its design authority",
                    self.change_class.as_str()
                ),
            );
        }
        for item in &self.configuration_items {
            if !item.contains('/') || item.starts_with('/') || item.ends_with('/') {
                bad("configuration_items", format!("`{item}` is not `kind/key`"));
            }
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }

    /// True when every affected trust reports the change deployed.
    pub fn deployed_everywhere(&self) -> bool {
        self.affected_trusts
            .iter()
            .all(|t| self.deployments.iter().any(|d| &d.trust == t && d.deployed))
    }

    /// Records a trust's deployment report, replacing its earlier one.
    pub fn report_deployment(&mut self, report: Deployment) {
        self.deployments.retain(|d| d.trust != report.trust);
        self.deployments.push(report);
        self.deployments.sort_by(|a, b| a.trust.cmp(&b.trust));
    }

    /// True when editing `self` into `next` changes the substance voters judged.
    pub fn substance_changed(&self, next: &ChangeRequest) -> bool {
        self.description != next.description
            || self.configuration_links != next.configuration_links
            || self.configuration_items != next.configuration_items
            || self.change_class != next.change_class
            || self.affected_trusts != next.affected_trusts
    }
}

/// A trust's deployment report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Trust.
    pub trust: String,
    /// Deployed (false: rolled back).
    pub deployed: bool,
    /// Note.
    pub note: String,
    /// Reporter.
    pub reported_by: Person,
    /// When.
    pub report_time: DateTime<Utc>,
}

/// A pre-approved kind of change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandardTemplate {
    /// ICS.
    pub ics: String,
    /// Id.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// What it covers.
    pub description: String,
    /// Design authority id.
    pub design_authority: String,
    /// The chair who created it.
    pub creator: Person,
    /// When.
    pub create_time: DateTime<Utc>,
}

impl StandardTemplate {
    /// The resource name.
    pub fn name(&self) -> String {
        format!("icss/{}/standardTemplates/{}", self.ics, self.id)
    }
}

/// The number of the `seq`-th change request of `year`.
pub fn number(year: i32, seq: i64) -> String {
    format!("CR-{year}-{seq:04}")
}

/// A trust's recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recommendation {
    /// Support.
    Support,
    /// Object.
    Object,
    /// Abstain.
    Abstain,
}

/// An impact assessment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpactAssessment {
    /// Trust.
    pub trust: String,
    /// Effort, days.
    pub effort_days: i32,
    /// Local configuration impact.
    pub local_configuration_impact: String,
    /// Training impact.
    pub training_impact: String,
    /// Clinical risk notes.
    pub clinical_risk_notes: String,
    /// Readiness date, `YYYY-MM-DD` or empty.
    pub readiness_date: String,
    /// Recommendation.
    pub recommendation: Recommendation,
    /// Assessor.
    pub assessor: Person,
    /// When.
    pub update_time: DateTime<Utc>,
}

impl ImpactAssessment {
    /// Checks the fields.
    pub fn validate(&self) -> Result<(), Vec<Violation>> {
        let mut v: Vec<Violation> = Vec::new();
        if self.effort_days < 0 {
            v.push((
                "impact_assessment.effort_days".into(),
                "must not be negative".into(),
            ));
        }
        if !self.readiness_date.is_empty()
            && chrono::NaiveDate::parse_from_str(&self.readiness_date, "%Y-%m-%d").is_err()
        {
            v.push((
                "impact_assessment.readiness_date".into(),
                "must be a date, YYYY-MM-DD".into(),
            ));
        }
        if v.is_empty() { Ok(()) } else { Err(v) }
    }
}

/// A chair's disposition of an objection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Persuasive.
    Persuasive,
    /// Not persuasive.
    NotPersuasive,
    /// For the future.
    ConsideredForFuture,
}

/// A vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// Trust.
    pub trust: String,
    /// Voter.
    pub voter: Person,
    /// Choice.
    pub choice: Choice,
    /// Reason (rejections).
    pub reason: String,
    /// Comment.
    pub comment: String,
    /// Cast before the substance last changed.
    pub stale: bool,
    /// Disposition of a rejection.
    pub disposition: Option<Disposition>,
    /// Note on the disposition.
    pub disposition_note: String,
    /// When.
    pub cast_time: DateTime<Utc>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::charter::tests::medicines;

    #[test]
    fn an_emergency_needs_every_hazard_signed_off() {
        let mut cr = cr();
        let charter = medicines();
        assert_eq!(emergency_blockers(&cr, &charter, &[]).len(), 1);
        cr.residual_risk = charter.max_residual_risk + 1;
        assert_eq!(emergency_blockers(&cr, &charter, &[]).len(), 2);
    }

    #[test]
    fn a_standard_change_is_routine_clear_of_safety_and_below_the_board() {
        let charter = medicines();
        let mut cr = cr();
        cr.change_type = ChangeType::Standard;
        cr.change_class = ChangeClass::Routine;
        assert_eq!(standard_blockers(&cr, &charter, &[]), Vec::<String>::new());
        cr.change_class = ChangeClass::SafetyCritical;
        let blockers = standard_blockers(&cr, &charter, &[]);
        assert!(
            blockers[0].contains("SAFETY_CRITICAL, not ROUTINE"),
            "{blockers:?}"
        );
        assert!(
            blockers.iter().any(|b| b.contains("hazard log")),
            "{blockers:?}"
        );
        cr.change_class = ChangeClass::Routine;
        cr.residual_risk = charter.board_risk_threshold;
        let blockers = standard_blockers(&cr, &charter, &[]);
        assert!(blockers[0].contains("programme board"), "{blockers:?}");
        cr.residual_risk = 0;
        cr.cost_estimate_pence = charter.board_cost_threshold_pence;
        assert_eq!(standard_blockers(&cr, &charter, &[]).len(), 1);
        cr.cost_estimate_pence = charter.board_cost_threshold_pence - 1;
        assert!(standard_blockers(&cr, &charter, &[]).is_empty());
    }

    /// `subject` at the test issuer.
    pub(crate) fn who(subject: &str) -> Person {
        Person::new("https://idp.test", subject)
    }

    pub(crate) fn sample() -> ChangeRequest {
        cr()
    }

    fn cr() -> ChangeRequest {
        let now = Utc::now();
        ChangeRequest {
            ics: "QUE".into(),
            id: "c1".into(),
            number: number(2026, 42),
            title: "Electronic allergy-related prescribing alerts".into(),
            description: "Interruptive allergy alerts".into(),
            rationale: String::new(),
            requesting_trust: "RGT".into(),
            requester: who("pharmacist"),
            domain: "medicines".into(),
            design_authority: "medicines".into(),
            affected_trusts: ["RGT", "RGM"].map(String::from).into(),
            change_type: ChangeType::Normal,
            change_class: ChangeClass::SafetyCritical,
            standard_template: String::new(),
            cost_estimate_pence: 0,
            effort_days: 0,
            target_release: String::new(),
            configuration_links: vec![],
            configuration_items: vec!["alert-rule/allergy".into()],
            benefit_links: vec![],
            state: State::Draft,
            charter_version: 0,
            assessment_deadline: None,
            voting_deadline: None,
            residual_risk: 0,
            decision: None,
            board_decision: None,
            missing_assessment_trusts: vec![],
            deployments: vec![],
            retrospective_review_deadline: None,
            retrospective_review_time: None,
            version: 1,
            create_time: now,
            update_time: now,
        }
    }

    #[test]
    fn numbers_have_four_digits() {
        assert_eq!(number(2026, 42), "CR-2026-0042");
        assert_eq!(number(2027, 12345), "CR-2027-12345");
    }

    #[test]
    fn validation_names_every_bad_field() {
        let mut c = cr();
        c.title = " ".into();
        c.affected_trusts.insert("ZZZ".into());
        c.configuration_items.push("nokey".into());
        let fields: Vec<_> = c
            .validate(|t| t != "ZZZ")
            .unwrap_err()
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            [
                "change_request.title",
                "change_request.affected_trusts",
                "change_request.configuration_items"
            ]
        );
    }

    #[test]
    fn only_substance_makes_votes_stale() {
        let a = cr();
        let mut b = a.clone();
        b.title = "A better title".into();
        b.rationale = "clearer".into();
        assert!(!a.substance_changed(&b));
        b.description = "Interruptive allergy alerts, also on discharge".into();
        assert!(a.substance_changed(&b));
        let mut c = a.clone();
        c.configuration_links.push("icss/QUE/changesets/9".into());
        assert!(a.substance_changed(&c));
    }

    #[test]
    fn hazards_get_both_risks_from_the_matrix() {
        let h = Hazard {
            id: "h1".into(),
            description: "alert fatigue".into(),
            cause: String::new(),
            effect: String::new(),
            existing_controls: String::new(),
            initial_likelihood: 4,
            initial_severity: 4,
            initial_risk: 0,
            further_controls: String::new(),
            residual_likelihood: 2,
            residual_severity: 4,
            residual_risk: 0,
            signed_off_by: None,
            signed_off_trust: String::new(),
            sign_off_time: None,
        };
        let rated = h.clone().assess().unwrap();
        assert_eq!((rated.initial_risk, rated.residual_risk), (4, 3));
        let mut raised = h.clone();
        raised.residual_likelihood = 5;
        raised.residual_severity = 5;
        let err = raised.assess().unwrap_err();
        assert_eq!(err[0].0, "hazard.residual_severity");
        assert!(err[0].1.contains("above the initial risk"), "{err:?}");
        let mut off = h;
        off.residual_severity = 7;
        assert_eq!(off.assess().unwrap_err()[0].0, "hazard.residual_severity");
    }

    #[test]
    fn safety_blocks_approval_until_signed_off_and_within_the_limit() {
        let charter = medicines();
        let mut c = cr();
        assert_eq!(safety_blockers(&c, &charter, &[]).len(), 1, "no hazard log");
        c.residual_risk = 4;
        let blockers = safety_blockers(&c, &charter, &[]);
        assert!(
            blockers[0].contains("above the charter's limit of 3"),
            "{blockers:?}"
        );
        c.change_class = ChangeClass::Routine;
        c.residual_risk = 2;
        assert!(
            safety_blockers(&c, &charter, &[]).is_empty(),
            "routine changes need no sign-off"
        );
    }
}

#[cfg(test)]
mod deployment_tests {
    use super::tests::{sample, who};
    use super::*;

    #[test]
    fn implemented_only_when_every_affected_trust_deployed() {
        let mut c = sample();
        let report = |trust: &str, deployed| Deployment {
            trust: trust.into(),
            deployed,
            note: String::new(),
            reported_by: who("eng"),
            report_time: Utc::now(),
        };
        assert!(!c.deployed_everywhere());
        c.report_deployment(report("RGT", true));
        assert!(!c.deployed_everywhere());
        c.report_deployment(report("RGM", false));
        assert!(!c.deployed_everywhere(), "a rollback is not a deployment");
        c.report_deployment(report("RGM", true));
        assert!(c.deployed_everywhere());
        assert_eq!(
            c.deployments.len(),
            2,
            "a later report replaces the earlier one"
        );
    }
}
