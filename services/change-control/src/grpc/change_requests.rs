//! Handlers: raising, reading, listing and editing change requests.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use super::convert::{
    change_request_pb, new_change_request, page_size_of, parse_filter, parse_order, violation,
};
use super::{Api, Reply};
use crate::service::ChangeRequestEdit;
use crate::store::ListQuery;

pub(super) async fn create_change_request(
    api: &Api,
    req: Request<pb::CreateChangeRequestRequest>,
) -> Reply<pb::CreateChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::CreateChangeRequestRequest {
        parent,
        change_request,
        request_id,
    } = req.into_inner();
    let new = new_change_request(change_request)?;
    let reply = api
        .cases
        .create_change_request(&ctx, &parent, new, &request_id, |cr| {
            pb::CreateChangeRequestResponse {
                change_request: Some(cr.into()),
            }
        })
        .await?;
    Ok(Response::new(reply))
}

pub(super) async fn get_change_request(
    api: &Api,
    req: Request<pb::GetChangeRequestRequest>,
) -> Reply<pb::GetChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::GetChangeRequestRequest { name } = req.into_inner();
    let (cr, stale) = api.cases.get_change_request(&ctx, &name).await?;
    Ok(Response::new(pb::GetChangeRequestResponse {
        change_request: Some(change_request_pb(cr, stale)),
    }))
}

pub(super) async fn list_change_requests(
    api: &Api,
    req: Request<pb::ListChangeRequestsRequest>,
) -> Reply<pb::ListChangeRequestsResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::ListChangeRequestsRequest {
        parent,
        page_size,
        page_token,
        filter,
        order_by,
    } = req.into_inner();
    let limit = page_size_of(page_size)?;
    // The token carries the offset and the query it belongs to, so it is refused with another.
    let fingerprint = format!("{parent}|{filter}|{order_by}");
    let offset = api
        .tokens
        .decode("page_token", &page_token, &fingerprint)
        .map_err(violation)?
        .unwrap_or(0);
    let offset = u64::try_from(offset).unwrap_or(0);
    let query = parse_filter(
        &filter,
        ListQuery {
            order: parse_order(&order_by)?,
            offset,
            limit,
            ..Default::default()
        },
    )?;
    let (rows, total) = api.cases.list_change_requests(&ctx, &parent, query).await?;
    let next = offset + rows.len() as u64;
    let next_page_token = if next < total {
        api.tokens
            .encode(&fingerprint, i64::try_from(next).unwrap_or(i64::MAX))
    } else {
        String::new()
    };
    Ok(Response::new(pb::ListChangeRequestsResponse {
        change_requests: rows.iter().map(Into::into).collect(),
        next_page_token,
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}

pub(super) async fn update_change_request(
    api: &Api,
    req: Request<pb::UpdateChangeRequestRequest>,
) -> Reply<pb::UpdateChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let pb::UpdateChangeRequestRequest {
        change_request,
        update_mask,
        request_id,
    } = req.into_inner();
    let (name, etag) = change_request
        .as_ref()
        .map(|c| (c.name.clone(), c.etag.clone()))
        .unwrap_or_default();
    let edit = ChangeRequestEdit {
        name,
        values: new_change_request(change_request)?,
        mask: update_mask,
        etag,
    };
    let reply = api
        .cases
        .update_change_request(&ctx, edit, &request_id, |cr, stale| {
            pb::UpdateChangeRequestResponse {
                change_request: Some(change_request_pb(cr.clone(), stale)),
            }
        })
        .await?;
    Ok(Response::new(reply))
}
