//! Handlers: layers, their items and revisions.

use super::*;

pub(super) async fn get_layer(
    api: &Api,
    req: Request<pb::GetLayerRequest>,
) -> Reply<pb::GetLayerResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetLayerRequest { name, revision } = req.into_inner();
    let (ics, layer, record) = api.cases.get_layer(&ctx, &name, revision).await?;
    Ok(Response::new(pb::GetLayerResponse {
        layer: Some(layer_pb(&ics, &layer, record.as_ref())),
    }))
}

pub(super) async fn list_layer_items(
    api: &Api,
    req: Request<pb::ListLayerItemsRequest>,
) -> Reply<pb::ListLayerItemsResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListLayerItemsRequest {
        parent,
        revision,
        kind,
        page_size,
        page_token,
    } = req.into_inner();
    let (items, revision, next_page_token) = api
        .cases
        .list_items(
            &ctx,
            &parent,
            revision,
            &kind,
            page_size,
            &page_token,
            |k, p| {
                use prost::Message;
                let len = placed_pb(k, p).encoded_len();
                1 + prost::encoding::encoded_len_varint(len as u64) + len
            },
        )
        .await?;
    Ok(Response::new(pb::ListLayerItemsResponse {
        items: items.iter().map(|(k, p)| placed_pb(k, p)).collect(),
        revision,
        next_page_token,
    }))
}

pub(super) async fn list_revisions(
    api: &Api,
    req: Request<pb::ListRevisionsRequest>,
) -> Reply<pb::ListRevisionsResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListRevisionsRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let (revisions, next_page_token) = api
        .cases
        .list_revisions(&ctx, &parent, page_size, &page_token)
        .await?;
    Ok(Response::new(pb::ListRevisionsResponse {
        revisions: revisions.iter().map(revision_pb).collect(),
        next_page_token,
    }))
}

pub(super) async fn get_revision(
    api: &Api,
    req: Request<pb::GetRevisionRequest>,
) -> Reply<pb::GetRevisionResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetRevisionRequest { name } = req.into_inner();
    let r = api.cases.get_revision(&ctx, &name).await?;
    Ok(Response::new(pb::GetRevisionResponse {
        revision: Some(revision_pb(&r)),
    }))
}

pub(super) async fn diff_revisions(
    api: &Api,
    req: Request<pb::DiffRevisionsRequest>,
) -> Reply<pb::DiffRevisionsResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::DiffRevisionsRequest {
        layer,
        from_revision,
        to_revision,
        page_size,
        page_token,
    } = req.into_inner();
    let query = RevisionDiffQuery {
        layer: &layer,
        from_revision,
        to_revision,
        page_size,
        page_token: &page_token,
    };
    let page = api.cases.diff_revisions(&ctx, &query, diff_len).await?;
    Ok(Response::new(pb::DiffRevisionsResponse {
        changes: page.changes.iter().map(diff_pb).collect(),
        from_revision: page.from_revision,
        to_revision: page.to_revision,
        next_page_token: page.next_page_token,
    }))
}
