//! One tower layer observes every gRPC call from its start to its end: a span (method, status,
//! user, the caller's W3C context as its parent), the call counted in the metrics by its final
//! status, and one access log line. A unary call or a stream ends when its trailers are sent;
//! a response that ends without them counts as `UNKNOWN`, one the client abandons as
//! `CANCELLED`.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;
use std::{future::Future, pin::Pin, task::Poll};

use tracing::Instrument;

use crate::metrics::{code_name, method_label, record_call};
use crate::tracecontext::CallerSlot;

/// The level of the access log lines: 0 off, 1 error … 5 trace.
static ACCESS_LOG: AtomicU8 = AtomicU8::new(3);

/// Sets the level access log lines are written at (`None`: none are).
pub fn set_access_log(level: Option<tracing::Level>) {
    let value = match level {
        None => 0,
        Some(tracing::Level::ERROR) => 1,
        Some(tracing::Level::WARN) => 2,
        Some(tracing::Level::INFO) => 3,
        Some(tracing::Level::DEBUG) => 4,
        Some(tracing::Level::TRACE) => 5,
    };
    ACCESS_LOG.store(value, Ordering::Relaxed);
}

/// A tower layer around the API's services; see the module documentation.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcLayer;

impl<S> tower::Layer<S> for RpcLayer {
    type Service = Rpc<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Rpc { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Rpc<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for Rpc<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send,
    S::Future: Send + 'static,
    S::Error: 'static,
{
    type Response = http::Response<CountedBody<R>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = method_label(request.uri().path());
        let span = tracing::info_span!(
            "rpc",
            otel.name = %method,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.method = %method,
            rpc.grpc.status_code = tracing::field::Empty,
            enduser.id = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        crate::tracecontext::adopt(&span, crate::tracecontext::from_headers(request.headers()));
        let caller = CallerSlot::default();
        let mut request = request;
        request.extensions_mut().insert(caller.clone());
        let recorder = Recorder {
            method,
            started: Instant::now(),
            span: span.clone(),
            caller,
        };
        // The inner services (authentication among them) run inside the call's span.
        let response = span.in_scope(|| self.inner.call(request));
        Box::pin(
            async move {
                match response.await {
                    // An error before any message comes "trailers-only": its status is in the
                    // headers, and the call ends here.
                    Ok(response) => match status_of(response.headers()) {
                        Some(code) => {
                            recorder.record(code);
                            Ok(response.map(|body| CountedBody::new(body, None)))
                        }
                        None => Ok(response.map(|body| CountedBody::new(body, Some(recorder)))),
                    },
                    Err(err) => {
                        recorder.record(TRANSPORT_ERROR.to_owned());
                        Err(err)
                    }
                }
            }
            .instrument(span),
        )
    }
}

const TRANSPORT_ERROR: &str = "TRANSPORT_ERROR";

/// The `grpc-status` in headers or trailers, as gRPC spells the code.
fn status_of(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(|c| code_name(tonic::Code::from_i32(c)))
}

/// Ends one call, once: counts it, closes its span with the status, writes its access line.
#[derive(Debug)]
pub struct Recorder {
    method: String,
    started: Instant,
    span: tracing::Span,
    caller: CallerSlot,
}

impl Recorder {
    fn record(self, code: String) {
        let elapsed = self.started.elapsed();
        record_call(&self.method, &code, elapsed.as_secs_f64());
        self.span.record("rpc.grpc.status_code", code.as_str());
        if code != "OK" {
            self.span.record("otel.status_code", "ERROR");
        }
        access_line(&self.span, &self.method, &code, self.caller.get(), elapsed);
    }
}

/// The access log line of a call, at the configured level.
fn access_line(
    span: &tracing::Span,
    method: &str,
    code: &str,
    user: Option<&str>,
    elapsed: std::time::Duration,
) {
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let trace_id = crate::tracecontext::trace_id_of(span).unwrap_or_default();
    let user = user.unwrap_or_default();
    macro_rules! line {
        ($level:expr) => {
            tracing::event!(
                target: "taskflow::access",
                parent: None,
                $level,
                method,
                code,
                latency_ms,
                user,
                trace_id = trace_id.as_str(),
                "call"
            )
        };
    }
    match ACCESS_LOG.load(Ordering::Relaxed) {
        1 => line!(tracing::Level::ERROR),
        2 => line!(tracing::Level::WARN),
        3 => line!(tracing::Level::INFO),
        4 => line!(tracing::Level::DEBUG),
        5 => line!(tracing::Level::TRACE),
        _ => {}
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts its call when the trailers pass (or the body ends or is
    /// dropped without them).
    pub struct CountedBody<B> {
        #[pin]
        inner: B,
        recorder: Option<Recorder>,
    }

    impl<B> PinnedDrop for CountedBody<B> {
        fn drop(this: Pin<&mut Self>) {
            // The client went away before the end (a watcher leaving, a deadline).
            if let Some(recorder) = this.project().recorder.take() {
                recorder.record(code_name(tonic::Code::Cancelled));
            }
        }
    }
}

impl<B> CountedBody<B> {
    fn new(inner: B, recorder: Option<Recorder>) -> Self {
        Self { inner, recorder }
    }
}

impl<B: http_body::Body> http_body::Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        let code = match &polled {
            Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|trailers| {
                status_of(trailers).unwrap_or_else(|| code_name(tonic::Code::Unknown))
            }),
            Poll::Ready(Some(Err(_))) => Some(TRANSPORT_ERROR.to_owned()),
            Poll::Ready(None) => Some(code_name(tonic::Code::Unknown)),
            Poll::Pending => None,
        };
        if let Some(code) = code
            && let Some(recorder) = this.recorder.take()
        {
            recorder.record(code);
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
