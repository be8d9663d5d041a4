//! W3C trace context: a call's `traceparent` metadata (or a delivery's CloudEvent
//! `traceparent`) is kept for the work it causes, so the events that work publishes continue
//! the caller's trace.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

tokio::task_local! {
    static TRACE_ID: Option<String>;
}

/// The trace id of a valid `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`, ids not all zero).
pub fn trace_id(traceparent: &str) -> Option<String> {
    let parts: Vec<&str> = traceparent.trim().split('-').collect();
    let [version, trace, span, flags] = parts.as_slice() else {
        return None;
    };
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    let valid = hex(version, 2)
        && *version != "ff"
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(span, 16)
        && span.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    valid.then(|| (*trace).to_owned())
}

/// Runs `work` with `traceparent` as the current trace context.
pub async fn scope<F: Future>(traceparent: Option<&str>, work: F) -> F::Output {
    TRACE_ID.scope(traceparent.and_then(trace_id), work).await
}

/// The trace id of the work in progress, if it came with one.
pub fn current_trace_id() -> Option<String> {
    TRACE_ID.try_with(Clone::clone).ok().flatten()
}

/// A tower layer that runs each request inside the trace context of its `traceparent` header.
#[derive(Debug, Clone, Copy, Default)]
pub struct TraceContextLayer;

impl<S> tower::Layer<S> for TraceContextLayer {
    type Service = TraceContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContext { inner }
    }
}

#[derive(Debug, Clone)]
pub struct TraceContext<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for TraceContext<S>
where
    S: tower::Service<http::Request<B>> + Send,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let trace = request
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(trace_id);
        let response = self.inner.call(request);
        Box::pin(TRACE_ID.scope(trace, response))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_well_formed_traceparents_count() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            super::trace_id(good).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-xyz-00f067aa0ba902b7-01",
        ] {
            assert_eq!(super::trace_id(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn the_scope_carries_the_trace_id() {
        assert_eq!(super::current_trace_id(), None);
        let inside = super::scope(
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            async { super::current_trace_id() },
        )
        .await;
        assert_eq!(inside.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    }
}
