//! Proto ↔ domain for convergence: scores made by the one scoring function, resources built
//! whole, and the enum maps.

use chrono::{DateTime, Utc};
use concordat_proto::convergence::v1 as pb;
use prost::Message;
use serde_json::Value;
use tonic::Request;

pub(super) use concordat_api::time::timestamp as ts;

use crate::domain::assessment::{self, Class, GovernanceClass, Tally};
use crate::domain::records::{Assessment, Divergence, Settings};
use crate::service::assessment_name;
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
    }
}

/// An ICS's settings as its `settings.updated` event carries them.
pub fn encode_settings(s: &Settings) -> Vec<u8> {
    settings_pb(s).encode_to_vec()
}
