//! Telemetry: Prometheus metrics for every RPC (by service, method and gRPC code), the tower
//! layers that record them and shed load, and the HTTP listener for `/metrics`, `/healthz` and
//! `/readyz`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http_body::Frame;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::body::Body;
use tower::{Layer, Service};

use crate::error::{ApiError, PLATFORM_DOMAIN};

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    in_flight: IntGauge,
    shed: prometheus::IntCounter,
    ready: AtomicBool,
    unready_reason: std::sync::Mutex<String>,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Arc<Self> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "concordat_grpc_requests_total",
                "RPCs handled, by service, method and gRPC code",
            ),
            &["service", "method", "code"],
        )
        .unwrap_or_else(|_| unreachable_metric());
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "concordat_grpc_request_duration_seconds",
                "RPC latency until the last response byte",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["service", "method"],
        )
        .unwrap_or_else(|_| unreachable_metric());
        let in_flight = IntGauge::new(
            "concordat_grpc_requests_in_flight",
            "RPCs being handled now",
        )
        .unwrap_or_else(|_| unreachable_metric());
        let shed = prometheus::IntCounter::new(
            "concordat_grpc_requests_shed_total",
            "RPCs refused with RESOURCE_EXHAUSTED at the concurrency limit",
        )
        .unwrap_or_else(|_| unreachable_metric());
        for collector in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(shed.clone()),
        ] {
            let _ = registry.register(collector);
        }
        Arc::new(Self {
            registry,
            requests,
            latency,
            in_flight,
            shed,
            ready: AtomicBool::new(false),
            unready_reason: std::sync::Mutex::new("starting".into()),
        })
    }

    /// Adds `collector`'s metrics to `/metrics`; one whose names are taken already is left out.
    pub fn register(&self, collector: Box<dyn prometheus::core::Collector>) {
        let _ = self.registry.register(collector);
    }

    /// Marks the process ready (migrations ran, dependencies answer) or not.
    pub fn set_ready(&self, ready: bool) {
        if ready && let Ok(mut why) = self.unready_reason.lock() {
            why.clear();
        }
        self.ready.store(ready, Ordering::SeqCst);
    }

    /// Marks the process not ready, saying why (`/readyz` answers 503 with it).
    pub fn set_unready(&self, reason: &str) {
        if let Ok(mut why) = self.unready_reason.lock() {
            reason.clone_into(&mut why);
        }
        self.ready.store(false, Ordering::SeqCst);
    }

    /// Why the process is not ready (empty when it is, or nobody said).
    pub fn unready_reason(&self) -> String {
        self.unready_reason
            .lock()
            .map(|why| why.clone())
            .unwrap_or_default()
    }

    /// True once ready.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// How many RPCs of `method` ended with `code` (for tests and load runs).
    pub fn count(&self, service: &str, method: &str, code: &str) -> u64 {
        self.requests
            .with_label_values(&[service, method, code])
            .get()
    }
}

fn unreachable_metric<T>() -> T {
    // Metric definitions are constant and valid; prometheus only fails on malformed names.
    panic!("invalid metric definition")
}

/// Serves `/metrics`, `/healthz` (the process is up) and `/readyz` (ready to take traffic).
pub fn serve_http(
    metrics: Arc<Metrics>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let m = metrics.clone();
    let r = metrics;
    let app = axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let m = m.clone();
                async move { m.render() }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let r = r.clone();
                async move {
                    if r.is_ready() {
                        (StatusCode::OK, "ready".to_owned())
                    } else {
                        let why = r.unready_reason();
                        let why = if why.is_empty() {
                            "not ready".to_owned()
                        } else {
                            why
                        };
                        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}"))
                    }
                }
            }),
        );
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %err, "metrics listener stopped");
        }
    });
}

fn split_path(path: &str) -> (String, String) {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let service = parts.next().unwrap_or_default().to_owned();
    let method = parts.next().unwrap_or_default().to_owned();
    (service, method)
}

fn code_name(value: &http::HeaderValue) -> &'static str {
    let code = value
        .to_str()
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .unwrap_or(2);
    match tonic::Code::from_i32(code) {
        tonic::Code::Ok => "OK",
        tonic::Code::Cancelled => "CANCELLED",
        tonic::Code::Unknown => "UNKNOWN",
        tonic::Code::InvalidArgument => "INVALID_ARGUMENT",
        tonic::Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        tonic::Code::NotFound => "NOT_FOUND",
        tonic::Code::AlreadyExists => "ALREADY_EXISTS",
        tonic::Code::PermissionDenied => "PERMISSION_DENIED",
        tonic::Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        tonic::Code::FailedPrecondition => "FAILED_PRECONDITION",
        tonic::Code::Aborted => "ABORTED",
        tonic::Code::OutOfRange => "OUT_OF_RANGE",
        tonic::Code::Unimplemented => "UNIMPLEMENTED",
        tonic::Code::Internal => "INTERNAL",
        tonic::Code::Unavailable => "UNAVAILABLE",
        tonic::Code::DataLoss => "DATA_LOSS",
        tonic::Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Records each RPC's code and latency when its response ends.
#[derive(Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
}

impl MetricsLayer {
    /// A layer recording into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// See [`MetricsLayer`].
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

struct Recorder {
    metrics: Arc<Metrics>,
    service: String,
    method: String,
    start: Instant,
    code: Option<&'static str>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let code = self.code.unwrap_or("CANCELLED");
        self.metrics
            .requests
            .with_label_values(&[&self.service, &self.method, code])
            .inc();
        self.metrics
            .latency
            .with_label_values(&[&self.service, &self.method])
            .observe(self.start.elapsed().as_secs_f64());
        self.metrics.in_flight.dec();
    }
}

impl<S, B> Service<http::Request<Body>> for MetricsService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
{
    type Response = http::Response<MetricsBody<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let (service, method) = split_path(req.uri().path());
        self.metrics.in_flight.inc();
        let mut recorder = Recorder {
            metrics: self.metrics.clone(),
            service,
            method,
            start: Instant::now(),
            code: None,
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let response = fut.await?;
            if let Some(code) = response.headers().get("grpc-status") {
                recorder.code = Some(code_name(code));
            }
            Ok(response.map(|inner| MetricsBody {
                inner,
                recorder: Some(recorder),
            }))
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that notes the `grpc-status` trailer and records the RPC when it ends.
    pub struct MetricsBody<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
    }
}

impl<B> http_body::Body for MetricsBody<B>
where
    B: http_body::Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref()
                    && let Some(code) = trailers.get("grpc-status")
                    && let Some(r) = this.recorder.as_mut()
                {
                    r.code = Some(code_name(code));
                }
            }
            Poll::Ready(None) => {
                this.recorder.take();
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Caps concurrent RPCs. Beyond the cap a call is refused at once with RESOURCE_EXHAUSTED,
/// reason `OVERLOADED` and a retry delay, rather than queued: queueing only adds latency to
/// every caller when the server is already saturated.
#[derive(Clone)]
pub struct ShedLayer {
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

impl ShedLayer {
    /// At most `max` RPCs at once.
    pub fn new(max: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
            metrics,
        }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = ShedService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ShedService {
            inner,
            permits: self.permits.clone(),
            metrics: self.metrics.clone(),
        }
    }
}

/// See [`ShedLayer`].
#[derive(Clone)]
pub struct ShedService<S> {
    inner: S,
    permits: Arc<Semaphore>,
    metrics: Arc<Metrics>,
}

pin_project_lite::pin_project! {
    /// Holds the permit until the handler returns its response.
    pub struct PermitBody<B> {
        #[pin]
        inner: B,
        permit: Option<OwnedSemaphorePermit>,
    }
}

impl<B: http_body::Body<Data = Bytes>> http_body::Body for PermitBody<B> {
    type Data = Bytes;
    type Error = B::Error;
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.permit.take();
        }
        polled
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl<S> Service<http::Request<Body>> for ShedService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            self.metrics.shed.inc();
            let status = ApiError::new(
                tonic::Code::ResourceExhausted,
                PLATFORM_DOMAIN,
                "OVERLOADED",
                "the server is at its concurrency limit; retry shortly",
            )
            .with_retry_after(Duration::from_millis(200))
            .into_status();
            return Box::pin(async move { Ok(status.into_http()) });
        };
        let fut = self.inner.call(req);
        Box::pin(async move {
            let response = fut.await?;
            // Streams hold their permit until they end, so long watches count against the cap.
            Ok(response.map(|inner| {
                Body::new(PermitBody {
                    inner,
                    permit: Some(permit),
                })
            }))
        })
    }
}
