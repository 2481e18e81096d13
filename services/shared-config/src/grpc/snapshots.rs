//! Handlers: snapshots and export.

use std::collections::BTreeMap;

use super::*;
use crate::service::{ConfigError, ExportQuery, NewSnapshot, add_bundle};

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
    let new: NewSnapshot = required("snapshot", snapshot)?.into();
    let target = api.cases.check_import(&ctx, &parent, new).await?;
    let mut items = BTreeMap::new();
    add_bundle(&mut items, &bundle_json, "")?;
    let outcome = api
        .cases
        .import_snapshot(&ctx, target, items, &request_id, |s| {
            pb::ImportSnapshotResponse {
                snapshot: Some(snapshot_pb(s)),
            }
        })
        .await?;
    Ok(Response::new(outcome))
}

/// The first message names the snapshot and is checked before the rest is read; the parts are
/// gathered (each message is bounded by the server's message limit, the whole by
/// `MAX_SNAPSHOT_ITEMS`) and written in one transaction when the stream ends.
pub(super) async fn import_snapshot_parts(
    api: &Api,
    req: Request<tonic::Streaming<pb::ImportSnapshotPartsRequest>>,
) -> Reply<pb::ImportSnapshotPartsResponse> {
    let ctx = RequestContext::of(&req)?;
    let mut stream = req.into_inner();
    let Some(first) = stream.message().await? else {
        return Err(ConfigError::Invalid(vec![(
            "parent".into(),
            "is required (the stream sent no message)".into(),
        )])
        .into());
    };
    let pb::ImportSnapshotPartsRequest {
        parent,
        snapshot,
        bundle_json,
        request_id,
    } = first;
    if parent.is_empty() {
        return Err(ConfigError::Invalid(vec![(
            "parent".into(),
            "is required in the first message".into(),
        )])
        .into());
    }
    let new: NewSnapshot = required("snapshot", snapshot)?.into();
    let target = api.cases.check_import(&ctx, &parent, new).await?;
    let mut items = BTreeMap::new();
    add_bundle(&mut items, &bundle_json, " (message 1)")?;
    let mut n = 1;
    while let Some(part) = stream.message().await? {
        n += 1;
        let mut stray = Vec::new();
        for (field, set) in [
            ("parent", !part.parent.is_empty()),
            ("snapshot", part.snapshot.is_some()),
            ("request_id", !part.request_id.is_empty()),
        ] {
            if set {
                stray.push((
                    field.to_owned(),
                    format!("must be empty after the first message (message {n})"),
                ));
            }
        }
        if !stray.is_empty() {
            return Err(ConfigError::Invalid(stray).into());
        }
        add_bundle(&mut items, &part.bundle_json, &format!(" (message {n})"))?;
    }
    let outcome = api
        .cases
        .import_snapshot(&ctx, target, items, &request_id, |s| {
            pb::ImportSnapshotPartsResponse {
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
    let pb::ExportConfigRequest {
        name,
        revision,
        page_size,
        page_token,
    } = req.into_inner();
    let query = ExportQuery {
        name: &name,
        revision,
        page_size,
        page_token: &page_token,
    };
    let page = api.cases.export(&ctx, &query).await?;
    Ok(Response::new(pb::ExportConfigResponse {
        bundle_json: page.bundle_json,
        content_hash: page.content_hash,
        export_time: Some(ts(page.export_time)),
        next_page_token: page.next_page_token,
    }))
}
