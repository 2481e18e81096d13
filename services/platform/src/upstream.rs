//! Calling another service as the caller: the caller's credentials and request id carried on a
//! request to an upstream, so the upstream authorizes and audits the original caller. Services
//! that call others build their typed clients on this.

use std::time::Duration;

/// Whose credentials an upstream call carries.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The `authorization` header: the caller's, forwarded, or `Bearer` and a service token.
    pub authorization: String,
    /// The `x-request-id`, carried on so logs and audit entries match.
    pub request_id: String,
}

impl Caller {
    /// The caller of `req`: its `authorization` and `x-request-id` headers.
    pub fn of<T>(req: &tonic::Request<T>) -> Caller {
        let header = |name: &str| {
            req.metadata()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        Caller {
            authorization: header("authorization"),
            request_id: header("x-request-id"),
        }
    }
}

/// `message` as a request carrying `caller`'s credentials and request id, with `timeout` unless
/// it is a stream.
pub fn forwarded<M>(message: M, caller: &Caller, timeout: Option<Duration>) -> tonic::Request<M> {
    let mut request = tonic::Request::new(message);
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    for (header, value) in [
        ("authorization", &caller.authorization),
        ("x-request-id", &caller.request_id),
    ] {
        if let Ok(value) = value.parse() {
            request.metadata_mut().insert(header, value);
        }
    }
    crate::trace_context::inject(&mut request);
    request
}
