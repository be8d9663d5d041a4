//! The connection to the app's callback server and the raw calls daprd makes on it.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use dapr::dapr::proto::runtime::v1::app_callback_alpha_client::AppCallbackAlphaClient;
use dapr::dapr::proto::runtime::v1::app_callback_client::AppCallbackClient;
use dapr::dapr::proto::runtime::v1::app_callback_health_check_client::AppCallbackHealthCheckClient;
use dapr::dapr::proto::runtime::v1::{
    JobEventRequest, ListTopicSubscriptionsResponse, TopicEventBulkRequest, TopicEventBulkResponse,
};
use tokio::sync::watch;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::DaprDouble;
use crate::double::Shared;
use crate::error::DoubleError;
use crate::record::lock;

const TOKEN_HEADER: &str = "dapr-api-token";
/// daprd's default app health probe timeout.
const HEALTH_TIMEOUT: Duration = Duration::from_millis(500);

/// The app's address (settable at any time) and a lazily connected channel to it.
pub(crate) struct AppLink {
    addr: watch::Sender<Option<SocketAddr>>,
    channel: Mutex<Option<(SocketAddr, Channel)>>,
}

impl AppLink {
    pub(crate) fn new(addr: Option<SocketAddr>) -> Self {
        Self {
            addr: watch::Sender::new(addr),
            channel: Mutex::new(None),
        }
    }

    pub(crate) fn addr(&self) -> Option<SocketAddr> {
        *self.addr.borrow()
    }

    /// Waits until the app's address is known.
    pub(crate) async fn wait_addr(&self) -> SocketAddr {
        let mut rx = self.addr.subscribe();
        loop {
            if let Some(addr) = *rx.borrow_and_update() {
                return addr;
            }
            if rx.changed().await.is_err() {
                // Unreachable while `self` lives; wait forever rather than spin.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The channel to the app (created on first use, replaced when the address changes).
    pub(crate) fn channel(&self) -> Result<Channel, DoubleError> {
        let addr = self.addr().ok_or(DoubleError::NoAppAddr)?;
        let mut cached = lock(&self.channel);
        if let Some((cached_addr, channel)) = cached.as_ref()
            && *cached_addr == addr
        {
            return Ok(channel.clone());
        }
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|_| DoubleError::NoAppAddr)?
            .connect_timeout(Duration::from_secs(1))
            .connect_lazy();
        *cached = Some((addr, channel.clone()));
        Ok(channel)
    }
}

impl AppLink {
    /// One probe (`pkg/channel/grpc/grpc_channel.go` `HealthProbe`): any error is a failure.
    pub(crate) async fn health_check(&self, timeout: Duration) -> Result<(), DoubleError> {
        let mut client = AppCallbackHealthCheckClient::new(self.channel()?);
        let mut request = Request::new(());
        request.set_timeout(timeout);
        match tokio::time::timeout(timeout, client.health_check(request)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(status)) => Err(DoubleError::App(status)),
            Err(_) => Err(DoubleError::App(Status::deadline_exceeded(format!(
                "health check timed out after {timeout:?}"
            )))),
        }
    }
}

impl Shared {
    /// Adds `dapr-api-token` (daprd's `APP_API_TOKEN`) to a topic, bulk or job callback — from
    /// daprd 1.16.2 on only (`AddAppTokenToContext` in `postman/grpc/grpc.go` and
    /// `pkg/channel/grpc/grpc_channel.go`; 1.16.0 and 1.16.1 send none).
    pub(crate) fn add_app_token<T>(&self, request: &mut Request<T>) {
        if self.config.version.sends_app_token_on_callbacks()
            && let Some(token) = &self.config.app_api_token
            && let Ok(value) = token.parse()
        {
            request.metadata_mut().append(TOKEN_HEADER, value);
        }
    }

    /// One `ListTopicSubscriptions` call (no token: daprd never sends it there).
    pub(crate) async fn call_list_subscriptions(
        &self,
    ) -> Result<ListTopicSubscriptionsResponse, Status> {
        let channel = self
            .app
            .channel()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        let mut client = AppCallbackClient::new(channel);
        client
            .list_topic_subscriptions(Request::new(()))
            .await
            .map(tonic::Response::into_inner)
    }

    /// The bulk delivery call of `postman/grpc/grpc.go` `DeliverBulk`: daprd 1.17+ calls
    /// `OnBulkTopicEvent` and falls back to `AppCallbackAlpha/OnBulkTopicEventAlpha1` on
    /// `Unimplemented`; daprd 1.16 calls only the Alpha1 RPC.
    #[allow(deprecated)] // the Alpha1 RPC is deprecated, but daprd still calls it
    pub(crate) async fn call_bulk(
        &self,
        request: TopicEventBulkRequest,
    ) -> Result<(&'static str, TopicEventBulkResponse), Status> {
        let channel = self
            .app
            .channel()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if !self.config.version.calls_stable_bulk_event() {
            let mut alpha = Request::new(request);
            self.add_app_token(&mut alpha);
            return AppCallbackAlphaClient::new(channel)
                .on_bulk_topic_event_alpha1(alpha)
                .await
                .map(|r| ("OnBulkTopicEventAlpha1", r.into_inner()));
        }
        let mut stable = Request::new(request.clone());
        self.add_app_token(&mut stable);
        match AppCallbackClient::new(channel.clone())
            .on_bulk_topic_event(stable)
            .await
        {
            Ok(response) => Ok(("OnBulkTopicEvent", response.into_inner())),
            Err(status) if status.code() == Code::Unimplemented => {
                let mut alpha = Request::new(request);
                self.add_app_token(&mut alpha);
                AppCallbackAlphaClient::new(channel)
                    .on_bulk_topic_event_alpha1(alpha)
                    .await
                    .map(|r| ("OnBulkTopicEventAlpha1", r.into_inner()))
            }
            Err(status) => Err(status),
        }
    }

    /// The job callback of `pkg/channel/grpc/grpc_channel.go` `sendJob`: daprd 1.18 calls
    /// `OnJobEvent` and falls back to `AppCallbackAlpha/OnJobEventAlpha1` on `Unimplemented`;
    /// 1.16 and 1.17 call only `OnJobEventAlpha1`. Returns the RPC that answered last and its
    /// status code.
    #[allow(deprecated)] // the Alpha1 RPC is deprecated, but daprd still calls it
    pub(crate) async fn call_job(&self, request: JobEventRequest) -> (&'static str, Code) {
        let stable_first = self.config.version.calls_stable_job_event();
        let channel = match self.app.channel() {
            Ok(channel) => channel,
            Err(_) if stable_first => return ("OnJobEvent", Code::Unavailable),
            Err(_) => return ("OnJobEventAlpha1", Code::Unavailable),
        };
        if !stable_first {
            let mut alpha = Request::new(request);
            self.add_app_token(&mut alpha);
            return match AppCallbackAlphaClient::new(channel)
                .on_job_event_alpha1(alpha)
                .await
            {
                Ok(_) => ("OnJobEventAlpha1", Code::Ok),
                Err(status) => ("OnJobEventAlpha1", status.code()),
            };
        }
        let mut stable = Request::new(request.clone());
        self.add_app_token(&mut stable);
        match AppCallbackClient::new(channel.clone())
            .on_job_event(stable)
            .await
        {
            Ok(_) => ("OnJobEvent", Code::Ok),
            Err(status) if status.code() == Code::Unimplemented => {
                let mut alpha = Request::new(request);
                self.add_app_token(&mut alpha);
                match AppCallbackAlphaClient::new(channel)
                    .on_job_event_alpha1(alpha)
                    .await
                {
                    Ok(_) => ("OnJobEventAlpha1", Code::Ok),
                    Err(status) => ("OnJobEventAlpha1", status.code()),
                }
            }
            Err(status) => ("OnJobEvent", status.code()),
        }
    }
}

impl DaprDouble {
    /// Tells the double where the app's callback server listens (the app may start after the
    /// double). Deliveries and job triggers waiting for an address start now; like daprd, the
    /// double waits until that port accepts connections before it asks
    /// `ListTopicSubscriptions` (once), so serve every callback service before opening it.
    pub fn set_app_addr(&self, addr: SocketAddr) {
        self.shared.app.addr.send_replace(Some(addr));
    }

    /// The app's callback address, if known.
    pub fn app_addr(&self) -> Option<SocketAddr> {
        self.shared.app.addr()
    }

    /// daprd's app health probe: `AppCallbackHealthCheck/HealthCheck` with the probe timeout
    /// (`DaprDoubleConfig::app_health`, else daprd's default 500 ms) and no token. `Ok` means
    /// healthy.
    pub async fn health_check(&self) -> Result<(), DoubleError> {
        let timeout = self
            .shared
            .config
            .app_health
            .map_or(HEALTH_TIMEOUT, |p| p.timeout);
        self.shared.app.health_check(timeout).await
    }
}
