//! Handlers: snapshots and export.

use super::*;

pub(super) async fn import_snapshot(
    api: &Api,
    req: Request<pb::ImportSnapshotRequest>,
) -> Result<Response<pb::ImportSnapshotResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::ImportSnapshotRequest {
        parent,
        snapshot,
        bundle_json,
        request_id,
    } = req.into_inner();
    let pb::Snapshot {
        name: _,
        trust,
        display_name,
        taken_time,
        content_hash: _,
        item_count: _,
        nonconforming_count: _,
        importer: _,
        import_time: _,
    } = snapshot.ok_or_else(|| invalid("snapshot", "is required"))?;
    let outcome = api
        .cases
        .import_snapshot(
            &ctx,
            &parent,
            &trust,
            display_name,
            time_of(taken_time),
            &bundle_json,
            &request_id,
            |s| pb::ImportSnapshotResponse {
                snapshot: Some(snapshot_pb(s)),
            },
        )
        .await
        .map_err(status)?;
    Ok(Response::new(outcome))
}

pub(super) async fn get_snapshot(
    api: &Api,
    req: Request<pb::GetSnapshotRequest>,
) -> Result<Response<pb::GetSnapshotResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetSnapshotRequest { name } = req.into_inner();
    let s = api.cases.get_snapshot(&ctx, &name).await.map_err(status)?;
    Ok(Response::new(pb::GetSnapshotResponse {
        snapshot: Some(snapshot_pb(&s)),
    }))
}

pub(super) async fn list_snapshots(
    api: &Api,
    req: Request<pb::ListSnapshotsRequest>,
) -> Result<Response<pb::ListSnapshotsResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListSnapshotsRequest {
        parent,
        trust,
        page_size,
        page_token,
    } = req.into_inner();
    let (list, next_page_token) = api
        .cases
        .list_snapshots(&ctx, &parent, &trust, page_size, &page_token)
        .await
        .map_err(status)?;
    Ok(Response::new(pb::ListSnapshotsResponse {
        snapshots: list.iter().map(snapshot_pb).collect(),
        next_page_token,
    }))
}

pub(super) async fn export_config(
    api: &Api,
    req: Request<pb::ExportConfigRequest>,
) -> Result<Response<pb::ExportConfigResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::ExportConfigRequest { name, revision } = req.into_inner();
    let (bundle_json, content_hash, time) = api
        .cases
        .export(&ctx, &name, revision)
        .await
        .map_err(status)?;
    Ok(Response::new(pb::ExportConfigResponse {
        bundle_json,
        content_hash,
        export_time: Some(ts(time)),
    }))
}
