//! Handlers: raising, reading, listing and editing change requests.

use concordat_platform::authz::RequestContext;
use concordat_proto::changecontrol::v1 as pb;
use tonic::{Request, Response};

use concordat_platform::paging::PageRequest;

use super::convert::{bad, change_request_pb, new_change_request, violation};
use super::{Api, Reply};
use crate::domain::lifecycle::State;
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
    // The token is bound to the query, so it is refused with another.
    let query = format!("{parent}|{filter}|{order_by}");
    let page = PageRequest::parse(&api.tokens, query, page_size, &page_token).map_err(violation)?;
    let query = parse_filter(&filter, parse_order(&order_by)?, &page)?;
    let (rows, total) = api.cases.list_change_requests(&ctx, &parent, query).await?;
    Ok(Response::new(pb::ListChangeRequestsResponse {
        next_page_token: page.next_token(&api.tokens, rows.len(), total),
        change_requests: rows.iter().map(Into::into).collect(),
        total_size: i32::try_from(total).unwrap_or(i32::MAX),
    }))
}

pub(super) async fn update_change_request(
    api: &Api,
    req: Request<pb::UpdateChangeRequestRequest>,
) -> Reply<pb::UpdateChangeRequestResponse> {
    let ctx = RequestContext::of(&req)?;
    let edit = req.into_inner().try_into()?;
    let reply = api
        .cases
        .update_change_request(&ctx, edit, |cr, stale| pb::UpdateChangeRequestResponse {
            change_request: Some(change_request_pb(cr.clone(), stale)),
        })
        .await?;
    Ok(Response::new(reply))
}

/// Parses a list filter (conditions joined by `AND`) into the query of `page` in `order`.
fn parse_filter(
    filter: &str,
    order: (ListOrder, bool),
    page: &PageRequest,
) -> Result<ListQuery, Status> {
    let mut q = ListQuery {
        order,
        offset: page.offset,
        limit: page.size,
        ..Default::default()
    };
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
            ("requester_issuer", "=") => q.requester_issuer = Some(value.to_owned()),
            ("number", "=") => q.number = Some(value.to_owned()),
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
                        "`{term}`: use state =, design_authority =, trust =, requester =, requester_issuer =, number =, residual_risk >= or text :"
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
