//! The codec of every generated server and client: prost's, except that a message that cannot
//! be decoded is INVALID_ARGUMENT with an `ErrorInfo` (reason `MALFORMED_REQUEST`, domain
//! `platform.concordat`) instead of tonic's INTERNAL with the decoder's text alone.
//!
//! A server only decodes requests, so the status speaks of the request. A client decoding a
//! malformed response gets the same code; that would be a server fault, and the message says
//! what failed to decode.

use std::marker::PhantomData;

use bytes::Buf;
use prost::{Message, Name};
use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder};
use tonic_prost::{ProstDecoder, ProstEncoder};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo` domain of the status.
const DOMAIN: &str = "platform.concordat";

/// prost's codec with a precise error for a malformed message.
#[derive(Debug, Clone)]
pub struct Codec<T, U> {
    _pd: PhantomData<(T, U)>,
}

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Self { _pd: PhantomData }
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Name + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = MessageDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::new(BufferSettings::default())
    }

    fn decoder(&mut self) -> Self::Decoder {
        MessageDecoder {
            inner: ProstDecoder::new(BufferSettings::default()),
            _pd: PhantomData,
        }
    }
}

/// Decodes `U`, answering a malformed message with INVALID_ARGUMENT `MALFORMED_REQUEST`.
#[derive(Debug)]
pub struct MessageDecoder<U> {
    inner: ProstDecoder<U>,
    _pd: PhantomData<U>,
}

impl<U: Message + Name + Default> Decoder for MessageDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let bytes = buf.copy_to_bytes(buf.remaining());
        let item = U::decode(bytes.clone()).map_err(|err| malformed(&err))?;
        let checked = crate::limits::check(&U::full_name(), &bytes);
        if !checked.violations.is_empty() {
            return Err(invalid(checked.violations, checked.omitted));
        }
        match checked.cleared {
            // The same message without the output-only fields the client set.
            Some(cleared) => U::decode(cleared.as_slice())
                .map(Some)
                .map_err(|err| malformed(&err)),
            None => Ok(Some(item)),
        }
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.inner.buffer_settings()
    }
}

/// INVALID_ARGUMENT (reason `INVALID_ARGUMENT`) with a `BadRequest` naming each field that breaks
/// a limit of [`crate::limits`].
pub fn invalid(violations: Vec<crate::limits::Violation>, omitted: usize) -> Status {
    let mut message = violations
        .iter()
        .take(5)
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    let more = violations.len().saturating_sub(5) + omitted;
    if more > 0 {
        message.push_str(&format!(" (and {more} more)"));
    }
    let mut metadata = std::collections::HashMap::new();
    if omitted > 0 {
        metadata.insert("violations_omitted".to_owned(), omitted.to_string());
    }
    let mut details = ErrorDetails::with_error_info("INVALID_ARGUMENT", DOMAIN, metadata);
    details.set_bad_request(
        violations
            .into_iter()
            .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(tonic::Code::InvalidArgument, message, details)
}

/// The status of a message that could not be decoded: the decoder's reason, at most 200
/// characters of it.
pub fn malformed(err: &prost::DecodeError) -> Status {
    let text: String = err.to_string().chars().take(200).collect();
    let message = format!("the request is not a valid protobuf message of its type: {text}");
    Status::with_error_details(
        tonic::Code::InvalidArgument,
        message,
        ErrorDetails::with_error_info(
            "MALFORMED_REQUEST",
            DOMAIN,
            std::collections::HashMap::new(),
        ),
    )
}
