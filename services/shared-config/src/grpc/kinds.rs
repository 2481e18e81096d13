//! Handlers: config kinds.

use super::*;

pub(super) async fn create_config_kind(
    api: &Api,
    req: Request<pb::CreateConfigKindRequest>,
) -> Reply<pb::CreateConfigKindResponse> {
    let ctx = RequestContext::of(&req)?;
    let caller = caller(&req);
    let pb::CreateConfigKindRequest {
        parent,
        config_kind_id,
        config_kind,
        request_id,
    } = req.into_inner();
    let new = config_kind.unwrap_or_default().try_into()?;
    let outcome = api
        .cases
        .create_kind(
            &ctx,
            (&parent, &config_kind_id),
            new,
            &caller,
            &request_id,
            |k| pb::CreateConfigKindResponse {
                config_kind: Some(kind_pb(k)),
            },
        )
        .await?;
    Ok(Response::new(outcome))
}

pub(super) async fn get_config_kind(
    api: &Api,
    req: Request<pb::GetConfigKindRequest>,
) -> Reply<pb::GetConfigKindResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetConfigKindRequest { name } = req.into_inner();
    let k = api.cases.get_kind(&ctx, &name).await?;
    Ok(Response::new(pb::GetConfigKindResponse {
        config_kind: Some(kind_pb(&k)),
    }))
}

pub(super) async fn list_config_kinds(
    api: &Api,
    req: Request<pb::ListConfigKindsRequest>,
) -> Reply<pb::ListConfigKindsResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListConfigKindsRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let (kinds, next_page_token) = api
        .cases
        .list_kinds(&ctx, &parent, page_size, &page_token)
        .await?;
    Ok(Response::new(pb::ListConfigKindsResponse {
        config_kinds: kinds.iter().map(kind_pb).collect(),
        next_page_token,
    }))
}
