//! Change control and shared configuration as benefits sees them: whether a change request
//! exists (a benefit's enabling change requests are checked when written), and when
//! configuration was published under one (where an SPC chart is rebased). Both answered through
//! the services' gRPC APIs with the caller's credentials: in this process when they run in one,
//! over a channel when they are apart.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use concordat_platform::registry::Upstream;
use concordat_platform::upstream::{Caller, forwarded};
use concordat_proto::changecontrol::v1 as cc;
use concordat_proto::sharedconfig::v1 as sc;
use tonic::Code;

/// Why an upstream gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// It refused what was asked for the caller (no such resource, out of scope): the resource
    /// asked for, and why.
    #[error("{subject}: {message}")]
    Refused {
        /// The resource asked for.
        subject: String,
        /// Why it was refused.
        message: String,
    },
    /// It did not answer; worth retrying.
    #[error("{0}")]
    Unavailable(String),
}

fn upstream_error(what: &str, status: &tonic::Status) -> UpstreamError {
    match status.code() {
        Code::NotFound | Code::PermissionDenied | Code::InvalidArgument | Code::Unauthenticated => {
            UpstreamError::Refused {
                subject: what.to_owned(),
                message: status.message().to_owned(),
            }
        }
        _ => {
            UpstreamError::Unavailable(format!("{what}: {:?}: {}", status.code(), status.message()))
        }
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

/// A change request as a benefit names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRequestRef {
    /// `icss/{ics}/changeRequests/{id}`.
    pub name: String,
    /// Its number, e.g. `CR-2025-0042`.
    pub number: String,
}

/// A revision published under a change request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// `icss/{ics}/layers/{layer}/revisions/{n}`.
    pub revision: String,
    /// The change request.
    pub change_request: String,
    /// When.
    pub publish_time: DateTime<Utc>,
}

/// What benefits asks of change control.
#[async_trait::async_trait]
pub trait ChangeRequests: Send + Sync {
    /// The change request `name`, as the caller may read it.
    async fn get(&self, name: &str, caller: &Caller) -> Result<ChangeRequestRef, UpstreamError>;
}

/// What benefits asks of shared configuration.
#[async_trait::async_trait]
pub trait Publishes: Send + Sync {
    /// The revisions of `layers` (`icss/{ics}/layers/{layer}`) published under any of
    /// `change_requests`, oldest first.
    async fn under(
        &self,
        layers: &[String],
        change_requests: &BTreeSet<String>,
        caller: &Caller,
    ) -> Result<Vec<Publish>, UpstreamError>;
}

struct GrpcChangeControl<T>(cc::change_control_service_client::ChangeControlServiceClient<T>);
struct GrpcSharedConfig<T>(sc::shared_config_service_client::SharedConfigServiceClient<T>);

/// Change control at `upstream`.
pub fn change_control(upstream: Upstream) -> Arc<dyn ChangeRequests> {
    use cc::change_control_service_client::ChangeControlServiceClient as Client;
    match upstream {
        Upstream::Local(s) => Arc::new(GrpcChangeControl(Client::new(s))),
        Upstream::Remote(c) => Arc::new(GrpcChangeControl(Client::new(c))),
    }
}

/// Shared configuration at `upstream`.
pub fn shared_config(upstream: Upstream) -> Arc<dyn Publishes> {
    use sc::shared_config_service_client::SharedConfigServiceClient as Client;
    match upstream {
        Upstream::Local(s) => Arc::new(GrpcSharedConfig(Client::new(s))),
        Upstream::Remote(c) => Arc::new(GrpcSharedConfig(Client::new(c))),
    }
}

#[async_trait::async_trait]
impl<T> ChangeRequests for GrpcChangeControl<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    async fn get(&self, name: &str, caller: &Caller) -> Result<ChangeRequestRef, UpstreamError> {
        let request = forwarded(
            cc::GetChangeRequestRequest {
                name: name.to_owned(),
            },
            caller,
            Some(TIMEOUT),
        );
        let cr = self
            .0
            .clone()
            .get_change_request(request)
            .await
            .map_err(|s| upstream_error(name, &s))?
            .into_inner()
            .change_request
            .unwrap_or_default();
        Ok(ChangeRequestRef {
            name: cr.name,
            number: cr.number,
        })
    }
}

#[async_trait::async_trait]
impl<T> Publishes for GrpcSharedConfig<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    async fn under(
        &self,
        layers: &[String],
        change_requests: &BTreeSet<String>,
        caller: &Caller,
    ) -> Result<Vec<Publish>, UpstreamError> {
        let mut out = Vec::new();
        for layer in layers {
            let mut page_token = String::new();
            loop {
                let request = forwarded(
                    sc::ListRevisionsRequest {
                        parent: layer.clone(),
                        page_size: 500,
                        page_token: page_token.clone(),
                    },
                    caller,
                    Some(TIMEOUT),
                );
                let page = match self.0.clone().list_revisions(request).await {
                    Ok(page) => page.into_inner(),
                    // A trust that never published has no overlay layer: nothing under it.
                    Err(s) if s.code() == Code::NotFound => break,
                    Err(s) => return Err(upstream_error(layer, &s)),
                };
                for r in page.revisions {
                    if !change_requests.contains(&r.change_request) {
                        continue;
                    }
                    let Some(t) = r.publish_time else { continue };
                    let Some(publish_time) =
                        DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
                    else {
                        continue;
                    };
                    out.push(Publish {
                        revision: r.name,
                        change_request: r.change_request,
                        publish_time,
                    });
                }
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
        }
        out.sort_by(|a, b| (a.publish_time, &a.revision).cmp(&(b.publish_time, &b.revision)));
        Ok(out)
    }
}
