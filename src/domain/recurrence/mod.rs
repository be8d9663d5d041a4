//! Recurrence rules: a subset of iCalendar's RRULE (RFC 5545: FREQ, INTERVAL, BYDAY with
//! ordinals, BYMONTHDAY, BYMONTH, BYSETPOS, UNTIL, COUNT), the anchor the next occurrence is
//! counted from, and what a late completion does to the occurrences it missed.

mod parts;
mod rrule_text;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use parts::RuleParts;
pub use rrule_text::{parse_rrule, render_rrule, rrule_part_name};

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

impl Weekday {
    pub const ALL: [Self; 7] = [
        Self::Monday,
        Self::Tuesday,
        Self::Wednesday,
        Self::Thursday,
        Self::Friday,
        Self::Saturday,
        Self::Sunday,
    ];

    /// 0 for Monday to 6 for Sunday.
    pub fn days_from_monday(self) -> u32 {
        self as u32
    }
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

/// What completing a due-anchored occurrence late does to the occurrences due meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Missed {
    /// The next occurrence is the one after the completed one, even when it is overdue.
    #[default]
    Keep,
    /// The next occurrence is the first one after the completion; the ones before it are
    /// skipped but keep their positions in the series (they count toward `count`).
    Skip,
}

impl Missed {
    fn is_keep(&self) -> bool {
        *self == Self::Keep
    }
}

/// A weekday, optionally the `ordinal`th of its kind in the month or year: `2TU` is
/// `{ ordinal: 2, day: Tuesday }`, `-1FR` the last Friday, and ordinal 0 every Tuesday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NthWeekday {
    #[serde(default)]
    pub ordinal: i8,
    pub day: Weekday,
}

/// A validated recurrence rule.
///
/// A monthly or yearly rule without `by_weekday`, `month_days` and `months` keeps the day of
/// its anchor and clamps it to shorter months (Jan 31 → Feb 28 → Mar 31). With any of them
/// the rule expands as RFC 5545 says, the anchor's day standing in for a missing BYMONTHDAY
/// (and its month for a yearly rule's missing BYMONTH).
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
    /// BYDAY of monthly and yearly rules, in [`parts`]' canonical order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_weekday: Vec<NthWeekday>,
    /// BYMONTHDAY: ±1 to ±31 (negative counts from the month's end).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub month_days: Vec<i8>,
    /// BYMONTH: 1 to 12, ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub months: Vec<u8>,
    /// BYSETPOS: ±1 to ±366, picking from each month's (year's) dates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_positions: Vec<i16>,
    #[serde(default, skip_serializing_if = "Missed::is_keep")]
    pub missed: Missed,
}

impl Recurrence {
    pub const MAX_INTERVAL: i64 = 1000;
    pub const MAX_COUNT: i64 = 100_000;

    /// Checks the rule's own fields; reports each violation with its sub-field name
    /// (`interval`, `weekdays`, `count`). A rule without the monthly and yearly parts.
    pub fn new(
        frequency: Frequency,
        interval: Option<i64>,
        weekdays: Vec<Weekday>,
        until: Option<DateTime<Utc>>,
        count: Option<i64>,
        anchor: Anchor,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        RuleParts {
            interval,
            weekdays,
            until,
            count,
            anchor,
            ..RuleParts::new(frequency)
        }
        .validate()
    }

    /// Every `frequency` period, without any other part.
    pub fn plain(frequency: Frequency) -> Self {
        Self {
            frequency,
            interval: 1,
            weekdays: vec![],
            until: None,
            count: None,
            anchor: Anchor::Due,
            by_weekday: vec![],
            month_days: vec![],
            months: vec![],
            set_positions: vec![],
            missed: Missed::Keep,
        }
    }

    /// Whether the rule names any of BYDAY (monthly, yearly), BYMONTHDAY, BYMONTH, BYSETPOS.
    pub fn has_by_parts(&self) -> bool {
        !(self.by_weekday.is_empty()
            && self.month_days.is_empty()
            && self.months.is_empty()
            && self.set_positions.is_empty())
    }

    /// The same rule with the month-end clamp of a plain monthly or yearly rule whose anchor
    /// falls on `anchor_day` written out as RFC 5545 parts (`BYMONTHDAY=31,-1;BYSETPOS=1`), so
    /// that other calendar software expands it to the same dates; `None` when the rule needs
    /// no clamp there (it is not plain, or the day exists in every month it lands on).
    pub fn explicit_clamp(&self, anchor_day: NaiveDate) -> Option<Self> {
        use chrono::Datelike;
        if self.has_by_parts() || self.anchor != Anchor::Due {
            return None;
        }
        let day = i8::try_from(anchor_day.day()).ok()?;
        let months = match self.frequency {
            Frequency::Monthly if day >= 29 => vec![],
            Frequency::Yearly if anchor_day.month() == 2 && day == 29 => vec![2],
            _ => return None,
        };
        Some(Self {
            month_days: vec![day, -1],
            months,
            set_positions: vec![1],
            ..self.clone()
        })
    }

    /// Whether `self` and `other` describe the same series: equal, or equal but for `until`
    /// below the second (RRULE text has whole seconds), or one is the other's month-end clamp
    /// written out (see [`Self::explicit_clamp`]) for some anchor day.
    pub fn same_series(&self, other: &Self) -> bool {
        let whole = |rule: &Self| Self {
            until: rule
                .until
                .and_then(|t| DateTime::from_timestamp(t.timestamp(), 0)),
            ..rule.clone()
        };
        let (a, b) = (whole(self), whole(other));
        if a == b {
            return true;
        }
        let clamp_days = [(2024, 2, 29), (2025, 1, 29), (2025, 1, 30), (2025, 1, 31)];
        clamp_days.iter().any(|&(y, m, d)| {
            NaiveDate::from_ymd_opt(y, m, d).is_some_and(|day| {
                a.explicit_clamp(day).is_some_and(|c| c == b)
                    || b.explicit_clamp(day).is_some_and(|c| c == a)
            })
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
mod rrule_text_tests;
#[cfg(test)]
pub(crate) mod strategies;
#[cfg(test)]
mod tests;
