//! Handlers: releases, scheduling and deployment reports.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use super::convert::{page, release, release_pb};
use super::{Api, Reply};

pub(super) async fn create_release(
    api: &Api,
    req: Request<pb::CreateReleaseRequest>,
) -> Reply<pb::CreateReleaseResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::CreateReleaseRequest {
        parent,
        release_id,
        release: sent,
        request_id,
    } = req.into_inner();
    let reply = api
        .cases
        .create_release(
            &ctx,
            &parent,
            release(release_id, sent)?,
            &request_id,
            |r| pb::CreateReleaseResponse {
                release: Some(release_pb(r.clone(), vec![])),
            },
        )
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn get_release(
    api: &Api,
    req: Request<pb::GetReleaseRequest>,
) -> Reply<pb::GetReleaseResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetReleaseRequest { name } = req.into_inner();
    let (release, members) = api.cases.get_release(&ctx, &name).await?;
    let names = members.iter().map(|c| c.name()).collect();
    Ok(Response::new(pb::GetReleaseResponse {
        release: Some(release_pb(release, names)),
    }))
}

pub(super) async fn list_releases(
    api: &Api,
    req: Request<pb::ListReleasesRequest>,
) -> Reply<pb::ListReleasesResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListReleasesRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let list = api.cases.list_releases(&ctx, &parent).await?;
    let (list, next_page_token) = page(api, &ctx, &parent, page_size, &page_token, list)?;
    Ok(Response::new(pb::ListReleasesResponse {
        releases: list
            .into_iter()
            .map(|(release, members)| {
                release_pb(release, members.iter().map(|c| c.name()).collect())
            })
            .collect(),
        next_page_token,
    }))
}

pub(super) async fn schedule_change_request(
    api: &Api,
    req: Request<pb::ScheduleChangeRequestRequest>,
) -> Reply<pb::ScheduleChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ScheduleChangeRequestRequest {
        name,
        release,
        validate_only,
        request_id,
    } = req.into_inner();
    let reply = api
        .cases
        .schedule(&ctx, &name, &release, validate_only, &request_id, |cr| {
            pb::ScheduleChangeRequestResponse {
                change_request: Some(cr.into()),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn report_deployment(
    api: &Api,
    req: Request<pb::ReportDeploymentRequest>,
) -> Reply<pb::ReportDeploymentResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ReportDeploymentRequest {
        name,
        deployed,
        note,
        request_id,
    } = req.into_inner();
    let reply = api
        .cases
        .report_deployment(&ctx, &name, deployed, note, &request_id, |cr| {
            pb::ReportDeploymentResponse {
                change_request: Some(cr.into()),
            }
        })
        .await?;
    Ok(Response::new(reply))
}
