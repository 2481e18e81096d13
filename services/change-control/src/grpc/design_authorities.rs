//! Handlers: design authorities, charters, standard templates.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use super::convert::{charter_from, new_design_authority, new_standard_template, page};
use super::{Api, Reply};

pub(super) async fn create_design_authority(
    api: &Api,
    req: Request<pb::CreateDesignAuthorityRequest>,
) -> Reply<pb::CreateDesignAuthorityResponse> {
    let ctx = RequestContext::of(&req)?;
    let new = new_design_authority(req.into_inner())?;
    let reply = api
        .cases
        .create_design_authority(&ctx, new, |da| pb::CreateDesignAuthorityResponse {
            design_authority: Some(da.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn get_design_authority(
    api: &Api,
    req: Request<pb::GetDesignAuthorityRequest>,
) -> Reply<pb::GetDesignAuthorityResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetDesignAuthorityRequest { name } = req.into_inner();
    let da = api.cases.get_design_authority(&ctx, &name).await?;
    Ok(Response::new(pb::GetDesignAuthorityResponse {
        design_authority: Some((&da).into()),
    }))
}

pub(super) async fn list_design_authorities(
    api: &Api,
    req: Request<pb::ListDesignAuthoritiesRequest>,
) -> Reply<pb::ListDesignAuthoritiesResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListDesignAuthoritiesRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let list = api.cases.list_design_authorities(&ctx, &parent).await?;
    let (list, next_page_token) = page(api, &ctx, &parent, page_size, &page_token, list)?;
    Ok(Response::new(pb::ListDesignAuthoritiesResponse {
        design_authorities: list.iter().map(Into::into).collect(),
        next_page_token,
    }))
}

pub(super) async fn update_design_authority(
    api: &Api,
    req: Request<pb::UpdateDesignAuthorityRequest>,
) -> Reply<pb::UpdateDesignAuthorityResponse> {
    let ctx = RequestContext::of(&req)?;
    let reply = api
        .cases
        .update_design_authority(&ctx, req.into_inner().into(), |da| {
            pb::UpdateDesignAuthorityResponse {
                design_authority: Some(da.into()),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn update_charter(
    api: &Api,
    req: Request<pb::UpdateCharterRequest>,
) -> Reply<pb::UpdateCharterResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::UpdateCharterRequest {
        name,
        charter,
        etag,
        request_id,
    } = req.into_inner();
    let charter = charter_from("charter", charter)?;
    let reply = api
        .cases
        .update_charter(&ctx, &name, charter, &etag, &request_id, |da| {
            pb::UpdateCharterResponse {
                design_authority: Some(da.into()),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn create_standard_template(
    api: &Api,
    req: Request<pb::CreateStandardTemplateRequest>,
) -> Reply<pb::CreateStandardTemplateResponse> {
    let ctx = RequestContext::of(&req)?;
    let new = new_standard_template(req.into_inner())?;
    let reply = api
        .cases
        .create_standard_template(&ctx, new, |t| pb::CreateStandardTemplateResponse {
            standard_template: Some(t.into()),
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn list_standard_templates(
    api: &Api,
    req: Request<pb::ListStandardTemplatesRequest>,
) -> Reply<pb::ListStandardTemplatesResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListStandardTemplatesRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let list = api.cases.list_standard_templates(&ctx, &parent).await?;
    let (list, next_page_token) = page(api, &ctx, &parent, page_size, &page_token, list)?;
    Ok(Response::new(pb::ListStandardTemplatesResponse {
        standard_templates: list.iter().map(Into::into).collect(),
        next_page_token,
    }))
}
