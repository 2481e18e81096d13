//! Handlers: snapshots and export.

use super::*;

pub(super) async fn import_snapshot(
    api: &Api,
    req: Request<pb::ImportSnapshotRequest>,
) -> Reply<pb::ImportSnapshotResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ImportSnapshotRequest {
        parent,
        snapshot,
        bundle_json,
        request_id,
    } = req.into_inner();
    let new = required("snapshot", snapshot)?.into();
    let outcome = api
        .cases
        .import_snapshot(&ctx, &parent, new, &bundle_json, &request_id, |s| {
            pb::ImportSnapshotResponse {
                snapshot: Some(snapshot_pb(s)),
            }
        })
        .await?;
    Ok(Response::new(outcome))
}

pub(super) async fn get_snapshot(
    api: &Api,
    req: Request<pb::GetSnapshotRequest>,
) -> Reply<pb::GetSnapshotResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetSnapshotRequest { name } = req.into_inner();
    let s = api.cases.get_snapshot(&ctx, &name).await?;
    Ok(Response::new(pb::GetSnapshotResponse {
        snapshot: Some(snapshot_pb(&s)),
    }))
}

pub(super) async fn list_snapshots(
    api: &Api,
    req: Request<pb::ListSnapshotsRequest>,
) -> Reply<pb::ListSnapshotsResponse> {
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
        .await?;
    Ok(Response::new(pb::ListSnapshotsResponse {
        snapshots: list.iter().map(snapshot_pb).collect(),
        next_page_token,
    }))
}

pub(super) async fn export_config(
    api: &Api,
    req: Request<pb::ExportConfigRequest>,
) -> Reply<pb::ExportConfigResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ExportConfigRequest { name, revision } = req.into_inner();
    let (bundle_json, content_hash, time) = api.cases.export(&ctx, &name, revision).await?;
    Ok(Response::new(pb::ExportConfigResponse {
        bundle_json,
        content_hash,
        export_time: Some(ts(time)),
    }))
}
