//! Handlers: my actions and the watch stream.

use concordat_platform::authz::RequestContext;
use concordat_platform::error::ApiError;
use concordat_platform::events;
use concordat_proto::changecontrol::v1 as pb;
use prost::Message;
use tonic::{Request, Response};

use super::convert::{page, ts};
use super::{Api, Reply};
use crate::domain::actions::ActionKind;

/// The stream `WatchChangeRequests` answers with.
pub(super) type WatchStream = events::WatchStream<pb::WatchChangeRequestsResponse>;

fn kind_pb(kind: ActionKind) -> pb::ActionKind {
    match kind {
        ActionKind::Assess => pb::ActionKind::Assess,
        ActionKind::Vote => pb::ActionKind::Vote,
        ActionKind::SignOffHazard => pb::ActionKind::SignOffHazard,
        ActionKind::DisposeObjection => pb::ActionKind::DisposeObjection,
        ActionKind::Chair => pb::ActionKind::Chair,
        ActionKind::BoardDecision => pb::ActionKind::BoardDecision,
        ActionKind::ReportDeployment => pb::ActionKind::ReportDeployment,
        ActionKind::RetrospectiveReview => pb::ActionKind::RetrospectiveReview,
    }
}

pub(super) async fn list_my_actions(
    api: &Api,
    req: Request<pb::ListMyActionsRequest>,
) -> Reply<pb::ListMyActionsResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListMyActionsRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let actions = api.cases.my_actions(&ctx, &parent).await?;
    let (actions, next_page_token) = page(api, &ctx, &parent, page_size, &page_token, actions)?;
    Ok(Response::new(pb::ListMyActionsResponse {
        actions: actions
            .into_iter()
            .map(|(cr, a)| pb::Action {
                kind: kind_pb(a.kind) as i32,
                change_request: cr.name(),
                number: cr.number,
                title: cr.title,
                due_time: a.due.map(ts),
                description: a.description,
            })
            .collect(),
        next_page_token,
    }))
}

pub(super) async fn watch_change_requests(
    api: &Api,
    req: Request<pb::WatchChangeRequestsRequest>,
) -> Reply<WatchStream> {
    let ctx = RequestContext::of(&req)?;
    let pb::WatchChangeRequestsRequest { parent, cursor } = req.into_inner();
    let events = api.cases.watch(&ctx, &parent, cursor).await?;
    Ok(events::watch_response(events, |event| {
        let change_request =
            pb::ChangeRequest::decode(event.payload.as_slice()).map_err(ApiError::internal)?;
        Ok(pb::WatchChangeRequestsResponse {
            cursor: event.seq,
            kind: event.kind,
            change_request: Some(change_request),
            event_time: Some(ts(event.created_at)),
        })
    }))
}
