//! Protobuf timestamps and durations <-> chrono values at the storage precision.

use chrono::{DateTime, Utc};
use prost_types::Timestamp;

use crate::store::{from_micros, to_micros};

/// A protobuf timestamp as a UTC time at microsecond precision.
pub fn timestamp_in(ts: &Timestamp) -> Result<DateTime<Utc>, String> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(format!("nanos must be 0 to 999999999, got {}", ts.nanos));
    }
    let nanos = u32::try_from(ts.nanos).unwrap_or(0);
    let time = DateTime::from_timestamp(ts.seconds, nanos)
        .filter(|t| (1..=9999).contains(&chrono::Datelike::year(t)))
        .ok_or_else(|| "must be between years 1 and 9999".to_owned())?;
    Ok(from_micros(to_micros(time)))
}

pub fn timestamp_out(time: DateTime<Utc>) -> Timestamp {
    Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub fn duration_out(d: chrono::Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.num_seconds(),
        nanos: d.subsec_nanos(),
    }
}

/// A protobuf duration at microsecond precision.
pub fn duration_in(d: &prost_types::Duration) -> Result<chrono::Duration, String> {
    if !(-999_999_999..=999_999_999).contains(&d.nanos)
        || (d.seconds > 0 && d.nanos < 0)
        || (d.seconds < 0 && d.nanos > 0)
    {
        return Err("is not a valid duration".to_owned());
    }
    let micros = d
        .seconds
        .checked_mul(1_000_000)
        .and_then(|s| s.checked_add(i64::from(d.nanos / 1000)))
        .ok_or("is out of range")?;
    Ok(chrono::Duration::microseconds(micros))
}
