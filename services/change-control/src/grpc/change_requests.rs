//! Handlers: raising, reading, listing and editing change requests.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use super::convert::{bad, change_request_pb, new_change_request, page_size_of, violation};
use super::{Api, Reply};
use crate::domain::lifecycle::State;
use crate::service::ChangeRequestEdit;
use crate::store::{ListOrder, ListQuery};
use tonic::Status;

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

/// Parses a list filter: conditions joined by `AND`.
fn parse_filter(filter: &str, mut q: ListQuery) -> Result<ListQuery, Status> {
    if filter.trim().is_empty() {
        return Ok(q);
    }
    for term in filter.split(" AND ") {
        let term = term.trim();
        let (key, op, value) = ["<=", ">=", "=", ":"]
            .iter()
            .find_map(|op| {
                term.split_once(op)
                    .map(|(k, v)| (k.trim(), *op, v.trim().trim_matches('"')))
            })
            .ok_or_else(|| bad("filter", &format!("`{term}` is not `field = value`")))?;
        match (key, op) {
            ("state", "=") => {
                q.state = Some(
                    State::parse(value)
                        .ok_or_else(|| bad("filter", &format!("unknown state `{value}`")))?,
                )
            }
            ("design_authority", "=") => {
                q.design_authority = Some(value.rsplit('/').next().unwrap_or(value).to_owned())
            }
            ("trust", "=") => q.trust = Some(value.to_owned()),
            ("requester", "=") => q.requester = Some(value.to_owned()),
            ("residual_risk", ">=") => {
                q.min_residual_risk = Some(
                    value
                        .parse()
                        .map_err(|_| bad("filter", "residual_risk needs a number 1–5"))?,
                )
            }
            ("text", ":") => q.text = Some(value.to_owned()),
            _ => {
                return Err(bad(
                    "filter",
                    &format!(
                        "`{term}`: use state =, design_authority =, trust =, requester =, residual_risk >= or text :"
                    ),
                ));
            }
        }
    }
    Ok(q)
}

fn parse_order(order_by: &str) -> Result<(ListOrder, bool), Status> {
    let mut parts = order_by.split_whitespace();
    let field = parts.next().unwrap_or("create_time");
    let desc = match parts.next() {
        None => order_by.trim().is_empty(),
        Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(bad("order_by", "use `<field> [asc|desc]`")),
    };
    let order = match field {
        "create_time" => ListOrder::CreateTime,
        "update_time" => ListOrder::UpdateTime,
        "number" => ListOrder::Number,
        "residual_risk" => ListOrder::ResidualRisk,
        _ => {
            return Err(bad(
                "order_by",
                "order by create_time, update_time, number or residual_risk",
            ));
        }
    };
    Ok((order, desc))
}
