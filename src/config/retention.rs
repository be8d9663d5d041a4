//! How long rows that only grow are kept before the retention worker deletes them.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct RetentionConfig {
    /// How long published events stay in the outbox before they are deleted, in hours.
    #[arg(long, env = "TASKFLOW_OUTBOX_RETENTION_HOURS", default_value_t = 168)]
    pub outbox_retention_hours: u64,
    /// How long the record that an event was handled is kept, in hours (at least 1). A
    /// redelivery older than this would be applied again: keep it longer than the broker keeps
    /// events (7 days on the shipped Kafka topics) and than dead letters wait for a replay.
    #[arg(
        long,
        env = "TASKFLOW_PROCESSED_EVENTS_RETENTION_HOURS",
        default_value_t = 336,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub processed_events_retention_hours: u64,
    /// How long a notification is kept after it was read, in hours (unread ones are kept).
    #[arg(
        long,
        env = "TASKFLOW_READ_NOTIFICATIONS_RETENTION_HOURS",
        default_value_t = 720
    )]
    pub read_notifications_retention_hours: u64,
    /// How long a dead letter is kept after it was replayed or discarded, in hours (those
    /// waiting for review are kept).
    #[arg(
        long,
        env = "TASKFLOW_RESOLVED_DEAD_LETTERS_RETENTION_HOURS",
        default_value_t = 720
    )]
    pub resolved_dead_letters_retention_hours: u64,
    /// How long the activity history is kept, in hours (400 days by default).
    #[arg(
        long,
        env = "TASKFLOW_ACTIVITIES_RETENTION_HOURS",
        default_value_t = 9600
    )]
    pub activities_retention_hours: u64,
    /// How long a deleted task can be undeleted before it is purged for good, in hours.
    #[arg(
        long,
        env = "TASKFLOW_DELETED_TASKS_RETENTION_HOURS",
        default_value_t = 720
    )]
    pub deleted_tasks_retention_hours: u64,
    /// How often each replica looks for rows past their retention, in seconds.
    #[arg(
        long,
        env = "TASKFLOW_RETENTION_INTERVAL_SECONDS",
        default_value_t = 600
    )]
    pub retention_interval_seconds: u64,
    /// Most rows one pruning statement deletes; each batch is its own short transaction.
    #[arg(
        long,
        env = "TASKFLOW_RETENTION_BATCH_SIZE",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(1..=100_000)
    )]
    pub retention_batch_size: u64,
}

impl RetentionConfig {
    /// How long a deleted task waits for its purge.
    pub fn purge_after(&self) -> chrono::Duration {
        i64::try_from(self.deleted_tasks_retention_hours)
            .ok()
            .and_then(chrono::Duration::try_hours)
            .unwrap_or(chrono::Duration::MAX)
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            outbox_retention_hours: 168,
            processed_events_retention_hours: 336,
            read_notifications_retention_hours: 720,
            resolved_dead_letters_retention_hours: 720,
            deleted_tasks_retention_hours: 720,
            activities_retention_hours: 9600,
            retention_interval_seconds: 600,
            retention_batch_size: 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::config::Cli;

    #[test]
    fn defaults_match_and_records_are_kept_at_least_an_hour() {
        let cli = Cli::try_parse_from(["taskflow"]).expect("parses");
        let retention = &cli.serve.retention;
        assert_eq!(retention.processed_events_retention_hours, 336);
        assert_eq!(
            retention.processed_events_retention_hours,
            super::RetentionConfig::default().processed_events_retention_hours
        );
        let err = Cli::try_parse_from(["taskflow", "--processed-events-retention-hours", "0"])
            .expect_err("a record must outlive redeliveries");
        assert!(
            err.to_string()
                .contains("--processed-events-retention-hours"),
            "{err}"
        );
        let err = Cli::try_parse_from(["taskflow", "--retention-batch-size", "0"])
            .expect_err("a batch deletes something");
        assert!(err.to_string().contains("--retention-batch-size"), "{err}");
    }
}
