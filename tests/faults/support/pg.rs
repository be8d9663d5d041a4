//! A private PostgreSQL cluster (initdb + pg_ctl) on a free port, so a test may stop it
//! without disturbing the shared server other tests use. Torn down on drop.

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A cluster of our own: data in a temporary directory, `fsync=off`, trust auth, loopback.
pub struct PrivateCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

/// The newest installed PostgreSQL's binaries (`/usr/lib/postgresql/<version>/bin`).
fn postgres_bin() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .unwrap_or_else(|e| panic!("PostgreSQL binaries not found in {root:?}: {e}"))
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, bin)| bin)
        .expect("an installed PostgreSQL with pg_ctl")
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

impl PrivateCluster {
    /// Creates and starts a cluster; PostgreSQL refuses to run as root, so then it runs as
    /// the `postgres` user.
    pub async fn start() -> Self {
        let bin = postgres_bin();
        let dir = tempfile::Builder::new()
            .prefix("taskflow-pg-")
            .tempdir()
            .expect("a temporary directory");
        if running_as_root() {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown runs");
            assert!(status.success(), "chown the cluster directory");
        }
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cluster = Self { bin, dir, port };
        let data = cluster.data();
        cluster
            .run(
                "initdb",
                &[
                    "-D",
                    &data,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ],
            )
            .await;
        cluster.start_again().await;
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Runs one of the cluster's programs (as `postgres` when we are root); panics with its
    /// output if it fails.
    async fn run(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut command = tokio::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            tokio::process::Command::new(path)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .kill_on_drop(true)
            .output()
            .await
            .unwrap_or_else(|e| panic!("{program} runs: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Starts the cluster and waits until it accepts connections.
    pub async fn start_again(&self) {
        let options = format!(
            "-c fsync=off -c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={}",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-D",
                &self.data(),
                "-l",
                &log,
                "-o",
                &options,
            ],
        )
        .await;
    }

    /// Stops the cluster at once, as a crash would (`pg_ctl stop -m immediate`).
    pub async fn stop_immediate(&self) {
        self.run(
            "pg_ctl",
            &["stop", "-w", "-m", "immediate", "-D", &self.data()],
        )
        .await;
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["stop", "-m", "immediate", "-D", data.as_str()];
        let _ = if running_as_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&pg_ctl)
                .args(args)
                .output()
        } else {
            Command::new(&pg_ctl).args(args).output()
        };
    }
}
