//! The gRPC side the app calls: a small `dapr.proto.runtime.v1.Dapr` service that routes the
//! few methods the double implements. Every other path is answered as daprd answers it: a
//! method the configured daprd line lacks (or any other service) goes to daprd's
//! service-invocation proxy and fails with `Unknown`; a method daprd has but the double does not
//! implement answers `Unimplemented` ("the dapr double does not implement …"). (The crate's
//! generated `Dapr` trait has ~88 methods without defaults, so it is not used.)

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use prost::bytes::Buf as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder};
use tonic::codegen::{BoxFuture, Bytes, Service, StdError, http};
use tonic::server::Grpc;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use crate::double::Shared;

const SERVICE_PREFIX: &str = "/dapr.proto.runtime.v1.Dapr/";
const TOKEN_HEADER: &str = "dapr-api-token";

/// The message of daprd's answer to a `Dapr` method it does not have (or any unknown service):
/// grpc-go hands unknown methods to the `UnknownServiceHandler` (`pkg/api/grpc/server.go` sets
/// it to the service-invocation proxy), whose director fails with a plain `fmt.Errorf` when the
/// call names no target app (`pkg/messaging/grpc_proxy.go` `intercept`, the same text at
/// v1.16.0, v1.16.19, v1.17.13 and v1.18.3); grpc-go sends a non-status error as
/// `codes.Unknown` with this message.
pub const PROXY_ERROR: &str =
    "failed to proxy request: required metadata dapr-callee-app-id or dapr-app-id not found";

/// A served listener: dropping its task closes the socket.
pub(crate) struct RunningServer {
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Stops accepting (the socket closes at once) and waits until the serving task is gone.
    pub(crate) async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        // tonic drops the listener as soon as the signal is seen, but then waits for open
        // connections to drain; aborting ends that wait (connections get a graceful shutdown
        // when the server's watch channel closes).
        self.task.abort();
        let _ = (&mut self.task).await;
    }

    pub(crate) fn abort(self) {
        self.task.abort();
    }
}

/// Serves the double's Dapr service on `listener` until stopped.
pub(crate) fn serve(shared: Arc<Shared>, listener: TcpListener) -> RunningServer {
    let (shutdown, signal) = oneshot::channel::<()>();
    let service = DaprService { shared };
    // Every path reaches the service, as every unknown path reaches daprd's proxy.
    let routes = Routes::from(
        Routes::default()
            .into_axum_router()
            .fallback_service(service),
    );
    // daprd is written in Go, whose sockets have TCP_NODELAY set: so do the double's (tonic
    // leaves it off on connections from a listener it did not bind).
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%err, "dapr double: could not set TCP_NODELAY");
            }
        })
    });
    let task = tokio::spawn(async move {
        let result = tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = signal.await;
            })
            .await;
        if let Err(err) = result {
            tracing::warn!(%err, "dapr double: server ended");
        }
    });
    RunningServer {
        shutdown: Some(shutdown),
        task,
    }
}

/// daprd's answer to a method it does not have (see [`PROXY_ERROR`]).
pub(crate) fn proxy_error() -> Status {
    Status::unknown(PROXY_ERROR)
}

/// The tower service behind every path of the double's server.
#[derive(Clone)]
pub(crate) struct DaprService {
    shared: Arc<Shared>,
}

impl<B> Service<http::Request<B>> for DaprService
where
    B: tonic::codegen::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let shared = self.shared.clone();
        let req = req.map(Body::new);
        Box::pin(async move {
            if let Some(status) = faults_precheck(&shared).await {
                return Ok(status.into_http());
            }
            let path = req.uri().path().to_owned();
            let Some(method) = path
                .strip_prefix(SERVICE_PREFIX)
                .filter(|method| shared.serves(method))
                .map(str::to_owned)
            else {
                // grpc-go runs the stream interceptors — daprd's API token check
                // (`pkg/api/grpc/auth.go`) — before the unknown-service handler.
                if let Err(status) = check_token(
                    &shared,
                    req.headers().get(TOKEN_HEADER).map(|v| v.as_bytes()),
                ) {
                    return Ok(status.into_http());
                }
                return Ok(proxy_error().into_http());
            };
            let limit = shared.config.max_body_size;
            let response = match method.as_str() {
                "PublishEvent" => {
                    unary(
                        req,
                        limit,
                        Handler(move |r| {
                            authorized(shared.clone(), r, crate::publish::publish_event)
                        }),
                    )
                    .await
                }
                "BulkPublishEvent" | "BulkPublishEventAlpha1" => {
                    unary(
                        req,
                        limit,
                        Handler(move |r| {
                            authorized(shared.clone(), r, crate::publish::bulk_publish_event)
                        }),
                    )
                    .await
                }
                "ScheduleJob" | "ScheduleJobAlpha1" => {
                    unary(
                        req,
                        limit,
                        Handler(move |r| authorized(shared.clone(), r, crate::jobs::schedule_job)),
                    )
                    .await
                }
                "DeleteJob" | "DeleteJobAlpha1" => {
                    unary(
                        req,
                        limit,
                        Handler(move |r| authorized(shared.clone(), r, crate::jobs::delete_job)),
                    )
                    .await
                }
                "GetMetadata" => {
                    unary(
                        req,
                        limit,
                        Handler(move |r| {
                            authorized(shared.clone(), r, crate::runtime_metadata::get_metadata)
                        }),
                    )
                    .await
                }
                _ => match check_token(
                    &shared,
                    req.headers().get(TOKEN_HEADER).map(|v| v.as_bytes()),
                ) {
                    Err(status) => status.into_http(),
                    Ok(()) => Status::unimplemented(format!(
                        "the dapr double does not implement {method}"
                    ))
                    .into_http(),
                },
            };
            Ok(response)
        })
    }
}

impl Shared {
    /// Whether this daprd has `method`: the version's method list, minus the RPCs a fault
    /// switch took away.
    fn serves(&self, method: &str) -> bool {
        let missing = match method {
            "BulkPublishEvent" | "BulkPublishEventAlpha1" => self.faults.bulk_unimplemented(),
            "ScheduleJob" | "DeleteJob" | "GetJob" | "ListJobs" | "DeleteJobsByPrefix" => {
                self.faults.stable_jobs_unimplemented()
            }
            _ => false,
        };
        !missing && self.config.version.has_method(method)
    }
}

/// The double's own faults — delay, then stopped or down — which every call meets first.
async fn faults_precheck(shared: &Shared) -> Option<Status> {
    let delay = shared.faults.delay();
    if !delay.is_zero() {
        let mut running = shared.running.subscribe();
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = running.wait_for(|r| !*r) => {}
        }
    }
    if !shared.is_running() {
        return Some(Status::unavailable("the dapr double is stopped"));
    }
    if shared.faults.is_down() {
        return Some(Status::unavailable(
            "the dapr double is down (fault injected)",
        ));
    }
    None
}

/// daprd's `DAPR_API_TOKEN` check (`pkg/api/grpc/auth.go` `checkAPITokenInContext`): the first
/// `dapr-api-token` value must equal the token. A missing or wrong token is refused through
/// `invokev1.ErrorFromHTTPResponseCode(401, …)` (`pkg/messaging/v1/util.go`): `Unauthenticated`
/// with the message "Unauthorized" (the reason — missing or mismatched — is only in an
/// `ErrorInfo` detail, which the double leaves out).
fn check_token(shared: &Shared, token: Option<&[u8]>) -> Result<(), Status> {
    match &shared.config.dapr_api_token {
        Some(expected) if token != Some(expected.as_bytes()) => {
            Err(Status::unauthenticated("Unauthorized"))
        }
        _ => Ok(()),
    }
}

/// Runs `handler` after daprd's token check. grpc-go receives (and size-checks) the request
/// message before the unary interceptors run, so this runs after decoding.
async fn authorized<M, R, Fut>(
    shared: Arc<Shared>,
    request: Request<M>,
    handler: impl FnOnce(Arc<Shared>, Request<M>) -> Fut,
) -> Result<Response<R>, Status>
where
    Fut: Future<Output = Result<Response<R>, Status>>,
{
    let token = request.metadata().get(TOKEN_HEADER).map(|v| v.as_bytes());
    check_token(&shared, token)?;
    handler(shared, request).await
}

/// A closure as a tower service of `Request<M> -> Response<R>`, so tonic's blanket
/// `UnaryService` implementation applies.
struct Handler<F>(F);

impl<M, R, F, Fut> Service<Request<M>> for Handler<F>
where
    F: FnMut(Request<M>) -> Fut,
    Fut: Future<Output = Result<Response<R>, Status>>,
{
    type Response = Response<R>;
    type Error = Status;
    type Future = Fut;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<M>) -> Self::Future {
        (self.0)(request)
    }
}

/// Decodes `M` (refusing a message over `limit` as grpc-go does), runs the handler and encodes
/// `R`, as the generated servers do.
async fn unary<M, R, F, Fut>(
    req: http::Request<Body>,
    limit: usize,
    handler: Handler<F>,
) -> http::Response<Body>
where
    M: prost::Message + Default + Send + 'static,
    R: prost::Message + Send + 'static,
    F: FnMut(Request<M>) -> Fut,
    Fut: Future<Output = Result<Response<R>, Status>>,
{
    let codec = LimitedCodec::<R, M> {
        inner: tonic_prost::ProstCodec::default(),
        limit,
    };
    // tonic's own limit (4 MiB unless set) answers `OutOfRange` with its own wording; the
    // codec checks instead, so tonic's limit is lifted.
    let mut grpc = Grpc::new(codec).apply_max_message_size_config(Some(usize::MAX), None);
    grpc.unary(handler, req).await
}

/// The prost codec with grpc-go's receive limit: daprd's API server sets
/// `grpc.MaxRecvMsgSize(max-body-size)` (`pkg/api/grpc/server.go`), and grpc-go refuses a longer
/// message with `codes.ResourceExhausted` and "grpc: received message larger than max (N vs.
/// M)", N being the message's length and M the limit (grpc-go `rpc_util.go` `recvMsg`); a
/// message of exactly M bytes passes.
struct LimitedCodec<R, M> {
    inner: tonic_prost::ProstCodec<R, M>,
    limit: usize,
}

impl<R, M> Codec for LimitedCodec<R, M>
where
    R: prost::Message + Send + 'static,
    M: prost::Message + Default + Send + 'static,
{
    type Encode = R;
    type Decode = M;
    type Encoder = <tonic_prost::ProstCodec<R, M> as Codec>::Encoder;
    type Decoder = LimitedDecoder<<tonic_prost::ProstCodec<R, M> as Codec>::Decoder>;

    fn encoder(&mut self) -> Self::Encoder {
        self.inner.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        LimitedDecoder {
            inner: self.inner.decoder(),
            limit: self.limit,
        }
    }
}

struct LimitedDecoder<D> {
    inner: D,
    limit: usize,
}

impl<D> Decoder for LimitedDecoder<D>
where
    D: Decoder<Error = Status>,
{
    type Item = D::Item;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        let length = src.remaining();
        if length > self.limit {
            return Err(Status::resource_exhausted(format!(
                "grpc: received message larger than max ({length} vs. {})",
                self.limit
            )));
        }
        self.inner.decode(src)
    }

    fn buffer_settings(&self) -> tonic::codec::BufferSettings {
        self.inner.buffer_settings()
    }
}
