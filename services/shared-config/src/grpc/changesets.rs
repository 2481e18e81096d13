//! Handlers: changesets.

use prost::Message;

use super::*;

pub(super) async fn create_changeset(
    api: &Api,
    req: Request<pb::CreateChangesetRequest>,
) -> Reply<pb::CreateChangesetResponse> {
    let ctx = RequestContext::of(&req)?;
    let caller = caller(&req);
    let pb::CreateChangesetRequest {
        parent,
        changeset,
        request_id,
    } = req.into_inner();
    let new = required("changeset", changeset)?.try_into()?;
    let outcome = api
        .cases
        .create_changeset(&ctx, &caller, &parent, new, &request_id, |r| {
            pb::CreateChangesetResponse {
                changeset: Some(rendered_pb(r)),
            }
        })
        .await?;
    Ok(Response::new(outcome))
}

pub(super) async fn get_changeset(
    api: &Api,
    req: Request<pb::GetChangesetRequest>,
) -> Reply<pb::GetChangesetResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetChangesetRequest { name } = req.into_inner();
    let r = api.cases.get_changeset(&ctx, &name).await?;
    Ok(Response::new(pb::GetChangesetResponse {
        changeset: Some(rendered_pb(&r)),
    }))
}

pub(super) async fn list_changesets(
    api: &Api,
    req: Request<pb::ListChangesetsRequest>,
) -> Reply<pb::ListChangesetsResponse> {
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
        .await?;
    Ok(Response::new(pb::ListChangesetsResponse {
        changesets: list.iter().map(changeset_summary_pb).collect(),
        next_page_token,
    }))
}

pub(super) async fn discard_changeset(
    api: &Api,
    req: Request<pb::DiscardChangesetRequest>,
) -> Reply<pb::DiscardChangesetResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::DiscardChangesetRequest { name, request_id } = req.into_inner();
    let outcome = api
        .cases
        .discard_changeset(&ctx, &name, &request_id, |c| pb::DiscardChangesetResponse {
            changeset: Some(changeset_pb(c)),
        })
        .await?;
    Ok(Response::new(outcome))
}

pub(super) async fn list_changeset_changes(
    api: &Api,
    req: Request<pb::ListChangesetChangesRequest>,
) -> Reply<pb::ListChangesetChangesResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListChangesetChangesRequest {
        name,
        page_size,
        page_token,
    } = req.into_inner();
    let (changes, next_page_token) = api
        .cases
        .changeset_changes(&ctx, &name, page_size, &page_token, |c| {
            change_pb(c).encoded_len()
        })
        .await?;
    Ok(Response::new(pb::ListChangesetChangesResponse {
        changes: changes.iter().map(change_pb).collect(),
        next_page_token,
    }))
}

pub(super) async fn diff_changeset(
    api: &Api,
    req: Request<pb::DiffChangesetRequest>,
) -> Reply<pb::DiffChangesetResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::DiffChangesetRequest {
        name,
        trust,
        page_size,
        page_token,
    } = req.into_inner();
    let (head_revision, changes, next_page_token) = api
        .cases
        .changeset_diff(&ctx, &name, &trust, page_size, &page_token, diff_len)
        .await?;
    Ok(Response::new(pb::DiffChangesetResponse {
        changes: changes.iter().map(diff_pb).collect(),
        head_revision,
        next_page_token,
    }))
}
