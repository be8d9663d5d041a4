//! Recurrence rules: a subset of iCalendar's RRULE (FREQ, INTERVAL, BYDAY, UNTIL, COUNT) plus
//! the anchor the next occurrence is counted from.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anchor {
    /// Count from the due time of the occurrence (or from completion when it has none).
    #[default]
    Due,
    /// Count from the moment the occurrence was completed.
    Completion,
}

/// A validated recurrence rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recurrence {
    pub frequency: Frequency,
    pub interval: u32,
    /// Sorted, without duplicates; only for weekly rules.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<Weekday>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default)]
    pub anchor: Anchor,
}

impl Recurrence {
    pub const MAX_INTERVAL: i64 = 1000;
    pub const MAX_COUNT: i64 = 100_000;

    /// Checks the rule's own fields; reports each violation with its sub-field name
    /// (`interval`, `weekdays`, `count`).
    pub fn new(
        frequency: Frequency,
        interval: Option<i64>,
        mut weekdays: Vec<Weekday>,
        until: Option<DateTime<Utc>>,
        count: Option<i64>,
        anchor: Anchor,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let interval = interval.unwrap_or(1);
        if !(1..=Self::MAX_INTERVAL).contains(&interval) {
            problems.push((
                "interval",
                format!("must be 1 to {}, got {interval}", Self::MAX_INTERVAL),
            ));
        }
        if !weekdays.is_empty() && frequency != Frequency::Weekly {
            problems.push((
                "weekdays",
                "only a weekly rule may name weekdays".to_owned(),
            ));
        }
        if let Some(count) = count
            && !(1..=Self::MAX_COUNT).contains(&count)
        {
            problems.push((
                "count",
                format!("must be 1 to {} when set, got {count}", Self::MAX_COUNT),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        weekdays.sort();
        weekdays.dedup();
        Ok(Self {
            frequency,
            interval: u32::try_from(interval).unwrap_or(1),
            weekdays,
            until,
            count: count.and_then(|c| u32::try_from(c).ok()),
            anchor,
        })
    }

    /// Serialised form kept in the `tasks.recurrence` column.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(raw: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        f: Frequency,
        interval: Option<i64>,
        days: Vec<Weekday>,
        count: Option<i64>,
    ) -> Result<Recurrence, Vec<(&'static str, String)>> {
        Recurrence::new(f, interval, days, None, count, Anchor::Due)
    }

    #[test]
    fn interval_defaults_to_one_and_is_bounded() {
        assert_eq!(
            rule(Frequency::Daily, None, vec![], None).map(|r| r.interval),
            Ok(1)
        );
        assert!(rule(Frequency::Daily, Some(1000), vec![], None).is_ok());
        for bad in [0, -1, 1001] {
            let err = rule(Frequency::Daily, Some(bad), vec![], None).expect_err("bad interval");
            assert_eq!(err[0].0, "interval");
        }
    }

    #[test]
    fn weekdays_only_on_weekly_rules_and_are_normalised() {
        let err = rule(Frequency::Daily, None, vec![Weekday::Monday], None).expect_err("daily");
        assert_eq!(err[0].0, "weekdays");
        let ok = rule(
            Frequency::Weekly,
            None,
            vec![Weekday::Friday, Weekday::Monday, Weekday::Friday],
            None,
        )
        .expect("weekly");
        assert_eq!(ok.weekdays, vec![Weekday::Monday, Weekday::Friday]);
    }

    #[test]
    fn count_zero_is_rejected() {
        let err = rule(Frequency::Daily, None, vec![], Some(0)).expect_err("count 0");
        assert_eq!(err[0].0, "count");
        assert!(rule(Frequency::Daily, None, vec![], Some(3)).is_ok());
    }

    #[test]
    fn json_round_trip() {
        let r = rule(Frequency::Weekly, Some(2), vec![Weekday::Tuesday], Some(4)).expect("valid");
        assert_eq!(Recurrence::from_json(&r.to_json()).expect("decodes"), r);
    }
}
