//! The [`DaprDouble`] handle: starting, stopping and restarting the fake sidecar, and the state
//! all its parts share.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::app::AppLink;
use crate::broker::Broker;
use crate::config::DaprDoubleConfig;
use crate::delivery::DeliveryState;
use crate::error::DoubleError;
use crate::faults::Faults;
use crate::health::AppHealth;
use crate::jobs::JobStore;
use crate::record::{Delivery, JobTrigger, Published, Recorder, lock};
use crate::server::{self, RunningServer};

/// A running stand-in for daprd. Clones share one double; when the last clone is dropped the
/// server and every background task stop.
#[derive(Clone)]
pub struct DaprDouble {
    pub(crate) shared: Arc<Shared>,
    _guard: Arc<Guard>,
}

/// State shared by the server, the delivery lanes and the job timers.
pub(crate) struct Shared {
    pub(crate) config: DaprDoubleConfig,
    pub(crate) faults: Faults,
    pub(crate) published: Recorder<Published>,
    pub(crate) deliveries: Recorder<Delivery>,
    pub(crate) job_triggers: Recorder<JobTrigger>,
    pub(crate) app: AppLink,
    pub(crate) broker: Broker,
    pub(crate) delivery: DeliveryState,
    pub(crate) jobs: JobStore,
    pub(crate) health: AppHealth,
    /// `false` between `stop()` and `restart()`: nothing is delivered or triggered.
    pub(crate) running: watch::Sender<bool>,
    server: tokio::sync::Mutex<Option<RunningServer>>,
    port: u16,
    tasks: Mutex<Vec<AbortHandle>>,
}

impl Shared {
    /// Spawns a background task that ends when the double is dropped.
    pub(crate) fn spawn<F>(&self, task: F) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(task).abort_handle();
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle.clone());
        handle
    }

    /// Waits while the double is stopped.
    pub(crate) async fn wait_running(&self) {
        let mut running = self.running.subscribe();
        // The sender lives as long as `self`, so this only ends when running.
        let _ = running.wait_for(|r| *r).await;
    }

    pub(crate) fn is_running(&self) -> bool {
        *self.running.borrow()
    }
}

/// Aborts the background tasks when the last handle goes away.
struct Guard {
    shared: Arc<Shared>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for task in lock(&self.shared.tasks).drain(..) {
            task.abort();
        }
        if let Ok(mut server) = self.shared.server.try_lock()
            && let Some(server) = server.take()
        {
            server.abort();
        }
    }
}

impl DaprDouble {
    /// Binds `127.0.0.1:0`, serves `dapr.proto.runtime.v1.Dapr` there and starts the delivery
    /// machinery. Must be called inside a Tokio runtime.
    pub async fn start(mut config: DaprDoubleConfig) -> Result<Self, DoubleError> {
        config.app_health = config
            .app_health
            .map(|probe| probe.effective())
            .transpose()
            .map_err(DoubleError::Config)?;
        let probe = config.app_health;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            app: AppLink::new(config.app_addr),
            delivery: DeliveryState::new(config.auto_deliver),
            config,
            faults: Faults::default(),
            published: Recorder::new(),
            deliveries: Recorder::new(),
            job_triggers: Recorder::new(),
            broker: Broker::default(),
            jobs: JobStore::default(),
            health: AppHealth::new(probe),
            running: watch::Sender::new(true),
            server: tokio::sync::Mutex::new(None),
            port,
            tasks: Mutex::new(Vec::new()),
        });
        *shared.server.lock().await = Some(server::serve(shared.clone(), listener));
        if let Some(probe) = shared.config.app_health {
            shared.spawn(shared.clone().probe_app(probe));
        }
        Ok(Self {
            _guard: Arc::new(Guard {
                shared: shared.clone(),
            }),
            shared,
        })
    }

    /// Starts a double with the default configuration.
    pub async fn start_default() -> Result<Self, DoubleError> {
        Self::start(DaprDoubleConfig::default()).await
    }

    /// The address the double listens on (it keeps the port across `stop`/`restart`).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.shared.port))
    }

    /// `http://127.0.0.1:<port>`, for `DAPR_GRPC_ENDPOINT` or a tonic `Endpoint`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &DaprDoubleConfig {
        &self.shared.config
    }

    /// Closes the listening socket, so new connections are refused, and pauses deliveries and
    /// job triggers (as a crashed daprd would). Open connections are shut down; calls still in
    /// flight answer `Unavailable`. Recorded data, jobs and queued deliveries are kept.
    pub async fn stop(&self) {
        self.shared.running.send_replace(false);
        let server = self.shared.server.lock().await.take();
        if let Some(server) = server {
            server.stop().await;
        }
    }

    /// Re-opens the listening socket on the same port after [`stop`](Self::stop) and resumes
    /// deliveries and jobs. Like a new daprd process it asks `ListTopicSubscriptions` again
    /// (once). Does nothing if the double is running.
    pub async fn restart(&self) -> Result<(), DoubleError> {
        let mut server = self.shared.server.lock().await;
        if server.is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr()).await?;
        self.shared.delivery.forget_subscriptions().await;
        *server = Some(server::serve(self.shared.clone(), listener));
        self.shared.running.send_replace(true);
        Ok(())
    }

    /// Whether the socket is open (between `start`/`restart` and `stop`).
    pub fn is_running(&self) -> bool {
        self.shared.is_running()
    }
}
