//! Builds the server from its configuration and runs it until shutdown.

use std::{future::Future, io, net::SocketAddr, time::Duration};

use tokio::net::TcpListener;
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use std::sync::Arc;

use dapr::dapr::proto::runtime::v1::{
    app_callback_alpha_server::AppCallbackAlphaServer,
    app_callback_health_check_server::AppCallbackHealthCheckServer,
    app_callback_server::AppCallbackServer,
};
use tokio::sync::watch;

use crate::api::{AppCallbackApi, NotificationApi, TaskApi};
use crate::app::Tasks;
use crate::auth::Authenticator;
use crate::clock::{Clock, SystemClock};
use crate::config::{ServeConfig, SinkChoice};
use crate::error::AppError;
use crate::events::dapr_sink::DaprSink;
use crate::events::relay::{Relay, RelaySettings};
use crate::events::sidecar::Sidecar;
use crate::events::sink::{EventSink, LocalSink};
use crate::events::{Outbox, Subscriber};
use crate::listing::PageTokenKey;
use crate::notifications::Hub;
use crate::proto::{
    self,
    v1::{
        notification_service_server::NotificationServiceServer,
        task_service_server::TaskServiceServer,
    },
};
use crate::reminders::{DaprJobs, ReminderScheduler, Reminders, TableScheduler};
use crate::store::Database;

/// The fully qualified name of the task service, as health checks know it.
pub const TASK_SERVICE_NAME: &str = "taskflow.v1.TaskService";
/// The fully qualified name of the notification service, as health checks know it.
pub const NOTIFICATION_SERVICE_NAME: &str = "taskflow.v1.NotificationService";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] AppError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: io::Error },
    #[error(
        "refusing to serve on {0} without TASKFLOW_JWT_SECRET: development mode trusts the \
         x-user-id header, so it only listens on loopback (127.0.0.1 or ::1). Set \
         TASKFLOW_JWT_SECRET or listen on a loopback address."
    )]
    InsecureListen(SocketAddr),
    #[error("reflection: {0}")]
    Reflection(String),
    #[error("server: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A bound, migrated, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    callback_listener: TcpListener,
    callback_addr: SocketAddr,
    callback_max_message_bytes: usize,
    api_max_message_bytes: usize,
    metrics_listener: TcpListener,
    metrics_addr: SocketAddr,
    db: Database,
    auth: Authenticator,
    grace: Duration,
    outbox: Outbox,
    subscriber: Arc<Subscriber>,
    app_token: Option<crate::config::Secret>,
    relay: Relay,
    hub: Hub,
    reminders: Reminders,
    page_tokens: PageTokenKey,
}

async fn bind(
    listen: &str,
    loopback_only: bool,
) -> Result<(TcpListener, SocketAddr), StartupError> {
    let listen_error = |source| StartupError::Listen {
        addr: listen.to_owned(),
        source,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(listen)
        .await
        .map_err(listen_error)?
        .collect();
    if loopback_only && let Some(public) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        return Err(StartupError::InsecureListen(*public));
    }
    let listener = TcpListener::bind(addrs.as_slice())
        .await
        .map_err(listen_error)?;
    let addr = listener.local_addr().map_err(listen_error)?;
    Ok((listener, addr))
}

/// TCP connections from `listener` with TCP_NODELAY set (tonic does not set it on sockets
/// from a caller's listener).
fn incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = io::Result<tokio::net::TcpStream>> {
    TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%err, "could not set TCP_NODELAY");
            }
        })
    })
}

impl Application {
    /// Connects to the database, applies migrations and binds the API port (port 0 picks a
    /// free one; [`Application::api_addr`] tells which).
    pub async fn build(config: &ServeConfig) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with the clock reminders go by (tests move a manual one).
    pub async fn build_with_clock(
        config: &ServeConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let auth = match &config.jwt_secret {
            Some(secret) => Authenticator::jwt(
                secret,
                config.jwt_issuer.as_deref(),
                config.jwt_audience.as_deref(),
            ),
            None => Authenticator::development(),
        };
        let page_tokens = match &config.page_token_key {
            Some(secret) => PageTokenKey::derive(secret.expose().as_bytes()),
            None => {
                tracing::info!(
                    "TASKFLOW_PAGE_TOKEN_KEY is not set: page tokens use a random key made at \
                     start-up, so they do not survive a restart and are not accepted by other \
                     replicas"
                );
                PageTokenKey::random()
            }
        };
        let (listener, addr) = bind(&config.listen, auth.is_development()).await?;
        let (callback_listener, callback_addr) = bind(&config.callback_listen, false).await?;
        let (metrics_listener, metrics_addr) = bind(&config.metrics_listen, false).await?;

        let db = Database::connect_with(
            config.database.database_url.expose(),
            config.database.database_max_connections,
            Duration::from_millis(config.database.database_acquire_timeout_ms),
        )
        .await?;
        db.migrate().await?;

        let events = Arc::new(config.events.clone());
        let outbox = Outbox::new(events.clone());
        let hub = Hub::new(db.clone());
        let dapr_endpoint = config.dapr.endpoint();
        let sidecar = match (config.events.event_sink, dapr_endpoint) {
            (SinkChoice::Local, _) | (SinkChoice::Auto, None) => None,
            (SinkChoice::Dapr | SinkChoice::Auto, endpoint) => {
                let endpoint = endpoint.unwrap_or_else(|| "http://127.0.0.1:50001".to_owned());
                tracing::info!(endpoint = %crate::store::redact(&endpoint), pubsub = %events.pubsub_name, "publishing events and scheduling reminders through the Dapr sidecar");
                let longest_pause = Duration::from_millis(config.events.relay_backoff_max_ms);
                Some(Sidecar::connect_lazy(
                    &endpoint,
                    &config.dapr,
                    longest_pause,
                )?)
            }
        };
        let scheduler: Arc<dyn ReminderScheduler> = match &sidecar {
            Some(sidecar) => Arc::new(DaprJobs::new(sidecar.clone())),
            None => Arc::new(TableScheduler),
        };
        let lead = chrono::Duration::seconds(
            i64::try_from(config.reminder_lead_seconds).unwrap_or(i64::MAX / 1_000_000),
        );
        let reminders = Reminders::new(
            db.clone(),
            outbox.clone(),
            hub.clone(),
            clock,
            lead,
            scheduler,
        );
        let subscriber = Arc::new(Subscriber::new(
            db.clone(),
            outbox.clone(),
            reminders.clone(),
        ));
        let sink: Arc<dyn EventSink> = match sidecar {
            None => Arc::new(LocalSink::new(subscriber.clone())),
            Some(sidecar) => Arc::new(DaprSink::new(sidecar, events.clone())),
        };
        let relay = Relay::new(
            db.clone(),
            sink,
            outbox.waker(),
            RelaySettings::from(events.as_ref()),
        );
        Ok(Self {
            listener,
            addr,
            callback_listener,
            callback_addr,
            callback_max_message_bytes: config.callback_max_message_bytes,
            api_max_message_bytes: config.api_max_message_bytes,
            metrics_listener,
            metrics_addr,
            db,
            auth,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            outbox,
            subscriber,
            app_token: config.dapr.app_api_token.clone(),
            relay,
            hub,
            reminders,
            page_tokens,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The address the sidecar calls back on (AppCallback).
    pub fn callback_addr(&self) -> SocketAddr {
        self.callback_addr
    }

    /// The reminder engine (tests fire due reminders with it directly).
    pub fn reminders(&self) -> Reminders {
        self.reminders.clone()
    }

    /// The live fan-out of new notifications.
    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }

    /// Where Prometheus scrapes `/metrics`.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Serves until `shutdown` completes, then stops accepting calls and lets the ones in
    /// flight finish (for at most the configured grace period).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status(TASK_SERVICE_NAME, ServingStatus::Serving)
            .await;
        health
            .set_service_status(NOTIFICATION_SERVICE_NAME, ServingStatus::Serving)
            .await;
        let reflection = |builder: tonic_reflection::server::Builder<'static>| {
            builder
                .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1 = reflection(tonic_reflection::server::Builder::configure())
            .build_v1()
            .map_err(|e| StartupError::Reflection(e.to_string()))?;
        let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
            .build_v1alpha()
            .map_err(|e| StartupError::Reflection(e.to_string()))?;

        let api_limit = self.api_max_message_bytes;
        let tasks = InterceptedService::new(
            TaskServiceServer::new(TaskApi::new(
                Tasks::new(self.db.clone(), self.outbox.clone()),
                self.page_tokens.clone(),
            ))
            .max_decoding_message_size(api_limit),
            self.auth.interceptor(),
        );
        let (watch_stop_tx, watch_stop_rx) = watch::channel(false);
        let listener_task = self.hub.listen(watch_stop_rx.clone()).await;
        let notifications = InterceptedService::new(
            NotificationServiceServer::new(NotificationApi::new(
                self.db.clone(),
                self.hub.clone(),
                watch_stop_rx,
                self.page_tokens.clone(),
            ))
            .max_decoding_message_size(api_limit),
            self.auth.interceptor(),
        );

        let callbacks = Arc::new(AppCallbackApi::new(
            self.subscriber.clone(),
            self.app_token.clone(),
        ));
        let limit = self.callback_max_message_bytes;
        let (callback_stop_tx, callback_stop_rx) = tokio::sync::oneshot::channel::<()>();
        let callback_server = Server::builder()
            .add_service(
                AppCallbackServer::from_arc(callbacks.clone()).max_decoding_message_size(limit),
            )
            .add_service(
                AppCallbackAlphaServer::from_arc(callbacks.clone())
                    .max_decoding_message_size(limit),
            )
            .add_service(AppCallbackHealthCheckServer::from_arc(callbacks))
            .serve_with_incoming_shutdown(incoming(self.callback_listener), async {
                let _ = callback_stop_rx.await;
            });
        let callback_task = tokio::spawn(callback_server);
        tracing::info!(callback_addr = %self.callback_addr, "serving the Dapr app callback");

        let (relay_stop_tx, relay_stop_rx) = watch::channel(false);
        let reminder_task = self
            .reminders
            .fires_locally()
            .then(|| tokio::spawn(self.reminders.clone().run_local(relay_stop_rx.clone())));
        let mut metrics_stop = relay_stop_rx.clone();
        let metrics_task = tokio::spawn(crate::metrics::serve(
            self.metrics_listener,
            self.db.clone(),
            self.hub.clone(),
            async move {
                let _ = metrics_stop.changed().await;
            },
        ));
        tracing::info!(metrics_addr = %self.metrics_addr, "serving Prometheus metrics at /metrics");
        let relay_task = tokio::spawn(self.relay.run(relay_stop_rx));

        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let grace = self.grace;
        let server = Server::builder()
            .layer(crate::metrics::RpcMetricsLayer)
            .layer(crate::tracecontext::TraceContextLayer)
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(tasks)
            .add_service(notifications)
            .serve_with_incoming_shutdown(incoming(self.listener), async {
                let _ = stop_rx.await;
            });
        tracing::info!(addr = %self.addr, "serving the taskflow API");
        let mut server = std::pin::pin!(server);
        tokio::select! {
            result = &mut server => {
                let _ = relay_stop_tx.send(true);
                let _ = watch_stop_tx.send(true);
                let _ = callback_stop_tx.send(());
                return result.map_err(StartupError::from);
            }
            () = shutdown => {}
        }
        tracing::info!("shutting down: draining in-flight calls");
        health
            .set_service_status(TASK_SERVICE_NAME, ServingStatus::NotServing)
            .await;
        health
            .set_service_status(NOTIFICATION_SERVICE_NAME, ServingStatus::NotServing)
            .await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        // Open watches end now, so that they do not hold up the drain.
        let _ = watch_stop_tx.send(true);
        let _ = stop_tx.send(());
        match tokio::time::timeout(grace, server).await {
            Ok(result) => result?,
            Err(_) => tracing::warn!(?grace, "in-flight calls did not finish in time"),
        }
        let _ = callback_stop_tx.send(());
        let _ = relay_stop_tx.send(true);
        let stopped = tokio::time::timeout(grace, async {
            if let Ok(Err(err)) = callback_task.await {
                tracing::warn!(%err, "the callback server stopped with an error");
            }
            let _ = relay_task.await;
            let _ = metrics_task.await;
            if let Some(listener_task) = listener_task {
                let _ = listener_task.await;
            }
            if let Some(task) = reminder_task {
                let _ = task.await;
            }
        });
        if stopped.await.is_err() {
            tracing::warn!(
                ?grace,
                "the relay or the callback server did not stop in time"
            );
        }
        if let Err(err) = self.db.close().await {
            tracing::warn!(%err, "closing the database pool");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
