//! A rule's parts as they arrive (structured fields or RRULE text), and the checks that make
//! them a [`Recurrence`].

use std::cmp::Ordering;

use chrono::{DateTime, Utc};

use super::{Anchor, Frequency, Missed, NthWeekday, Recurrence, Weekday};

/// The parts of a rule, unchecked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleParts {
    pub frequency: Frequency,
    pub interval: Option<i64>,
    pub weekdays: Vec<Weekday>,
    /// `(ordinal, day)`; ordinal 0 is every such day.
    pub by_weekday: Vec<(i64, Weekday)>,
    pub month_days: Vec<i64>,
    pub months: Vec<i64>,
    pub set_positions: Vec<i64>,
    pub until: Option<DateTime<Utc>>,
    pub count: Option<i64>,
    pub anchor: Anchor,
    pub missed: Missed,
}

/// The canonical order of signed positions: 1, 2, …, then -1, -2, … (so `31,-1` stays).
fn signed_order(a: i64, b: i64) -> Ordering {
    let key = |n: i64| (n < 0, n.unsigned_abs());
    key(a).cmp(&key(b))
}

/// The days February, April… have at most, by month number.
const MONTH_MAX_DAYS: [i64; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl RuleParts {
    /// A rule of `frequency` with every other part unset.
    pub fn new(frequency: Frequency) -> Self {
        Self {
            frequency,
            interval: None,
            weekdays: vec![],
            by_weekday: vec![],
            month_days: vec![],
            months: vec![],
            set_positions: vec![],
            until: None,
            count: None,
            anchor: Anchor::Due,
            missed: Missed::Keep,
        }
    }

    /// Checks every part; reports each violation with its sub-field name (`interval`,
    /// `weekdays`, `by_weekday`, `month_days`, `months`, `set_positions`, `count`).
    pub fn validate(self) -> Result<Recurrence, Vec<(&'static str, String)>> {
        let mut problems = Vec::new();
        let interval = self.interval.unwrap_or(1);
        if !(1..=Recurrence::MAX_INTERVAL).contains(&interval) {
            problems.push((
                "interval",
                format!("must be 1 to {}, got {interval}", Recurrence::MAX_INTERVAL),
            ));
        }
        let month_based = matches!(self.frequency, Frequency::Monthly | Frequency::Yearly);
        if !self.weekdays.is_empty() && self.frequency != Frequency::Weekly {
            problems.push((
                "weekdays",
                "only a weekly rule may name weekdays (monthly and yearly rules use by_weekday)"
                    .to_owned(),
            ));
        }
        let only_month_based =
            |what: &str| format!("only a monthly or yearly rule may name {what}");
        if !self.by_weekday.is_empty() {
            let max = if self.frequency == Frequency::Yearly && self.months.is_empty() {
                53
            } else {
                5
            };
            if !month_based {
                problems.push(("by_weekday", only_month_based("weekdays by ordinal")));
            } else if let Some((bad, _)) = self.by_weekday.iter().find(|(n, _)| n.abs() > max) {
                problems.push((
                    "by_weekday",
                    format!("an ordinal must be ±1 to ±{max} (0 for every such day), got {bad}"),
                ));
            }
        }
        if !self.month_days.is_empty() {
            if !month_based {
                problems.push(("month_days", only_month_based("days of the month")));
            } else if let Some(bad) = self.month_days.iter().find(|d| **d == 0 || d.abs() > 31) {
                problems.push(("month_days", format!("must be ±1 to ±31, got {bad}")));
            } else if !self.months.is_empty()
                && !self.months.iter().any(|m| {
                    let max = usize::try_from(m - 1)
                        .ok()
                        .and_then(|i| MONTH_MAX_DAYS.get(i))
                        .copied()
                        .unwrap_or(31);
                    self.month_days.iter().any(|d| d.abs() <= max)
                })
            {
                problems.push((
                    "month_days",
                    "none of these days exists in the months named".to_owned(),
                ));
            }
        }
        if !self.months.is_empty() {
            if !month_based {
                problems.push(("months", only_month_based("months")));
            } else if let Some(bad) = self.months.iter().find(|m| !(1..=12).contains(*m)) {
                problems.push(("months", format!("must be 1 to 12, got {bad}")));
            }
        }
        if !self.set_positions.is_empty() {
            if !month_based {
                problems.push(("set_positions", only_month_based("set positions")));
            } else if self.by_weekday.is_empty() && self.month_days.is_empty() {
                problems.push((
                    "set_positions",
                    "pick from a set of days: name by_weekday or month_days too".to_owned(),
                ));
            } else if let Some(bad) = self
                .set_positions
                .iter()
                .find(|p| **p == 0 || p.abs() > 366)
            {
                problems.push(("set_positions", format!("must be ±1 to ±366, got {bad}")));
            }
        }
        if let Some(count) = self.count
            && !(1..=Recurrence::MAX_COUNT).contains(&count)
        {
            problems.push((
                "count",
                format!(
                    "must be 1 to {} when set, got {count}",
                    Recurrence::MAX_COUNT
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(self.normalised(interval))
    }

    /// The checked parts as a rule: lists sorted and without duplicates.
    fn normalised(self, interval: i64) -> Recurrence {
        let mut weekdays = self.weekdays;
        weekdays.sort();
        weekdays.dedup();
        let mut by_weekday: Vec<NthWeekday> = self
            .by_weekday
            .into_iter()
            .filter_map(|(ordinal, day)| {
                Some(NthWeekday {
                    ordinal: i8::try_from(ordinal).ok()?,
                    day,
                })
            })
            .collect();
        by_weekday.sort_by(|a, b| {
            signed_order(i64::from(a.ordinal), i64::from(b.ordinal)).then(a.day.cmp(&b.day))
        });
        by_weekday.dedup();
        let signed = |mut values: Vec<i64>| {
            values.sort_by(|a, b| signed_order(*a, *b));
            values.dedup();
            values
        };
        let mut months: Vec<u8> = self
            .months
            .into_iter()
            .filter_map(|m| u8::try_from(m).ok())
            .collect();
        months.sort_unstable();
        months.dedup();
        Recurrence {
            frequency: self.frequency,
            interval: u32::try_from(interval).unwrap_or(1),
            weekdays,
            until: self.until,
            count: self.count.and_then(|c| u32::try_from(c).ok()),
            anchor: self.anchor,
            by_weekday,
            month_days: signed(self.month_days)
                .into_iter()
                .filter_map(|d| i8::try_from(d).ok())
                .collect(),
            months,
            set_positions: signed(self.set_positions)
                .into_iter()
                .filter_map(|p| i16::try_from(p).ok())
                .collect(),
            missed: self.missed,
        }
    }
}

impl From<&Recurrence> for RuleParts {
    fn from(rule: &Recurrence) -> Self {
        Self {
            frequency: rule.frequency,
            interval: Some(i64::from(rule.interval)),
            weekdays: rule.weekdays.clone(),
            by_weekday: rule
                .by_weekday
                .iter()
                .map(|n| (i64::from(n.ordinal), n.day))
                .collect(),
            month_days: rule.month_days.iter().map(|&d| i64::from(d)).collect(),
            months: rule.months.iter().map(|&m| i64::from(m)).collect(),
            set_positions: rule.set_positions.iter().map(|&p| i64::from(p)).collect(),
            until: rule.until,
            count: rule.count.map(i64::from),
            anchor: rule.anchor,
            missed: rule.missed,
        }
    }
}
