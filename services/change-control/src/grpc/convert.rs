//! Proto ↔ domain: every request destructured field by field (a new proto field breaks the build
//! until someone decides what it means), every resource built whole, the enum maps.

mod moves;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use concordat_platform::error::ApiError;
use concordat_platform::identity::Person;
use concordat_proto::changecontrol::v1 as pb;
use concordat_proto::platform::v1 as platform_pb;
use prost::Message;
use tonic::Status;

use crate::domain::change_request::{
    ChangeRequest, ChangeType, Decision, DesignAuthority, Disposition, Hazard, ImpactAssessment,
    Recommendation, StandardTemplate, Vote,
};
use crate::domain::charter::{ChangeClass, Charter, ClassRule, SilencePolicy, Threshold};
use crate::domain::decision::Choice;
use crate::domain::lifecycle::State;
use crate::domain::release::{Freeze, Release};
use crate::service::{
    ChangeRequestEdit, DOMAIN, DesignAuthorityEdit, NewChangeRequest, NewDesignAuthority,
    NewStandardTemplate, VoteResult,
};

pub(super) use concordat_api::time::timestamp as ts;

/// A timestamp sent in `field`, refused when out of range.
pub(super) fn from_ts(
    field: &str,
    t: Option<prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, Status> {
    concordat_api::time::from_timestamp(field, t).map_err(violation)
}

/// INVALID_ARGUMENT naming `field`.
pub(super) fn bad(field: &str, reason: &str) -> Status {
    ApiError::invalid_field(DOMAIN, field, reason).into_status()
}

/// INVALID_ARGUMENT for a violation found by the API primitives.
pub(super) fn violation(v: concordat_api::FieldViolation) -> Status {
    ApiError::violation(DOMAIN, v).into_status()
}

/// One page of a list of `parent` read whole, and the next page's token (bound to the method
/// and the parent).
pub(super) fn page<T>(
    api: &super::Api,
    ctx: &concordat_platform::authz::RequestContext,
    parent: &str,
    page_size: i32,
    page_token: &str,
    items: Vec<T>,
) -> Result<(Vec<T>, String), Status> {
    let query = format!("{}|{parent}", ctx.method);
    concordat_platform::paging::page(&api.tokens, &query, page_size, page_token, items)
        .map_err(violation)
}

pub(super) fn threshold(t: i32) -> Option<Threshold> {
    match pb::Threshold::try_from(t).ok()? {
        pb::Threshold::SimpleMajority => Some(Threshold::SimpleMajority),
        pb::Threshold::TwoThirds => Some(Threshold::TwoThirds),
        pb::Threshold::Unanimous => Some(Threshold::Unanimous),
        pb::Threshold::Unspecified => None,
    }
}

pub(super) fn threshold_pb(t: Threshold) -> pb::Threshold {
    match t {
        Threshold::SimpleMajority => pb::Threshold::SimpleMajority,
        Threshold::TwoThirds => pb::Threshold::TwoThirds,
        Threshold::Unanimous => pb::Threshold::Unanimous,
    }
}

pub(super) fn class(c: i32) -> Option<ChangeClass> {
    match pb::ChangeClass::try_from(c).ok()? {
        pb::ChangeClass::Routine => Some(ChangeClass::Routine),
        pb::ChangeClass::Significant => Some(ChangeClass::Significant),
        pb::ChangeClass::SafetyCritical => Some(ChangeClass::SafetyCritical),
        pb::ChangeClass::Unspecified => None,
    }
}

pub(super) fn class_pb(c: ChangeClass) -> pb::ChangeClass {
    match c {
        ChangeClass::Routine => pb::ChangeClass::Routine,
        ChangeClass::Significant => pb::ChangeClass::Significant,
        ChangeClass::SafetyCritical => pb::ChangeClass::SafetyCritical,
    }
}

pub(super) fn state_pb(s: State) -> pb::State {
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

/// The charter sent in `field` (`design_authority.charter` or `charter`).
pub(super) fn charter_from(field: &str, c: Option<pb::Charter>) -> Result<Charter, Status> {
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
        return Err(bad(field, "is required"));
    };
    let mut map = BTreeMap::new();
    for (i, r) in rules.iter().enumerate() {
        let c = class(r.change_class)
            .ok_or_else(|| bad(&format!("{field}.rules[{i}].change_class"), "must be set"))?;
        let t = threshold(r.threshold)
            .ok_or_else(|| bad(&format!("{field}.rules[{i}].threshold"), "must be set"))?;
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
                &format!("{field}.rules[{i}]"),
                "repeats a change class",
            ));
        }
    }
    let silence =
        match pb::SilencePolicy::try_from(silence).unwrap_or(pb::SilencePolicy::Unspecified) {
            pb::SilencePolicy::Abstain => SilencePolicy::Abstain,
            pb::SilencePolicy::Blocks => SilencePolicy::Blocks,
            pb::SilencePolicy::Unspecified => {
                return Err(bad(&format!("{field}.silence"), "must be set"));
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
        effective_time: None,
    })
}

pub(super) fn charter_pb(c: &Charter, effective: DateTime<Utc>) -> pb::Charter {
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
        effective_time: Some(ts(c.effective_time.unwrap_or(effective))),
    }
}

/// A person in the API's form.
pub(super) fn pb_person(p: &Person) -> platform_pb::Person {
    p.into()
}

pub(super) fn da_pb(da: DesignAuthority) -> pb::DesignAuthority {
    pb::DesignAuthority {
        name: da.name(),
        display_name: da.display_name,
        domains: da.domains,
        members: da
            .members
            .into_iter()
            .map(|(trust, voters)| pb::Membership {
                trust,
                voting_members: voters.iter().map(pb_person).collect(),
            })
            .collect(),
        chair: Some(pb_person(&da.chair)),
        charter: Some(charter_pb(&da.charter, da.update_time)),
        etag: concordat_api::etag(da.version),
        create_time: Some(ts(da.create_time)),
        update_time: Some(ts(da.update_time)),
    }
}

pub(super) fn decision_pb(d: Decision) -> pb::Decision {
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
    let etag = concordat_api::etag(cr.version);
    pb::ChangeRequest {
        name,
        number: cr.number,
        title: cr.title,
        description: cr.description,
        rationale: cr.rationale,
        requesting_trust: cr.requesting_trust,
        requester: Some(pb_person(&cr.requester)),
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
            recorded_by: Some(pb_person(&b.recorded_by)),
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
                reported_by: Some(pb_person(&d.reported_by)),
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

pub(super) fn new_change_request(
    cr: Option<pb::ChangeRequest>,
) -> Result<NewChangeRequest, Status> {
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

impl TryFrom<pb::UpdateChangeRequestRequest> for ChangeRequestEdit {
    type Error = Status;
    fn try_from(r: pb::UpdateChangeRequestRequest) -> Result<Self, Status> {
        let pb::UpdateChangeRequestRequest {
            change_request,
            update_mask,
            request_id,
        } = r;
        let (name, etag) = change_request
            .as_ref()
            .map(|c| (c.name.clone(), c.etag.clone()))
            .unwrap_or_default();
        Ok(ChangeRequestEdit {
            name,
            values: new_change_request(change_request)?,
            mask: update_mask,
            etag,
            request_id,
        })
    }
}

pub(super) fn assessment_pb(parent: &str, a: ImpactAssessment) -> pb::ImpactAssessment {
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
        assessor: Some(pb_person(&a.assessor)),
        update_time: Some(ts(a.update_time)),
    }
}

pub(super) fn hazard_pb(parent: &str, h: Hazard) -> pb::Hazard {
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
        signed_off_by: h.signed_off_by.as_ref().map(pb_person),
        signed_off_trust: h.signed_off_trust,
        sign_off_time: h.sign_off_time.map(ts),
    }
}

pub(super) fn vote_pb(parent: &str, v: Vote) -> pb::Vote {
    pb::Vote {
        name: format!("{parent}/votes/{}", v.trust),
        trust: v.trust,
        voter: Some(pb_person(&v.voter)),
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

pub(super) fn template_pb(t: StandardTemplate) -> pb::StandardTemplate {
    pb::StandardTemplate {
        name: t.name(),
        display_name: t.display_name,
        description: t.description,
        design_authority: format!("icss/{}/designAuthorities/{}", t.ics, t.design_authority),
        creator: Some(pb_person(&t.creator)),
        create_time: Some(ts(t.create_time)),
    }
}

pub(super) fn release_pb(r: Release, change_requests: Vec<String>) -> pb::Release {
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

// ---- requests → use-case inputs ----------------------------------------------------------------

/// `CreateDesignAuthority` as the use case takes it.
pub(super) fn new_design_authority(
    req: pb::CreateDesignAuthorityRequest,
) -> Result<NewDesignAuthority, Status> {
    let pb::CreateDesignAuthorityRequest {
        parent,
        design_authority_id,
        design_authority,
        request_id,
    } = req;
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
    let charter = charter_from("design_authority.charter", charter)?;
    Ok(NewDesignAuthority {
        parent,
        id: design_authority_id,
        display_name,
        domains,
        members: members_of(members),
        chair: chair.map(Person::from).unwrap_or_default(),
        charter,
        request_id,
    })
}

/// Voting members by trust, a trust named twice merged.
fn members_of(members: Vec<pb::Membership>) -> BTreeMap<String, BTreeSet<Person>> {
    let mut map: BTreeMap<String, BTreeSet<Person>> = BTreeMap::new();
    for pb::Membership {
        trust,
        voting_members,
    } in members
    {
        map.entry(trust)
            .or_default()
            .extend(voting_members.into_iter().map(Person::from));
    }
    map
}

impl From<pb::UpdateDesignAuthorityRequest> for DesignAuthorityEdit {
    fn from(r: pb::UpdateDesignAuthorityRequest) -> Self {
        let pb::UpdateDesignAuthorityRequest {
            design_authority,
            update_mask,
            request_id,
        } = r;
        let da = design_authority.unwrap_or_default();
        DesignAuthorityEdit {
            name: da.name,
            etag: da.etag,
            display_name: da.display_name,
            members: members_of(da.members),
            chair: da.chair.map(Person::from).unwrap_or_default(),
            mask: update_mask,
            request_id,
        }
    }
}

/// `CreateStandardTemplate` as the use case takes it.
pub(super) fn new_standard_template(
    req: pb::CreateStandardTemplateRequest,
) -> Result<NewStandardTemplate, Status> {
    let pb::CreateStandardTemplateRequest {
        parent,
        standard_template_id,
        standard_template,
        request_id,
    } = req;
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
    Ok(NewStandardTemplate {
        parent,
        id: standard_template_id,
        display_name,
        description,
        design_authority,
        request_id,
    })
}

/// The impact assessment sent with `SubmitImpactAssessment`.
pub(super) fn impact_assessment(
    a: Option<pb::ImpactAssessment>,
) -> Result<ImpactAssessment, Status> {
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
    }) = a
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
    Ok(ImpactAssessment {
        trust,
        effort_days,
        local_configuration_impact,
        training_impact,
        clinical_risk_notes,
        readiness_date,
        recommendation,
        assessor: Person::default(),
        update_time: DateTime::UNIX_EPOCH,
    })
}

/// The hazard sent with `CreateHazard` (risks are computed, sign-off fields ignored).
pub(super) fn hazard(h: Option<pb::Hazard>) -> Result<Hazard, Status> {
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
    }) = h
    else {
        return Err(bad("hazard", "is required"));
    };
    Ok(Hazard {
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
        signed_off_by: None,
        signed_off_trust: String::new(),
        sign_off_time: None,
    })
}

/// The release sent with `CreateRelease`.
pub(super) fn release(id: String, r: Option<pb::Release>) -> Result<Release, Status> {
    let Some(pb::Release {
        name: _,
        display_name,
        window_start_time,
        window_end_time,
        freezes,
        change_requests: _,
        create_time: _,
    }) = r
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
    Ok(Release {
        ics: String::new(),
        id,
        display_name,
        window_start,
        window_end,
        freezes: domain_freezes,
        create_time: DateTime::UNIX_EPOCH,
    })
}

/// A vote's choice.
pub(super) fn choice(choice: i32) -> Result<Choice, Status> {
    match pb::VoteChoice::try_from(choice).unwrap_or(pb::VoteChoice::Unspecified) {
        pb::VoteChoice::Approve => Ok(Choice::Approve),
        pb::VoteChoice::Reject => Ok(Choice::Reject),
        pb::VoteChoice::Abstain => Ok(Choice::Abstain),
        pb::VoteChoice::Unspecified => Err(bad("choice", "must be APPROVE, REJECT or ABSTAIN")),
    }
}

/// A disposition of an objection.
pub(super) fn disposition(d: i32) -> Result<Disposition, Status> {
    match pb::Disposition::try_from(d).unwrap_or(pb::Disposition::Unspecified) {
        pb::Disposition::Persuasive => Ok(Disposition::Persuasive),
        pb::Disposition::NotPersuasive => Ok(Disposition::NotPersuasive),
        pb::Disposition::ConsideredForFuture => Ok(Disposition::ConsideredForFuture),
        pb::Disposition::Unspecified => Err(bad("disposition", "must be set")),
    }
}

// ---- resources → responses ---------------------------------------------------------------------

impl From<&DesignAuthority> for pb::DesignAuthority {
    fn from(da: &DesignAuthority) -> Self {
        da_pb(da.clone())
    }
}

impl From<&ChangeRequest> for pb::ChangeRequest {
    fn from(cr: &ChangeRequest) -> Self {
        change_request_pb(cr.clone(), Vec::new())
    }
}

impl From<&StandardTemplate> for pb::StandardTemplate {
    fn from(t: &StandardTemplate) -> Self {
        template_pb(t.clone())
    }
}

/// The parent change request of a child resource `…/changeRequests/{cr}/{collection}/{id}`.
pub(super) fn parent_of(name: &str) -> String {
    name.rsplitn(3, '/').nth(2).unwrap_or_default().to_owned()
}

/// A vote and the change request it left, as gRPC messages.
pub(super) fn vote_result(
    parent: &str,
    r: &VoteResult,
) -> (Option<pb::Vote>, Option<pb::ChangeRequest>) {
    (
        Some(vote_pb(parent, r.vote.clone())),
        Some((&r.change_request).into()),
    )
}
