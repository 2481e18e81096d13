//! Handlers: config kinds.

use super::*;

pub(super) async fn create_config_kind(
    api: &Api,
    req: Request<pb::CreateConfigKindRequest>,
) -> Result<Response<pb::CreateConfigKindResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::CreateConfigKindRequest {
        parent,
        config_kind_id,
        config_kind,
        request_id,
    } = req.into_inner();
    let pb::ConfigKind {
        name: _,
        domain,
        schema,
        description,
        creator: _,
        create_time: _,
    } = config_kind.unwrap_or_default();
    let schema = schema.map_or(Value::Null, |s| {
        json_of(prost_types::Value {
            kind: Some(prost_types::value::Kind::StructValue(s)),
        })
    });
    if schema.is_null() {
        return Err(invalid(
            "config_kind.schema",
            "is required: a JSON Schema (draft 2020-12) object",
        ));
    }
    let outcome = api
        .cases
        .create_kind(
            &ctx,
            &parent,
            &config_kind_id,
            domain,
            schema,
            description,
            &request_id,
            |k| pb::CreateConfigKindResponse {
                config_kind: Some(kind_pb(k)),
            },
        )
        .await
        .map_err(status)?;
    Ok(Response::new(outcome))
}

pub(super) async fn get_config_kind(
    api: &Api,
    req: Request<pb::GetConfigKindRequest>,
) -> Result<Response<pb::GetConfigKindResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetConfigKindRequest { name } = req.into_inner();
    let k = api.cases.get_kind(&ctx, &name).await.map_err(status)?;
    Ok(Response::new(pb::GetConfigKindResponse {
        config_kind: Some(kind_pb(&k)),
    }))
}

pub(super) async fn list_config_kinds(
    api: &Api,
    req: Request<pb::ListConfigKindsRequest>,
) -> Result<Response<pb::ListConfigKindsResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListConfigKindsRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let (kinds, next_page_token) = api
        .cases
        .list_kinds(&ctx, &parent, page_size, &page_token)
        .await
        .map_err(status)?;
    Ok(Response::new(pb::ListConfigKindsResponse {
        config_kinds: kinds.iter().map(kind_pb).collect(),
        next_page_token,
    }))
}
