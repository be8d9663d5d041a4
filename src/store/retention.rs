//! Deleting rows past their retention, a small batch per statement, oldest first: delivery
//! records, read notifications, resolved dead letters, published outbox events and the
//! activity history. Each batch
//! is one short statement (its own transaction), so writers never wait behind a long delete;
//! on PostgreSQL the batch skips rows another replica's batch holds, so replicas pruning at
//! the same time do not wait for each other either.

use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::domain::DAY_US;
use crate::error::AppError;

/// A kind of row that is kept only for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// `processed_events`: the record that a consumer handled an event (idempotency).
    ProcessedEvents,
    /// `notifications` read by their user.
    ReadNotifications,
    /// `dead_letters` replayed or discarded by an operator.
    ResolvedDeadLetters,
    /// `outbox` rows already published.
    PublishedEvents,
    /// `activities`: the history.
    Activities,
    /// `activity_days`: the history's counts per day, kept as long as the history (a day's
    /// row goes once the whole day is past it).
    ActivityDays,
}

impl Kept {
    pub const ALL: [Kept; 6] = [
        Kept::ProcessedEvents,
        Kept::ReadNotifications,
        Kept::ResolvedDeadLetters,
        Kept::PublishedEvents,
        Kept::Activities,
        Kept::ActivityDays,
    ];

    /// The name used in logs and in the `taskflow_retention_deleted_total` metric.
    pub fn name(self) -> &'static str {
        match self {
            Kept::ProcessedEvents => "processed_events",
            Kept::ReadNotifications => "read_notifications",
            Kept::ResolvedDeadLetters => "resolved_dead_letters",
            Kept::PublishedEvents => "published_events",
            Kept::Activities => "activities",
            Kept::ActivityDays => "activity_days",
        }
    }

    /// The table, its row key, the time column the retention counts from, and any further
    /// condition. The time column is indexed (or, for the outbox, the key follows it), so a
    /// batch reads only the rows it deletes.
    fn shape(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kept::ProcessedEvents => ("processed_events", "", "processed_us", ""),
            Kept::ReadNotifications => ("notifications", "id", "read_us", ""),
            Kept::ResolvedDeadLetters => (
                "dead_letters",
                "id",
                "resolved_us",
                " AND status <> 'stored'",
            ),
            Kept::PublishedEvents => ("outbox", "seq", "published_us", ""),
            Kept::Activities => ("activities", "id", "occur_us", ""),
            Kept::ActivityDays => ("activity_days", "", "day_us", ""),
        }
    }

    fn statement(self, backend: DbBackend) -> String {
        let (table, key, time, extra) = self.shape();
        // The outbox is read in key order: published events are the oldest sequence numbers,
        // and its only index on time is the relay's (on unpublished rows).
        let order = if self == Kept::PublishedEvents {
            key
        } else {
            time
        };
        match backend {
            DbBackend::Postgres => {
                let key = if key.is_empty() { "ctid" } else { key };
                format!(
                    "DELETE FROM {table} WHERE {key} = ANY(ARRAY(SELECT {key} FROM {table} \
                     WHERE {time} < $1{extra} ORDER BY {order} LIMIT $2 \
                     FOR UPDATE SKIP LOCKED))"
                )
            }
            _ => {
                let key = if key.is_empty() { "rowid" } else { key };
                format!(
                    "DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} \
                     WHERE {time} < ?{extra} ORDER BY {order} LIMIT ?)"
                )
            }
        }
    }
}

/// Deletes at most `limit` rows of `kept` older than `before_us` (microseconds since the
/// epoch), oldest first; returns how many. Rows that are never pruned (unpublished events,
/// unread notifications, dead letters waiting for review) are never touched.
pub async fn prune_batch(
    conn: &impl ConnectionTrait,
    kept: Kept,
    before_us: i64,
    limit: u64,
) -> Result<u64, AppError> {
    let backend = conn.get_database_backend();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    // A day's row holds the whole day: it goes when the day's end is past the retention.
    let before_us = match kept {
        Kept::ActivityDays => before_us.saturating_sub(DAY_US),
        _ => before_us,
    };
    let result = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            kept.statement(backend),
            [before_us.into(), limit.into()],
        ))
        .await?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_is_bounded_by_time_and_limit() {
        for kept in Kept::ALL {
            for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
                let sql = kept.statement(backend);
                assert!(sql.contains("LIMIT"), "{sql}");
                assert!(sql.contains(" < "), "{sql}");
            }
            assert!(kept.statement(DbBackend::Postgres).contains("SKIP LOCKED"));
        }
        assert!(
            Kept::ResolvedDeadLetters
                .statement(DbBackend::Sqlite)
                .contains("status <> 'stored'")
        );
    }
}
