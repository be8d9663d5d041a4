//! Monthly and yearly rules with RFC 5545 BY parts (BYDAY with ordinals, BYMONTHDAY,
//! BYMONTH, BYSETPOS): the dates each month or year of the series expands to, and the first
//! of them after a given date.
//!
//! As RFC 5545 (and python-dateutil) expand them: BYMONTH limits the months; BYMONTHDAY and
//! BYDAY each select days and, when both are given, a day must satisfy both; an ordinal BYDAY
//! (`2TU`, `-1FR`) counts within the month, or within the year for a yearly rule without
//! BYMONTH; without BYDAY and BYMONTHDAY the origin's day of the month stands in (months that
//! lack it are skipped, as RFC 5545 says); BYSETPOS then picks from each month's (year's)
//! sorted dates. The months (years) of the series are every `interval`th one counted from the
//! origin's, and a month (year) without a match is skipped.

use chrono::{Datelike, NaiveDate};

use crate::domain::{Frequency, NthWeekday, Recurrence};

/// How many of a monthly (yearly) series' months (years) `next` looks through: the Gregorian
/// calendar repeats after 400 years (4800 months), so the series' periods repeat, modulo 400
/// years, within that many steps, and a rule that matches nothing in them never matches.
const MONTHS_SEARCHED: i64 = 4800;
const YEARS_SEARCHED: i64 = 400;

/// A monthly or yearly rule with BY parts, its periods counted from an origin date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ByRules {
    yearly: bool,
    /// Periods (months or years) between the series' periods.
    interval: i64,
    /// The origin's period: `year * 12 + month0` (monthly) or the year (yearly).
    origin: i64,
    /// Bit `m` set for each month `m` in BYMONTH; 0 for every month.
    months: u16,
    by_weekday: Vec<NthWeekday>,
    month_days: Vec<i8>,
    set_positions: Vec<i16>,
    /// The origin's day of the month, standing in when neither BYDAY nor BYMONTHDAY is given.
    default_day: u32,
}

impl ByRules {
    /// The rule's BY parts, for a series whose periods count from `origin`; `None` for a rule
    /// without them (or one that is not monthly or yearly).
    pub(super) fn new(rule: &Recurrence, origin: NaiveDate) -> Option<Self> {
        let yearly = match rule.frequency {
            Frequency::Monthly => false,
            Frequency::Yearly => true,
            _ => return None,
        };
        if !rule.has_by_parts() {
            return None;
        }
        let mut by = Self {
            yearly,
            interval: i64::from(rule.interval.max(1)),
            origin: 0,
            months: rule
                .months
                .iter()
                .filter(|m| (1..=12).contains(*m))
                .fold(0, |bits, m| bits | 1 << m),
            by_weekday: rule.by_weekday.clone(),
            month_days: rule.month_days.clone(),
            set_positions: rule.set_positions.clone(),
            default_day: origin.day(),
        };
        by.origin = by.period_of(origin);
        Some(by)
    }

    fn period_of(&self, date: NaiveDate) -> i64 {
        if self.yearly {
            i64::from(date.year())
        } else {
            i64::from(date.year()) * 12 + i64::from(date.month0())
        }
    }

    fn in_phase(&self, period: i64) -> bool {
        (period - self.origin).rem_euclid(self.interval) == 0
    }

    /// The first date of the series strictly after `after`.
    pub(super) fn next(&self, after: NaiveDate) -> Option<NaiveDate> {
        let period = self.period_of(after);
        let first = period + (self.origin - period).rem_euclid(self.interval);
        let searched = if self.yearly {
            YEARS_SEARCHED
        } else {
            MONTHS_SEARCHED
        };
        (0..searched)
            .map(|k| first + k * self.interval)
            .take_while(|&p| self.year_of(p) <= 10_000)
            .find_map(|p| self.dates(p).into_iter().find(|d| *d > after))
    }

    /// Whether `date` is one of the series' dates.
    pub(super) fn lands_on(&self, date: NaiveDate) -> bool {
        let period = self.period_of(date);
        self.in_phase(period) && self.dates(period).contains(&date)
    }

    fn year_of(&self, period: i64) -> i64 {
        if self.yearly {
            period
        } else {
            period.div_euclid(12)
        }
    }

    /// The dates period `period` expands to, ascending, after BYSETPOS.
    fn dates(&self, period: i64) -> Vec<NaiveDate> {
        let Ok(year) = i32::try_from(self.year_of(period)) else {
            return vec![];
        };
        let months: Vec<u32> = if self.yearly {
            (1..=12).collect()
        } else {
            u32::try_from(period.rem_euclid(12) + 1)
                .into_iter()
                .collect()
        };
        let year_range = (
            NaiveDate::from_ymd_opt(year, 1, 1),
            NaiveDate::from_ymd_opt(year, 12, 31),
        );
        let mut set = Vec::new();
        for month in months {
            if self.months != 0 && self.months & (1 << month) == 0 {
                continue;
            }
            let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
                continue;
            };
            let length = month_length(first);
            let Some(last) = first.with_day(length) else {
                continue;
            };
            // Ordinals count within the year only in a yearly rule without BYMONTH.
            let range = match year_range {
                (Some(start), Some(end)) if self.yearly && self.months == 0 => (start, end),
                _ => (first, last),
            };
            set.extend(
                first
                    .iter_days()
                    .take_while(|d| *d <= last)
                    .filter(|d| self.selects(*d, length, range)),
            );
        }
        self.pick(set)
    }

    /// Whether BYMONTHDAY and BYDAY (or the default day) select `date`, in a month of
    /// `length` days; ordinals count within `range`.
    fn selects(&self, date: NaiveDate, length: u32, range: (NaiveDate, NaiveDate)) -> bool {
        let day = i64::from(date.day());
        let by_month_day = self.month_days.iter().any(|&d| {
            let d = i64::from(d);
            if d > 0 {
                d == day
            } else {
                i64::from(length) + d + 1 == day
            }
        });
        let by_weekday = self.by_weekday.iter().any(|n| {
            n.day.days_from_monday() == date.weekday().num_days_from_monday()
                && match n.ordinal {
                    0 => true,
                    o if o > 0 => (date - range.0).num_days() / 7 + 1 == i64::from(o),
                    o => (range.1 - date).num_days() / 7 + 1 == -i64::from(o),
                }
        });
        match (self.month_days.is_empty(), self.by_weekday.is_empty()) {
            (true, true) => date.day() == self.default_day,
            (false, true) => by_month_day,
            (true, false) => by_weekday,
            (false, false) => by_month_day && by_weekday,
        }
    }

    /// BYSETPOS: the dates at the given positions of the sorted `set` (all without it).
    fn pick(&self, set: Vec<NaiveDate>) -> Vec<NaiveDate> {
        if self.set_positions.is_empty() {
            return set;
        }
        let len = i64::try_from(set.len()).unwrap_or(i64::MAX);
        let mut picked: Vec<NaiveDate> = self
            .set_positions
            .iter()
            .filter_map(|&p| {
                let p = i64::from(p);
                let index = if p > 0 { p - 1 } else { len + p };
                usize::try_from(index)
                    .ok()
                    .and_then(|i| set.get(i))
                    .copied()
            })
            .collect();
        picked.sort_unstable();
        picked.dedup();
        picked
    }
}

/// The number of days in `first`'s month.
fn month_length(first: NaiveDate) -> u32 {
    (28..=31)
        .rev()
        .find(|&d| first.with_day(d).is_some())
        .unwrap_or(28)
}
