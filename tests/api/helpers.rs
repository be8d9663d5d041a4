//! Spawns a real taskflow server on a free loopback port, each test on a fresh database of
//! its own (a SQLite file, or a new PostgreSQL database), and gives typed clients per user.

use std::{sync::Arc, time::Duration};

use taskflow::clock::{Clock, SystemClock};

use sea_orm::ConnectionTrait;
use taskflow::config::{DaprConfig, DatabaseConfig, EventsConfig, Secret, ServeConfig, SinkChoice};
use taskflow::proto::v1::{self as pb, task_service_client::TaskServiceClient};
use taskflow::startup::Application;
use tokio::sync::oneshot;
use tonic::{
    Request, Status,
    metadata::{AsciiMetadataValue, MetadataKey},
    service::{Interceptor, interceptor::InterceptedService},
    transport::Channel,
};

/// The two databases every behaviour is checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Declares `sqlite::NAME` and `postgres::NAME` tests that run `NAME(backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

/// Where the tests find PostgreSQL: `TASKFLOW_TEST_POSTGRES_URL`, or the local server.
pub fn postgres_admin_url() -> String {
    std::env::var("TASKFLOW_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database that exists for one test.
pub enum TestDb {
    /// The directory holding the database file, removed on drop.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    pub async fn create(backend: Backend) -> (Self, String) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}/taskflow.db?mode=rwc", dir.path().display());
                (Self::Sqlite(dir), url)
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = sea_orm::Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {admin_url}: {e}\n\
                         Fix: start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                         (scripts/test does this), or point TASKFLOW_TEST_POSTGRES_URL at a server."
                    )
                });
                let name = format!("taskflow_test_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("CREATE DATABASE");
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .unwrap_or(&admin_url);
                let url = format!("{base}/{name}");
                (Self::Postgres { admin_url, name }, url)
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Self::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime: do the async work on a thread of its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

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
    reminders: taskflow::reminders::Reminders,
    addr: std::net::SocketAddr,
    callback_addr: std::net::SocketAddr,
    hub: taskflow::notifications::Hub,
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
        Self::start(Some(db), database_url, Arc::new(SystemClock), configure).await
    }

    /// A server whose reminders go by `clock`.
    pub async fn spawn_with_clock(
        backend: Backend,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Self {
        let (db, database_url) = TestDb::create(backend).await;
        Self::start(Some(db), database_url, clock, configure).await
    }

    /// Another replica of this server: same database, its own ports and relay.
    pub async fn replica(&self, configure: impl FnOnce(&mut ServeConfig)) -> Self {
        Self::start(
            None,
            self.database_url.clone(),
            Arc::new(SystemClock),
            configure,
        )
        .await
    }

    /// Another replica whose reminders go by `clock`.
    pub async fn replica_with_clock(
        &self,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Self {
        Self::start(None, self.database_url.clone(), clock, configure).await
    }

    /// A server started again on the database of a stopped one.
    pub async fn resume(db: TestDb, database_url: String, clock: Arc<dyn Clock>) -> Self {
        Self::start(Some(db), database_url, clock, |_| {}).await
    }

    async fn start(
        db: Option<TestDb>,
        database_url: String,
        clock: Arc<dyn Clock>,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Self {
        taskflow::telemetry::init_for_tests();
        let mut config = test_config(&database_url);
        configure(&mut config);
        let app = Application::build_with_clock(&config, clock)
            .await
            .expect("the server starts");
        let reminders = app.reminders();
        let addr = app.api_addr();
        let callback_addr = app.callback_addr();
        let hub = app.hub();
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
            reminders,
            addr,
            callback_addr,
            hub,
            database_url,
            channel,
            stop: Some(stop),
            server: Some(server),
            db,
        }
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
        },
        listen: "127.0.0.1:0".into(),
        jwt_secret: None,
        jwt_issuer: None,
        jwt_audience: None,
        shutdown_grace_seconds: 5,
        reminder_lead_seconds: 24 * 3600,
        callback_listen: "127.0.0.1:0".into(),
        callback_max_message_bytes: 16 * 1024 * 1024,
        events: EventsConfig {
            event_sink: SinkChoice::Local,
            relay_poll_ms: 100,
            relay_backoff_max_ms: 200,
            ..EventsConfig::default()
        },
        dapr: DaprConfig::default(),
    }
}

/// A new task with just a title.
pub fn titled(title: &str) -> pb::Task {
    pb::Task {
        title: title.into(),
        ..Default::default()
    }
}

/// Creates a task for `user` and returns it.
pub async fn create(client: &mut Client, user: &str, task: pb::Task) -> pb::Task {
    client
        .create_task(pb::CreateTaskRequest {
            parent: format!("users/{user}"),
            task: Some(task),
            request_id: String::new(),
        })
        .await
        .expect("CreateTask succeeds")
        .into_inner()
}

/// Every task of `user`, in the default order (one page of up to 500).
pub async fn list_all(client: &mut Client, user: &str) -> Vec<pb::Task> {
    client
        .list_tasks(pb::ListTasksRequest {
            parent: format!("users/{user}"),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("ListTasks succeeds")
        .into_inner()
        .tasks
}

/// A `google.protobuf.Timestamp` from RFC 3339 text.
pub fn ts(rfc3339: &str) -> prost_types::Timestamp {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 time");
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).expect("nanos fit"),
    }
}

/// The field violations of an `InvalidArgument` status, as `(field, description)`.
pub fn violations(status: &Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|br| {
            br.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that `status` is `InvalidArgument` naming `field`.
#[track_caller]
pub fn assert_invalid(status: &Status, field: &str) {
    let fields = violations(status);
    assert!(
        fields.iter().any(|(f, _)| f == field),
        "expected a violation of {field}, got {fields:?} ({})",
        status.message()
    );
}

/// The task use cases on `db`, outside any server (to inspect what a server wrote).
pub fn tasks_on(db: taskflow::store::Database) -> taskflow::app::Tasks {
    let outbox = taskflow::events::Outbox::new(std::sync::Arc::new(EventsConfig::default()));
    taskflow::app::Tasks::new(db, outbox)
}

/// Waits until `check` returns `Some`, re-checking every 20 ms, for at most 10 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl TestApp {
    /// A second connection to the server's database, for inspecting what it wrote.
    pub async fn db(&self) -> taskflow::store::Database {
        taskflow::store::Database::connect(&self.database_url, 2)
            .await
            .expect("connects to the test database")
    }
}

/// Every outbox row, in commit order.
pub async fn outbox_rows(
    db: &taskflow::store::Database,
) -> Vec<taskflow::events::outbox::OutboxRow> {
    use sea_orm::{EntityTrait, QueryOrder};
    taskflow::store::entity::outbox::Entity::find()
        .order_by_asc(taskflow::store::entity::outbox::Column::Seq)
        .all(db.conn())
        .await
        .expect("reads the outbox")
}

/// A sidecar double with fast retries and both tokens set.
pub async fn double() -> dapr_double::DaprDouble {
    let mut config = dapr_double::DaprDoubleConfig::fast(Duration::from_millis(5));
    config.dapr_api_token = Some("dapr-token".into());
    config.app_api_token = Some("app-token".into());
    dapr_double::DaprDouble::start(config)
        .await
        .expect("the sidecar double starts")
}

/// Waits until the outbox holds `count` events (any number with `None`), all published.
pub async fn published_outbox(
    db: &taskflow::store::Database,
    count: Option<usize>,
) -> Vec<taskflow::events::outbox::OutboxRow> {
    eventually("the outbox to be published", || async {
        let rows = outbox_rows(db).await;
        let complete = count.is_none_or(|n| rows.len() == n);
        (complete && rows.iter().all(|r| r.published_us.is_some())).then_some(rows)
    })
    .await
}

/// Creates, updates (title and priority), completes twice, reopens and deletes one task of
/// `user`: five changes, so five events. Returns the task as created.
pub async fn full_lifecycle(client: &mut Client, user: &str) -> pb::Task {
    let task = create(client, user, titled("Write the report")).await;
    client
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: task.name.clone(),
                title: "Write the annual report".into(),
                priority: pb::Priority::High as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into(), "priority".into()],
            }),
        })
        .await
        .expect("update");
    for _ in 0..2 {
        // The second completion changes nothing and publishes nothing.
        client
            .complete_task(pb::CompleteTaskRequest {
                name: task.name.clone(),
            })
            .await
            .expect("complete");
    }
    client
        .reopen_task(pb::ReopenTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("reopen");
    client
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    task
}

/// The CloudEvent types of a full lifecycle, in order.
pub const LIFECYCLE_TYPES: [&str; 5] = [
    "task.created",
    "task.updated",
    "task.completed",
    "task.reopened",
    "task.deleted",
];

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
