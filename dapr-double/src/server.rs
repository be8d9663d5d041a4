//! The gRPC side the app calls: a small `dapr.proto.runtime.v1.Dapr` service that routes the
//! few methods the double implements and answers `Unimplemented` to every other path. (The
//! crate's generated `Dapr` trait has ~88 methods without defaults, so it is not used.)

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{Grpc, NamedService};
use tonic::{Request, Response, Status};

use crate::double::Shared;

const SERVICE: &str = "dapr.proto.runtime.v1.Dapr";
const TOKEN_HEADER: &str = "dapr-api-token";

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
            .add_service(service)
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

/// The tower service behind `dapr.proto.runtime.v1.Dapr`.
#[derive(Clone)]
pub(crate) struct DaprService {
    shared: Arc<Shared>,
}

impl NamedService for DaprService {
    const NAME: &'static str = SERVICE;
}

impl Service<http::Request<Body>> for DaprService {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let shared = self.shared.clone();
        Box::pin(async move {
            let path = req.uri().path().to_owned();
            let Some(method) = path
                .strip_prefix("/dapr.proto.runtime.v1.Dapr/")
                .map(str::to_owned)
            else {
                return Ok(Status::unimplemented(format!("unknown service for {path}")).into_http());
            };
            let token = req
                .headers()
                .get(TOKEN_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if let Some(status) = precheck(&shared, token.as_deref()).await {
                return Ok(status.into_http());
            }
            let limit = shared.config.max_body_size;
            let response = match method.as_str() {
                "PublishEvent" => {
                    unary(
                        req,
                        limit,
                        Handler(move |r| crate::publish::publish_event(shared.clone(), r)),
                    )
                    .await
                }
                "BulkPublishEvent" | "BulkPublishEventAlpha1" => {
                    if shared.faults.bulk_unimplemented() {
                        Status::unimplemented(format!(
                            "unknown method {method} for service {SERVICE}"
                        ))
                        .into_http()
                    } else {
                        unary(
                            req,
                            limit,
                            Handler(move |r| crate::publish::bulk_publish_event(shared.clone(), r)),
                        )
                        .await
                    }
                }
                "ScheduleJob" | "DeleteJob" if shared.faults.stable_jobs_unimplemented() => {
                    Status::unimplemented(format!("{method} arrived in daprd 1.18")).into_http()
                }
                "ScheduleJob" | "ScheduleJobAlpha1" => {
                    unary(
                        req,
                        limit,
                        Handler(move |r| crate::jobs::schedule_job(shared.clone(), r)),
                    )
                    .await
                }
                "DeleteJob" | "DeleteJobAlpha1" => {
                    unary(
                        req,
                        limit,
                        Handler(move |r| crate::jobs::delete_job(shared.clone(), r)),
                    )
                    .await
                }
                _ => Status::unimplemented(format!("the dapr double does not implement {method}"))
                    .into_http(),
            };
            Ok(response)
        })
    }
}

/// Delay, then down/stopped, then the API token — the answer every call gets before its handler
/// runs (`None`: go on).
async fn precheck(shared: &Shared, token: Option<&str>) -> Option<Status> {
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
    if let Some(expected) = &shared.config.dapr_api_token
        && token != Some(expected.as_str())
    {
        return Some(Status::unauthenticated(
            "authentication error: api token mismatch",
        ));
    }
    None
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

/// Decodes `M`, runs the handler and encodes `R`, as the generated servers do.
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
    let codec = tonic_prost::ProstCodec::<R, M>::default();
    let mut grpc = Grpc::new(codec).apply_max_message_size_config(Some(limit), None);
    grpc.unary(handler, req).await
}
