//! Many open `WatchNotifications` streams, one per user, a hundred per connection.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use taskflow::proto::v1 as pb;
use tonic::Streaming;

use crate::Error;
use crate::client::{self, Notifications, as_user};
use crate::load::{histogram, micros};
use crate::pg;
use crate::server;

const STREAMS_PER_CONNECTION: usize = 100;

/// Opens `count` streams and returns them (they stay open while held).
pub async fn open(endpoint: &str, count: usize) -> Result<Vec<Streaming<pb::Notification>>, Error> {
    let channels = client::channels(endpoint, count.div_ceil(STREAMS_PER_CONNECTION)).await?;
    let mut openers = Vec::new();
    for (c, channel) in channels.into_iter().enumerate() {
        let first = c * STREAMS_PER_CONNECTION;
        let last = (first + STREAMS_PER_CONNECTION).min(count);
        openers.push(tokio::spawn(async move {
            let mut client = Notifications::new(channel);
            let mut streams = Vec::with_capacity(last - first);
            for i in first..last {
                let user = format!("w{i}");
                let request = pb::WatchNotificationsRequest {
                    parent: format!("users/{user}"),
                    since: None,
                };
                streams.push(
                    client
                        .watch_notifications(as_user(&user, request))
                        .await?
                        .into_inner(),
                );
            }
            Ok::<_, tonic::Status>(streams)
        }));
    }
    let mut streams = Vec::with_capacity(count);
    for opener in openers {
        streams.extend(opener.await??);
    }
    Ok(streams)
}

/// Opens `count` streams on a server and adds its RSS with them open, just before, and per
/// stream; returns the RSS with them open (MiB) and the streams.
pub async fn memory(
    server: &server::Server,
    count: usize,
    table: &mut crate::report::Table,
) -> Result<(f64, Vec<Streaming<pb::Notification>>), Error> {
    let before = server.rss_mb()?;
    let streams = open(&server.endpoint(), count).await?;
    // The last streams' first polls settle.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with = server.rss_mb()?;
    table.figure(
        "postgres",
        "RSS with watch streams",
        format!("{with:.1} MiB"),
        &format!(
            "{} open streams ({before:.1} MiB just before: {:.1} KiB a stream)",
            streams.len(),
            (with - before) * 1024.0 / streams.len().max(1) as f64
        ),
    );
    Ok((with, streams))
}

/// Notifications fanned out to many open watch streams.
pub struct FanOut {
    pub notifications: usize,
    /// The server's CPU time (user + system) from the first insert until every watcher had
    /// its notification, per notification.
    pub cpu_per_notification: Duration,
    /// From the statement that stored and announced them to each one's arrival (µs).
    pub latency: Histogram<u64>,
}

/// With `streams` open (user `w{i}` on stream `i`), stores one notification for each of the
/// first `count` users, `per_statement` at a time, announced as a replica announces them
/// (`pg_notify` on commit), and waits for each to reach its watcher.
pub async fn fan_out(
    streams: &mut [Streaming<pb::Notification>],
    url: &str,
    server_pid: u32,
    count: usize,
    per_statement: usize,
) -> Result<FanOut, Error> {
    let count = count.min(streams.len());
    let mut latency = histogram()?;
    let cpu_before = server::cpu_time(server_pid)?;
    for first in (0..count).step_by(per_statement.max(1)) {
        let last = (first + per_statement.max(1)).min(count);
        let sql = format!(
            "WITH stored AS ( \
               INSERT INTO notifications \
                 (id, user_id, task_id, kind, title, body, dedupe_key, create_us, read_us) \
               SELECT gen_random_uuid(), 'w' || g, gen_random_uuid(), 1, 'bench', 'fan-out', \
                 'bench-fan-out-' || g || '-' || gen_random_uuid(), \
                 (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, NULL \
               FROM generate_series({first}, {}) g RETURNING id) \
             SELECT count(pg_notify('taskflow_notifications', id::text)) FROM stored",
            last - 1
        );
        let sent = Instant::now();
        pg::psql(url, &sql).await?;
        for stream in &mut streams[first..last] {
            tokio::time::timeout(Duration::from_secs(30), stream.message())
                .await
                .map_err(|_| "a watcher got no notification within 30 s")??
                .ok_or("a watch stream ended")?;
            latency.saturating_record(micros(sent.elapsed()));
        }
    }
    let cpu = server::cpu_time(server_pid)?.saturating_sub(cpu_before);
    Ok(FanOut {
        notifications: count,
        cpu_per_notification: cpu / u32::try_from(count.max(1))?,
        latency,
    })
}
