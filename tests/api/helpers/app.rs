//! A running server per test, clients per user, and the sidecar double wired to it.

#[allow(unused_imports)]
use super::*;

/// Adds fixed metadata to every call.
#[derive(Clone)]
pub struct Metadata(Vec<(MetadataKey<tonic::metadata::Ascii>, AsciiMetadataValue)>);

impl Metadata {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| {
                    (
                        MetadataKey::from_bytes(k.as_bytes()).expect("a metadata key"),
                        AsciiMetadataValue::try_from(*v).expect("an ASCII value"),
                    )
                })
                .collect(),
        )
    }
}

impl Interceptor for Metadata {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        for (key, value) in &self.0 {
            request.metadata_mut().insert(key.clone(), value.clone());
        }
        Ok(request)
    }
}

pub type Client = TaskServiceClient<InterceptedService<Channel, Metadata>>;

/// A running server on its own database.
pub struct TestApp {
    metrics_addr: std::net::SocketAddr,
    reminders: taskflow::reminders::Reminders,
    /// The server's retention worker: a test runs a pass with it when it wants one.
    pub retention: taskflow::app::Retention,
    addr: std::net::SocketAddr,
    callback_addr: std::net::SocketAddr,
    hub: taskflow::notifications::Hub,
    /// The relay's idle rounds and its waker, to drain the event path.
    relay: (tokio::sync::watch::Receiver<u64>, Arc<tokio::sync::Notify>),
    pub database_url: String,
    channel: Channel,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    db: Option<TestDb>,
}

pub const JWT_SECRET: &str = "test-secret-that-is-long-enough-for-hs256";

impl TestApp {
    /// A server in development mode (`x-user-id` names the caller).
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// A server that verifies JWTs signed with [`JWT_SECRET`].
    pub async fn spawn_jwt(backend: Backend, issuer: Option<&str>, audience: Option<&str>) -> Self {
        let (issuer, audience) = (issuer.map(str::to_owned), audience.map(str::to_owned));
        Self::spawn_with(backend, move |c| {
            c.jwt_secret = Some(Secret::new(JWT_SECRET));
            c.jwt_issuer = issuer.clone();
            c.jwt_audience = audience.clone();
        })
        .await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut ServeConfig)) -> Self {
        let (db, database_url) = TestDb::create(backend).await;
        Self::start(
            Some(db),
            database_url,
            Arc::new(SystemClock),
            configure,
            false,
        )
        .await
    }

    /// A server whose reminders go by `clock`.
    pub async fn spawn_with_clock(
        backend: Backend,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Self {
        let (db, database_url) = TestDb::create(backend).await;
        Self::start(Some(db), database_url, clock, configure, false).await
    }

    /// Another replica of this server: same database, its own ports and relay.
    pub async fn replica(&self, configure: impl FnOnce(&mut ServeConfig)) -> Self {
        Self::start(
            None,
            self.database_url.clone(),
            Arc::new(SystemClock),
            configure,
            false,
        )
        .await
    }

    /// Another replica whose reminders go by `clock`.
    pub async fn replica_with_clock(
        &self,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Self {
        Self::start(None, self.database_url.clone(), clock, configure, false).await
    }

    /// A server started again on the database of a stopped one.
    pub async fn resume(db: TestDb, database_url: String, clock: Arc<dyn Clock>) -> Self {
        Self::resume_with(db, database_url, clock, |_| {}).await
    }

    /// [`TestApp::resume`] with its own configuration (e.g. [`wired_to`] a sidecar double).
    pub async fn resume_with(
        db: TestDb,
        database_url: String,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Self {
        Self::start(Some(db), database_url, clock, configure, false).await
    }

    /// A server whose reminders go by `clock` and fire only when the test fires them
    /// (`reminders().fire_due()`), never by the server's own loop racing the test.
    pub async fn spawn_with_manual_reminders(backend: Backend, clock: Arc<dyn Clock>) -> Self {
        let (db, database_url) = TestDb::create(backend).await;
        Self::start(Some(db), database_url, clock, |_| {}, true).await
    }

    async fn start(
        db: Option<TestDb>,
        database_url: String,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServeConfig),
        manual_reminders: bool,
    ) -> Self {
        taskflow::telemetry::init_for_tests();
        let mut config = test_config(&database_url);
        configure(&mut config);
        let mut app = Application::build_with_clock(&config, clock)
            .await
            .expect("the server starts");
        if manual_reminders {
            app.drive_reminders_by_hand();
        }
        let reminders = app.reminders();
        let retention = app.retention();
        let addr = app.api_addr();
        let callback_addr = app.callback_addr();
        let metrics_addr = app.metrics_addr();
        let hub = app.hub();
        let relay = app.relay_progress().expect("the server runs its relay");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("the server runs");
        });
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("a valid uri")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connects to the server");
        Self {
            metrics_addr,
            reminders,
            retention,
            addr,
            callback_addr,
            hub,
            relay,
            database_url,
            channel,
            stop: Some(stop),
            server: Some(server),
            db,
        }
    }

    /// Returns once every event committed so far is published: in embedded mode handled too,
    /// with whatever those deliveries wrote in turn (next occurrences, reminder events). Wakes
    /// the relay and waits for two rounds of it that find the outbox empty; the second began
    /// after this call, so it saw everything committed before it. No polling: the relay says
    /// when it is done.
    pub async fn drain_events(&self) {
        let (idle, waker) = &self.relay;
        let mut idle = idle.clone();
        for _ in 0..2 {
            idle.borrow_and_update();
            waker.notify_one();
            tokio::time::timeout(Duration::from_secs(30), idle.changed())
                .await
                .expect("the relay drains the outbox within 30 s")
                .expect("the relay runs");
        }
        let left = outbox_rows(&self.db().await)
            .await
            .into_iter()
            .filter(|r| r.published_us.is_none())
            .count();
        assert_eq!(left, 0, "every event is published after draining");
    }

    /// The outbox once the event path is drained: every row published; `count` of them when
    /// given.
    pub async fn drained_outbox(
        &self,
        count: Option<usize>,
    ) -> Vec<taskflow::store::outbox::OutboxRow> {
        self.drain_events().await;
        let rows = outbox_rows(&self.db().await).await;
        if let Some(count) = count {
            assert_eq!(rows.len(), count, "events in the outbox");
        }
        rows
    }

    /// Occurrence `n` of `series`, once the event path is drained (embedded mode: the
    /// completion that makes it has been handled by then).
    pub async fn occurrence(
        &self,
        client: &mut Client,
        user: &str,
        series: &str,
        n: i32,
    ) -> pb::Task {
        self.drain_events().await;
        list_all(client, user)
            .await
            .into_iter()
            .find(|t| t.series == series && t.occurrence == n)
            .unwrap_or_else(|| panic!("occurrence {n} of {series} exists"))
    }

    /// A client with the given metadata on every call.
    pub fn client_with(&self, metadata: &[(&str, &str)]) -> Client {
        TaskServiceClient::with_interceptor(self.channel.clone(), Metadata::new(metadata))
    }

    /// A client acting as `user` (development mode).
    pub fn user(&self, user: &str) -> Client {
        self.client_with(&[("x-user-id", user)])
    }

    /// A client sending `authorization: Bearer <token>`.
    pub fn bearer(&self, token: &str) -> Client {
        self.client_with(&[("authorization", &format!("Bearer {token}"))])
    }

    /// A server in Dapr mode whose sidecar is at `endpoint`, checking `app_token` on callbacks.
    pub async fn spawn_dapr(backend: Backend, endpoint: &str, app_token: Option<&str>) -> Self {
        let (endpoint, app_token) = (endpoint.to_owned(), app_token.map(Secret::new));
        Self::spawn_with(backend, move |c| {
            c.events.event_sink = SinkChoice::Dapr;
            c.dapr.dapr_grpc_endpoint = Some(endpoint.clone());
            c.dapr.app_api_token = app_token.clone();
            c.dapr.dapr_timeout_ms = 1000;
        })
        .await
    }

    /// A server in Dapr mode wired to `double` both ways (publishing with `DAPR_API_TOKEN`,
    /// deliveries checked against `APP_API_TOKEN`).
    pub async fn spawn_with_double(backend: Backend, double: &dapr_double::DaprDouble) -> Self {
        let app = Self::spawn_with(backend, wired_to(double)).await;
        double.set_app_addr(app.callback_addr());
        app
    }

    /// The address of the app callback server (what the sidecar calls).
    pub fn callback_addr(&self) -> std::net::SocketAddr {
        self.callback_addr
    }

    /// The server's reminder engine.
    pub fn reminders(&self) -> &taskflow::reminders::Reminders {
        &self.reminders
    }

    /// This server's notification hub (each replica has its own).
    pub fn hub(&self) -> taskflow::notifications::Hub {
        self.hub.clone()
    }

    /// Where `/metrics` is served.
    pub fn metrics_addr(&self) -> std::net::SocketAddr {
        self.metrics_addr
    }

    /// The address the API listens on.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    /// Stops the server and waits until it has drained; the database lives on in the result.
    pub async fn stop(mut self) -> Option<TestDb> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("the server stops cleanly");
        }
        self.db.take()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn test_config(database_url: &str) -> ServeConfig {
    ServeConfig {
        database: DatabaseConfig {
            database_url: database_url.parse().expect("a database url"),
            database_max_connections: 4,
            database_acquire_timeout_ms: taskflow::store::DEFAULT_ACQUIRE_TIMEOUT_MS,
        },
        listen: "127.0.0.1:0".into(),
        tls: taskflow::config::TlsConfig {
            tls_cert: None,
            tls_key: None,
        },
        jwt_secret: None,
        page_token_key: None,
        jwt_issuer: None,
        jwt_audience: None,
        identity: taskflow::config::IdentityConfig::default(),
        shutdown_grace_seconds: 5,
        reminder_lead_seconds: 24 * 3600,
        callback_listen: "127.0.0.1:0".into(),
        metrics_listen: "127.0.0.1:0".into(),
        callback_max_message_bytes: 16 * 1024 * 1024,
        api_max_message_bytes: 4 * 1024 * 1024,
        events: EventsConfig {
            event_sink: SinkChoice::Local,
            relay_poll_ms: 100,
            relay_backoff_max_ms: 200,
            ..EventsConfig::default()
        },
        dapr: DaprConfig::default(),
        retention: taskflow::config::RetentionConfig::default(),
    }
}

/// The task use cases on `db`, outside any server (to inspect what a server wrote).
pub fn tasks_on(db: taskflow::store::Database) -> taskflow::app::Tasks {
    let outbox = taskflow::outbox::Outbox::new(std::sync::Arc::new(EventsConfig::default()));
    taskflow::app::Tasks::new(db, outbox)
}

impl TestApp {
    /// A second connection to the server's database, for inspecting what it wrote.
    pub async fn db(&self) -> taskflow::store::Database {
        taskflow::store::Database::connect(&self.database_url, 2)
            .await
            .expect("connects to the test database")
    }
}

/// A sidecar double with fast retries and both tokens set, behaving as the daprd line named by
/// `TASKFLOW_TEST_DAPR_VERSION` (`1.16`, `1.17`, `1.18`; the newest when unset): `scripts/test`
/// runs the Dapr suites once per supported line.
pub async fn double() -> dapr_double::DaprDouble {
    let mut config = dapr_double::DaprDoubleConfig::fast(Duration::from_millis(5))
        .with_version(test_dapr_version());
    config.dapr_api_token = Some("dapr-token".into());
    config.app_api_token = Some("app-token".into());
    dapr_double::DaprDouble::start(config)
        .await
        .expect("the sidecar double starts")
}

/// The daprd line the Dapr tests run against (see [`double`]).
pub fn test_dapr_version() -> dapr_double::DaprVersion {
    match std::env::var("TASKFLOW_TEST_DAPR_VERSION") {
        Ok(version) if !version.trim().is_empty() => dapr_double::DaprVersion::parse(&version)
            .unwrap_or_else(|| {
                panic!("TASKFLOW_TEST_DAPR_VERSION={version:?} is no supported daprd line")
            }),
        _ => dapr_double::DaprVersion::default(),
    }
}

/// Configures a server to publish through `double` (with its `DAPR_API_TOKEN`) and to expect
/// its `APP_API_TOKEN` on deliveries.
pub fn wired_to(double: &dapr_double::DaprDouble) -> impl FnOnce(&mut ServeConfig) + use<> {
    let config = double.config();
    let endpoint = double.endpoint();
    let (dapr_token, app_token) = (config.dapr_api_token.clone(), config.app_api_token.clone());
    move |c: &mut ServeConfig| {
        c.events.event_sink = SinkChoice::Dapr;
        c.dapr.dapr_grpc_endpoint = Some(endpoint);
        c.dapr.dapr_api_token = dapr_token.as_deref().map(Secret::new);
        c.dapr.app_api_token = app_token.as_deref().map(Secret::new);
        c.dapr.dapr_timeout_ms = 1000;
    }
}
