//! Handlers: the hazard log.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use super::convert::{hazard, hazard_pb, page, parent_of};
use super::{Api, Reply};

pub(super) async fn create_hazard(
    api: &Api,
    req: Request<pb::CreateHazardRequest>,
) -> Reply<pb::CreateHazardResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::CreateHazardRequest {
        parent,
        hazard: sent,
        request_id,
    } = req.into_inner();
    let reply = api
        .cases
        .create_hazard(&ctx, &parent, hazard(sent)?, &request_id, |h| {
            pb::CreateHazardResponse {
                hazard: Some(hazard_pb(&parent, h.clone())),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn list_hazards(
    api: &Api,
    req: Request<pb::ListHazardsRequest>,
) -> Reply<pb::ListHazardsResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListHazardsRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let list = api.cases.list_hazards(&ctx, &parent).await?;
    let (list, next_page_token) = page(api, &ctx, &parent, page_size, &page_token, list)?;
    Ok(Response::new(pb::ListHazardsResponse {
        hazards: list.into_iter().map(|h| hazard_pb(&parent, h)).collect(),
        next_page_token,
    }))
}

pub(super) async fn update_hazard(
    api: &Api,
    req: Request<pb::UpdateHazardRequest>,
) -> Reply<pb::UpdateHazardResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::UpdateHazardRequest {
        hazard: sent,
        request_id,
    } = req.into_inner();
    let name = sent.as_ref().map(|h| h.name.clone()).unwrap_or_default();
    let parent = parent_of(&name);
    let reply = api
        .cases
        .update_hazard(&ctx, &name, hazard(sent)?, &request_id, |h| {
            pb::UpdateHazardResponse {
                hazard: Some(hazard_pb(&parent, h.clone())),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn sign_off_hazard(
    api: &Api,
    req: Request<pb::SignOffHazardRequest>,
) -> Reply<pb::SignOffHazardResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::SignOffHazardRequest { name, request_id } = req.into_inner();
    let parent = parent_of(&name);
    let reply = api
        .cases
        .sign_off_hazard(&ctx, &name, &request_id, |h| pb::SignOffHazardResponse {
            hazard: Some(hazard_pb(&parent, h.clone())),
        })
        .await?;
    Ok(Response::new(reply))
}
