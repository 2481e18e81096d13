//! W3C trace context across targets: a call arriving with `traceparent` (and `tracestate`)
//! continues that trace in its `rpc` span; a call this process makes to another target carries
//! the current span's. Without a configured propagator (traces off) both do nothing.

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct Pairs(Vec<(String, String)>);

impl Injector for Pairs {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// Makes the trace context in `headers`, if any, the parent of `span`.
pub fn continue_from(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    // Refused only when the span is not recorded by the OpenTelemetry layer: nothing to join.
    let _ = span.set_parent(parent);
}

/// The current span's trace context as headers to send on (`traceparent`, `tracestate`); none
/// when traces are off.
pub fn current() -> Vec<(String, String)> {
    let context = tracing::Span::current().context();
    let mut pairs = Pairs(Vec::new());
    opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&context, &mut pairs));
    pairs.0
}

/// Adds the current trace context to `request`'s metadata.
pub fn inject<M>(request: &mut tonic::Request<M>) {
    for (key, value) in current() {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            request.metadata_mut().insert(key, value);
        }
    }
}
