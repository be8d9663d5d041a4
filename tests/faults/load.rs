//! A sustained load from 64 callers (10 s by default, `TASKFLOW_SOAK_SECS` for longer): no
//! call fails and the server's memory stays bounded. It runs on a private PostgreSQL cluster,
//! so what it measures is taskflow, not the other tests sharing the common server.

use std::time::{Duration, Instant};

use crate::support::{ChildServer, Figures, Load, LoadConfig, Mix, PrivateCluster, patient_double};

const USERS: usize = 16;
const CALLERS_PER_USER: usize = 4;
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// Allowed growth beyond 1.5× the first third's peak.
const MARGIN_KIB: u64 = 16 * 1024;

fn soak_duration() -> Duration {
    let secs = std::env::var("TASKFLOW_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(secs)
}

/// The resident set of process `pid` in KiB (`VmRSS` in /proc/<pid>/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the status file");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_callers_get_no_errors_and_memory_stays_bounded() {
    let cluster = PrivateCluster::start().await;
    let double = patient_double().await;
    let mut server = ChildServer::start(&cluster.url(), &double).await;
    let mut config = LoadConfig::new(USERS, Mix::ReadWrite);
    config.clients_per_user = CALLERS_PER_USER;
    let load = Load::start(&server, &config);

    let duration = soak_duration();
    let started = Instant::now();
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    while started.elapsed() < duration {
        tick.tick().await;
        samples.push(rss_kib(server.pid()));
    }
    let report = load.finish().await;
    let elapsed = started.elapsed();
    assert!(server.exited().is_none(), "{}", server.log_tail());

    let errors = report.errors();
    assert!(
        errors.is_empty(),
        "{} calls failed: {errors:?}",
        errors.len()
    );
    let third = samples.len() / 3;
    assert!(third > 0, "enough samples");
    let first = samples[..third].iter().max().copied().unwrap_or_default();
    let last = samples[samples.len() - third..]
        .iter()
        .max()
        .copied()
        .unwrap_or_default();
    assert!(
        last <= first * 3 / 2 + MARGIN_KIB,
        "RSS grew from {first} KiB to {last} KiB: {samples:?}"
    );

    let calls = report.calls.len();
    Figures::new("load")
        .add("callers", USERS * CALLERS_PER_USER)
        .add("secs", elapsed.as_secs())
        .add("calls", calls)
        .add("errors", errors.len())
        .add(
            "calls_per_s",
            format!("{:.0}", calls as f64 / elapsed.as_secs_f64()),
        )
        .ms("p50_ms", report.ok_percentile(50.0))
        .ms("p99_ms", report.ok_percentile(99.0))
        .add("rss_first_third_kib", first)
        .add("rss_last_third_kib", last)
        .add(
            "rss_max_kib",
            samples.iter().max().copied().unwrap_or_default(),
        )
        .print();
}
