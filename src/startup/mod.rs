//! Builds the server from its configuration ([`Application::build`]: every part, wired) and
//! runs it until shutdown ([`Application::run_until`], in `run.rs`).

pub mod dead_letters;
mod identity;
mod listen;
mod run;
mod shutdown;

use std::sync::Arc;
use std::{io, net::SocketAddr, time::Duration};

use tokio::net::TcpListener;
use tower::Layer;

use crate::api::{ActivityApi, AppCallbackApi, ListApi, NotificationApi, TaskApi};
use crate::app::{Lists, Retention, RetentionSettings, Tasks};
use crate::auth::{AuthLayer, Authenticated};
use crate::clock::{Clock, SystemClock};
use crate::config::{ServeConfig, SinkChoice};
use crate::error::AppError;
use crate::inbox::dead_letters::Review;
use crate::inbox::{LocalSink, Subscriber};
use crate::listing::PageTokenKey;
use crate::notifications::Hub;
use crate::outbox::dapr_sink::DaprSink;
use crate::outbox::relay::{Relay, RelaySettings};
use crate::outbox::{EventSink, Outbox};
use crate::proto::v1::{
    activity_service_server::ActivityServiceServer, list_service_server::ListServiceServer,
    notification_service_server::NotificationServiceServer, task_service_server::TaskServiceServer,
};
use crate::reminders::{DaprJobs, ReminderScheduler, Reminders, TableScheduler};
use crate::sidecar::Sidecar;
use crate::store::Database;

pub use shutdown::{Shutdown, shutdown_signal};

/// The fully qualified name of the task service, as health checks know it.
pub const TASK_SERVICE_NAME: &str = "taskflow.v1.TaskService";
/// The fully qualified name of the notification service, as health checks know it.
pub const NOTIFICATION_SERVICE_NAME: &str = "taskflow.v1.NotificationService";
/// The fully qualified name of the activity service, as health checks know it.
pub const ACTIVITY_SERVICE_NAME: &str = "taskflow.v1.ActivityService";
/// The fully qualified name of the list service, as health checks know it.
pub const LIST_SERVICE_NAME: &str = "taskflow.v1.ListService";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] AppError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: io::Error },
    #[error(
        "refusing to serve on {0} without TASKFLOW_JWT_SECRET, TASKFLOW_JWT_JWKS_URL or \
         TASKFLOW_OIDC_ISSUER_URL: development mode trusts the x-user-id header, so it only \
         listens on loopback (127.0.0.1 or ::1). Configure how tokens are verified or listen on \
         a loopback address."
    )]
    InsecureListen(SocketAddr),
    #[error(
        "refusing to serve the Dapr app callback on {0} without APP_API_TOKEN: anyone who \
         reaches it could deliver events as the sidecar. Set APP_API_TOKEN (and the same token \
         in the sidecar), listen on a loopback address, or set \
         TASKFLOW_ALLOW_UNAUTHENTICATED_CALLBACKS=true."
    )]
    InsecureCallback(SocketAddr),
    #[error(
        "TASKFLOW_REMINDER_LEAD_SECONDS must be 0 to {max} seconds (366 days), got {0}",
        max = crate::config::REMINDER_LEAD_MAX_SECONDS
    )]
    ReminderLead(u64),
    #[error("{0}")]
    Identity(String),
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("reflection: {0}")]
    Reflection(String),
    #[error("server: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A bound port.
struct Port {
    listener: TcpListener,
    addr: SocketAddr,
}

impl Port {
    async fn bind(
        listen: &str,
        loopback_only: Option<fn(SocketAddr) -> StartupError>,
    ) -> Result<Self, StartupError> {
        let (listener, addr) = listen::bind(listen, loopback_only).await?;
        Ok(Self { listener, addr })
    }
}

/// The gRPC services of the API port.
struct ApiServices {
    tasks: Authenticated<TaskServiceServer<TaskApi>>,
    notifications: Authenticated<NotificationServiceServer<NotificationApi>>,
    activities: Authenticated<ActivityServiceServer<ActivityApi>>,
    lists: Authenticated<ListServiceServer<ListApi>>,
}

/// A bound, migrated, wired server, ready to run.
pub struct Application {
    api: Port,
    /// TLS on the API port, when a certificate is configured.
    api_tls: Option<tokio_rustls::TlsAcceptor>,
    callback: Port,
    metrics: Port,
    db: Database,
    grace: Duration,
    shutdown: Shutdown,
    services: ApiServices,
    callbacks: Arc<AppCallbackApi>,
    callback_max_message_bytes: usize,
    relay: Option<Relay>,
    /// Whether the caller fires reminders itself (no background loop or worker).
    reminders_by_hand: bool,
    /// The sidecar client, in Dapr mode (its version is checked once it answers).
    sidecar: Option<Sidecar>,
    hub: Hub,
    reminders: Reminders,
    retention: Retention,
}

impl Application {
    /// Connects to the database, applies migrations, binds the ports (port 0 picks a free one;
    /// [`Application::api_addr`] tells which) and wires every part.
    pub async fn build(config: &ServeConfig) -> Result<Self, StartupError> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with the clock reminders go by (tests move a manual one).
    pub async fn build_with_clock(
        config: &ServeConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let lead = reminder_lead(config)?;
        let auth = identity::authenticator(config).await?;
        let page_tokens = page_token_key(config);
        let api_tls = match (&config.tls.tls_cert, &config.tls.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::acceptor(cert.clone(), key.clone())?),
            _ => None,
        };
        let api = Port::bind(
            &config.listen,
            auth.is_development()
                .then_some(StartupError::InsecureListen as fn(SocketAddr) -> StartupError),
        )
        .await?;
        let callback_open =
            config.dapr.app_api_token.is_none() && !config.dapr.allow_unauthenticated_callbacks;
        let callback = Port::bind(
            &config.callback_listen,
            callback_open
                .then_some(StartupError::InsecureCallback as fn(SocketAddr) -> StartupError),
        )
        .await?;
        let metrics = Port::bind(&config.metrics_listen, None).await?;

        let db = migrated_database(config, config.database.database_max_connections).await?;

        let shutdown = Shutdown::new();
        let events = Arc::new(config.events.clone());
        let Deliveries {
            outbox,
            hub,
            reminders,
            subscriber,
            sidecar,
        } = Deliveries::build(config, &db, events.clone(), clock.clone(), lead)?;
        let retention = Retention::new(
            db.clone(),
            outbox.clone(),
            clock.clone(),
            RetentionSettings::from(&config.retention),
        );
        let sidecar_client = sidecar.clone();
        let sink: Arc<dyn EventSink> = match sidecar {
            None => Arc::new(LocalSink::new(subscriber.clone())),
            Some(sidecar) => Arc::new(DaprSink::new(
                sidecar,
                events.clone(),
                config.dapr.dapr_max_request_bytes,
            )),
        };
        let relay = Relay::new(
            db.clone(),
            sink,
            outbox.waker(),
            RelaySettings::from(events.as_ref()),
        );

        let api_limit = config.api_max_message_bytes;
        let tasks = Tasks::new(db.clone(), outbox).with_purge_after(config.retention.purge_after());
        let services = ApiServices {
            lists: AuthLayer(auth.clone()).layer(
                ListServiceServer::new(ListApi::new(
                    Lists::new(db.clone(), tasks.clone()),
                    page_tokens.clone(),
                ))
                .max_decoding_message_size(api_limit),
            ),
            tasks: AuthLayer(auth.clone()).layer(
                TaskServiceServer::new(TaskApi::new(tasks, page_tokens.clone()))
                    .max_decoding_message_size(api_limit),
            ),
            notifications: AuthLayer(auth.clone()).layer(
                NotificationServiceServer::new(
                    NotificationApi::new(
                        db.clone(),
                        hub.clone(),
                        shutdown.draining(),
                        page_tokens.clone(),
                        reminders.clone(),
                    )
                    .with_clock(clock),
                )
                .max_decoding_message_size(api_limit),
            ),
            activities: AuthLayer(auth.clone()).layer(
                ActivityServiceServer::new(ActivityApi::new(db.clone(), page_tokens))
                    .max_decoding_message_size(api_limit),
            ),
        };
        let callbacks = Arc::new(AppCallbackApi::new(
            subscriber,
            config.dapr.app_api_token.clone(),
        ));
        Ok(Self {
            api,
            api_tls,
            callback,
            metrics,
            db,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
            shutdown,
            services,
            callbacks,
            callback_max_message_bytes: config.callback_max_message_bytes,
            relay: Some(relay),
            reminders_by_hand: false,
            sidecar: sidecar_client,
            hub,
            reminders,
            retention,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api.addr
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// The address the sidecar calls back on (AppCallback).
    pub fn callback_addr(&self) -> SocketAddr {
        self.callback.addr
    }

    /// The reminder engine (tests fire due reminders and sync jobs with it directly).
    pub fn reminders(&self) -> Reminders {
        self.reminders.clone()
    }

    /// The retention worker (tests run a pass with it directly).
    pub fn retention(&self) -> Retention {
        self.retention.clone()
    }

    /// The live fan-out of new notifications.
    pub fn hub(&self) -> Hub {
        self.hub.clone()
    }

    /// Where Prometheus scrapes `/metrics`.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics.addr
    }

    /// The server's shutdown token.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// The count of the relay's rounds that found nothing left to publish, and the waker that
    /// starts a round: with both, a caller can wait until what it committed is published
    /// (tests drain the event path this way instead of polling).
    pub fn relay_progress(
        &self,
    ) -> Option<(tokio::sync::watch::Receiver<u64>, Arc<tokio::sync::Notify>)> {
        self.relay
            .as_ref()
            .map(|relay| (relay.idle_rounds(), relay.waker()))
    }

    /// Runs neither the reminder loop (embedded mode) nor the job worker (cluster mode): the
    /// caller fires due reminders and syncs jobs itself ([`Reminders::fire_due`],
    /// [`Reminders::sync_jobs`]), as tests do with a clock they move.
    pub fn drive_reminders_by_hand(&mut self) {
        self.reminders_by_hand = true;
    }

    /// Takes the outbox relay out, so that the caller drives it ([`Relay::run_once`]) instead
    /// of the server running it in the background: how tests publish exactly when they mean to.
    pub fn take_relay(&mut self) -> Option<Relay> {
        self.relay.take()
    }
}

/// The key page tokens are sealed with: derived from `TASKFLOW_PAGE_TOKEN_KEY`, or random.
fn page_token_key(config: &ServeConfig) -> PageTokenKey {
    match &config.page_token_key {
        Some(secret) => PageTokenKey::derive(secret.expose().as_bytes()),
        None => {
            tracing::info!(
                "TASKFLOW_PAGE_TOKEN_KEY is not set: page tokens use a random key made at \
                 start-up, so they do not survive a restart and are not accepted by other \
                 replicas"
            );
            PageTokenKey::random()
        }
    }
}

/// The shared sidecar client, in Dapr mode.
/// The parts that handle deliveries: the subscriber and what its handlers write through.
struct Deliveries {
    outbox: Outbox,
    hub: Hub,
    reminders: Reminders,
    subscriber: Arc<Subscriber>,
    sidecar: Option<Sidecar>,
}

impl Deliveries {
    fn build(
        config: &ServeConfig,
        db: &Database,
        events: Arc<crate::config::EventsConfig>,
        clock: Arc<dyn Clock>,
        lead: chrono::TimeDelta,
    ) -> Result<Self, StartupError> {
        let outbox = Outbox::new(events);
        let hub = Hub::new(db.clone());
        let sidecar = sidecar(config)?;
        let scheduler: Arc<dyn ReminderScheduler> = match &sidecar {
            Some(sidecar) => Arc::new(DaprJobs::new(sidecar.clone())),
            None => Arc::new(TableScheduler),
        };
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
        Ok(Self {
            outbox,
            hub,
            reminders,
            subscriber,
            sidecar,
        })
    }
}

/// The dead-letter review of `taskflow dead-letters`: the database and a subscriber wired as
/// the service's own (a replay writes what a delivery would; the serving replicas publish it
/// and carry out any reminder job it marks).
pub async fn dead_letter_review(config: &ServeConfig) -> Result<Review, StartupError> {
    let lead = reminder_lead(config)?;
    let db = migrated_database(config, config.database.database_max_connections.min(4)).await?;
    let events = Arc::new(config.events.clone());
    let parts = Deliveries::build(config, &db, events, Arc::new(SystemClock), lead)?;
    Ok(Review::new(db, parts.subscriber))
}

/// The reminder lead time. Parsing bounds it; a configuration built in code is checked here.
fn reminder_lead(config: &ServeConfig) -> Result<chrono::TimeDelta, StartupError> {
    config
        .reminder_lead()
        .ok_or(StartupError::ReminderLead(config.reminder_lead_seconds))
}

/// The configured database, with at most `max_connections`, migrated.
async fn migrated_database(
    config: &ServeConfig,
    max_connections: u32,
) -> Result<Database, StartupError> {
    let db = Database::connect_with(
        config.database.database_url.expose(),
        max_connections,
        Duration::from_millis(config.database.database_acquire_timeout_ms),
    )
    .await?;
    db.migrate().await?;
    Ok(db)
}

fn sidecar(config: &ServeConfig) -> Result<Option<Sidecar>, StartupError> {
    let endpoint = match (config.events.event_sink, config.dapr.endpoint()) {
        (SinkChoice::Local, _) | (SinkChoice::Auto, None) => return Ok(None),
        (SinkChoice::Dapr | SinkChoice::Auto, endpoint) => {
            endpoint.unwrap_or_else(|| "http://127.0.0.1:50001".to_owned())
        }
    };
    tracing::info!(
        endpoint = %crate::store::redact(&endpoint),
        pubsub = %config.events.pubsub_name,
        "publishing events and scheduling reminders through the Dapr sidecar"
    );
    let longest_pause = Duration::from_millis(config.events.relay_backoff_max_ms);
    Ok(Some(Sidecar::connect_lazy(
        &endpoint,
        &config.dapr,
        longest_pause,
    )?))
}
