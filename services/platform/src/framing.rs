//! The gRPC frame of a request, checked before tonic reads it: a body that is not one message
//! frame is INVALID_ARGUMENT `MALFORMED_REQUEST`, and a message over `server.max_message_bytes`
//! is RESOURCE_EXHAUSTED `MESSAGE_TOO_LARGE` naming the limit, with `ErrorInfo` in both cases
//! (tonic would answer OUT_OF_RANGE or INTERNAL with its own text). Only the five-byte frame
//! header is read here; the body then goes on to tonic unchanged.

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use http_body::Frame;
use http_body_util::{BodyExt, BodyStream, StreamBody};
use tonic::Code;
use tonic::body::Body;

use crate::error::{ApiError, PLATFORM_DOMAIN};

/// The length of a gRPC frame header: a compression flag and a big-endian length.
const HEADER: usize = 5;

/// RESOURCE_EXHAUSTED `MESSAGE_TOO_LARGE` for a message of `size` bytes over `limit`.
pub fn too_large(size: Option<usize>, limit: usize) -> ApiError {
    let message = match size {
        Some(size) => format!(
            "the request message is {size} bytes; the server accepts at most {limit} bytes (server.max_message_bytes)"
        ),
        None => format!(
            "the request message is larger than the server accepts: at most {limit} bytes (server.max_message_bytes)"
        ),
    };
    let mut err = ApiError::new(
        Code::ResourceExhausted,
        PLATFORM_DOMAIN,
        "MESSAGE_TOO_LARGE",
        message,
    )
    .with_metadata("limit_bytes", limit.to_string());
    if let Some(size) = size {
        err = err.with_metadata("size_bytes", size.to_string());
    }
    err
}

fn malformed(what: &str) -> ApiError {
    ApiError::new(
        Code::InvalidArgument,
        PLATFORM_DOMAIN,
        "MALFORMED_REQUEST",
        format!("the request is not a gRPC message frame: {what}"),
    )
}

/// Reads the frame header of `req`'s body and checks it against `limit`; the request comes back
/// with its body whole.
pub async fn check(
    req: http::Request<Body>,
    limit: usize,
) -> Result<http::Request<Body>, ApiError> {
    let compressed_allowed = req.headers().contains_key("grpc-encoding");
    let (parts, mut body) = req.into_parts();
    let mut head = BytesMut::new();
    let mut trailers = None;
    while head.len() < HEADER {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => head.extend_from_slice(&data),
                Err(frame) => {
                    trailers = Some(frame);
                    break;
                }
            },
            Some(Err(err)) => return Err(malformed(&format!("the body could not be read: {err}"))),
        }
    }
    if head.len() < HEADER {
        return Err(malformed(if head.is_empty() {
            "the body is empty (a unary call sends exactly one message)"
        } else {
            "the body ends inside the frame header"
        }));
    }
    let mut header = &head[..HEADER];
    let flag = header.get_u8();
    let len = header.get_u32() as usize;
    match flag {
        0 => {}
        1 if compressed_allowed => {}
        1 => {
            return Err(malformed(
                "a compressed message without a grpc-encoding header",
            ));
        }
        _ => {
            return Err(malformed(&format!(
                "the compression flag is {flag}, not 0 or 1"
            )));
        }
    }
    if len > limit {
        return Err(too_large(Some(len), limit));
    }
    let first: Bytes = head.freeze();
    let rest = BodyStream::new(body);
    let stream = futures::stream::once(async move { Ok(Frame::data(first)) })
        .chain(rest)
        .chain(futures::stream::iter(trailers.map(Ok)));
    Ok(http::Request::from_parts(
        parts,
        Body::new(StreamBody::new(stream)),
    ))
}

/// A status tonic answered inside a service without details (a message that decompresses past
/// the limit) given its `ErrorInfo`: RESOURCE_EXHAUSTED becomes `MESSAGE_TOO_LARGE`.
pub fn explain(response: http::Response<Body>, limit: usize) -> http::Response<Body> {
    let headers = response.headers();
    let is_exhausted = headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"8");
    if is_exhausted && !headers.contains_key("grpc-status-details-bin") {
        return too_large(None, limit).into_status().into_http();
    }
    response
}
