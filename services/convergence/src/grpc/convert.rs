//! Proto ↔ domain for convergence: scores made by the one scoring function, resources built
//! whole, and the enum maps.

use chrono::{DateTime, Utc};
use concordat_proto::convergence::v1 as pb;
use prost::Message;
use serde_json::Value;
use tonic::Request;

pub(super) use concordat_api::time::timestamp as ts;

use crate::domain::assessment::{self, Class, GovernanceClass, Tally};
use crate::domain::plan;
use crate::domain::plans::{self, DurationSource, Plan, PlanMilestone};
use crate::domain::records::{Assessment, Divergence, Settings};
use crate::service::{ConvergenceError, Forecasted, Notice, Scheduled, assessment_name};
use crate::upstream::Caller;

pub(super) fn caller<T>(req: &Request<T>) -> Caller {
    let header = |name: &str| {
        req.metadata()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    Caller {
        authorization: header("authorization"),
        request_id: header("x-request-id"),
    }
}

pub(super) fn time_of(t: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

/// A time a plan keeps, to the microsecond as both databases keep time, so a plan read back
/// compares equal to the one written.
fn kept_time(t: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    use chrono::SubsecRound;
    time_of(t).map(|t| t.trunc_subsecs(6))
}

pub(super) fn class_pb(c: Class) -> pb::KeyClass {
    match c {
        Class::Aligned => pb::KeyClass::Aligned,
        Class::VariedApproved => pb::KeyClass::VariedApproved,
        Class::VariedExpired => pb::KeyClass::VariedExpired,
        Class::Divergent => pb::KeyClass::Divergent,
        Class::Missing => pb::KeyClass::Missing,
        Class::LocalOnly => pb::KeyClass::LocalOnly,
        Class::Nonconforming => pb::KeyClass::Nonconforming,
    }
}

/// The class a request names (`None`: unspecified).
pub(super) fn class_of(c: i32) -> Option<Class> {
    Class::ALL
        .into_iter()
        .find(|class| class_pb(*class) as i32 == c)
}

fn governance_pb(g: GovernanceClass) -> pb::GovernanceClass {
    match g {
        GovernanceClass::Locked => pb::GovernanceClass::Locked,
        GovernanceClass::Bounded => pb::GovernanceClass::Bounded,
        GovernanceClass::Overridable => pb::GovernanceClass::Overridable,
    }
}

fn scores_pb(t: &Tally, s: &Settings) -> (pb::Scores, Vec<pb::ClassCount>, i64) {
    let counts = t.counts(&s.weights);
    let scores = assessment::score(&counts, &s.grid);
    let by_class = Class::ALL
        .into_iter()
        .filter_map(|c| {
            let n = counts.of(c);
            (n > 0).then(|| pb::ClassCount {
                class: class_pb(c) as i32,
                count: i64::try_from(n).unwrap_or(i64::MAX),
            })
        })
        .collect();
    (
        pb::Scores {
            convergence: scores.convergence,
            conformance: scores.conformance,
            weighted_divergence: scores.weighted_divergence,
            band: scores.band,
        },
        by_class,
        i64::try_from(counts.governed).unwrap_or(i64::MAX),
    )
}

/// The cell of `a`'s `domain` (`None`: the whole trust, with an empty domain).
pub(super) fn cell_pb(a: &Assessment, domain: Option<&str>, s: &Settings) -> pb::Cell {
    let tally = match domain {
        Some(d) => a.cells.get(d).cloned().unwrap_or_default(),
        None => a.total(),
    };
    let (scores, counts, governed_count) = scores_pb(&tally, s);
    pb::Cell {
        trust: a.trust.clone(),
        domain: domain.unwrap_or_default().to_owned(),
        scores: Some(scores),
        counts,
        governed_count,
        assessment: assessment_name(a),
        assess_time: Some(ts(a.assess_time)),
    }
}

/// `a` scored under `s`; with only `domain`'s cell when one is given.
pub(super) fn assessment_pb(a: &Assessment, s: &Settings, domain: Option<&str>) -> pb::Assessment {
    let (scores, counts, governed_count) = scores_pb(&a.total(), s);
    let domains = a
        .cells
        .keys()
        .filter(|d| domain.is_none_or(|only| only == d.as_str()))
        .map(|d| cell_pb(a, Some(d), s))
        .collect();
    pb::Assessment {
        name: assessment_name(a),
        trust: a.trust.clone(),
        snapshot: a.snapshot.clone(),
        baseline_revision: a.baseline_revision,
        overlay_revision: a.overlay_revision,
        assess_time: Some(ts(a.assess_time)),
        record_time: a.record_time.map(ts),
        scores: Some(scores),
        counts,
        governed_count,
        domains,
        trigger: a.trigger.clone(),
    }
}

/// A recorded assessment as its `assessment.recorded` event carries it.
pub fn encode_assessment(a: &Assessment, s: &Settings) -> Vec<u8> {
    assessment_pb(a, s, None).encode_to_vec()
}

fn json_pb(v: &Option<Value>) -> Option<concordat_proto::value::Value> {
    v.as_ref().map(concordat_shared_config::grpc::value_of)
}

pub(super) fn divergence_pb(assessment: &str, d: &Divergence) -> pb::Divergence {
    pb::Divergence {
        assessment: assessment.to_owned(),
        kind: d.kind.clone(),
        key: d.key.clone(),
        domain: d.domain.clone(),
        class: class_pb(d.class) as i32,
        governance: governance_pb(d.governance) as i32,
        baseline_value: json_pb(&d.baseline_value),
        approved_value: json_pb(&d.approved_value),
        snapshot_value: json_pb(&d.snapshot_value),
        change_request: d.change_request.clone(),
        expire_time: d.expire_time.map(ts),
        variation_removes: d.variation_removes,
    }
}

pub(super) fn settings_pb(s: &Settings) -> pb::ConvergenceSettings {
    pb::ConvergenceSettings {
        name: concordat_api::names::ConvergenceSettingsName::new(&s.ics).to_string(),
        weights: Some(pb::Weights {
            locked: s.weights.locked,
            bounded: s.weights.bounded,
            overridable: s.weights.overridable,
        }),
        bands: s
            .grid
            .bands()
            .iter()
            .map(|b| pb::Band {
                from: b.from,
                label: b.label.clone(),
            })
            .collect(),
        etag: concordat_api::etag::etag(s.version),
        update_time: s.update_time.map(ts),
        expiry_notice_days: s.notice_days,
    }
}

/// A notice as its event carries it.
pub fn encode_notice(n: &Notice) -> Vec<u8> {
    match n {
        Notice::Expiring {
            trust,
            kind,
            key,
            change_request,
            expire_time,
        } => pb::ExpiringVariation {
            trust: trust.clone(),
            kind: kind.clone(),
            key: key.clone(),
            change_request: change_request.clone(),
            expire_time: Some(ts(*expire_time)),
        }
        .encode_to_vec(),
        Notice::AtRisk {
            plan,
            milestone,
            trust,
            domain,
            due_time,
            early_finish,
        } => pb::MilestoneAtRisk {
            plan: plan.clone(),
            milestone: milestone.clone(),
            trust: trust.clone(),
            domain: domain.clone(),
            due_time: Some(ts(*due_time)),
            early_finish: Some(ts(*early_finish)),
        }
        .encode_to_vec(),
    }
}

/// An ICS's settings as its `settings.updated` event carries them.
pub fn encode_settings(s: &Settings) -> Vec<u8> {
    settings_pb(s).encode_to_vec()
}

fn kind_pb(k: plan::DependencyKind) -> pb::DependencyKind {
    match k {
        plan::DependencyKind::FinishToStart => pb::DependencyKind::FinishToStart,
        plan::DependencyKind::StartToStart => pb::DependencyKind::StartToStart,
        plan::DependencyKind::FinishToFinish => pb::DependencyKind::FinishToFinish,
        plan::DependencyKind::StartToFinish => pb::DependencyKind::StartToFinish,
    }
}

pub(super) fn plan_pb(p: &Plan) -> pb::ConvergencePlan {
    pb::ConvergencePlan {
        name: concordat_api::names::ConvergencePlanName::new(&p.ics, &p.id).to_string(),
        display_name: p.display_name.clone(),
        start_time: Some(ts(p.start_time)),
        target_time: p.target_time.map(ts),
        milestones: p
            .milestones
            .iter()
            .map(|m| pb::Milestone {
                id: m.id.clone(),
                trust: m.trust.clone(),
                domain: m.domain.clone(),
                target_convergence: m.target_convergence,
                keys_in_scope: m.keys_in_scope,
                due_time: m.due_time.map(ts),
                owner: m.owner.clone(),
                optimistic_days: m.estimate.optimistic,
                most_likely_days: m.estimate.most_likely,
                pessimistic_days: m.estimate.pessimistic,
                achieved_by: m
                    .achieved
                    .as_ref()
                    .map_or(String::new(), |(a, _)| a.clone()),
                achieve_time: m.achieved.as_ref().map(|(_, t)| ts(*t)),
            })
            .collect(),
        dependencies: p
            .dependencies
            .iter()
            .map(|d| pb::Dependency {
                predecessor: d.predecessor.clone(),
                successor: d.successor.clone(),
                kind: kind_pb(d.kind) as i32,
                lag_days: d.lag,
            })
            .collect(),
        seed: i64::try_from(p.seed).unwrap_or(i64::MAX),
        duration_source: match p.duration_source {
            DurationSource::Estimates => pb::DurationSource::Estimates,
            DurationSource::History => pb::DurationSource::History,
        } as i32,
        etag: concordat_api::etag::etag(p.version),
        create_time: Some(ts(p.create_time)),
        update_time: Some(ts(p.update_time)),
    }
}

/// A plan as its events carry it.
pub fn encode_plan(p: &Plan) -> Vec<u8> {
    plan_pb(p).encode_to_vec()
}

/// A plan as a request sends it: every field read, the server's own left to the use case;
/// what cannot be read at all is refused here, field by field.
pub(super) fn plan_of(p: pb::ConvergencePlan) -> Result<(String, Plan), ConvergenceError> {
    let pb::ConvergencePlan {
        name,
        display_name,
        start_time,
        target_time,
        milestones,
        dependencies,
        seed,
        duration_source,
        etag: _,
        create_time: _,
        update_time: _,
    } = p;
    let mut violations = Vec::new();
    let start_time = kept_time(start_time).unwrap_or_else(|| {
        violations.push(("plan.start_time".to_owned(), "is required".to_owned()));
        DateTime::<Utc>::default()
    });
    let milestones = milestones
        .into_iter()
        .map(|m| {
            let pb::Milestone {
                id,
                trust,
                domain,
                target_convergence,
                keys_in_scope,
                due_time,
                owner,
                optimistic_days,
                most_likely_days,
                pessimistic_days,
                achieved_by: _,
                achieve_time: _,
            } = m;
            PlanMilestone {
                id,
                trust,
                domain,
                target_convergence,
                keys_in_scope,
                due_time: kept_time(due_time),
                owner,
                estimate: plan::Estimate::new(optimistic_days, most_likely_days, pessimistic_days),
                achieved: None,
            }
        })
        .collect();
    let dependencies = dependencies
        .into_iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let pb::Dependency {
                predecessor,
                successor,
                kind,
                lag_days,
            } = d;
            let kind = match pb::DependencyKind::try_from(kind) {
                Ok(pb::DependencyKind::FinishToStart) => plan::DependencyKind::FinishToStart,
                Ok(pb::DependencyKind::StartToStart) => plan::DependencyKind::StartToStart,
                Ok(pb::DependencyKind::FinishToFinish) => plan::DependencyKind::FinishToFinish,
                Ok(pb::DependencyKind::StartToFinish) => plan::DependencyKind::StartToFinish,
                _ => {
                    violations.push((
                        format!("plan.dependencies[{i}].kind"),
                        "is required".to_owned(),
                    ));
                    return None;
                }
            };
            Some(plan::Dependency {
                predecessor,
                successor,
                kind,
                lag: lag_days,
            })
        })
        .collect();
    if seed < 0 {
        violations.push(("plan.seed".to_owned(), "must not be negative".to_owned()));
    }
    if !violations.is_empty() {
        return Err(ConvergenceError::Invalid(violations));
    }
    let plan = Plan {
        ics: String::new(),
        id: String::new(),
        display_name,
        start_time,
        target_time: kept_time(target_time),
        milestones,
        dependencies,
        seed: u64::try_from(seed).unwrap_or(0),
        duration_source: if duration_source == pb::DurationSource::History as i32 {
            DurationSource::History
        } else {
            DurationSource::Estimates
        },
        version: 0,
        create_time: DateTime::<Utc>::default(),
        update_time: DateTime::<Utc>::default(),
    };
    Ok((name, plan))
}

pub(super) fn schedule_pb(s: &Scheduled) -> pb::PlanSchedule {
    let p = &s.plan;
    let critical = s.schedule.critical_path();
    pb::PlanSchedule {
        plan: concordat_api::names::ConvergencePlanName::new(&p.ics, &p.id).to_string(),
        milestones: p
            .milestones
            .iter()
            .zip(&s.schedule.entries)
            .map(|(m, e)| {
                let early_finish = plans::date_after(p.start_time, e.early_finish);
                pb::ScheduledMilestone {
                    id: m.id.clone(),
                    trust: m.trust.clone(),
                    domain: m.domain.clone(),
                    early_start: Some(ts(plans::date_after(p.start_time, e.early_start))),
                    early_finish: Some(ts(early_finish)),
                    late_start: Some(ts(plans::date_after(p.start_time, e.late_start))),
                    late_finish: Some(ts(plans::date_after(p.start_time, e.late_finish))),
                    total_slack_days: e.total_slack,
                    free_slack_days: e.free_slack,
                    critical: e.critical,
                    at_risk: m.achieved.is_none()
                        && m.due_time.is_some_and(|due| early_finish > due),
                    achieved: m.achieved.is_some(),
                }
            })
            .collect(),
        critical_path_summary: plans::critical_summary(p, &critical),
        critical_path: critical,
        finish_time: Some(ts(plans::date_after(p.start_time, s.schedule.finish))),
    }
}

pub(super) fn forecast_pb(f: &Forecasted) -> pb::PlanForecast {
    let p = &f.plan;
    let at = |days: f64| Some(ts(plans::date_after(p.start_time, days)));
    pb::PlanForecast {
        plan: concordat_api::names::ConvergencePlanName::new(&p.ics, &p.id).to_string(),
        seed: i64::try_from(f.forecast.seed).unwrap_or(i64::MAX),
        iterations: i32::try_from(f.forecast.iterations).unwrap_or(i32::MAX),
        p50_time: at(f.forecast.p50),
        p85_time: at(f.forecast.p85),
        p95_time: at(f.forecast.p95),
        criticality: f
            .forecast
            .criticality
            .iter()
            .map(|(id, index)| pb::Criticality {
                id: id.clone(),
                index: *index,
            })
            .collect(),
        on_time_probability: f.forecast.on_time_probability.unwrap_or(0.0),
        duration_sources: f.sources.iter().map(|s| (*s).to_owned()).collect(),
    }
}
