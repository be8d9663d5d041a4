//! The real `taskflow` binary as a child process in Dapr mode, on ports picked once and kept
//! across restarts, publishing to (and receiving deliveries from) a sidecar double.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use dapr_double::{AppHealthProbe, DaprDouble, DaprDoubleConfig, RetryPolicy};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use taskflow::proto::v1::task_service_client::TaskServiceClient;

use crate::helpers::{Client, Metadata};

/// The binary under test: `TASKFLOW_SERVER_BIN` (scripts/test points it at the release
/// build), else the one cargo built for this test run.
pub fn server_binary() -> PathBuf {
    std::env::var_os("TASKFLOW_SERVER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_taskflow")))
}

/// A free loopback port (bound once, then released for the server to take).
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A sidecar double with both tokens set, whose deliveries retry every 25 ms for 30 s: a
/// Resiliency policy patient enough to ride out the app's restarts (without one daprd makes a
/// single attempt and the message would go to the dead-letter topic while the app restarts).
pub async fn patient_double() -> DaprDouble {
    let mut config = DaprDoubleConfig::fast(Duration::from_millis(5));
    config.dapr_api_token = Some("dapr-token".into());
    config.app_api_token = Some("app-token".into());
    config.delivery_retry = RetryPolicy::constant(1200, Duration::from_millis(25));
    DaprDouble::start(config)
        .await
        .expect("the sidecar double starts")
}

/// A sidecar double as taskflow deploys daprd (`k8s/taskflow.yaml`, `k8s/dapr.yaml`), with both
/// tokens set and the times scaled so that daprd's 500 ms becomes 25 ms: the Resiliency policy
/// taskflow ships (inbound retry exponential, `maxRetries: -1`, `maxInterval: 15s` → 750 ms;
/// kit's 15-minute elapsed cap kept) and app health checks on
/// (`dapr.io/enable-app-health-check`: a probe every 5 s → 250 ms, unhealthy after 3 failures),
/// so deliveries pause while the app reports itself unhealthy. The probe's timeout is 250 ms,
/// not 500 ms → 25 ms, which a busy test machine would miss now and then (daprd refuses a
/// timeout longer than the interval).
pub async fn shipped_double() -> DaprDouble {
    let interval = Duration::from_millis(25);
    let mut config = DaprDoubleConfig::fast(interval);
    config.dapr_api_token = Some("dapr-token".into());
    config.app_api_token = Some("app-token".into());
    config.delivery_retry = RetryPolicy::exponential(0, interval)
        .unlimited()
        .with_max_interval(interval * 30);
    config.app_health = Some(AppHealthProbe {
        interval: Duration::from_millis(250),
        timeout: Duration::from_millis(250),
        threshold: 3,
    });
    DaprDouble::start(config)
        .await
        .expect("the sidecar double starts")
}

/// A running (or killed) taskflow process.
pub struct ChildServer {
    env: Vec<(String, String)>,
    api: SocketAddr,
    callback: SocketAddr,
    log: tempfile::NamedTempFile,
    child: Option<Child>,
}

impl ChildServer {
    /// Starts the binary on `database_url`, wired to `double` both ways. A port picked free
    /// can be taken by another socket before the server binds it (eight servers start at once
    /// in one test): the server then exits saying so, and the start is tried again on other
    /// ports.
    pub async fn start(database_url: &str, double: &DaprDouble) -> Self {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let mut server = Self::configure(database_url, double);
            match server.launch().await {
                Ok(()) => {
                    double.set_app_addr(server.callback);
                    // The sidecar asks for the subscriptions once; ask now, while the server
                    // is surely up.
                    let subscriptions = double.subscriptions().await.expect("the subscriptions");
                    assert!(
                        !subscriptions.is_empty(),
                        "the server subscribes to its topics"
                    );
                    return server;
                }
                Err(log) if attempts < 5 && log.contains("Address already in use") => {}
                Err(log) => panic!("the server exited at start:\n{log}"),
            }
        }
    }

    /// The process's settings, on ports free at the time of the call.
    fn configure(database_url: &str, double: &DaprDouble) -> Self {
        let api = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let callback = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let metrics = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let config = double.config();
        let mut env = vec![
            ("TASKFLOW_DATABASE_URL", database_url.to_owned()),
            ("TASKFLOW_LISTEN", api.to_string()),
            ("TASKFLOW_CALLBACK_LISTEN", callback.to_string()),
            ("TASKFLOW_METRICS_LISTEN", metrics.to_string()),
            ("TASKFLOW_EVENT_SINK", "dapr".into()),
            ("DAPR_GRPC_ENDPOINT", double.endpoint()),
            ("TASKFLOW_DAPR_TIMEOUT_MS", "1000".into()),
            ("TASKFLOW_RELAY_POLL_MS", "100".into()),
            ("TASKFLOW_RELAY_BACKOFF_MAX_MS", "200".into()),
            ("TASKFLOW_SHUTDOWN_GRACE_SECONDS", "2".into()),
            ("TASKFLOW_LOG_FORMAT", "json".into()),
            ("TASKFLOW_LOG", "warn".into()),
        ];
        if let Some(token) = &config.dapr_api_token {
            env.push(("DAPR_API_TOKEN", token.clone()));
        }
        if let Some(token) = &config.app_api_token {
            env.push(("APP_API_TOKEN", token.clone()));
        }
        Self {
            env: env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            api,
            callback,
            log: tempfile::NamedTempFile::new().expect("a log file"),
            child: None,
        }
    }

    /// Starts the process again on the same ports and waits until it serves.
    pub async fn restart(&mut self) {
        if let Err(log) = self.launch().await {
            panic!("the server exited at start:\n{log}");
        }
    }

    /// Spawns the process and waits until it serves; the log's tail if it exits first.
    async fn launch(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "the server is still running");
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(self.log.path())
            .expect("the log file");
        let mut command = Command::new(server_binary());
        command
            .env_remove("TASKFLOW_JWT_SECRET")
            .env_remove("DAPR_GRPC_PORT")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("the log file")))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        self.child = Some(command.spawn().expect("the taskflow binary starts"));
        self.wait_serving().await
    }

    async fn wait_serving(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut health = HealthClient::new(self.channel());
        loop {
            let check = health.check(HealthCheckRequest {
                service: "taskflow.v1.TaskService".into(),
            });
            if let Ok(Ok(reply)) = tokio::time::timeout(Duration::from_secs(1), check).await
                && reply.into_inner().status == ServingStatus::Serving as i32
            {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                self.child = None;
                return Err(format!("({status})\n{}", self.log_tail()));
            }
            assert!(
                Instant::now() < deadline,
                "the server did not serve within 30 s:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILL: the process dies at once, whatever it was doing.
    pub async fn kill9(&mut self) {
        let mut child = self.child.take().expect("a running server");
        child.start_kill().expect("SIGKILL is sent");
        let status = child.wait().await.expect("the killed server is reaped");
        assert!(!status.success(), "killed, not exited: {status}");
    }

    /// The exit status, if the process has ended by itself.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The process id of the running server.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("a running server")
    }

    /// The last lines the server logged, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.log.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// A channel to the API that reconnects by itself after a restart; calls time out after
    /// 10 s so that a hang fails the test instead of stalling it.
    pub fn channel(&self) -> Channel {
        Endpoint::from_shared(format!("http://{}", self.api))
            .expect("a valid uri")
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(10))
            .connect_lazy()
    }

    /// A client acting as `user` (development mode).
    pub fn user(&self, user: &str) -> Client {
        TaskServiceClient::with_interceptor(self.channel(), Metadata::new(&[("x-user-id", user)]))
    }

    /// Where the sidecar delivers events.
    pub fn callback_addr(&self) -> SocketAddr {
        self.callback
    }
}
