//! The limit: `pgbench` running the SQL of one CreateTask (the task row and its outbox row in
//! one transaction, prepared) on the same database at the same concurrency.
//!
//! It writes into twins of `tasks` and `outbox` (`LIKE … INCLUDING ALL`: the same columns,
//! defaults, constraints and indexes, the partial ones included; neither table has triggers),
//! so a server running beside it does not relay pgbench's rows as events.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use crate::Error;

/// The twins pgbench writes into, made once.
const TWINS: &str = "CREATE TABLE IF NOT EXISTS pgbench_tasks (LIKE tasks INCLUDING ALL); \
                     CREATE TABLE IF NOT EXISTS pgbench_outbox (LIKE outbox INCLUDING ALL);";

/// The statements one CreateTask without tags commits (see migrations/src/*.rs and
/// `store::tasks::insert` / `Outbox::enqueue`): the same columns, a 120-byte payload like an
/// encoded `TaskCreated`, a `traceparent`, and times from the clock.
const SCRIPT: &str = r"\set u random(1, 64)
BEGIN;
INSERT INTO pgbench_tasks (id, user_id, title, description, priority, due_time_us, time_zone, recurrence, completed, complete_time_us, series_id, occurrence, version, request_id, create_time_us, update_time_us, series_anchor_us) VALUES (gen_random_uuid(), 'pgbench' || :u, 'bench task', '', 2, NULL, '', NULL, false, NULL, gen_random_uuid(), 1, 1, NULL, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, NULL);
INSERT INTO pgbench_outbox (event_id, topic, event_type, partition_key, shard, subject, payload, data_schema, traceparent, created_us, published_us, attempts, last_error) VALUES (gen_random_uuid(), 'tasks', 'task.created', 'pgbench' || :u, 7, 'users/pgbench' || :u || '/tasks/0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b', decode(repeat('0a1b', 60), 'hex'), 'buf.build/taskflow/events/taskflow.events.v1.TaskCreated', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, NULL, 0, NULL);
END;
";

/// Runs the script for `duration` with `clients` connections and returns its tps (without
/// connection time).
pub async fn run(
    pgbench: &Path,
    url: &str,
    work_dir: &Path,
    clients: usize,
    duration: Duration,
) -> Result<f64, Error> {
    crate::pg::psql(url, TWINS).await?;
    let script = work_dir.join("create_task.sql");
    tokio::fs::write(&script, SCRIPT).await?;
    let output = Command::new(pgbench)
        .arg("-n")
        .args(["-M", "prepared"])
        .args(["-c", &clients.to_string()])
        .args(["-j", &clients.clamp(1, 2).to_string()])
        .args(["-T", &duration.as_secs().max(1).to_string()])
        .arg("-f")
        .arg(&script)
        .arg(url)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", pgbench.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "pgbench failed: {}{}",
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    // "tps = 1234.567890 (without initial connection time)"
    stdout
        .lines()
        .filter_map(|line| line.strip_prefix("tps = "))
        .find_map(|rest| rest.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| format!("no tps in pgbench's output: {stdout}").into())
}
