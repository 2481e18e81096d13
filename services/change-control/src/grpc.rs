//! The gRPC adapter: `ChangeControlService` implemented over the use cases. Converts proto ↔
//! domain and nothing more; every rule lives in the domain and the use cases.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use concordat_platform::authz::{Allowed, Permission, RequestContext};
use concordat_platform::error::ApiError;
use concordat_platform::identity::Role;
use concordat_proto::changecontrol::v1 as pb;
use futures::{Stream, StreamExt};
use pb::change_control_service_server::ChangeControlService;
use prost::Message;
use tonic::{Request, Response, Status};

use crate::domain::actions::ActionKind;
use crate::domain::change_request::{
    ChangeRequest, ChangeType, Decision, DesignAuthority, Disposition, Hazard, ImpactAssessment,
    Recommendation, StandardTemplate, Vote,
};
use crate::domain::charter::{ChangeClass, Charter, ClassRule, SilencePolicy, Threshold};
use crate::domain::decision::Choice;
use crate::domain::lifecycle::State;
use crate::domain::release::{Freeze, Release};
use crate::service::{
    ChangeControl, ChangeError, ChangeRequestEdit, NewChangeRequest, Replayable, VoteResult,
};
use crate::store::{ListOrder, ListQuery};

const REQUESTERS: &[Role] = &[
    Role::TrustDigitalLead,
    Role::TrustEngineer,
    Role::DaMember,
    Role::DaChair,
    Role::ClinicalSafetyOfficer,
];
const ASSESSORS: &[Role] = &[
    Role::TrustDigitalLead,
    Role::TrustEngineer,
    Role::ClinicalSafetyOfficer,
];
const HAZARD_LOGGERS: &[Role] = &[
    Role::ClinicalSafetyOfficer,
    Role::TrustDigitalLead,
    Role::TrustEngineer,
    Role::DaChair,
];

/// Who may call which change-control RPC. Trust scope, chairs and voting members are checked in
/// the use cases.
pub const PERMISSIONS: &[Permission] = &[
    Permission {
        method: "CreateDesignAuthority",
        allowed: Allowed::Roles(&[Role::IcsAdmin]),
    },
    Permission {
        method: "GetDesignAuthority",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListDesignAuthorities",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "CreateChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "GetChangeRequest",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListChangeRequests",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "UpdateChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "SubmitChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "StartImpactAssessment",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "OpenVoting",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "CloseVoting",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "RecordBoardDecision",
        allowed: Allowed::Roles(&[Role::BoardChair, Role::BoardMember]),
    },
    Permission {
        method: "WithdrawChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "DeferChangeRequest",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "ReopenChangeRequest",
        allowed: Allowed::Roles(REQUESTERS),
    },
    Permission {
        method: "SubmitImpactAssessment",
        allowed: Allowed::Roles(ASSESSORS),
    },
    Permission {
        method: "ListImpactAssessments",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "CreateHazard",
        allowed: Allowed::Roles(HAZARD_LOGGERS),
    },
    Permission {
        method: "ListHazards",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "SignOffHazard",
        allowed: Allowed::Roles(&[Role::ClinicalSafetyOfficer]),
    },
    Permission {
        method: "CastVote",
        allowed: Allowed::Roles(&[Role::DaMember]),
    },
    Permission {
        method: "ListVotes",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "DisposeObjection",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "WatchChangeRequests",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "UpdateCharter",
        allowed: Allowed::Roles(&[Role::IcsAdmin, Role::DaChair]),
    },
    Permission {
        method: "CreateStandardTemplate",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "ApproveEmergencyChange",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "CompleteRetrospectiveReview",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "ScheduleChangeRequest",
        allowed: Allowed::Roles(&[Role::TrustDigitalLead, Role::DaChair, Role::IcsAdmin]),
    },
    Permission {
        method: "ReportDeployment",
        allowed: Allowed::Roles(&[
            Role::TrustEngineer,
            Role::TrustDigitalLead,
            Role::Automation,
        ]),
    },
    Permission {
        method: "CloseChangeRequest",
        allowed: Allowed::Roles(&[Role::DaChair]),
    },
    Permission {
        method: "CreateRelease",
        allowed: Allowed::Roles(&[Role::IcsAdmin]),
    },
    Permission {
        method: "GetRelease",
        allowed: Allowed::Authenticated,
    },
    Permission {
        method: "ListMyActions",
        allowed: Allowed::Authenticated,
    },
];

/// The gRPC service.
pub struct Api {
    cases: Arc<ChangeControl>,
}

impl Api {
    /// The adapter over `cases`.
    pub fn new(cases: Arc<ChangeControl>) -> Self {
        Self { cases }
    }
}

fn status(err: ChangeError) -> Status {
    ApiError::from(err).into_status()
}

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

fn from_ts(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, Status> {
    t.map(|t| {
        DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32).ok_or_else(|| {
            status(ChangeError::Invalid(vec![(
                field.into(),
                "is out of range".into(),
            )]))
        })
    })
    .transpose()
}

fn bad(field: &str, reason: &str) -> Status {
    status(ChangeError::Invalid(vec![(field.into(), reason.into())]))
}

fn replay<M: Message + Default>(bytes: Vec<u8>) -> Result<M, Status> {
    M::decode(bytes.as_slice()).map_err(|e| ApiError::internal(e).into_status())
}

fn respond<T, M: Message + Default>(
    outcome: Replayable<T>,
    convert: impl FnOnce(T) -> M,
) -> Result<Response<M>, Status> {
    Ok(Response::new(match outcome {
        Replayable::Fresh(value) => convert(value),
        Replayable::Replay(bytes) => replay(bytes)?,
    }))
}

// ---- conversions -------------------------------------------------------------------------------

fn threshold(t: i32) -> Option<Threshold> {
    match pb::Threshold::try_from(t).ok()? {
        pb::Threshold::SimpleMajority => Some(Threshold::SimpleMajority),
        pb::Threshold::TwoThirds => Some(Threshold::TwoThirds),
        pb::Threshold::Unanimous => Some(Threshold::Unanimous),
        pb::Threshold::Unspecified => None,
    }
}

fn threshold_pb(t: Threshold) -> pb::Threshold {
    match t {
        Threshold::SimpleMajority => pb::Threshold::SimpleMajority,
        Threshold::TwoThirds => pb::Threshold::TwoThirds,
        Threshold::Unanimous => pb::Threshold::Unanimous,
    }
}

fn class(c: i32) -> Option<ChangeClass> {
    match pb::ChangeClass::try_from(c).ok()? {
        pb::ChangeClass::Routine => Some(ChangeClass::Routine),
        pb::ChangeClass::Significant => Some(ChangeClass::Significant),
        pb::ChangeClass::SafetyCritical => Some(ChangeClass::SafetyCritical),
        pb::ChangeClass::Unspecified => None,
    }
}

fn class_pb(c: ChangeClass) -> pb::ChangeClass {
    match c {
        ChangeClass::Routine => pb::ChangeClass::Routine,
        ChangeClass::Significant => pb::ChangeClass::Significant,
        ChangeClass::SafetyCritical => pb::ChangeClass::SafetyCritical,
    }
}

fn state_pb(s: State) -> pb::State {
    match s {
        State::Draft => pb::State::Draft,
        State::Submitted => pb::State::Submitted,
        State::ImpactAssessment => pb::State::ImpactAssessment,
        State::DaReview => pb::State::DaReview,
        State::BoardReview => pb::State::BoardReview,
        State::Approved => pb::State::Approved,
        State::Scheduled => pb::State::Scheduled,
        State::Implemented => pb::State::Implemented,
        State::Closed => pb::State::Closed,
        State::Rejected => pb::State::Rejected,
        State::Withdrawn => pb::State::Withdrawn,
        State::Deferred => pb::State::Deferred,
    }
}

fn charter_from(c: Option<pb::Charter>) -> Result<Charter, Status> {
    let Some(pb::Charter {
        version: _,
        quorum_percent,
        rules,
        silence,
        board_risk_threshold,
        board_cost_threshold_pence,
        max_residual_risk,
        assessment_days,
        voting_days,
        emergency_review_days,
        effective_time: _,
    }) = c
    else {
        return Err(bad("design_authority.charter", "is required"));
    };
    let mut map = BTreeMap::new();
    for (i, r) in rules.iter().enumerate() {
        let c = class(r.change_class).ok_or_else(|| {
            bad(
                &format!("design_authority.charter.rules[{i}].change_class"),
                "must be set",
            )
        })?;
        let t = threshold(r.threshold).ok_or_else(|| {
            bad(
                &format!("design_authority.charter.rules[{i}].threshold"),
                "must be set",
            )
        })?;
        if map
            .insert(
                c,
                ClassRule {
                    threshold: t,
                    cso_sign_off_required: r.cso_sign_off_required,
                },
            )
            .is_some()
        {
            return Err(bad(
                &format!("design_authority.charter.rules[{i}]"),
                "repeats a change class",
            ));
        }
    }
    let silence =
        match pb::SilencePolicy::try_from(silence).unwrap_or(pb::SilencePolicy::Unspecified) {
            pb::SilencePolicy::Abstain => SilencePolicy::Abstain,
            pb::SilencePolicy::Blocks => SilencePolicy::Blocks,
            pb::SilencePolicy::Unspecified => {
                return Err(bad("design_authority.charter.silence", "must be set"));
            }
        };
    let small = |v: i32| u8::try_from(v).unwrap_or(u8::MAX);
    let days = |v: i32| u32::try_from(v).unwrap_or(0);
    Ok(Charter {
        version: 1,
        quorum_percent: u32::try_from(quorum_percent).unwrap_or(0),
        rules: map,
        silence,
        board_risk_threshold: small(board_risk_threshold),
        board_cost_threshold_pence,
        max_residual_risk: small(max_residual_risk),
        assessment_days: days(assessment_days),
        voting_days: days(voting_days),
        emergency_review_days: days(emergency_review_days),
    })
}

fn charter_pb(c: &Charter, effective: DateTime<Utc>) -> pb::Charter {
    pb::Charter {
        version: c.version as i32,
        quorum_percent: c.quorum_percent as i32,
        rules: c
            .rules
            .iter()
            .map(|(class, r)| pb::ClassRule {
                change_class: class_pb(*class) as i32,
                threshold: threshold_pb(r.threshold) as i32,
                cso_sign_off_required: r.cso_sign_off_required,
            })
            .collect(),
        silence: match c.silence {
            SilencePolicy::Abstain => pb::SilencePolicy::Abstain,
            SilencePolicy::Blocks => pb::SilencePolicy::Blocks,
        } as i32,
        board_risk_threshold: c.board_risk_threshold.into(),
        board_cost_threshold_pence: c.board_cost_threshold_pence,
        max_residual_risk: c.max_residual_risk.into(),
        assessment_days: c.assessment_days as i32,
        voting_days: c.voting_days as i32,
        emergency_review_days: c.emergency_review_days as i32,
        effective_time: Some(ts(effective)),
    }
}

fn da_pb(da: DesignAuthority) -> pb::DesignAuthority {
    pb::DesignAuthority {
        name: da.name(),
        display_name: da.display_name,
        domains: da.domains,
        members: da
            .members
            .into_iter()
            .map(|(trust, voters)| pb::Membership {
                trust,
                voting_members: voters.into_iter().collect(),
            })
            .collect(),
        chair: da.chair,
        charter: Some(charter_pb(&da.charter, da.update_time)),
        etag: da.version.to_string(),
        create_time: Some(ts(da.create_time)),
        update_time: Some(ts(da.update_time)),
    }
}

fn decision_pb(d: Decision) -> pb::Decision {
    pb::Decision {
        approved: d.approved,
        rule: d.rule,
        approvals: d.approvals as i32,
        rejections: d.rejections as i32,
        abstentions: d.abstentions as i32,
        charter_version: d.charter_version as i32,
        decide_time: Some(ts(d.decide_time)),
    }
}

/// The gRPC form of a change request (also the payload of its events).
pub fn change_request_pb(cr: ChangeRequest, stale: Vec<String>) -> pb::ChangeRequest {
    let name = cr.name();
    let etag = cr.etag();
    pb::ChangeRequest {
        name,
        number: cr.number,
        title: cr.title,
        description: cr.description,
        rationale: cr.rationale,
        requesting_trust: cr.requesting_trust,
        requester: cr.requester,
        domain: cr.domain,
        design_authority: format!("icss/{}/designAuthorities/{}", cr.ics, cr.design_authority),
        affected_trusts: cr.affected_trusts.into_iter().collect(),
        change_type: match cr.change_type {
            ChangeType::Standard => pb::ChangeType::Standard,
            ChangeType::Normal => pb::ChangeType::Normal,
            ChangeType::Emergency => pb::ChangeType::Emergency,
        } as i32,
        change_class: class_pb(cr.change_class) as i32,
        standard_template: if cr.standard_template.is_empty() {
            String::new()
        } else {
            format!("icss/{}/standardTemplates/{}", cr.ics, cr.standard_template)
        },
        cost_estimate_pence: cr.cost_estimate_pence,
        effort_days: cr.effort_days,
        target_release: cr.target_release,
        configuration_links: cr.configuration_links,
        configuration_items: cr.configuration_items,
        benefit_links: cr.benefit_links,
        state: state_pb(cr.state) as i32,
        charter_version: cr.charter_version as i32,
        assessment_deadline: cr.assessment_deadline.map(ts),
        voting_deadline: cr.voting_deadline.map(ts),
        residual_risk: cr.residual_risk.into(),
        decision: cr.decision.map(decision_pb),
        board_decision: cr.board_decision.map(|b| pb::BoardDecision {
            approved: b.approved,
            minutes_reference: b.minutes_reference,
            recorded_by: b.recorded_by,
            decide_time: Some(ts(b.decide_time)),
        }),
        stale_vote_trusts: stale,
        missing_assessment_trusts: cr.missing_assessment_trusts,
        deployments: cr
            .deployments
            .into_iter()
            .map(|d| pb::Deployment {
                trust: d.trust,
                deployed: d.deployed,
                note: d.note,
                reported_by: d.reported_by,
                report_time: Some(ts(d.report_time)),
            })
            .collect(),
        retrospective_review_deadline: cr.retrospective_review_deadline.map(ts),
        retrospective_review_time: cr.retrospective_review_time.map(ts),
        etag,
        create_time: Some(ts(cr.create_time)),
        update_time: Some(ts(cr.update_time)),
    }
}

/// Encodes a change request for the outbox.
pub fn encode_change_request(cr: &ChangeRequest) -> Vec<u8> {
    change_request_pb(cr.clone(), Vec::new()).encode_to_vec()
}

fn new_change_request(cr: Option<pb::ChangeRequest>) -> Result<NewChangeRequest, Status> {
    let Some(pb::ChangeRequest {
        name: _,
        number: _,
        title,
        description,
        rationale,
        requesting_trust: _,
        requester: _,
        domain,
        design_authority,
        affected_trusts,
        change_type,
        change_class,
        standard_template,
        cost_estimate_pence,
        effort_days,
        target_release,
        configuration_links,
        configuration_items,
        benefit_links,
        state: _,
        charter_version: _,
        assessment_deadline: _,
        voting_deadline: _,
        residual_risk: _,
        decision: _,
        board_decision: _,
        stale_vote_trusts: _,
        missing_assessment_trusts: _,
        deployments: _,
        retrospective_review_deadline: _,
        retrospective_review_time: _,
        etag: _,
        create_time: _,
        update_time: _,
    }) = cr
    else {
        return Err(bad("change_request", "is required"));
    };
    let change_type =
        match pb::ChangeType::try_from(change_type).unwrap_or(pb::ChangeType::Unspecified) {
            pb::ChangeType::Normal | pb::ChangeType::Unspecified => ChangeType::Normal,
            pb::ChangeType::Standard => ChangeType::Standard,
            pb::ChangeType::Emergency => ChangeType::Emergency,
        };
    Ok(NewChangeRequest {
        title,
        description,
        rationale,
        domain,
        design_authority,
        affected_trusts,
        change_type,
        change_class: class(change_class),
        standard_template,
        cost_estimate_pence,
        effort_days,
        target_release,
        configuration_links,
        configuration_items,
        benefit_links,
    })
}

fn assessment_pb(parent: &str, a: ImpactAssessment) -> pb::ImpactAssessment {
    pb::ImpactAssessment {
        name: format!("{parent}/impactAssessments/{}", a.trust),
        trust: a.trust,
        effort_days: a.effort_days,
        local_configuration_impact: a.local_configuration_impact,
        training_impact: a.training_impact,
        clinical_risk_notes: a.clinical_risk_notes,
        readiness_date: a.readiness_date,
        recommendation: match a.recommendation {
            Recommendation::Support => pb::Recommendation::Support,
            Recommendation::Object => pb::Recommendation::Object,
            Recommendation::Abstain => pb::Recommendation::Abstain,
        } as i32,
        assessor: a.assessor,
        update_time: Some(ts(a.update_time)),
    }
}

fn hazard_pb(parent: &str, h: Hazard) -> pb::Hazard {
    pb::Hazard {
        name: format!("{parent}/hazards/{}", h.id),
        description: h.description,
        cause: h.cause,
        effect: h.effect,
        existing_controls: h.existing_controls,
        initial_likelihood: h.initial_likelihood,
        initial_severity: h.initial_severity,
        initial_risk: h.initial_risk.into(),
        further_controls: h.further_controls,
        residual_likelihood: h.residual_likelihood,
        residual_severity: h.residual_severity,
        residual_risk: h.residual_risk.into(),
        signed_off_by: h.signed_off_by,
        signed_off_trust: h.signed_off_trust,
        sign_off_time: h.sign_off_time.map(ts),
    }
}

fn vote_pb(parent: &str, v: Vote) -> pb::Vote {
    pb::Vote {
        name: format!("{parent}/votes/{}", v.trust),
        trust: v.trust,
        voter: v.voter,
        choice: match v.choice {
            Choice::Approve => pb::VoteChoice::Approve,
            Choice::Reject => pb::VoteChoice::Reject,
            Choice::Abstain => pb::VoteChoice::Abstain,
        } as i32,
        reason: v.reason,
        comment: v.comment,
        stale: v.stale,
        disposition: match v.disposition {
            None => pb::Disposition::Unspecified,
            Some(Disposition::Persuasive) => pb::Disposition::Persuasive,
            Some(Disposition::NotPersuasive) => pb::Disposition::NotPersuasive,
            Some(Disposition::ConsideredForFuture) => pb::Disposition::ConsideredForFuture,
        } as i32,
        disposition_note: v.disposition_note,
        cast_time: Some(ts(v.cast_time)),
    }
}

fn vote_result_pb(parent: &str, r: VoteResult) -> (pb::Vote, pb::ChangeRequest) {
    (
        vote_pb(parent, r.vote),
        change_request_pb(r.change_request, Vec::new()),
    )
}

/// Parses a list filter: conditions joined by `AND`.
fn parse_filter(filter: &str, mut q: ListQuery) -> Result<ListQuery, Status> {
    if filter.trim().is_empty() {
        return Ok(q);
    }
    for term in filter.split(" AND ") {
        let term = term.trim();
        let (key, op, value) = ["<=", ">=", "=", ":"]
            .iter()
            .find_map(|op| {
                term.split_once(op)
                    .map(|(k, v)| (k.trim(), *op, v.trim().trim_matches('"')))
            })
            .ok_or_else(|| bad("filter", &format!("`{term}` is not `field = value`")))?;
        match (key, op) {
            ("state", "=") => {
                q.state = Some(
                    State::parse(value)
                        .ok_or_else(|| bad("filter", &format!("unknown state `{value}`")))?,
                )
            }
            ("design_authority", "=") => {
                q.design_authority = Some(value.rsplit('/').next().unwrap_or(value).to_owned())
            }
            ("trust", "=") => q.trust = Some(value.to_owned()),
            ("requester", "=") => q.requester = Some(value.to_owned()),
            ("residual_risk", ">=") => {
                q.min_residual_risk = Some(
                    value
                        .parse()
                        .map_err(|_| bad("filter", "residual_risk needs a number 1–5"))?,
                )
            }
            ("text", ":") => q.text = Some(value.to_owned()),
            _ => {
                return Err(bad(
                    "filter",
                    &format!(
                        "`{term}`: use state =, design_authority =, trust =, requester =, residual_risk >= or text :"
                    ),
                ));
            }
        }
    }
    Ok(q)
}

fn parse_order(order_by: &str) -> Result<(ListOrder, bool), Status> {
    let mut parts = order_by.split_whitespace();
    let field = parts.next().unwrap_or("create_time");
    let desc = match parts.next() {
        None => order_by.trim().is_empty(),
        Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(bad("order_by", "use `<field> [asc|desc]`")),
    };
    let order = match field {
        "create_time" => ListOrder::CreateTime,
        "update_time" => ListOrder::UpdateTime,
        "number" => ListOrder::Number,
        "residual_risk" => ListOrder::ResidualRisk,
        _ => {
            return Err(bad(
                "order_by",
                "order by create_time, update_time, number or residual_risk",
            ));
        }
    };
    Ok((order, desc))
}

async fn stale_of(cases: &ChangeControl, ctx: &RequestContext, cr: &ChangeRequest) -> Vec<String> {
    if cr.state != State::DaReview {
        return Vec::new();
    }
    cases
        .list_votes(ctx, &cr.name())
        .await
        .map(|votes| {
            votes
                .into_iter()
                .filter(|v| v.stale)
                .map(|v| v.trust)
                .collect()
        })
        .unwrap_or_default()
}

fn template_pb(t: StandardTemplate) -> pb::StandardTemplate {
    pb::StandardTemplate {
        name: t.name(),
        display_name: t.display_name,
        description: t.description,
        design_authority: format!("icss/{}/designAuthorities/{}", t.ics, t.design_authority),
        creator: t.creator,
        create_time: Some(ts(t.create_time)),
    }
}

fn release_pb(r: Release, change_requests: Vec<String>) -> pb::Release {
    pb::Release {
        name: r.name(),
        display_name: r.display_name,
        window_start_time: Some(ts(r.window_start)),
        window_end_time: Some(ts(r.window_end)),
        freezes: r
            .freezes
            .into_iter()
            .map(|f| pb::Freeze {
                trust: f.trust,
                start_time: Some(ts(f.start)),
                end_time: Some(ts(f.end)),
                reason: f.reason,
            })
            .collect(),
        change_requests,
        create_time: Some(ts(r.create_time)),
    }
}

/// Renames the field of a BadRequest built for another request shape.
fn rename_field(status: Status, from: &str, to: &str) -> Status {
    use tonic_types::StatusExt as _;
    let details = status.get_error_details();
    let Some(bad_request) = details.bad_request() else {
        return status;
    };
    let violations: Vec<(String, String)> = bad_request
        .field_violations
        .iter()
        .map(|v| (v.field.replacen(from, to, 1), v.description.clone()))
        .collect();
    self::status(ChangeError::Invalid(violations))
}

type WatchStream =
    Pin<Box<dyn Stream<Item = Result<pb::WatchChangeRequestsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ChangeControlService for Api {
    async fn create_design_authority(
        &self,
        req: Request<pb::CreateDesignAuthorityRequest>,
    ) -> Result<Response<pb::CreateDesignAuthorityResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateDesignAuthorityRequest {
            parent,
            design_authority_id,
            design_authority,
            request_id,
        } = req.into_inner();
        let Some(pb::DesignAuthority {
            name: _,
            display_name,
            domains,
            members,
            chair,
            charter,
            etag: _,
            create_time: _,
            update_time: _,
        }) = design_authority
        else {
            return Err(bad("design_authority", "is required"));
        };
        let charter = charter_from(charter)?;
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for pb::Membership {
            trust,
            voting_members,
        } in members
        {
            map.entry(trust).or_default().extend(voting_members);
        }
        let outcome = self
            .cases
            .create_design_authority(
                &ctx,
                &parent,
                &design_authority_id,
                display_name,
                domains,
                map,
                chair,
                charter,
                &request_id,
                |da| {
                    pb::CreateDesignAuthorityResponse {
                        design_authority: Some(da_pb(da.clone())),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |da| pb::CreateDesignAuthorityResponse {
            design_authority: Some(da_pb(da)),
        })
    }

    async fn get_design_authority(
        &self,
        req: Request<pb::GetDesignAuthorityRequest>,
    ) -> Result<Response<pb::GetDesignAuthorityResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetDesignAuthorityRequest { name } = req.into_inner();
        let da = self
            .cases
            .get_design_authority(&ctx, &name)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::GetDesignAuthorityResponse {
            design_authority: Some(da_pb(da)),
        }))
    }

    async fn list_design_authorities(
        &self,
        req: Request<pb::ListDesignAuthoritiesRequest>,
    ) -> Result<Response<pb::ListDesignAuthoritiesResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListDesignAuthoritiesRequest { parent } = req.into_inner();
        let list = self
            .cases
            .list_design_authorities(&ctx, &parent)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListDesignAuthoritiesResponse {
            design_authorities: list.into_iter().map(da_pb).collect(),
        }))
    }

    async fn create_change_request(
        &self,
        req: Request<pb::CreateChangeRequestRequest>,
    ) -> Result<Response<pb::CreateChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateChangeRequestRequest {
            parent,
            change_request,
            request_id,
        } = req.into_inner();
        let new = new_change_request(change_request)?;
        let outcome = self
            .cases
            .create_change_request(&ctx, &parent, new, &request_id, |cr| {
                pb::CreateChangeRequestResponse {
                    change_request: Some(change_request_pb(cr.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::CreateChangeRequestResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn get_change_request(
        &self,
        req: Request<pb::GetChangeRequestRequest>,
    ) -> Result<Response<pb::GetChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetChangeRequestRequest { name } = req.into_inner();
        let cr = self
            .cases
            .get_change_request(&ctx, &name)
            .await
            .map_err(status)?;
        let stale = stale_of(&self.cases, &ctx, &cr).await;
        Ok(Response::new(pb::GetChangeRequestResponse {
            change_request: Some(change_request_pb(cr, stale)),
        }))
    }

    async fn list_change_requests(
        &self,
        req: Request<pb::ListChangeRequestsRequest>,
    ) -> Result<Response<pb::ListChangeRequestsResponse>, Status> {
        use base64::Engine as _;
        let ctx = RequestContext::of(&req)?;
        let pb::ListChangeRequestsRequest {
            parent,
            page_size,
            page_token,
            filter,
            order_by,
        } = req.into_inner();
        if page_size < 0 {
            return Err(bad("page_size", "must not be negative"));
        }
        let limit = if page_size == 0 {
            50
        } else {
            page_size.min(500)
        } as u64;
        // The token carries the offset and the query it belongs to, so it is refused with another.
        let fingerprint = format!("{parent}|{filter}|{order_by}");
        let offset = if page_token.is_empty() {
            0
        } else {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&page_token)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| bad("page_token", "is not a token this server issued"))?;
            let (offset, fp) = decoded
                .split_once('|')
                .ok_or_else(|| bad("page_token", "is not a token this server issued"))?;
            if fp != fingerprint {
                return Err(bad(
                    "page_token",
                    "belongs to another query (parent, filter and order_by must not change)",
                ));
            }
            offset
                .parse::<u64>()
                .map_err(|_| bad("page_token", "is not a token this server issued"))?
        };
        let query = parse_filter(
            &filter,
            ListQuery {
                order: parse_order(&order_by)?,
                offset,
                limit,
                ..Default::default()
            },
        )?;
        let (rows, total) = self
            .cases
            .list_change_requests(&ctx, &parent, query)
            .await
            .map_err(status)?;
        let next = offset + rows.len() as u64;
        let next_page_token = if next < total {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{next}|{fingerprint}"))
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListChangeRequestsResponse {
            change_requests: rows
                .into_iter()
                .map(|cr| change_request_pb(cr, vec![]))
                .collect(),
            next_page_token,
            total_size: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn update_change_request(
        &self,
        req: Request<pb::UpdateChangeRequestRequest>,
    ) -> Result<Response<pb::UpdateChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::UpdateChangeRequestRequest {
            change_request,
            update_mask,
            request_id,
        } = req.into_inner();
        let (name, etag) = change_request
            .as_ref()
            .map(|c| (c.name.clone(), c.etag.clone()))
            .unwrap_or_default();
        let values = new_change_request(change_request)?;
        let edit = ChangeRequestEdit {
            values,
            mask: update_mask,
            etag,
        };
        let outcome = self
            .cases
            .update_change_request(&ctx, &name, edit, &request_id, |cr| {
                pb::UpdateChangeRequestResponse {
                    change_request: Some(change_request_pb(cr.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        let mut response = respond(outcome, |cr| pb::UpdateChangeRequestResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })?;
        if let Some(cr) = response.get_mut().change_request.as_mut()
            && let Ok(current) = self.cases.get_change_request(&ctx, &cr.name).await
        {
            cr.stale_vote_trusts = stale_of(&self.cases, &ctx, &current).await;
        }
        Ok(response)
    }

    async fn submit_change_request(
        &self,
        req: Request<pb::SubmitChangeRequestRequest>,
    ) -> Result<Response<pb::SubmitChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::SubmitChangeRequestRequest {
            name,
            etag,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .transition(
                &ctx,
                "SubmitChangeRequest",
                &name,
                &etag,
                None,
                "",
                &request_id,
                |cr| {
                    pb::SubmitChangeRequestResponse {
                        change_request: Some(change_request_pb(cr.clone(), vec![])),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::SubmitChangeRequestResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn start_impact_assessment(
        &self,
        req: Request<pb::StartImpactAssessmentRequest>,
    ) -> Result<Response<pb::StartImpactAssessmentResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::StartImpactAssessmentRequest {
            name,
            deadline,
            etag,
            request_id,
        } = req.into_inner();
        let deadline = from_ts("deadline", deadline)?;
        let outcome = self
            .cases
            .transition(
                &ctx,
                "StartImpactAssessment",
                &name,
                &etag,
                deadline,
                "",
                &request_id,
                |cr| {
                    pb::StartImpactAssessmentResponse {
                        change_request: Some(change_request_pb(cr.clone(), vec![])),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::StartImpactAssessmentResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn open_voting(
        &self,
        req: Request<pb::OpenVotingRequest>,
    ) -> Result<Response<pb::OpenVotingResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::OpenVotingRequest {
            name,
            deadline,
            etag,
            request_id,
        } = req.into_inner();
        let deadline = from_ts("deadline", deadline)?;
        let outcome = self
            .cases
            .transition(
                &ctx,
                "OpenVoting",
                &name,
                &etag,
                deadline,
                "",
                &request_id,
                |cr| {
                    pb::OpenVotingResponse {
                        change_request: Some(change_request_pb(cr.clone(), vec![])),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::OpenVotingResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn close_voting(
        &self,
        req: Request<pb::CloseVotingRequest>,
    ) -> Result<Response<pb::CloseVotingResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CloseVotingRequest { name, request_id } = req.into_inner();
        let outcome = self
            .cases
            .close_voting(&ctx, &name, &request_id, |cr| {
                pb::CloseVotingResponse {
                    change_request: Some(change_request_pb(cr.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::CloseVotingResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn record_board_decision(
        &self,
        req: Request<pb::RecordBoardDecisionRequest>,
    ) -> Result<Response<pb::RecordBoardDecisionResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::RecordBoardDecisionRequest {
            name,
            approved,
            minutes_reference,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .record_board_decision(
                &ctx,
                &name,
                approved,
                minutes_reference,
                &request_id,
                |cr| {
                    pb::RecordBoardDecisionResponse {
                        change_request: Some(change_request_pb(cr.clone(), vec![])),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::RecordBoardDecisionResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn withdraw_change_request(
        &self,
        req: Request<pb::WithdrawChangeRequestRequest>,
    ) -> Result<Response<pb::WithdrawChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::WithdrawChangeRequestRequest {
            name,
            reason,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .transition(
                &ctx,
                "WithdrawChangeRequest",
                &name,
                "",
                None,
                &reason,
                &request_id,
                |cr| {
                    pb::WithdrawChangeRequestResponse {
                        change_request: Some(change_request_pb(cr.clone(), vec![])),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::WithdrawChangeRequestResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn defer_change_request(
        &self,
        req: Request<pb::DeferChangeRequestRequest>,
    ) -> Result<Response<pb::DeferChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::DeferChangeRequestRequest {
            name,
            reason,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .transition(
                &ctx,
                "DeferChangeRequest",
                &name,
                "",
                None,
                &reason,
                &request_id,
                |cr| {
                    pb::DeferChangeRequestResponse {
                        change_request: Some(change_request_pb(cr.clone(), vec![])),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::DeferChangeRequestResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn reopen_change_request(
        &self,
        req: Request<pb::ReopenChangeRequestRequest>,
    ) -> Result<Response<pb::ReopenChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ReopenChangeRequestRequest { name, request_id } = req.into_inner();
        let outcome = self
            .cases
            .transition(
                &ctx,
                "ReopenChangeRequest",
                &name,
                "",
                None,
                "",
                &request_id,
                |cr| {
                    pb::ReopenChangeRequestResponse {
                        change_request: Some(change_request_pb(cr.clone(), vec![])),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::ReopenChangeRequestResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn submit_impact_assessment(
        &self,
        req: Request<pb::SubmitImpactAssessmentRequest>,
    ) -> Result<Response<pb::SubmitImpactAssessmentResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::SubmitImpactAssessmentRequest {
            parent,
            impact_assessment,
            request_id,
        } = req.into_inner();
        let Some(pb::ImpactAssessment {
            name: _,
            trust,
            effort_days,
            local_configuration_impact,
            training_impact,
            clinical_risk_notes,
            readiness_date,
            recommendation,
            assessor: _,
            update_time: _,
        }) = impact_assessment
        else {
            return Err(bad("impact_assessment", "is required"));
        };
        let recommendation = match pb::Recommendation::try_from(recommendation)
            .unwrap_or(pb::Recommendation::Unspecified)
        {
            pb::Recommendation::Support => Recommendation::Support,
            pb::Recommendation::Object => Recommendation::Object,
            pb::Recommendation::Abstain => Recommendation::Abstain,
            pb::Recommendation::Unspecified => {
                return Err(bad("impact_assessment.recommendation", "must be set"));
            }
        };
        let assessment = ImpactAssessment {
            trust,
            effort_days,
            local_configuration_impact,
            training_impact,
            clinical_risk_notes,
            readiness_date,
            recommendation,
            assessor: String::new(),
            update_time: Utc::now(),
        };
        let p = parent.clone();
        let outcome = self
            .cases
            .submit_assessment(&ctx, &parent, assessment, &request_id, |a| {
                pb::SubmitImpactAssessmentResponse {
                    impact_assessment: Some(assessment_pb(&p, a.clone())),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |a| pb::SubmitImpactAssessmentResponse {
            impact_assessment: Some(assessment_pb(&parent, a)),
        })
    }

    async fn list_impact_assessments(
        &self,
        req: Request<pb::ListImpactAssessmentsRequest>,
    ) -> Result<Response<pb::ListImpactAssessmentsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListImpactAssessmentsRequest { parent } = req.into_inner();
        let (list, missing) = self
            .cases
            .list_assessments(&ctx, &parent)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListImpactAssessmentsResponse {
            impact_assessments: list
                .into_iter()
                .map(|a| assessment_pb(&parent, a))
                .collect(),
            missing_trusts: missing,
        }))
    }

    async fn create_hazard(
        &self,
        req: Request<pb::CreateHazardRequest>,
    ) -> Result<Response<pb::CreateHazardResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateHazardRequest {
            parent,
            hazard,
            request_id,
        } = req.into_inner();
        let Some(pb::Hazard {
            name: _,
            description,
            cause,
            effect,
            existing_controls,
            initial_likelihood,
            initial_severity,
            initial_risk: _,
            further_controls,
            residual_likelihood,
            residual_severity,
            residual_risk: _,
            signed_off_by: _,
            signed_off_trust: _,
            sign_off_time: _,
        }) = hazard
        else {
            return Err(bad("hazard", "is required"));
        };
        let hazard = Hazard {
            id: String::new(),
            description,
            cause,
            effect,
            existing_controls,
            initial_likelihood,
            initial_severity,
            initial_risk: 0,
            further_controls,
            residual_likelihood,
            residual_severity,
            residual_risk: 0,
            signed_off_by: String::new(),
            signed_off_trust: String::new(),
            sign_off_time: None,
        };
        let p = parent.clone();
        let outcome = self
            .cases
            .create_hazard(&ctx, &parent, hazard, &request_id, |h| {
                pb::CreateHazardResponse {
                    hazard: Some(hazard_pb(&p, h.clone())),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |h| pb::CreateHazardResponse {
            hazard: Some(hazard_pb(&parent, h)),
        })
    }

    async fn list_hazards(
        &self,
        req: Request<pb::ListHazardsRequest>,
    ) -> Result<Response<pb::ListHazardsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListHazardsRequest { parent } = req.into_inner();
        let list = self
            .cases
            .list_hazards(&ctx, &parent)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::ListHazardsResponse {
            hazards: list.into_iter().map(|h| hazard_pb(&parent, h)).collect(),
        }))
    }

    async fn sign_off_hazard(
        &self,
        req: Request<pb::SignOffHazardRequest>,
    ) -> Result<Response<pb::SignOffHazardResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::SignOffHazardRequest { name, request_id } = req.into_inner();
        let parent = name.rsplitn(3, '/').nth(2).unwrap_or_default().to_owned();
        let p = parent.clone();
        let outcome = self
            .cases
            .sign_off_hazard(&ctx, &name, &request_id, |h| {
                pb::SignOffHazardResponse {
                    hazard: Some(hazard_pb(&p, h.clone())),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |h| pb::SignOffHazardResponse {
            hazard: Some(hazard_pb(&parent, h)),
        })
    }

    async fn cast_vote(
        &self,
        req: Request<pb::CastVoteRequest>,
    ) -> Result<Response<pb::CastVoteResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CastVoteRequest {
            parent,
            choice,
            reason,
            comment,
            request_id,
        } = req.into_inner();
        let choice = match pb::VoteChoice::try_from(choice).unwrap_or(pb::VoteChoice::Unspecified) {
            pb::VoteChoice::Approve => Choice::Approve,
            pb::VoteChoice::Reject => Choice::Reject,
            pb::VoteChoice::Abstain => Choice::Abstain,
            pb::VoteChoice::Unspecified => {
                return Err(bad("choice", "must be APPROVE, REJECT or ABSTAIN"));
            }
        };
        let p = parent.clone();
        let outcome = self
            .cases
            .cast_vote(&ctx, &parent, choice, reason, comment, &request_id, |r| {
                let (vote, change_request) = vote_result_pb(
                    &p,
                    VoteResult {
                        vote: r.vote.clone(),
                        change_request: r.change_request.clone(),
                    },
                );
                pb::CastVoteResponse {
                    vote: Some(vote),
                    change_request: Some(change_request),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |r| {
            let (vote, change_request) = vote_result_pb(&parent, r);
            pb::CastVoteResponse {
                vote: Some(vote),
                change_request: Some(change_request),
            }
        })
    }

    async fn list_votes(
        &self,
        req: Request<pb::ListVotesRequest>,
    ) -> Result<Response<pb::ListVotesResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListVotesRequest { parent } = req.into_inner();
        let list = self.cases.list_votes(&ctx, &parent).await.map_err(status)?;
        Ok(Response::new(pb::ListVotesResponse {
            votes: list.into_iter().map(|v| vote_pb(&parent, v)).collect(),
        }))
    }

    async fn dispose_objection(
        &self,
        req: Request<pb::DisposeObjectionRequest>,
    ) -> Result<Response<pb::DisposeObjectionResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::DisposeObjectionRequest {
            name,
            disposition,
            note,
            request_id,
        } = req.into_inner();
        let disposition =
            match pb::Disposition::try_from(disposition).unwrap_or(pb::Disposition::Unspecified) {
                pb::Disposition::Persuasive => Disposition::Persuasive,
                pb::Disposition::NotPersuasive => Disposition::NotPersuasive,
                pb::Disposition::ConsideredForFuture => Disposition::ConsideredForFuture,
                pb::Disposition::Unspecified => return Err(bad("disposition", "must be set")),
            };
        let parent = name.rsplitn(3, '/').nth(2).unwrap_or_default().to_owned();
        let p = parent.clone();
        let outcome = self
            .cases
            .dispose_objection(&ctx, &name, disposition, note, &request_id, |r| {
                let (vote, change_request) = vote_result_pb(
                    &p,
                    VoteResult {
                        vote: r.vote.clone(),
                        change_request: r.change_request.clone(),
                    },
                );
                pb::DisposeObjectionResponse {
                    vote: Some(vote),
                    change_request: Some(change_request),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |r| {
            let (vote, change_request) = vote_result_pb(&parent, r);
            pb::DisposeObjectionResponse {
                vote: Some(vote),
                change_request: Some(change_request),
            }
        })
    }

    async fn update_charter(
        &self,
        req: Request<pb::UpdateCharterRequest>,
    ) -> Result<Response<pb::UpdateCharterResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::UpdateCharterRequest {
            name,
            charter,
            etag,
            request_id,
        } = req.into_inner();
        let charter = charter_from(charter)
            .map_err(|s| rename_field(s, "design_authority.charter", "charter"))?;
        let outcome = self
            .cases
            .update_charter(&ctx, &name, charter, &etag, &request_id, |da| {
                pb::UpdateCharterResponse {
                    design_authority: Some(da_pb(da.clone())),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |da| pb::UpdateCharterResponse {
            design_authority: Some(da_pb(da)),
        })
    }

    async fn create_standard_template(
        &self,
        req: Request<pb::CreateStandardTemplateRequest>,
    ) -> Result<Response<pb::CreateStandardTemplateResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateStandardTemplateRequest {
            parent,
            standard_template_id,
            standard_template,
            request_id,
        } = req.into_inner();
        let Some(pb::StandardTemplate {
            name: _,
            display_name,
            description,
            design_authority,
            creator: _,
            create_time: _,
        }) = standard_template
        else {
            return Err(bad("standard_template", "is required"));
        };
        let template = StandardTemplate {
            ics: String::new(),
            id: standard_template_id,
            display_name,
            description,
            design_authority: String::new(),
            creator: String::new(),
            create_time: Utc::now(),
        };
        let outcome = self
            .cases
            .create_standard_template(
                &ctx,
                &parent,
                template,
                &design_authority,
                &request_id,
                |t| {
                    pb::CreateStandardTemplateResponse {
                        standard_template: Some(template_pb(t.clone())),
                    }
                    .encode_to_vec()
                },
            )
            .await
            .map_err(status)?;
        respond(outcome, |t| pb::CreateStandardTemplateResponse {
            standard_template: Some(template_pb(t)),
        })
    }

    async fn approve_emergency_change(
        &self,
        req: Request<pb::ApproveEmergencyChangeRequest>,
    ) -> Result<Response<pb::ApproveEmergencyChangeResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ApproveEmergencyChangeRequest {
            name,
            justification,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .approve_emergency(&ctx, &name, &justification, &request_id, |cr| {
                pb::ApproveEmergencyChangeResponse {
                    change_request: Some(change_request_pb(cr.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::ApproveEmergencyChangeResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn complete_retrospective_review(
        &self,
        req: Request<pb::CompleteRetrospectiveReviewRequest>,
    ) -> Result<Response<pb::CompleteRetrospectiveReviewResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CompleteRetrospectiveReviewRequest {
            name,
            summary,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .complete_review(&ctx, &name, &summary, &request_id, |cr| {
                pb::CompleteRetrospectiveReviewResponse {
                    change_request: Some(change_request_pb(cr.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::CompleteRetrospectiveReviewResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn schedule_change_request(
        &self,
        req: Request<pb::ScheduleChangeRequestRequest>,
    ) -> Result<Response<pb::ScheduleChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ScheduleChangeRequestRequest {
            name,
            release,
            validate_only,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .schedule(&ctx, &name, &release, validate_only, &request_id, |cr| {
                pb::ScheduleChangeRequestResponse {
                    change_request: Some(change_request_pb(cr.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::ScheduleChangeRequestResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn report_deployment(
        &self,
        req: Request<pb::ReportDeploymentRequest>,
    ) -> Result<Response<pb::ReportDeploymentResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ReportDeploymentRequest {
            name,
            deployed,
            note,
            request_id,
        } = req.into_inner();
        let outcome = self
            .cases
            .report_deployment(&ctx, &name, deployed, note, &request_id, |cr| {
                pb::ReportDeploymentResponse {
                    change_request: Some(change_request_pb(cr.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::ReportDeploymentResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn close_change_request(
        &self,
        req: Request<pb::CloseChangeRequestRequest>,
    ) -> Result<Response<pb::CloseChangeRequestResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CloseChangeRequestRequest { name, request_id } = req.into_inner();
        let outcome = self
            .cases
            .close(&ctx, &name, &request_id, |cr| {
                pb::CloseChangeRequestResponse {
                    change_request: Some(change_request_pb(cr.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |cr| pb::CloseChangeRequestResponse {
            change_request: Some(change_request_pb(cr, vec![])),
        })
    }

    async fn create_release(
        &self,
        req: Request<pb::CreateReleaseRequest>,
    ) -> Result<Response<pb::CreateReleaseResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::CreateReleaseRequest {
            parent,
            release_id,
            release,
            request_id,
        } = req.into_inner();
        let Some(pb::Release {
            name: _,
            display_name,
            window_start_time,
            window_end_time,
            freezes,
            change_requests: _,
            create_time: _,
        }) = release
        else {
            return Err(bad("release", "is required"));
        };
        let window_start = from_ts("release.window_start_time", window_start_time)?
            .ok_or_else(|| bad("release.window_start_time", "is required"))?;
        let window_end = from_ts("release.window_end_time", window_end_time)?
            .ok_or_else(|| bad("release.window_end_time", "is required"))?;
        let mut domain_freezes = Vec::new();
        for (
            i,
            pb::Freeze {
                trust,
                start_time,
                end_time,
                reason,
            },
        ) in freezes.into_iter().enumerate()
        {
            let start = from_ts("release.freezes.start_time", start_time)?
                .ok_or_else(|| bad(&format!("release.freezes[{i}].start_time"), "is required"))?;
            let end = from_ts("release.freezes.end_time", end_time)?
                .ok_or_else(|| bad(&format!("release.freezes[{i}].end_time"), "is required"))?;
            domain_freezes.push(Freeze {
                trust,
                start,
                end,
                reason,
            });
        }
        let release = Release {
            ics: String::new(),
            id: release_id,
            display_name,
            window_start,
            window_end,
            freezes: domain_freezes,
            create_time: Utc::now(),
        };
        let outcome = self
            .cases
            .create_release(&ctx, &parent, release, &request_id, |r| {
                pb::CreateReleaseResponse {
                    release: Some(release_pb(r.clone(), vec![])),
                }
                .encode_to_vec()
            })
            .await
            .map_err(status)?;
        respond(outcome, |r| pb::CreateReleaseResponse {
            release: Some(release_pb(r, vec![])),
        })
    }

    async fn get_release(
        &self,
        req: Request<pb::GetReleaseRequest>,
    ) -> Result<Response<pb::GetReleaseResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::GetReleaseRequest { name } = req.into_inner();
        let (release, members) = self.cases.get_release(&ctx, &name).await.map_err(status)?;
        let names = members.iter().map(|c| c.name()).collect();
        Ok(Response::new(pb::GetReleaseResponse {
            release: Some(release_pb(release, names)),
        }))
    }

    async fn list_my_actions(
        &self,
        req: Request<pb::ListMyActionsRequest>,
    ) -> Result<Response<pb::ListMyActionsResponse>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::ListMyActionsRequest { parent } = req.into_inner();
        let actions = self.cases.my_actions(&ctx, &parent).await.map_err(status)?;
        Ok(Response::new(pb::ListMyActionsResponse {
            actions: actions
                .into_iter()
                .map(|(cr, a)| pb::Action {
                    kind: match a.kind {
                        ActionKind::Assess => pb::ActionKind::Assess,
                        ActionKind::Vote => pb::ActionKind::Vote,
                        ActionKind::SignOffHazard => pb::ActionKind::SignOffHazard,
                        ActionKind::DisposeObjection => pb::ActionKind::DisposeObjection,
                        ActionKind::Chair => pb::ActionKind::Chair,
                        ActionKind::BoardDecision => pb::ActionKind::BoardDecision,
                        ActionKind::ReportDeployment => pb::ActionKind::ReportDeployment,
                        ActionKind::RetrospectiveReview => pb::ActionKind::RetrospectiveReview,
                    } as i32,
                    change_request: cr.name(),
                    number: cr.number,
                    title: cr.title,
                    due_time: a.due.map(ts),
                    description: a.description,
                })
                .collect(),
        }))
    }

    type WatchChangeRequestsStream = WatchStream;

    async fn watch_change_requests(
        &self,
        req: Request<pb::WatchChangeRequestsRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let ctx = RequestContext::of(&req)?;
        let pb::WatchChangeRequestsRequest { parent, cursor } = req.into_inner();
        let events = self
            .cases
            .watch(&ctx, &parent, cursor)
            .await
            .map_err(status)?;
        let stream = events.map(|event| {
            let event = event.map_err(ApiError::into_status)?;
            let change_request = pb::ChangeRequest::decode(event.payload.as_slice())
                .map_err(|e| ApiError::internal(e).into_status())?;
            Ok(pb::WatchChangeRequestsResponse {
                cursor: event.seq,
                kind: event.kind,
                change_request: Some(change_request),
                event_time: Some(ts(event.created_at)),
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    /// Every RPC of the service has a row in the authorization table, and every row names an
    /// RPC: a new RPC is never silently closed, and a typo never opens nothing.
    #[test]
    fn the_authorization_table_covers_every_rpc_exactly() {
        let set =
            prost_types::FileDescriptorSet::decode(concordat_proto::FILE_DESCRIPTOR_SET).unwrap();
        let mut rpcs: Vec<String> = set
            .file
            .iter()
            .filter(|f| f.package() == "concordat.changecontrol.v1")
            .flat_map(|f| f.service.iter())
            .filter(|s| s.name() == "ChangeControlService")
            .flat_map(|s| s.method.iter().map(|m| m.name().to_owned()))
            .collect();
        let mut table: Vec<String> = super::PERMISSIONS
            .iter()
            .map(|p| p.method.to_owned())
            .collect();
        rpcs.sort();
        table.sort();
        assert_eq!(rpcs, table);
    }
}
