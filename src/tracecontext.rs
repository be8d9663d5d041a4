//! W3C trace context, through OpenTelemetry's propagator: a call's `traceparent` metadata (or a
//! delivery's CloudEvent `traceparent`) becomes the parent of the span of the work it causes,
//! and the events that work writes carry that span's context, so the trace goes on downstream.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock};

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static PROPAGATOR: LazyLock<TraceContextPropagator> = LazyLock::new(TraceContextPropagator::new);

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct Fields(HashMap<String, String>);

impl Extractor for Fields {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

impl Injector for Fields {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// The caller's context in a request's `traceparent` and `tracestate` headers (empty when it
/// sent none, or a malformed one).
pub fn from_headers(headers: &http::HeaderMap) -> Context {
    PROPAGATOR.extract(&Headers(headers))
}

/// The context a `traceparent` names (empty for `None` or a malformed one).
pub fn from_traceparent(traceparent: Option<&str>) -> Context {
    let mut fields = HashMap::new();
    if let Some(traceparent) = traceparent {
        fields.insert("traceparent".to_owned(), traceparent.trim().to_owned());
    }
    PROPAGATOR.extract(&Fields(fields))
}

/// Makes `span` a child of `parent` (when that is a valid context) and records the trace id
/// it ends up in as its `trace_id` field, for the logs.
pub fn adopt(span: &tracing::Span, parent: Context) {
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    if let Some(trace_id) = trace_id_of(span) {
        span.record("trace_id", trace_id.as_str());
    }
}

/// The trace id of `span`, when it has a valid context.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// The `traceparent` of the current span: its trace and span ids (`None` outside any span
/// with a valid context).
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut fields = Fields(HashMap::new());
    PROPAGATOR.inject_context(&context, &mut fields);
    fields.0.remove("traceparent")
}

/// The trace id of the work in progress, if it runs in a span with a valid context.
pub fn current_trace_id() -> Option<String> {
    trace_id_of(&tracing::Span::current())
}

/// Where the authentication of a call leaves who called, for its access log line: put in the
/// request's extensions by the call's observer, filled in by the authentication.
#[derive(Debug, Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<String>>);

impl CallerSlot {
    pub fn fill(&self, user: &str) {
        let _ = self.0.set(user.to_owned());
        tracing::Span::current().record("enduser.id", user);
    }

    pub fn get(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use tracing::Instrument;

    #[test]
    fn only_well_formed_traceparents_count() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = super::from_traceparent(Some(good));
        assert_eq!(
            opentelemetry::trace::TraceContextExt::span(&context)
                .span_context()
                .trace_id()
                .to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-xyz-00f067aa0ba902b7-01",
        ] {
            let context = super::from_traceparent(Some(bad));
            assert!(
                !opentelemetry::trace::TraceContextExt::span(&context)
                    .span_context()
                    .is_valid(),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn a_span_adopts_the_callers_trace() {
        crate::telemetry::init_for_tests();
        assert_eq!(super::current_trace_id(), None);
        let span = tracing::info_span!("work", trace_id = tracing::field::Empty);
        super::adopt(
            &span,
            super::from_traceparent(Some(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            )),
        );
        let (inside, traceparent) =
            async { (super::current_trace_id(), super::current_traceparent()) }
                .instrument(span)
                .await;
        assert_eq!(inside.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        let traceparent = traceparent.expect("a traceparent");
        assert!(traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(
            !traceparent.contains("00f067aa0ba902b7"),
            "a span of its own"
        );
    }
}
