//! Times are stored as microseconds since the Unix epoch (UTC), in BIGINT columns.

use chrono::{DateTime, Utc};

pub fn to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// Converts a stored value back; values outside chrono's range (never written by us)
/// become the epoch rather than a panic.
pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}
