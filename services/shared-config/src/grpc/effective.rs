//! Handlers: effective configuration: read, diff, watch.

use super::*;

pub(super) async fn get_effective_config(
    api: &Api,
    req: Request<pb::GetEffectiveConfigRequest>,
) -> Result<Response<pb::GetEffectiveConfigResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetEffectiveConfigRequest {
        parent,
        trust,
        revision,
        if_none_match,
        kind,
    } = req.into_inner();
    match api
        .cases
        .get_effective(&ctx, &parent, &trust, revision, &if_none_match, &kind)
        .await
        .map_err(status)?
    {
        EffectiveRead::NotModified => Ok(Response::new(pb::GetEffectiveConfigResponse {
            effective_config: None,
            not_modified: true,
        })),
        EffectiveRead::Config(view) => {
            let rev = view.revision.as_ref().map_or(0, |r| r.revision);
            Ok(Response::new(pb::GetEffectiveConfigResponse {
                effective_config: Some(pb::EffectiveConfig {
                    trust: view.trust.clone(),
                    revision: rev,
                    baseline_revision: view.revision.as_ref().map_or(0, |r| r.baseline_revision),
                    overlay_revision: view.revision.as_ref().map_or(0, |r| r.overlay_revision),
                    etag: concordat_api::etag(rev),
                    content_hash: view.content_hash.clone(),
                    items: view.items.iter().map(|(k, r)| resolved_pb(k, r)).collect(),
                }),
                not_modified: false,
            }))
        }
    }
}

pub(super) async fn diff_effective_config(
    api: &Api,
    req: Request<pb::DiffEffectiveConfigRequest>,
) -> Result<Response<pb::DiffEffectiveConfigResponse>, Status> {
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
        .await
        .map_err(status)?;
    Ok(Response::new(pb::DiffEffectiveConfigResponse {
        changes: changes.iter().map(diff_pb).collect(),
        from_revision,
        to_revision,
    }))
}

pub(super) async fn watch_effective_config(
    api: &Api,
    req: Request<pb::WatchEffectiveConfigRequest>,
) -> Result<Response<WatchStream>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::WatchEffectiveConfigRequest {
        parent,
        trust,
        from_revision,
    } = req.into_inner();
    let stream = api
        .cases
        .watch(&ctx, &parent, &trust, from_revision)
        .await
        .map_err(status)?;
    let stream = stream.map(|e| {
        let e = e.map_err(ApiError::into_status)?;
        Ok(pb::WatchEffectiveConfigResponse {
            effective_revision: Some(effective_revision_pb(&e)),
        })
    });
    Ok(Response::new(Box::pin(stream)))
}
