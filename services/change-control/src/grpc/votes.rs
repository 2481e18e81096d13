//! Handlers: votes and the chair's disposition of objections.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use super::convert::{choice, disposition, page, parent_of, vote_pb, vote_result};
use super::{Api, Reply};

pub(super) async fn cast_vote(
    api: &Api,
    req: Request<pb::CastVoteRequest>,
) -> Reply<pb::CastVoteResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::CastVoteRequest {
        parent,
        choice: sent,
        reason,
        comment,
        request_id,
    } = req.into_inner();
    let reply = api
        .cases
        .cast_vote(
            &ctx,
            &parent,
            choice(sent)?,
            reason,
            comment,
            &request_id,
            |r| {
                let (vote, change_request) = vote_result(&parent, r);
                pb::CastVoteResponse {
                    vote,
                    change_request,
                }
            },
        )
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn list_votes(
    api: &Api,
    req: Request<pb::ListVotesRequest>,
) -> Reply<pb::ListVotesResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListVotesRequest {
        parent,
        page_size,
        page_token,
    } = req.into_inner();
    let list = api.cases.list_votes(&ctx, &parent).await?;
    let (list, next_page_token) = page(api, &ctx, &parent, page_size, &page_token, list)?;
    Ok(Response::new(pb::ListVotesResponse {
        votes: list.into_iter().map(|v| vote_pb(&parent, v)).collect(),
        next_page_token,
    }))
}

pub(super) async fn dispose_objection(
    api: &Api,
    req: Request<pb::DisposeObjectionRequest>,
) -> Reply<pb::DisposeObjectionResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::DisposeObjectionRequest {
        name,
        disposition: sent,
        note,
        request_id,
    } = req.into_inner();
    let parent = parent_of(&name);
    let reply = api
        .cases
        .dispose_objection(&ctx, &name, disposition(sent)?, note, &request_id, |r| {
            let (vote, change_request) = vote_result(&parent, r);
            pb::DisposeObjectionResponse {
                vote,
                change_request,
            }
        })
        .await?;
    Ok(Response::new(reply))
}
