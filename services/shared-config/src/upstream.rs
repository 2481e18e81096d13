//! Change control as shared configuration sees it: one typed client trait, answered through change
//! control's gRPC API — in-process when both run in one process (the same authentication and
//! authorization as over the network), over a channel when they are deployed apart.

use std::collections::BTreeSet;
use std::time::Duration;

use concordat_proto::changecontrol::v1 as pb;
use pb::change_control_service_client::ChangeControlServiceClient;
use tonic::Code;

use crate::domain::publish::ChangeRequestFacts;

/// Who is asking: the caller's credentials, forwarded so change control scopes the read to them.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The `authorization` header of the original call.
    pub authorization: String,
    /// Its `x-request-id`, carried on so logs and audit entries match.
    pub request_id: String,
}

/// Why change control gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No such change request, or the caller may not read it: what was asked for, and why.
    #[error("{subject}: {message}")]
    Unknown {
        /// The change request (or ICS) asked about.
        subject: String,
        /// Why it was refused.
        message: String,
    },
    /// Change control did not answer; worth retrying.
    #[error("change control is unavailable: {0}")]
    Unavailable(String),
}

/// Reads change requests from change control.
#[async_trait::async_trait]
pub trait ChangeRequests: Send + Sync {
    /// The facts about `name` (`icss/{ics}/changeRequests/{id}`) that publishing depends on.
    async fn get(&self, name: &str, caller: &Caller) -> Result<ChangeRequestFacts, UpstreamError>;

    /// The domains the design authorities of `parent` (`icss/{ics}`) decide.
    async fn decided_domains(
        &self,
        parent: &str,
        caller: &Caller,
    ) -> Result<BTreeSet<String>, UpstreamError>;

    /// The names of the hazards logged against change request `name`.
    async fn hazards(&self, name: &str, caller: &Caller)
    -> Result<BTreeSet<String>, UpstreamError>;
}

/// `request` with the caller's token and request id, and the upstream timeout.
fn forwarded<M>(message: M, caller: &Caller, timeout: Duration) -> tonic::Request<M> {
    let mut request = tonic::Request::new(message);
    request.set_timeout(timeout);
    for (header, value) in [
        ("authorization", &caller.authorization),
        ("x-request-id", &caller.request_id),
    ] {
        if let Ok(value) = value.parse() {
            request.metadata_mut().insert(header, value);
        }
    }
    concordat_platform::trace_context::inject(&mut request);
    request
}

/// An upstream failure: what the caller sent is wrong (`Unknown`), or change control did not
/// answer (`Unavailable`).
fn upstream_error(what: &str, status: &tonic::Status) -> UpstreamError {
    match status.code() {
        Code::NotFound | Code::PermissionDenied | Code::InvalidArgument | Code::Unauthenticated => {
            UpstreamError::Unknown {
                subject: what.to_owned(),
                message: status.message().to_owned(),
            }
        }
        _ => UpstreamError::Unavailable(format!("{:?}: {}", status.code(), status.message())),
    }
}

/// Change control through its generated gRPC client, over any transport.
pub struct GrpcChangeRequests<T> {
    client: ChangeControlServiceClient<T>,
    timeout: Duration,
}

impl<T> GrpcChangeRequests<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    /// Over `transport`: a `tonic::transport::Channel`, or a service of this process.
    pub fn new(transport: T) -> Self {
        Self {
            client: ChangeControlServiceClient::new(transport),
            timeout: Duration::from_secs(10),
        }
    }
}

impl GrpcChangeRequests<tonic::transport::Channel> {
    /// A client of change control at `url`, connecting on first use.
    pub fn connect(url: &str) -> Result<Self, String> {
        let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
            .map_err(|e| format!("upstream.change-control {url}: {e}"))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true);
        Ok(Self::new(endpoint.connect_lazy()))
    }
}

/// Change control as shared configuration asks it: in this process or over the network.
pub fn change_requests(
    upstream: concordat_platform::registry::Upstream,
) -> std::sync::Arc<dyn ChangeRequests> {
    use concordat_platform::registry::Upstream;
    match upstream {
        Upstream::Local(service) => std::sync::Arc::new(GrpcChangeRequests::new(service)),
        Upstream::Remote(channel) => std::sync::Arc::new(GrpcChangeRequests::new(channel)),
    }
}

fn state_name(state: i32) -> String {
    pb::State::try_from(state)
        .map(|s| s.as_str_name().trim_start_matches("STATE_").to_owned())
        .unwrap_or_else(|_| format!("UNKNOWN({state})"))
}

#[async_trait::async_trait]
impl<T> ChangeRequests for GrpcChangeRequests<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    async fn decided_domains(
        &self,
        parent: &str,
        caller: &Caller,
    ) -> Result<BTreeSet<String>, UpstreamError> {
        let mut domains = BTreeSet::new();
        let mut page_token = String::new();
        let mut client = self.client.clone();
        loop {
            let request = forwarded(
                pb::ListDesignAuthoritiesRequest {
                    parent: parent.to_owned(),
                    page_size: 500,
                    page_token: page_token.clone(),
                },
                caller,
                self.timeout,
            );
            let page = client
                .list_design_authorities(request)
                .await
                .map_err(|status| upstream_error(parent, &status))?
                .into_inner();
            domains.extend(
                page.design_authorities
                    .into_iter()
                    .flat_map(|da| da.domains),
            );
            if page.next_page_token.is_empty() {
                return Ok(domains);
            }
            page_token = page.next_page_token;
        }
    }

    async fn hazards(
        &self,
        name: &str,
        caller: &Caller,
    ) -> Result<BTreeSet<String>, UpstreamError> {
        let mut hazards = BTreeSet::new();
        let mut page_token = String::new();
        let mut client = self.client.clone();
        loop {
            let request = forwarded(
                pb::ListHazardsRequest {
                    parent: name.to_owned(),
                    page_size: 500,
                    page_token: page_token.clone(),
                },
                caller,
                self.timeout,
            );
            let page = client
                .list_hazards(request)
                .await
                .map_err(|status| upstream_error(name, &status))?
                .into_inner();
            hazards.extend(page.hazards.into_iter().map(|h| h.name));
            if page.next_page_token.is_empty() {
                return Ok(hazards);
            }
            page_token = page.next_page_token;
        }
    }

    async fn get(&self, name: &str, caller: &Caller) -> Result<ChangeRequestFacts, UpstreamError> {
        let request = forwarded(
            pb::GetChangeRequestRequest {
                name: name.to_owned(),
            },
            caller,
            self.timeout,
        );
        let mut client = self.client.clone();
        match client.get_change_request(request).await {
            Ok(response) => {
                let cr = response.into_inner().change_request.unwrap_or_default();
                Ok(ChangeRequestFacts {
                    name: cr.name,
                    number: cr.number,
                    state: state_name(cr.state),
                    domain: cr.domain,
                    affected_trusts: cr.affected_trusts.into_iter().collect::<BTreeSet<_>>(),
                })
            }
            Err(status) => Err(upstream_error(name, &status)),
        }
    }
}
