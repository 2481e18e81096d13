//! Handlers: the lifecycle moves of a change request.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use super::convert::from_ts;
use super::{Api, Reply};
use crate::service::{Command, Moving};

pub(super) async fn submit_change_request(
    api: &Api,
    req: Request<pb::SubmitChangeRequestRequest>,
) -> Reply<pb::SubmitChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::SubmitChangeRequestRequest {
        name,
        etag,
        request_id,
    } = req.into_inner();
    let moving = Moving {
        name,
        etag,
        command: Command::Submit,
        request_id,
    };
    let reply = api
        .cases
        .move_change_request(&ctx, moving, |cr| pb::SubmitChangeRequestResponse {
            change_request: Some(cr.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn start_impact_assessment(
    api: &Api,
    req: Request<pb::StartImpactAssessmentRequest>,
) -> Reply<pb::StartImpactAssessmentResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::StartImpactAssessmentRequest {
        name,
        deadline,
        etag,
        request_id,
    } = req.into_inner();
    let deadline = from_ts("deadline", deadline)?;
    let moving = Moving {
        name,
        etag,
        command: Command::StartAssessment { deadline },
        request_id,
    };
    let reply = api
        .cases
        .move_change_request(&ctx, moving, |cr| pb::StartImpactAssessmentResponse {
            change_request: Some(cr.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn open_voting(
    api: &Api,
    req: Request<pb::OpenVotingRequest>,
) -> Reply<pb::OpenVotingResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::OpenVotingRequest {
        name,
        deadline,
        etag,
        request_id,
    } = req.into_inner();
    let deadline = from_ts("deadline", deadline)?;
    let moving = Moving {
        name,
        etag,
        command: Command::OpenVoting { deadline },
        request_id,
    };
    let reply = api
        .cases
        .move_change_request(&ctx, moving, |cr| pb::OpenVotingResponse {
            change_request: Some(cr.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn withdraw_change_request(
    api: &Api,
    req: Request<pb::WithdrawChangeRequestRequest>,
) -> Reply<pb::WithdrawChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::WithdrawChangeRequestRequest {
        name,
        reason,
        request_id,
    } = req.into_inner();
    let moving = Moving {
        name,
        etag: String::new(),
        command: Command::Withdraw { reason },
        request_id,
    };
    let reply = api
        .cases
        .move_change_request(&ctx, moving, |cr| pb::WithdrawChangeRequestResponse {
            change_request: Some(cr.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn defer_change_request(
    api: &Api,
    req: Request<pb::DeferChangeRequestRequest>,
) -> Reply<pb::DeferChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::DeferChangeRequestRequest {
        name,
        reason,
        request_id,
    } = req.into_inner();
    let moving = Moving {
        name,
        etag: String::new(),
        command: Command::Defer { reason },
        request_id,
    };
    let reply = api
        .cases
        .move_change_request(&ctx, moving, |cr| pb::DeferChangeRequestResponse {
            change_request: Some(cr.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn reopen_change_request(
    api: &Api,
    req: Request<pb::ReopenChangeRequestRequest>,
) -> Reply<pb::ReopenChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ReopenChangeRequestRequest { name, request_id } = req.into_inner();
    let moving = Moving {
        name,
        etag: String::new(),
        command: Command::Reopen,
        request_id,
    };
    let reply = api
        .cases
        .move_change_request(&ctx, moving, |cr| pb::ReopenChangeRequestResponse {
            change_request: Some(cr.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn close_voting(
    api: &Api,
    req: Request<pb::CloseVotingRequest>,
) -> Reply<pb::CloseVotingResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::CloseVotingRequest { name, request_id } = req.into_inner();
    let reply = api
        .cases
        .close_voting(&ctx, &name, &request_id, |cr| pb::CloseVotingResponse {
            change_request: Some(cr.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn record_board_decision(
    api: &Api,
    req: Request<pb::RecordBoardDecisionRequest>,
) -> Reply<pb::RecordBoardDecisionResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::RecordBoardDecisionRequest {
        name,
        approved,
        minutes_reference,
        request_id,
    } = req.into_inner();
    let reply = api
        .cases
        .record_board_decision(
            &ctx,
            &name,
            approved,
            minutes_reference,
            &request_id,
            |cr| pb::RecordBoardDecisionResponse {
                change_request: Some(cr.into()),
            },
        )
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn approve_emergency_change(
    api: &Api,
    req: Request<pb::ApproveEmergencyChangeRequest>,
) -> Reply<pb::ApproveEmergencyChangeResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ApproveEmergencyChangeRequest {
        name,
        justification,
        request_id,
    } = req.into_inner();
    let reply = api
        .cases
        .approve_emergency(&ctx, &name, &justification, &request_id, |cr| {
            pb::ApproveEmergencyChangeResponse {
                change_request: Some(cr.into()),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn complete_retrospective_review(
    api: &Api,
    req: Request<pb::CompleteRetrospectiveReviewRequest>,
) -> Reply<pb::CompleteRetrospectiveReviewResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::CompleteRetrospectiveReviewRequest {
        name,
        summary,
        request_id,
    } = req.into_inner();
    let reply = api
        .cases
        .complete_review(&ctx, &name, &summary, &request_id, |cr| {
            pb::CompleteRetrospectiveReviewResponse {
                change_request: Some(cr.into()),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn close_change_request(
    api: &Api,
    req: Request<pb::CloseChangeRequestRequest>,
) -> Reply<pb::CloseChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::CloseChangeRequestRequest { name, request_id } = req.into_inner();
    let reply = api
        .cases
        .close(&ctx, &name, &request_id, |cr| {
            pb::CloseChangeRequestResponse {
                change_request: Some(cr.into()),
            }
        })
        .await?;
    Ok(Response::new(reply))
}
