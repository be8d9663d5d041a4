//! A task's reminders: each relative to its due time or at a fixed time, and the ids that name
//! them (in the `reminders` table, in events and in Dapr job names).

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::REMIND_BEFORE_MAX_DAYS;

/// The most reminders a task may have.
pub const REMINDERS_MAX: usize = 5;
/// The id of the older single reminder: `remind_before`, or the server's default lead.
pub const LEAD_ID: &str = "lead";
/// The prefix of a snoozed reminder's id: `snooze-<id of the reminder snoozed>`.
const SNOOZE_PREFIX: &str = "snooze-";

/// One reminder of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReminderSpec {
    /// This long before the due time.
    BeforeDue(Duration),
    /// At this time.
    At(DateTime<Utc>),
}

/// Why a reminder was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReminderError {
    BeforeDueOutOfRange,
    AtBeforeEpoch,
}

impl fmt::Display for ReminderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BeforeDueOutOfRange => write!(
                f,
                "must be between 0 (at the due time) and {REMIND_BEFORE_MAX_DAYS} days"
            ),
            Self::AtBeforeEpoch => f.write_str("must not be before 1970-01-01T00:00:00Z"),
        }
    }
}

impl std::error::Error for ReminderError {}

impl ReminderSpec {
    /// A relative reminder, checked.
    pub fn before_due(lead: Duration) -> Result<Self, ReminderError> {
        if lead < Duration::zero() || lead > Duration::days(REMIND_BEFORE_MAX_DAYS) {
            return Err(ReminderError::BeforeDueOutOfRange);
        }
        Ok(Self::BeforeDue(truncate(lead)))
    }

    /// An absolute reminder, checked.
    pub fn at(time: DateTime<Utc>) -> Result<Self, ReminderError> {
        if time.timestamp_micros() < 0 {
            return Err(ReminderError::AtBeforeEpoch);
        }
        let micros = time.timestamp_micros();
        Ok(Self::At(
            DateTime::from_timestamp_micros(micros).unwrap_or(time),
        ))
    }

    /// Its id: `before-<µs>` or `at-<µs since the epoch>` (letters, digits and `-` only, so
    /// it is also part of a valid Dapr job name).
    pub fn id(&self) -> String {
        match self {
            Self::BeforeDue(lead) => format!("before-{}", lead.num_microseconds().unwrap_or(0)),
            Self::At(time) => format!("at-{}", time.timestamp_micros()),
        }
    }

    /// The reminder an id names (`None` for `lead`, a snooze, or anything else).
    pub fn from_id(id: &str) -> Option<Self> {
        let number = |raw: &str| raw.parse::<i64>().ok().filter(|n| *n >= 0);
        if let Some(raw) = id.strip_prefix("before-") {
            return number(raw).map(|us| Self::BeforeDue(Duration::microseconds(us)));
        }
        let raw = id.strip_prefix("at-")?;
        number(raw)
            .and_then(DateTime::from_timestamp_micros)
            .map(Self::At)
    }

    /// When it fires for a task due at `due` (a relative one needs a due time).
    pub fn nominal(&self, due: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        match self {
            Self::BeforeDue(lead) => due.map(|due| due - *lead),
            Self::At(time) => Some(*time),
        }
    }
}

fn truncate(lead: Duration) -> Duration {
    Duration::microseconds(lead.num_microseconds().unwrap_or(0))
}

/// The id of the snooze of reminder `id`.
pub fn snooze_id(id: &str) -> String {
    format!("{SNOOZE_PREFIX}{id}")
}

/// The reminder a snooze id snoozes, if `id` is a snooze.
pub fn snoozed_of(id: &str) -> Option<&str> {
    id.strip_prefix(SNOOZE_PREFIX)
}

/// The reminder an id stands for on a task with `lead` as its single older reminder.
pub fn spec_of(id: &str, lead: Option<Duration>) -> Option<ReminderSpec> {
    let id = snoozed_of(id).unwrap_or(id);
    if id == LEAD_ID || id.is_empty() {
        return lead.map(ReminderSpec::BeforeDue);
    }
    ReminderSpec::from_id(id)
}

/// A task's reminders as stored: their ids, comma-separated (`None` for none).
pub fn to_stored(reminders: &[ReminderSpec]) -> Option<String> {
    (!reminders.is_empty()).then(|| {
        reminders
            .iter()
            .map(ReminderSpec::id)
            .collect::<Vec<_>>()
            .join(",")
    })
}

/// A task's reminders read back from storage (ids that no longer parse are skipped).
pub fn from_stored(raw: Option<&str>) -> Vec<ReminderSpec> {
    raw.map(|raw| {
        raw.split(',')
            .filter_map(ReminderSpec::from_id)
            .collect::<Vec<_>>()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_job_name_safe() {
        let at = DateTime::from_timestamp(1_800_000_000, 1_000).expect("time");
        for spec in [
            ReminderSpec::before_due(Duration::hours(2)).expect("valid"),
            ReminderSpec::before_due(Duration::zero()).expect("valid"),
            ReminderSpec::at(at).expect("valid"),
        ] {
            let id = spec.id();
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{id}"
            );
            assert_eq!(ReminderSpec::from_id(&id), Some(spec));
            assert_eq!(snoozed_of(&snooze_id(&id)), Some(id.as_str()));
        }
        assert_eq!(ReminderSpec::from_id("lead"), None);
        assert_eq!(ReminderSpec::from_id("before--5"), None);
        let stored = to_stored(&[
            ReminderSpec::BeforeDue(Duration::hours(1)),
            ReminderSpec::At(at),
        ]);
        assert_eq!(from_stored(stored.as_deref()).len(), 2);
        assert_eq!(to_stored(&[]), None);
    }

    #[test]
    fn bounds() {
        assert!(ReminderSpec::before_due(Duration::seconds(-1)).is_err());
        assert!(ReminderSpec::before_due(Duration::days(367)).is_err());
        assert!(ReminderSpec::at(DateTime::from_timestamp(-1, 0).expect("t")).is_err());
        assert_eq!(
            spec_of("snooze-lead", Some(Duration::hours(1))),
            Some(ReminderSpec::BeforeDue(Duration::hours(1)))
        );
    }
}
