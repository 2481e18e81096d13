//! Shared configuration as convergence planning sees it: one typed client trait, answered through
//! shared configuration's gRPC API — in-process when both run in one process (the same
//! authentication and authorization as over the network), over a channel when they are apart.
//! A read made for a user forwards the user's token; the follower's reads carry the service's own.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use concordat_proto::sharedconfig::v1 as pb;
use futures::{Stream, StreamExt};
use pb::shared_config_service_client::SharedConfigServiceClient;
use serde_json::Value;
use tonic::Code;

use crate::domain::assessment::GovernanceClass;

/// Whose credentials a read carries.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The `authorization` header: the user's, forwarded, or `Bearer` and the service's token.
    pub authorization: String,
    /// The `x-request-id` carried on, so logs and audit entries match.
    pub request_id: String,
}

/// Why shared configuration gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// It refused what was asked (no such resource, out of the caller's scope).
    #[error("{subject}: {message}")]
    Refused {
        /// The resource asked for.
        subject: String,
        /// What was being done, and why it was refused.
        message: String,
    },
    /// A watch cursor older than the events shared configuration keeps: the events up to the
    /// one given were pruned.
    #[error("the cursor is older than the retained events (pruned through {0})")]
    CursorExpired(i64),
    /// It did not answer, or answered in a way it should not; worth retrying.
    #[error("shared configuration is unavailable: {0}")]
    Unavailable(String),
}

/// One item of a layer, as an assessment needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerItem {
    /// The item's value (null for a suppression).
    pub value: Value,
    /// The baseline key's governance (overlay items: overridable).
    pub governance: GovernanceClass,
    /// An overlay item that removes the baseline's.
    pub suppress: bool,
    /// The change request it was published under.
    pub change_request: String,
    /// When the variation lapses, if it does.
    pub expire_time: Option<DateTime<Utc>>,
}

/// One item of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotItem {
    /// The value in the trust's build.
    pub value: Value,
    /// Whether its kind is registered and the value satisfies the kind's schema.
    pub conforms: bool,
}

/// A snapshot: its name, trust and when it was imported.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRef {
    /// `icss/{ics}/snapshots/{id}`.
    pub name: String,
    /// The trust whose build it is.
    pub trust: String,
    /// When it was imported.
    pub import_time: DateTime<Utc>,
}

/// A trust's new effective revision: which layer revisions it combines, and since when.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveRef {
    /// The trust.
    pub trust: String,
    /// The effective revision.
    pub revision: i64,
    /// The baseline revision it combines.
    pub baseline_revision: i64,
    /// The trust's overlay revision it combines.
    pub overlay_revision: i64,
    /// When it took effect.
    pub publish_time: DateTime<Utc>,
}

/// One event of an ICS, as the follower handles it.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfigEvent {
    /// A trust's new effective revision.
    Effective(EffectiveRef),
    /// An imported snapshot.
    Snapshot(SnapshotRef),
}

/// Items keyed by (kind, key).
pub type Items<T> = BTreeMap<(String, String), T>;

/// A stream of an ICS's events, each with its cursor.
pub type Events =
    std::pin::Pin<Box<dyn Stream<Item = Result<(i64, ConfigEvent), UpstreamError>> + Send>>;

/// Reads shared configuration.
#[async_trait::async_trait]
pub trait SharedConfigReads: Send + Sync {
    /// The registered kinds of `ics` and the clinical domain of each.
    async fn kind_domains(
        &self,
        ics: &str,
        caller: &Caller,
    ) -> Result<BTreeMap<String, String>, UpstreamError>;

    /// Every item of layer `layer` (`baseline` or a trust) of `ics` at `revision` (0: none).
    async fn layer_items(
        &self,
        ics: &str,
        layer: &str,
        revision: i64,
        caller: &Caller,
    ) -> Result<Items<LayerItem>, UpstreamError>;

    /// Every item of snapshot `name`.
    async fn snapshot_items(
        &self,
        name: &str,
        caller: &Caller,
    ) -> Result<Items<SnapshotItem>, UpstreamError>;

    /// The newest revision of a layer published at or before `at` (0: none).
    async fn revision_at(
        &self,
        ics: &str,
        layer: &str,
        at: DateTime<Utc>,
        caller: &Caller,
    ) -> Result<i64, UpstreamError>;

    /// The newest snapshot of `trust` imported at or before `at`.
    async fn snapshot_at(
        &self,
        ics: &str,
        trust: &str,
        at: DateTime<Utc>,
        caller: &Caller,
    ) -> Result<Option<SnapshotRef>, UpstreamError>;

    /// The events of `ics` after `cursor`: the backlog, then live.
    async fn watch(&self, ics: &str, cursor: i64, caller: &Caller)
    -> Result<Events, UpstreamError>;
}

/// Shared configuration through its generated gRPC client, over any transport.
pub struct GrpcSharedConfig<T> {
    client: SharedConfigServiceClient<T>,
    timeout: Duration,
}

impl<T> GrpcSharedConfig<T>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    /// Over `transport` (a channel, or the in-process service).
    pub fn new(transport: T) -> Self {
        Self {
            client: SharedConfigServiceClient::new(transport)
                .max_decoding_message_size(64 << 20)
                .accept_compressed(tonic::codec::CompressionEncoding::Gzip),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Shared configuration at `upstream`.
pub fn shared_config(
    upstream: concordat_platform::registry::Upstream,
) -> std::sync::Arc<dyn SharedConfigReads> {
    use concordat_platform::registry::Upstream;
    match upstream {
        Upstream::Local(service) => std::sync::Arc::new(GrpcSharedConfig::new(service)),
        Upstream::Remote(channel) => std::sync::Arc::new(GrpcSharedConfig::new(channel)),
    }
}

/// `message` with the caller's credentials and request id, and a timeout unless streaming.
fn forwarded<M>(message: M, caller: &Caller, timeout: Option<Duration>) -> tonic::Request<M> {
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
    concordat_platform::trace_context::inject(&mut request);
    request
}

/// A status as an upstream failure: refused for what was asked, expired for a cursor, or
/// unavailable.
fn upstream_error((what, subject): (&str, &str), status: &tonic::Status) -> UpstreamError {
    match status.code() {
        Code::OutOfRange => UpstreamError::CursorExpired(pruned_through(status)),
        Code::NotFound | Code::PermissionDenied | Code::InvalidArgument | Code::Unauthenticated => {
            UpstreamError::Refused {
                subject: subject.to_owned(),
                message: format!("{what}: {}", status.message()),
            }
        }
        _ => {
            UpstreamError::Unavailable(format!("{what}: {:?}: {}", status.code(), status.message()))
        }
    }
}

/// The `pruned_through` of a `CURSOR_EXPIRED` status's `ErrorInfo`.
fn pruned_through(status: &tonic::Status) -> i64 {
    use tonic_types::StatusExt;
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get("pruned_through").cloned())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Reads a paged list from its first page: `fetch(page_token)` answers a page's items and the
/// next page's token (empty at the end); `each` takes each page's items, and stops the reading
/// early by answering true.
async fn paged<T, F, Fut>(
    mut fetch: F,
    mut each: impl FnMut(Vec<T>) -> bool,
) -> Result<(), UpstreamError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), UpstreamError>>,
{
    let mut page_token = String::new();
    loop {
        let (items, next) = fetch(page_token).await?;
        if each(items) || next.is_empty() {
            return Ok(());
        }
        page_token = next;
    }
}

fn time_of(t: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
}

fn governance_of(g: Option<&pb::Governance>) -> GovernanceClass {
    match g.and_then(|g| pb::GovernanceMode::try_from(g.mode).ok()) {
        Some(pb::GovernanceMode::Locked) => GovernanceClass::Locked,
        Some(pb::GovernanceMode::Bounded) => GovernanceClass::Bounded,
        _ => GovernanceClass::Overridable,
    }
}

fn effective_ref(e: pb::EffectiveRevision) -> Option<EffectiveRef> {
    Some(EffectiveRef {
        publish_time: time_of(e.publish_time)?,
        trust: e.trust,
        revision: e.revision,
        baseline_revision: e.baseline_revision,
        overlay_revision: e.overlay_revision,
    })
}

fn snapshot_ref(s: pb::Snapshot) -> Option<SnapshotRef> {
    Some(SnapshotRef {
        import_time: time_of(s.import_time)?,
        name: s.name,
        trust: s.trust,
    })
}

#[async_trait::async_trait]
impl<T> SharedConfigReads for GrpcSharedConfig<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    async fn kind_domains(
        &self,
        ics: &str,
        caller: &Caller,
    ) -> Result<BTreeMap<String, String>, UpstreamError> {
        let mut out = BTreeMap::new();
        let fetch = |page_token| async move {
            let request = pb::ListConfigKindsRequest {
                parent: format!("icss/{ics}"),
                page_size: 1000,
                page_token,
            };
            let page = self
                .client
                .clone()
                .list_config_kinds(forwarded(request, caller, Some(self.timeout)))
                .await
                .map_err(|s| upstream_error(("listing the kinds", &format!("icss/{ics}")), &s))?
                .into_inner();
            Ok((page.config_kinds, page.next_page_token))
        };
        paged(fetch, |kinds| {
            for kind in kinds {
                let id = kind.name.rsplit('/').next().unwrap_or_default().to_owned();
                out.insert(id, kind.domain);
            }
            false
        })
        .await?;
        Ok(out)
    }

    async fn layer_items(
        &self,
        ics: &str,
        layer: &str,
        revision: i64,
        caller: &Caller,
    ) -> Result<Items<LayerItem>, UpstreamError> {
        let mut out = Items::new();
        if revision <= 0 {
            return Ok(out);
        }
        let fetch = |page_token| async move {
            let request = pb::ListLayerItemsRequest {
                parent: format!("icss/{ics}/layers/{layer}"),
                revision,
                kind: String::new(),
                page_size: 5000,
                page_token,
            };
            let page = self
                .client
                .clone()
                .list_layer_items(forwarded(request, caller, Some(self.timeout)))
                .await
                .map_err(|s| {
                    upstream_error(
                        ("reading a layer", &format!("icss/{ics}/layers/{layer}")),
                        &s,
                    )
                })?
                .into_inner();
            Ok((page.items, page.next_page_token))
        };
        paged(fetch, |items| {
            for item in items {
                let value = item
                    .value
                    .map_or(Value::Null, concordat_shared_config::grpc::json_of);
                let expire_time = time_of(item.variation.as_ref().and_then(|v| v.expire_time));
                let entry = LayerItem {
                    value,
                    governance: governance_of(item.governance.as_ref()),
                    suppress: item.suppress,
                    change_request: item.change_request,
                    expire_time,
                };
                out.insert((item.kind, item.key), entry);
            }
            false
        })
        .await?;
        Ok(out)
    }

    async fn snapshot_items(
        &self,
        name: &str,
        caller: &Caller,
    ) -> Result<Items<SnapshotItem>, UpstreamError> {
        let mut out = Items::new();
        let fetch = |page_token| async move {
            let request = pb::ExportConfigRequest {
                name: name.to_owned(),
                revision: 0,
                page_size: 20_000,
                page_token,
            };
            let page = self
                .client
                .clone()
                .export_config(forwarded(request, caller, Some(self.timeout)))
                .await
                .map_err(|s| upstream_error(("reading a snapshot", name), &s))?
                .into_inner();
            let bundle: Value = serde_json::from_str(&page.bundle_json).map_err(|e| {
                UpstreamError::Unavailable(format!("a snapshot bundle that is not JSON: {e}"))
            })?;
            let items = match bundle {
                Value::Object(mut o) => match o.remove("items") {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            };
            Ok((items, page.next_page_token))
        };
        paged(fetch, |items| {
            for mut item in items {
                let kind = item["kind"].as_str().unwrap_or_default().to_owned();
                let key = item["key"].as_str().unwrap_or_default().to_owned();
                let conforms = item["nonconforming"] != Value::Bool(true);
                let value = item["value"].take();
                out.insert((kind, key), SnapshotItem { value, conforms });
            }
            false
        })
        .await?;
        Ok(out)
    }

    async fn revision_at(
        &self,
        ics: &str,
        layer: &str,
        at: DateTime<Utc>,
        caller: &Caller,
    ) -> Result<i64, UpstreamError> {
        let mut found = 0;
        let fetch = |page_token| async move {
            let request = pb::ListRevisionsRequest {
                parent: format!("icss/{ics}/layers/{layer}"),
                page_size: 500,
                page_token,
            };
            let page = self
                .client
                .clone()
                .list_revisions(forwarded(request, caller, Some(self.timeout)))
                .await
                .map_err(|s| {
                    upstream_error(
                        ("listing revisions", &format!("icss/{ics}/layers/{layer}")),
                        &s,
                    )
                })?
                .into_inner();
            Ok((page.revisions, page.next_page_token))
        };
        // Newest first: the first published by `at` is the one in force then.
        paged(fetch, |revisions| {
            match revisions
                .iter()
                .find(|r| time_of(r.publish_time).is_some_and(|t| t <= at))
            {
                Some(r) => {
                    found = r.revision;
                    true
                }
                None => false,
            }
        })
        .await?;
        Ok(found)
    }

    async fn snapshot_at(
        &self,
        ics: &str,
        trust: &str,
        at: DateTime<Utc>,
        caller: &Caller,
    ) -> Result<Option<SnapshotRef>, UpstreamError> {
        let mut found = None;
        let fetch = |page_token| async move {
            let request = pb::ListSnapshotsRequest {
                parent: format!("icss/{ics}"),
                trust: trust.to_owned(),
                page_size: 500,
                page_token,
            };
            let page = self
                .client
                .clone()
                .list_snapshots(forwarded(request, caller, Some(self.timeout)))
                .await
                .map_err(|s| upstream_error(("listing snapshots", &format!("icss/{ics}")), &s))?
                .into_inner();
            Ok((page.snapshots, page.next_page_token))
        };
        // Newest first.
        paged(fetch, |snapshots| {
            found = snapshots
                .into_iter()
                .filter_map(snapshot_ref)
                .find(|s| s.import_time <= at);
            found.is_some()
        })
        .await?;
        Ok(found)
    }

    async fn watch(
        &self,
        ics: &str,
        cursor: i64,
        caller: &Caller,
    ) -> Result<Events, UpstreamError> {
        use pb::watch_config_events_response::Resource;
        let request = pb::WatchConfigEventsRequest {
            parent: format!("icss/{ics}"),
            cursor,
        };
        let stream = self
            .client
            .clone()
            .watch_config_events(forwarded(request, caller, None))
            .await
            .map_err(|s| {
                upstream_error(
                    ("watching configuration events", &format!("icss/{ics}")),
                    &s,
                )
            })?
            .into_inner();
        let parent = format!("icss/{ics}");
        Ok(Box::pin(stream.map(move |event| {
            let event = event
                .map_err(|s| upstream_error(("watching configuration events", &parent), &s))?;
            let cursor = event.cursor;
            let parsed = match event.resource {
                Some(Resource::EffectiveRevision(e)) => {
                    effective_ref(e).map(ConfigEvent::Effective)
                }
                Some(Resource::Snapshot(s)) => snapshot_ref(s).map(ConfigEvent::Snapshot),
                None => None,
            };
            parsed.map(|e| (cursor, e)).ok_or_else(|| {
                UpstreamError::Unavailable(format!("event {cursor} carries no resource it should"))
            })
        })))
    }
}

/// A change request to draft in change control.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// `icss/{ics}`.
    pub parent: String,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: String,
    /// The clinical domain.
    pub domain: String,
    /// The design authority deciding it.
    pub design_authority: String,
    /// The trusts it affects.
    pub affected_trusts: Vec<String>,
    /// The change class, as change control's enum value.
    pub change_class: i32,
    /// The configuration items it concerns, `kind/key`.
    pub configuration_items: Vec<String>,
}

/// A drafted change request: its name and number.
#[derive(Debug, Clone, PartialEq)]
pub struct Drafted {
    /// `icss/{ics}/changeRequests/{id}`.
    pub name: String,
    /// Its number.
    pub number: String,
}

/// Drafts change requests in change control, as the caller.
#[async_trait::async_trait]
pub trait ChangeRequestDrafts: Send + Sync {
    /// Creates `draft` in DRAFT, with the caller's credentials and `request_id`.
    async fn draft(
        &self,
        draft: Draft,
        request_id: &str,
        caller: &Caller,
    ) -> Result<Drafted, tonic::Status>;
}

/// Change control through its generated gRPC client, over any transport.
pub struct GrpcChangeControl<T> {
    client: concordat_proto::changecontrol::v1::change_control_service_client::ChangeControlServiceClient<T>,
    timeout: Duration,
}

/// Change control at `upstream`.
pub fn change_control(
    upstream: concordat_platform::registry::Upstream,
) -> std::sync::Arc<dyn ChangeRequestDrafts> {
    use concordat_platform::registry::Upstream;
    use concordat_proto::changecontrol::v1::change_control_service_client::ChangeControlServiceClient as Client;
    match upstream {
        Upstream::Local(service) => std::sync::Arc::new(GrpcChangeControl {
            client: Client::new(service),
            timeout: Duration::from_secs(30),
        }),
        Upstream::Remote(channel) => std::sync::Arc::new(GrpcChangeControl {
            client: Client::new(channel),
            timeout: Duration::from_secs(30),
        }),
    }
}

#[async_trait::async_trait]
impl<T> ChangeRequestDrafts for GrpcChangeControl<T>
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone + Send + Sync + 'static,
    T::Future: Send,
    T::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error:
        Into<Box<dyn std::error::Error + Send + Sync>> + Send,
{
    async fn draft(
        &self,
        draft: Draft,
        request_id: &str,
        caller: &Caller,
    ) -> Result<Drafted, tonic::Status> {
        use concordat_proto::changecontrol::v1 as cc;
        let Draft {
            parent,
            title,
            description,
            domain,
            design_authority,
            affected_trusts,
            change_class,
            configuration_items,
        } = draft;
        let request = cc::CreateChangeRequestRequest {
            parent,
            change_request: Some(cc::ChangeRequest {
                title,
                description,
                domain,
                design_authority,
                affected_trusts,
                change_class,
                change_type: cc::ChangeType::Normal as i32,
                configuration_items,
                ..Default::default()
            }),
            request_id: request_id.to_owned(),
        };
        let cr = self
            .client
            .clone()
            .create_change_request(forwarded(request, caller, Some(self.timeout)))
            .await?
            .into_inner()
            .change_request
            .unwrap_or_default();
        Ok(Drafted {
            name: cr.name,
            number: cr.number,
        })
    }
}
