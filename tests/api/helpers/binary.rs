//! The real `taskflow` binary as a child process, every line it writes (stdout and stderr)
//! kept for the test to read.

#[allow(unused_imports)]
use super::*;

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::Mutex;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// A running `taskflow` process.
pub struct Binary {
    child: tokio::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

fn collect(
    stream: impl AsyncRead + Unpin + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            lines.lock().expect("the line store").push(line);
        }
    })
}

impl Binary {
    /// Starts `taskflow ARGS` in `dir` with JSON logs, every port on 127.0.0.1:0, no secrets
    /// and no database URL from the test's own environment, then `env` on top.
    pub fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_taskflow"));
        command
            .args(args)
            .current_dir(dir)
            .env_remove("TASKFLOW_DATABASE_URL")
            .env_remove("TASKFLOW_JWT_SECRET")
            .env_remove("DAPR_API_TOKEN")
            .env_remove("APP_API_TOKEN")
            .env_remove("DAPR_GRPC_PORT")
            .env_remove("DAPR_GRPC_ENDPOINT")
            .env("TASKFLOW_LOG_FORMAT", "json")
            .env("TASKFLOW_LISTEN", "127.0.0.1:0")
            .env("TASKFLOW_CALLBACK_LISTEN", "127.0.0.1:0")
            .env("TASKFLOW_METRICS_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("the binary starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().expect("stdout"), lines.clone()),
            collect(child.stderr.take().expect("stderr"), lines.clone()),
        ];
        Self {
            child,
            lines,
            readers,
        }
    }

    /// Everything written so far, one line each.
    pub fn output(&self) -> String {
        self.lines.lock().expect("the line store").join("\n")
    }

    /// Waits (at most 30 s) for a JSON log line with the string field `name` and returns it.
    pub async fn field(&mut self, name: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let found = self
                .lines
                .lock()
                .expect("the line store")
                .iter()
                .find_map(|line| {
                    let entry: serde_json::Value = serde_json::from_str(line).ok()?;
                    entry.get(name)?.as_str().map(str::to_owned)
                });
            if let Some(value) = found {
                return value;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the server exited ({status}) before logging {name}:\n{}",
                    self.output()
                );
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no {name} logged in time:\n{}",
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The process id, for signals.
    pub fn id(&self) -> u32 {
        self.child.id().expect("a running process")
    }

    /// Sends SIGTERM, then waits (at most 15 s) for the exit.
    pub async fn terminate(self) -> (ExitStatus, String) {
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &self.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(killed.success());
        self.wait().await
    }

    /// Waits (at most 15 s) for the process to exit by itself; returns how, and all it wrote.
    pub async fn wait(mut self) -> (ExitStatus, String) {
        let status = tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .expect("the process exits in time")
            .expect("an exit status");
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        (status, self.output())
    }
}
