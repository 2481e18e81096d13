//! Handlers: publishing and rollback.

use super::*;

pub(super) async fn publish_changeset(
    api: &Api,
    req: Request<pb::PublishChangesetRequest>,
) -> Reply<pb::PublishChangesetResponse> {
    let ctx = RequestContext::of(&req)?;
    let caller = caller(&req);
    let pb::PublishChangesetRequest {
        name,
        rebase,
        request_id,
    } = req.into_inner();
    let response = |r: &Revision, c: &Changeset| pb::PublishChangesetResponse {
        revision: Some(revision_pb(r)),
        changeset: Some(changeset_pb(c)),
    };
    let outcome = api
        .cases
        .publish(&ctx, &caller, &name, rebase, &request_id, response)
        .await?;
    Ok(Response::new(outcome))
}

pub(super) async fn rollback_layer(
    api: &Api,
    req: Request<pb::RollbackLayerRequest>,
) -> Reply<pb::RollbackLayerResponse> {
    let ctx = RequestContext::of(&req)?;
    let caller = caller(&req);
    let pb::RollbackLayerRequest {
        layer,
        revision,
        change_request,
        expected_head_revision,
        request_id,
    } = req.into_inner();
    let outcome = api
        .cases
        .rollback(
            &ctx,
            &caller,
            &layer,
            revision,
            &change_request,
            expected_head_revision,
            &request_id,
            |r| pb::RollbackLayerResponse {
                revision: Some(revision_pb(r)),
            },
        )
        .await?;
    Ok(Response::new(outcome))
}
