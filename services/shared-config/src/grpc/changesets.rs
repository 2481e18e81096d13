//! Handlers: changesets.

use super::*;

pub(super) async fn create_changeset(
    api: &Api,
    req: Request<pb::CreateChangesetRequest>,
) -> Result<Response<pb::CreateChangesetResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::CreateChangesetRequest {
        parent,
        changeset,
        request_id,
    } = req.into_inner();
    let pb::Changeset {
        name: _,
        layer,
        base_revision,
        change_request,
        description,
        changes,
        state: _,
        author: _,
        create_time: _,
        published_revision: _,
        trust_diffs: _,
        head_revision: _,
    } = changeset.ok_or_else(|| invalid("changeset", "is required"))?;
    let changes = changes
        .into_iter()
        .enumerate()
        .map(|(i, c)| change_of(i, c))
        .collect::<Result<Vec<_>, _>>()?;
    let new = NewChangeset {
        layer,
        base_revision,
        change_request,
        description,
        changes,
    };
    let outcome = api
        .cases
        .create_changeset(&ctx, &parent, new, &request_id, |r| {
            pb::CreateChangesetResponse {
                changeset: Some(rendered_pb(r)),
            }
        })
        .await
        .map_err(status)?;
    Ok(Response::new(outcome))
}

pub(super) async fn get_changeset(
    api: &Api,
    req: Request<pb::GetChangesetRequest>,
) -> Result<Response<pb::GetChangesetResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetChangesetRequest { name } = req.into_inner();
    let r = api.cases.get_changeset(&ctx, &name).await.map_err(status)?;
    Ok(Response::new(pb::GetChangesetResponse {
        changeset: Some(rendered_pb(&r)),
    }))
}

pub(super) async fn list_changesets(
    api: &Api,
    req: Request<pb::ListChangesetsRequest>,
) -> Result<Response<pb::ListChangesetsResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListChangesetsRequest {
        parent,
        layer,
        state,
        page_size,
        page_token,
    } = req.into_inner();
    let state = match pb::ChangesetState::try_from(state) {
        Ok(pb::ChangesetState::Unspecified) => None,
        Ok(pb::ChangesetState::Open) => Some(ChangesetState::Open),
        Ok(pb::ChangesetState::Published) => Some(ChangesetState::Published),
        Ok(pb::ChangesetState::Discarded) => Some(ChangesetState::Discarded),
        Err(_) => return Err(invalid("state", "is not a changeset state")),
    };
    let (list, next_page_token) = api
        .cases
        .list_changesets(&ctx, &parent, &layer, state, page_size, &page_token)
        .await
        .map_err(status)?;
    Ok(Response::new(pb::ListChangesetsResponse {
        changesets: list.iter().map(changeset_pb).collect(),
        next_page_token,
    }))
}

pub(super) async fn discard_changeset(
    api: &Api,
    req: Request<pb::DiscardChangesetRequest>,
) -> Result<Response<pb::DiscardChangesetResponse>, Status> {
    let ctx = RequestContext::of(&req)?;
    let pb::DiscardChangesetRequest { name, request_id } = req.into_inner();
    let outcome = api
        .cases
        .discard_changeset(&ctx, &name, &request_id, |c| pb::DiscardChangesetResponse {
            changeset: Some(changeset_pb(c)),
        })
        .await
        .map_err(status)?;
    Ok(Response::new(outcome))
}
