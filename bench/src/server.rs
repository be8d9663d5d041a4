//! The `taskflow` server as a child process: start it, learn its addresses from its JSON log,
//! read its resident memory, stop it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::Error;

/// A running `taskflow` process.
pub struct Server {
    child: Child,
    pid: u32,
    /// The API address (`addr` in the log).
    pub addr: SocketAddr,
    /// The Dapr app callback address (`callback_addr` in the log).
    pub callback_addr: SocketAddr,
}

impl Server {
    /// Starts `binary` with `env` (on top of free loopback ports and JSON logs) and waits until
    /// it logs both the API and the callback address.
    pub async fn start(binary: &Path, env: &[(&str, String)]) -> Result<Self, Error> {
        let mut command = Command::new(binary);
        command
            .env_remove("TASKFLOW_JWT_SECRET")
            .env_remove("DAPR_GRPC_PORT")
            .env_remove("DAPR_GRPC_ENDPOINT")
            .env("TASKFLOW_LOG_FORMAT", "json")
            .env("TASKFLOW_LOG", "info")
            .env("TASKFLOW_LISTEN", "127.0.0.1:0")
            .env("TASKFLOW_CALLBACK_LISTEN", "127.0.0.1:0")
            .env("TASKFLOW_METRICS_LISTEN", "127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let pid = child.id().ok_or("the server exited at once")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let found = tokio::time::timeout(Duration::from_secs(60), async {
            let (mut addr, mut callback_addr) = (None, None);
            while let Some(line) = lines.next_line().await? {
                let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else {
                    continue;
                };
                let field = |name: &str| {
                    entry
                        .get(name)
                        .or_else(|| entry.get("fields").and_then(|f| f.get(name)))
                        .and_then(serde_json::Value::as_str)
                        .and_then(|s| s.parse::<SocketAddr>().ok())
                };
                addr = addr.or_else(|| field("addr"));
                callback_addr = callback_addr.or_else(|| field("callback_addr"));
                if let (Some(addr), Some(callback_addr)) = (addr, callback_addr) {
                    return Ok::<_, std::io::Error>(Some((addr, callback_addr)));
                }
            }
            Ok(None)
        })
        .await
        .map_err(|_| "the server did not log its addresses within 60 s")?
        .map_err(|e| format!("reading the server's log: {e}"))?;
        let (addr, callback_addr) = found.ok_or("the server exited before it listened")?;
        // Keep reading the log so the pipe never fills up and blocks the server.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            addr,
            callback_addr,
        })
    }

    /// `http://<addr>` of the API.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's resident set size in MiB (`VmRSS` of `/proc/<pid>/status`).
    pub fn rss_mb(&self) -> Result<f64, Error> {
        rss_mb(self.pid)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Kills the server at once (SIGKILL), as when its pod dies: no shutdown, no lock released
    /// by the server itself.
    pub async fn kill(&self) -> Result<(), Error> {
        let status = Command::new("kill")
            .arg("-KILL")
            .arg(self.pid.to_string())
            .status()
            .await?;
        if !status.success() {
            return Err(format!("cannot kill the server (pid {})", self.pid).into());
        }
        Ok(())
    }

    /// Asks the server to stop (SIGTERM) and waits for it; kills it after 30 s.
    pub async fn stop(mut self) -> Result<(), Error> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => {
                status?;
            }
            Err(_) => {
                self.child.kill().await?;
            }
        }
        Ok(())
    }
}

/// `VmRSS` of a process in MiB.
/// CPU time (user + system) the process `pid` has used so far.
pub fn cpu_time(pid: u32) -> Result<std::time::Duration, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command (which may hold spaces) start after its closing parenthesis;
    // utime and stime are the 14th and 15th fields, in clock ticks (100 per second on Linux).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("a /proc stat line")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<u64, Error> {
        Ok(fields.get(i).ok_or("a /proc stat field")?.parse()?)
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(std::time::Duration::from_millis(total * 10))
}

pub fn rss_mb(pid: u32) -> Result<f64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<f64>().ok())
        .ok_or("no VmRSS in /proc/<pid>/status")?;
    Ok(kib / 1024.0)
}
