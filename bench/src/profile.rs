//! How long and how big each part of a run is: `--quick` (CI, well under a minute once built)
//! or full (a few minutes, for the figures in bench/README.md).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Profile {
    pub name: &'static str,
    /// Concurrent callers of every load (and pgbench clients).
    pub callers: usize,
    pub warmup: Duration,
    /// CreateTask's load against pgbench: the time of each in all, split into this many
    /// alternating rounds.
    pub create: Duration,
    pub pgbench: Duration,
    pub ratio_rounds: u32,
    pub read: Duration,
    /// Tasks the list load pages over (PostgreSQL, seeded in SQL).
    pub list_tasks_pg: u64,
    /// Tasks the list load pages over (SQLite, seeded through the API).
    pub list_tasks_sqlite: u64,
    /// Recurring tasks created and then completed.
    pub recurring: u64,
    pub publish: Duration,
    pub drain_events: u64,
    pub next_samples: usize,
    pub watch_streams: usize,
    /// Notifications fanned out while the watch streams are open (one per watched user).
    pub fan_out_notifications: usize,
    /// History entries seeded (PostgreSQL), and how many of them the history loads' user has.
    pub history_total: u64,
    pub history_mine: u64,
    /// Reminders due in the same minute, fired by the embedded scheduler (PostgreSQL).
    pub reminders: u64,
}

impl Profile {
    pub fn quick() -> Self {
        Self {
            name: "quick",
            callers: 16,
            warmup: Duration::ZERO,
            create: Duration::from_secs(2),
            read: Duration::from_secs(2),
            pgbench: Duration::from_secs(2),
            ratio_rounds: 1,
            list_tasks_pg: 2_000,
            list_tasks_sqlite: 300,
            recurring: 300,
            publish: Duration::from_secs(2),
            drain_events: 1_000,
            next_samples: 20,
            watch_streams: 500,
            fan_out_notifications: 50,
            history_total: 20_000,
            history_mine: 2_000,
            reminders: 5_000,
        }
    }

    pub fn full() -> Self {
        Self {
            name: "full",
            callers: 64,
            warmup: Duration::from_secs(2),
            create: Duration::from_secs(15),
            read: Duration::from_secs(10),
            pgbench: Duration::from_secs(15),
            ratio_rounds: 3,
            list_tasks_pg: 100_000,
            list_tasks_sqlite: 5_000,
            recurring: 5_000,
            publish: Duration::from_secs(10),
            drain_events: 20_000,
            next_samples: 200,
            watch_streams: 10_000,
            fan_out_notifications: 500,
            history_total: 1_000_000,
            history_mine: 100_000,
            reminders: 100_000,
        }
    }
}
