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
        page_size,
        page_token,
    } = req.into_inner();
    let query = EffectiveQuery {
        parent: &parent,
        trust: &trust,
        revision,
        if_none_match: &if_none_match,
        kind: &kind,
        page_size,
        page_token: &page_token,
    };
    let read = api
        .cases
        .get_effective(&ctx, &query, &api.baselines)
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
        page_size,
        page_token,
    } = req.into_inner();
    let query = DiffQuery {
        parent: &parent,
        trust: &trust,
        from_revision,
        to_revision,
        page_size,
        page_token: &page_token,
    };
    let page = api.cases.diff_effective(&ctx, &query, diff_len).await?;
    Ok(Response::new(pb::DiffEffectiveConfigResponse {
        changes: page.changes.iter().map(diff_pb).collect(),
        from_revision: page.from_revision,
        to_revision: page.to_revision,
        next_page_token: page.next_page_token,
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
        .watch(
            &ctx,
            &parent,
            &trust,
            from_revision,
            effective_revision_pb,
            published_revision,
        )
        .await?;
    Ok(watch_response(stream, |e| {
        Ok(pb::WatchEffectiveConfigResponse {
            effective_revision: Some(e),
        })
    }))
}

/// The revision an `effectiveConfig.published` event's payload carries (`encode_effective`'s).
fn published_revision(payload: &[u8]) -> Option<(i64, pb::EffectiveRevision)> {
    use prost::Message;
    let e = pb::EffectiveRevision::decode(payload).ok()?;
    Some((e.revision, e))
}

pub(super) async fn watch_config_events(
    api: &Api,
    req: Request<pb::WatchConfigEventsRequest>,
) -> Reply<concordat_platform::events::WatchStream<pb::WatchConfigEventsResponse>> {
    use pb::watch_config_events_response::Resource;
    use prost::Message;
    let ctx = RequestContext::of(&req)?;
    let pb::WatchConfigEventsRequest { parent, cursor } = req.into_inner();
    let events = api.cases.watch_events(&ctx, &parent, cursor).await?;
    Ok(watch_response(events, |event| {
        let resource = match event.kind.as_str() {
            crate::service::SNAPSHOT_IMPORTED => {
                pb::Snapshot::decode(event.payload.as_slice()).map(Resource::Snapshot)
            }
            _ => pb::EffectiveRevision::decode(event.payload.as_slice())
                .map(Resource::EffectiveRevision),
        }
        .map_err(concordat_platform::error::ApiError::internal)?;
        Ok(pb::WatchConfigEventsResponse {
            cursor: event.seq,
            kind: event.kind,
            event_time: Some(ts(event.created_at)),
            resource: Some(resource),
        })
    }))
}
