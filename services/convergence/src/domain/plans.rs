//! Convergence plans as the service keeps them: milestones of trusts and domains with dates and
//! estimates, dependencies between them, and the rules around them — what a plan must satisfy,
//! what a trust's people may change, when a milestone is achieved (on evidence), and the pace a
//! trust's own history shows. Scheduling and forecasting are [`super::plan`]'s.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};

use super::plan::{self, Dependency, DependencyKind, Estimate, PlanError};

/// A field and what is wrong with it.
pub type Violation = (String, String);

/// The most milestones, and the most dependencies, of a plan.
pub const MAX_MILESTONES: usize = 1_000;

/// Where a plan's forecast durations come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DurationSource {
    /// The milestones' three-point estimates.
    #[default]
    Estimates,
    /// Each trust's pace in its assessments, where it has one.
    History,
}

/// A milestone of a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanMilestone {
    /// Unique within the plan.
    pub id: String,
    /// The trust.
    pub trust: String,
    /// The clinical domain.
    pub domain: String,
    /// The convergence to reach.
    pub target_convergence: f64,
    /// Keys it aligns.
    pub keys_in_scope: i64,
    /// When it is due.
    pub due_time: Option<DateTime<Utc>>,
    /// Who answers for it.
    pub owner: String,
    /// Its duration estimate, in days.
    pub estimate: Estimate,
    /// The assessment that achieved it, and when that assessment was made.
    pub achieved: Option<(String, DateTime<Utc>)>,
}

/// A convergence plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The ICS.
    pub ics: String,
    /// Its id.
    pub id: String,
    /// Its label.
    pub display_name: String,
    /// Day 0.
    pub start_time: DateTime<Utc>,
    /// The board's target date.
    pub target_time: Option<DateTime<Utc>>,
    /// The milestones, in order.
    pub milestones: Vec<PlanMilestone>,
    /// The dependencies.
    pub dependencies: Vec<Dependency>,
    /// The forecast's seed.
    pub seed: u64,
    /// Where forecast durations come from.
    pub duration_source: DurationSource,
    /// The version.
    pub version: i64,
    /// When it was created.
    pub create_time: DateTime<Utc>,
    /// When it last changed.
    pub update_time: DateTime<Utc>,
}

/// Whether `id` is 1–63 lowercase letters, digits or hyphens.
pub fn is_id(id: &str) -> bool {
    (1..=63).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// The network the scheduler takes: each milestone's id and estimate, and the dependencies.
pub fn network(plan: &Plan) -> Vec<plan::Milestone> {
    plan.milestones
        .iter()
        .map(|m| plan::Milestone {
            id: m.id.clone(),
            estimate: m.estimate,
        })
        .collect()
}

/// Every way `plan` is not a plan of an ICS whose trusts are `trusts`: field by field, and a
/// cycle named in order.
pub fn check(plan: &Plan, trusts: &BTreeSet<String>) -> Vec<Violation> {
    let mut out = Vec::new();
    if plan.milestones.len() > MAX_MILESTONES {
        out.push((
            "plan.milestones".into(),
            format!("at most {MAX_MILESTONES} milestones"),
        ));
    }
    if plan.dependencies.len() > MAX_MILESTONES {
        out.push((
            "plan.dependencies".into(),
            format!("at most {MAX_MILESTONES} dependencies"),
        ));
    }
    if let Some(target) = plan.target_time
        && target < plan.start_time
    {
        out.push((
            "plan.target_time".into(),
            "must not be before the start".into(),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, m) in plan.milestones.iter().enumerate() {
        let field = |f: &str| format!("plan.milestones[{i}].{f}");
        if !is_id(&m.id) {
            out.push((
                field("id"),
                "must be 1–63 lowercase letters, digits or hyphens".into(),
            ));
        } else if !seen.insert(m.id.as_str()) {
            out.push((field("id"), format!("{} appears twice", m.id)));
        }
        if !trusts.contains(&m.trust) {
            out.push((
                field("trust"),
                format!("{} is not a trust of the ICS", m.trust),
            ));
        }
        if m.domain.trim().is_empty() {
            out.push((field("domain"), "is required".into()));
        }
        if !(m.target_convergence > 0.0 && m.target_convergence <= 1.0) {
            out.push((
                field("target_convergence"),
                "must be above 0 and at most 1".into(),
            ));
        }
        if m.keys_in_scope < 0 {
            out.push((field("keys_in_scope"), "must not be negative".into()));
        }
        if let Err(reason) = m.estimate.check() {
            out.push((field("optimistic_days"), reason.into()));
        }
    }
    for (i, d) in plan.dependencies.iter().enumerate() {
        let field = |f: &str| format!("plan.dependencies[{i}].{f}");
        for (f, id) in [("predecessor", &d.predecessor), ("successor", &d.successor)] {
            if !seen.contains(id.as_str()) {
                out.push((field(f), format!("{id} is not a milestone of the plan")));
            }
        }
        if d.predecessor == d.successor {
            out.push((
                field("successor"),
                "a milestone cannot depend on itself".into(),
            ));
        }
        if !d.lag.is_finite() {
            out.push((field("lag_days"), "must be a finite number".into()));
        }
    }
    if out.is_empty()
        && let Err(PlanError::Cycle(ids)) =
            plan::schedule(&network(plan), &plan.dependencies, |m| {
                m.estimate.most_likely
            })
    {
        let mut named: Vec<&str> = ids.iter().map(String::as_str).collect();
        if let Some(first) = ids.first() {
            named.push(first);
        }
        out.push((
            "plan.dependencies".into(),
            format!("form a cycle: {}", named.join(" → ")),
        ));
    }
    out
}

/// What a trust's people may change of `before` to make `after`: only the milestones of their
/// own `trust` (added, changed or removed), and nothing else of the plan. Every other change, one
/// violation each.
pub fn trust_edit(before: &Plan, after: &Plan, trust: &str) -> Vec<Violation> {
    let mut out = Vec::new();
    if before.display_name != after.display_name
        || before.start_time != after.start_time
        || before.target_time != after.target_time
        || before.seed != after.seed
        || before.duration_source != after.duration_source
    {
        out.push((
            "plan".into(),
            "only an ICS admin changes the plan's name, dates, seed or duration source".into(),
        ));
    }
    let others = |p: &Plan| -> BTreeMap<String, PlanMilestone> {
        p.milestones
            .iter()
            .filter(|m| m.trust != trust)
            .map(|m| {
                (
                    m.id.clone(),
                    PlanMilestone {
                        achieved: None,
                        ..m.clone()
                    },
                )
            })
            .collect()
    };
    let (was, is) = (others(before), others(after));
    for id in was.keys().chain(is.keys()).collect::<BTreeSet<_>>() {
        if was.get(id) != is.get(id) {
            out.push((
                "plan.milestones".into(),
                format!("{id} is another trust's milestone: only its own trust or an ICS admin changes it"),
            ));
        }
    }
    let own: BTreeSet<&str> = before
        .milestones
        .iter()
        .chain(&after.milestones)
        .filter(|m| m.trust == trust)
        .map(|m| m.id.as_str())
        .collect();
    let foreign = |d: &Dependency| {
        !own.contains(d.predecessor.as_str()) && !own.contains(d.successor.as_str())
    };
    let deps = |p: &Plan| -> Vec<String> {
        let mut v: Vec<String> = p
            .dependencies
            .iter()
            .filter(|d| foreign(d))
            .map(|d| format!("{d:?}"))
            .collect();
        v.sort();
        v
    };
    if deps(before) != deps(after) {
        out.push((
            "plan.dependencies".into(),
            "dependencies between other trusts' milestones are changed only by an ICS admin".into(),
        ));
    }
    out
}

/// The milestones of `plan` that an assessment of `trust` made at `at` achieves: not yet
/// achieved, of the trust, and of a domain whose convergence in the assessment reaches the target.
pub fn achieved_by<'a>(
    plan: &'a Plan,
    trust: &str,
    convergence: &BTreeMap<String, f64>,
) -> Vec<&'a str> {
    plan.milestones
        .iter()
        .filter(|m| m.achieved.is_none() && m.trust == trust)
        .filter(|m| {
            convergence
                .get(&m.domain)
                .is_some_and(|c| *c >= m.target_convergence)
        })
        .map(|m| m.id.as_str())
        .collect()
}

/// A trust's weekly pace from its assessments of a domain, oldest first as (time, aligned
/// keys): the keys aligned in each week since the first, from the last assessment of each week
/// against the last of the week before (weeks without an assessment carry the count on).
pub fn weekly_closures(points: &[(DateTime<Utc>, u64)]) -> Vec<f64> {
    let Some((first, _)) = points.first() else {
        return Vec::new();
    };
    let mut last_of_week: BTreeMap<i64, u64> = BTreeMap::new();
    for (t, aligned) in points {
        last_of_week.insert((*t - *first).num_weeks(), *aligned);
    }
    let mut out = Vec::new();
    let mut previous: Option<u64> = None;
    let weeks = last_of_week.keys().last().copied().unwrap_or(0);
    for week in 0..=weeks {
        let now = last_of_week.get(&week).copied().or(previous);
        if let (Some(before), Some(now)) = (previous, now) {
            out.push(now as f64 - before as f64);
        }
        previous = now;
    }
    out
}

/// `days` after `start`, to the millisecond.
pub fn date_after(start: DateTime<Utc>, days: f64) -> DateTime<Utc> {
    let millis = (days * 86_400_000.0).round();
    let millis = if millis.is_finite() {
        millis.clamp(-1e15, 1e15) as i64
    } else {
        0
    };
    start + Duration::milliseconds(millis)
}

/// The critical path named by trust and domain: `RGN medicines → RGM medicines`.
pub fn critical_summary(plan: &Plan, critical: &[String]) -> String {
    let by_id: BTreeMap<&str, &PlanMilestone> =
        plan.milestones.iter().map(|m| (m.id.as_str(), m)).collect();
    critical
        .iter()
        .filter_map(|id| by_id.get(id.as_str()))
        .map(|m| format!("{} {}", m.trust, m.domain))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// A dependency kind's name, as stored.
pub fn kind_name(kind: DependencyKind) -> &'static str {
    match kind {
        DependencyKind::FinishToStart => "FS",
        DependencyKind::StartToStart => "SS",
        DependencyKind::FinishToFinish => "FF",
        DependencyKind::StartToFinish => "SF",
    }
}

/// The dependency kind named `name` ([`kind_name`]).
pub fn kind_of(name: &str) -> Option<DependencyKind> {
    [
        DependencyKind::FinishToStart,
        DependencyKind::StartToStart,
        DependencyKind::FinishToFinish,
        DependencyKind::StartToFinish,
    ]
    .into_iter()
    .find(|k| kind_name(*k) == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default()
    }

    fn milestone(id: &str, trust: &str, domain: &str) -> PlanMilestone {
        PlanMilestone {
            id: id.into(),
            trust: trust.into(),
            domain: domain.into(),
            target_convergence: 0.9,
            keys_in_scope: 10,
            due_time: None,
            owner: String::new(),
            estimate: Estimate::new(5.0, 10.0, 20.0),
            achieved: None,
        }
    }

    fn dep(a: &str, b: &str) -> Dependency {
        Dependency {
            predecessor: a.into(),
            successor: b.into(),
            kind: DependencyKind::FinishToStart,
            lag: 0.0,
        }
    }

    fn plan(milestones: Vec<PlanMilestone>, dependencies: Vec<Dependency>) -> Plan {
        Plan {
            ics: "QUE".into(),
            id: "p".into(),
            display_name: "Plan".into(),
            start_time: t0(),
            target_time: None,
            milestones,
            dependencies,
            seed: 7,
            duration_source: DurationSource::Estimates,
            version: 1,
            create_time: t0(),
            update_time: t0(),
        }
    }

    fn trusts() -> BTreeSet<String> {
        ["RGT", "RGM", "RGN"].map(String::from).into()
    }

    #[test]
    fn a_cycle_is_refused_naming_it() {
        let p = plan(
            vec![
                milestone("a", "RGT", "medicines"),
                milestone("b", "RGM", "medicines"),
                milestone("c", "RGN", "medicines"),
            ],
            vec![dep("a", "b"), dep("b", "c"), dep("c", "a")],
        );
        assert_eq!(
            check(&p, &trusts()),
            vec![(
                "plan.dependencies".to_owned(),
                "form a cycle: a → b → c → a".to_owned()
            )]
        );
    }

    #[test]
    fn fields_are_checked_one_by_one() {
        let mut bad = milestone("Bad Id", "XXX", "");
        bad.target_convergence = 0.0;
        bad.estimate = Estimate::new(5.0, 1.0, 2.0);
        let p = plan(
            vec![milestone("a", "RGT", "medicines"), bad],
            vec![dep("a", "zz")],
        );
        let fields: Vec<String> = check(&p, &trusts()).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "plan.milestones[1].id",
                "plan.milestones[1].trust",
                "plan.milestones[1].domain",
                "plan.milestones[1].target_convergence",
                "plan.milestones[1].optimistic_days",
                "plan.dependencies[0].successor",
            ]
        );
    }

    #[test]
    fn a_trust_changes_only_its_own_milestones() {
        let before = plan(
            vec![
                milestone("a", "RGT", "medicines"),
                milestone("b", "RGN", "medicines"),
            ],
            vec![dep("a", "b")],
        );
        let mut own = before.clone();
        own.milestones[1].estimate = Estimate::new(1.0, 2.0, 3.0);
        own.milestones.push(milestone("c", "RGN", "theatres"));
        assert_eq!(trust_edit(&before, &own, "RGN"), vec![]);
        let mut other = before.clone();
        other.milestones[0].target_convergence = 0.5;
        assert_eq!(trust_edit(&before, &other, "RGN").len(), 1);
        let mut dates = before.clone();
        dates.target_time = Some(t0());
        assert_eq!(trust_edit(&before, &dates, "RGN")[0].0, "plan");
    }

    #[test]
    fn a_milestone_is_achieved_when_its_domain_reaches_the_target() {
        let mut p = plan(
            vec![
                milestone("a", "RGN", "medicines"),
                milestone("b", "RGN", "theatres"),
            ],
            vec![],
        );
        let scores = BTreeMap::from([("medicines".to_owned(), 0.95), ("theatres".to_owned(), 0.5)]);
        assert_eq!(achieved_by(&p, "RGN", &scores), ["a"]);
        assert!(achieved_by(&p, "RGM", &scores).is_empty());
        p.milestones[0].achieved = Some(("x".into(), t0()));
        assert!(achieved_by(&p, "RGN", &scores).is_empty(), "once only");
    }

    #[test]
    fn weekly_pace_is_the_keys_aligned_each_week() {
        let at = |days: i64, n: u64| (t0() + Duration::days(days), n);
        assert_eq!(
            weekly_closures(&[at(0, 10), at(3, 12), at(8, 20), at(22, 26)]),
            [8.0, 0.0, 6.0]
        );
        assert!(weekly_closures(&[]).is_empty());
    }

    #[test]
    fn the_critical_path_is_named_by_trust_and_domain() {
        let p = plan(
            vec![
                milestone("a", "RGN", "medicines"),
                milestone("b", "RGM", "theatres"),
            ],
            vec![],
        );
        assert_eq!(
            critical_summary(&p, &["a".into(), "b".into()]),
            "RGN medicines → RGM theatres"
        );
        assert_eq!(date_after(t0(), 1.5), t0() + Duration::hours(36));
    }
}
