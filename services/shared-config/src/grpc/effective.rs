//! Handlers: effective configuration: read, diff, watch.

use super::*;

pub(super) async fn get_effective_config(
    api: &Api,
    req: Request<pb::GetEffectiveConfigRequest>,
) -> Reply<pb::GetEffectiveConfigResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetEffectiveConfigRequest {
        parent,
        trust,
        revision,
        if_none_match,
        kind,
    } = req.into_inner();
    let read = api
        .cases
        .get_effective(&ctx, &parent, &trust, revision, &if_none_match, &kind)
        .await?;
    Ok(Response::new(read.into()))
}

pub(super) async fn diff_effective_config(
    api: &Api,
    req: Request<pb::DiffEffectiveConfigRequest>,
) -> Reply<pb::DiffEffectiveConfigResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::DiffEffectiveConfigRequest {
        parent,
        trust,
        from_revision,
        to_revision,
    } = req.into_inner();
    let (changes, from_revision, to_revision) = api
        .cases
        .diff_effective(&ctx, &parent, &trust, from_revision, to_revision)
        .await?;
    Ok(Response::new(pb::DiffEffectiveConfigResponse {
        changes: changes.iter().map(diff_pb).collect(),
        from_revision,
        to_revision,
    }))
}

pub(super) async fn watch_effective_config(
    api: &Api,
    req: Request<pb::WatchEffectiveConfigRequest>,
) -> Reply<WatchStream> {
    let ctx = RequestContext::of(&req)?;
    let pb::WatchEffectiveConfigRequest {
        parent,
        trust,
        from_revision,
    } = req.into_inner();
    let stream = api
        .cases
        .watch(&ctx, &parent, &trust, from_revision)
        .await?;
    Ok(watch_response(stream, |e| {
        Ok(pb::WatchEffectiveConfigResponse {
            effective_revision: Some(effective_revision_pb(&e)),
        })
    }))
}
