//! Handler: every lifecycle move of a change request, one generic body.

use concordat_platform::authz::RequestContext;
use tonic::{Request, Response, Status};

use super::{Api, Reply};
use crate::domain::change_request::ChangeRequest;
use crate::service::Moving;

/// A lifecycle request → its [`Moving`] command → the move → the response.
pub(super) async fn moved<Q, T>(api: &Api, req: Request<Q>) -> Reply<T>
where
    Q: TryInto<Moving, Error = Status>,
    T: for<'a> From<&'a ChangeRequest> + concordat_platform::write::Reply,
{
    let ctx = RequestContext::of(&req)?;
    let moving = req.into_inner().try_into()?;
    let reply = api
        .cases
        .move_change_request(&ctx, moving, |cr| T::from(cr))
        .await?;
    Ok(Response::new(reply))
}
