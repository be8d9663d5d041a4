//! Counting gRPC calls: by method (a served one, or `other`) and by final status, timed to
//! their end. A unary call or a stream ends when its trailers are sent; a response that
//! ends without them is counted `UNKNOWN`, and one the client abandons `CANCELLED`.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::Instant;
use std::{future::Future, pin::Pin, task::Poll};

use prost::Message;

use super::{MethodLabels, RpcLabels, metrics};

/// The method label of calls to anything the API port does not serve.
const OTHER_METHOD: &str = "other";

/// Every method the API port serves, as `package.Service/Method`: read from the descriptor
/// sets of the services it registers (taskflow's own, health, reflection v1 and v1alpha), so
/// that the list follows the protos.
static KNOWN_METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    [
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
    .into_iter()
    .filter_map(|encoded| prost_types::FileDescriptorSet::decode(encoded).ok())
    .flat_map(|set| set.file)
    .flat_map(|file| {
        let package = file.package().to_owned();
        file.service.into_iter().flat_map(move |service| {
            let prefix = format!("{package}.{}", service.name());
            service
                .method
                .into_iter()
                .map(move |method| format!("{prefix}/{}", method.name()))
        })
    })
    .collect()
});

/// The method label of a request path: a method the server serves, or [`OTHER_METHOD`], so
/// that calls to made-up paths cannot grow the label set.
pub(super) fn method_label(path: &str) -> String {
    match path.strip_prefix('/') {
        Some(method) if KNOWN_METHODS.contains(method) => method.to_owned(),
        _ => OTHER_METHOD.to_owned(),
    }
}

/// A status code as gRPC spells it: `INVALID_ARGUMENT`.
fn code_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// A tower layer that counts gRPC calls by method and status and times them.
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for RpcMetrics<S>
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
        let recorder = Recorder {
            method: method_label(request.uri().path()),
            started: Instant::now(),
        };
        let response = self.inner.call(request);
        Box::pin(async move {
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
        })
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

/// Counts and times one call, once, when it ends.
#[derive(Debug)]
pub struct Recorder {
    method: String,
    started: Instant,
}

impl Recorder {
    fn record(self, code: String) {
        let m = metrics();
        m.rpc_seconds
            .get_or_create(&MethodLabels {
                method: self.method.clone(),
            })
            .observe(self.started.elapsed().as_secs_f64());
        m.rpcs
            .get_or_create(&RpcLabels {
                method: self.method,
                code,
            })
            .inc();
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

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_bounded_and_codes_spelled_as_grpc_does() {
        assert_eq!(
            super::method_label("/taskflow.v1.TaskService/GetTask"),
            "taskflow.v1.TaskService/GetTask"
        );
        assert_eq!(super::method_label("/evil/random-123"), "other");
        assert_eq!(
            super::code_name(tonic::Code::InvalidArgument),
            "INVALID_ARGUMENT"
        );
        assert_eq!(super::code_name(tonic::Code::Ok), "OK");
        assert_eq!(super::code_name(tonic::Code::NotFound), "NOT_FOUND");
    }

    #[test]
    fn every_served_method_has_its_label_and_nothing_else_does() {
        for served in [
            "taskflow.v1.TaskService/CreateTask",
            "taskflow.v1.TaskService/GetTask",
            "taskflow.v1.TaskService/ListTasks",
            "taskflow.v1.TaskService/UpdateTask",
            "taskflow.v1.TaskService/CompleteTask",
            "taskflow.v1.TaskService/ReopenTask",
            "taskflow.v1.TaskService/DeleteTask",
            "taskflow.v1.NotificationService/ListNotifications",
            "taskflow.v1.NotificationService/MarkNotificationRead",
            "taskflow.v1.NotificationService/WatchNotifications",
            "grpc.health.v1.Health/Check",
            "grpc.health.v1.Health/Watch",
            "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(super::method_label(&format!("/{served}")), served);
        }
        for junk in [
            "/taskflow.v1.TaskService/Nope",
            "/taskflow.v1.TaskService/",
            "/taskflow.v1.TaskService/CreateTask/x",
            "/taskflow.x1.Svc/M",
            "/taskflow.v1.Task",
            "/grpc.health.v1.Health/Nope",
            "/grpc.x/y",
            "taskflow.v1.TaskService/GetTask",
            "/",
            "",
        ] {
            assert_eq!(super::method_label(junk), "other", "{junk}");
        }
    }
}
