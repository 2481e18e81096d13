//! Calling the API by method name: the request and response are `prost_reflect` dynamic messages
//! of the generated descriptors, sent over one tonic channel with the bearer token of the kit's
//! [`BearerToken`] interceptor.

use std::sync::OnceLock;
use std::time::Duration;

use concordat_api::credentials::BearerToken;
use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Every service's descriptors, decoded once.
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        #[allow(clippy::expect_used)]
        DescriptorPool::decode(concordat_proto::FILE_DESCRIPTOR_SET)
            .expect("the API's own descriptor set decodes")
    })
}

/// The method called `name` (e.g. `CreateHazard`) in whichever Concordat service has it.
pub fn method(name: &str) -> Option<MethodDescriptor> {
    pool()
        .services()
        .filter(|s| s.full_name().starts_with("concordat."))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .find(|m| m.name() == name || m.full_name() == name)
}

/// Encodes and decodes dynamic messages of one method.
struct DynamicCodec(MessageDescriptor);

struct DynamicEncoder;
struct DynamicDecoder(MessageDescriptor);

impl Codec for DynamicCodec {
    type Encode = DynamicMessage;
    type Decode = DynamicMessage;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.0.clone())
    }
}

impl Encoder for DynamicEncoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        item.encode(dst)
            .map_err(|e| tonic::Status::internal(format!("encoding the request: {e}")))
    }
}

impl Decoder for DynamicDecoder {
    type Item = DynamicMessage;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        DynamicMessage::decode(self.0.clone(), src)
            .map(Some)
            .map_err(|e| tonic::Status::internal(format!("decoding the response: {e}")))
    }
}

/// A connection to a server with a caller's token.
pub struct Connection {
    grpc: tonic::client::Grpc<InterceptedService<Channel, BearerToken>>,
}

/// How often a call refused with UNAVAILABLE is tried again (with the same request id).
const ATTEMPTS: u32 = 3;

fn path(method: &MethodDescriptor) -> Result<http::uri::PathAndQuery, String> {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
        .parse()
        .map_err(|e| format!("{}: {e}", method.full_name()))
}

fn request<T>(message: T, request_id: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(id) = request_id.and_then(|id| id.parse().ok()) {
        request.metadata_mut().insert("x-request-id", id);
    }
    request
}

/// The `request_id` field's value, if the message has one.
fn request_id(message: &DynamicMessage) -> Option<String> {
    message
        .get_field_by_name("request_id")
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|id| !id.is_empty())
}

/// A channel to `server` (an `http://` or `https://` URL); for `https://`, trusting the
/// system's certificates and those of `ca_file`.
pub async fn channel(
    server: &str,
    ca_file: Option<&std::path::PathBuf>,
) -> Result<Channel, String> {
    let endpoint = Channel::from_shared(server.to_owned())
        .map_err(|e| format!("--server {server}: {e}"))?
        .connect_timeout(Duration::from_secs(10));
    let endpoint = if server.starts_with("https://") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_native_roots();
        if let Some(path) = ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| format!("cannot read --ca-file {}: {e}", path.display()))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint
            .tls_config(tls)
            .map_err(|e| format!("--server {server}: {e}"))?
    } else {
        endpoint
    };
    endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {server}: {e}"))
}

impl Connection {
    /// Connects to `server` (an `http://` or `https://` URL) with `token`; for `https://`,
    /// trusting the system's certificates and those of `ca_file`.
    pub async fn open(
        server: &str,
        token: BearerToken,
        ca_file: Option<&std::path::PathBuf>,
    ) -> Result<Self, String> {
        let channel = channel(server, ca_file).await?;
        Ok(Self {
            grpc: tonic::client::Grpc::new(InterceptedService::new(channel, token)),
        })
    }

    /// The channel ready for a call of `method`, and the method's path.
    async fn ready(
        &mut self,
        method: &MethodDescriptor,
    ) -> Result<http::uri::PathAndQuery, tonic::Status> {
        let path = path(method).map_err(tonic::Status::internal)?;
        self.grpc
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        Ok(path)
    }

    /// Calls the unary `method` with `message`. A call refused with UNAVAILABLE is tried again
    /// with the same message, so the same `request_id`, and the server answers a retried write
    /// once.
    pub async fn unary(
        &mut self,
        method: &MethodDescriptor,
        message: DynamicMessage,
    ) -> Result<DynamicMessage, tonic::Status> {
        let id = request_id(&message);
        let mut attempt = 1;
        loop {
            let path = self.ready(method).await?;
            let result = self
                .grpc
                .unary(
                    request(message.clone(), id.as_deref()),
                    path,
                    DynamicCodec(method.output()),
                )
                .await;
            match result {
                Err(status) if status.code() == tonic::Code::Unavailable && attempt < ATTEMPTS => {
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                    attempt += 1;
                }
                other => return other.map(tonic::Response::into_inner),
            }
        }
    }

    /// Opens the server-streaming `method` with `message`.
    pub async fn server_streaming(
        &mut self,
        method: &MethodDescriptor,
        message: DynamicMessage,
    ) -> Result<tonic::Streaming<DynamicMessage>, tonic::Status> {
        let path = self.ready(method).await?;
        self.grpc
            .server_streaming(request(message, None), path, DynamicCodec(method.output()))
            .await
            .map(tonic::Response::into_inner)
    }

    /// Calls the client-streaming `method` with the messages of `stream`.
    pub async fn client_streaming<S>(
        &mut self,
        method: &MethodDescriptor,
        stream: S,
        request_id: &str,
    ) -> Result<DynamicMessage, tonic::Status>
    where
        S: futures::Stream<Item = DynamicMessage> + Send + 'static,
    {
        let path = self.ready(method).await?;
        self.grpc
            .client_streaming(
                request(stream, Some(request_id)),
                path,
                DynamicCodec(method.output()),
            )
            .await
            .map(tonic::Response::into_inner)
    }
}
