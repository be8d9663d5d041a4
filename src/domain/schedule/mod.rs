//! When the next occurrence of a recurring task is due: pure calendar math in the task's own
//! time zone (no I/O, no clock).
//!
//! Semantics, in short:
//! - Due-anchored series step from the current due and keep the *series anchor's* local
//!   time-of-day, day-of-month and week phase, so `Jan 31 → Feb 28/29 → Mar 31 → Apr 30` never
//!   drifts to the 28th (iCalendar RFC 7529 `SKIP=BACKWARD`, Exchange's "last day" rule).
//! - Completion-anchored series, and tasks without a due time, step from the completion's local
//!   date instead, keeping the task's time-of-day when it has one.
//! - Local times in a spring-forward gap move forward by the gap's length; ambiguous
//!   (fall-back) local times take the earlier instant (RFC 5545 §3.3.5, JavaScript Temporal's
//!   `compatible` disambiguation). The occurrence after a moved one is back at the series'
//!   time-of-day, stepped from the local date the moved one was meant for, even when the gap
//!   crosses midnight and moved it onto the next date.
//! - Monthly and yearly rules with BY parts (`2TU`, `-1FR`, BYMONTHDAY, BYMONTH, BYSETPOS)
//!   expand as RFC 5545 says (see [`by_rules`]); their months (years) count from the series
//!   anchor's, their time of day is the anchor's.
//! - A due-anchored series whose rule skips missed occurrences (`Missed::Skip`) goes on with
//!   the first occurrence after the completion; the skipped ones keep their positions, so they
//!   count toward `count` as RFC 5545 counts them (see [`next_occurrence`]).

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Utc,
};
use chrono_tz::{GapInfo, Tz};

use super::recurrence::{Anchor, Frequency, Recurrence};

mod by_rules;
mod skip;

use by_rules::ByRules;
pub use skip::{NextOccurrence, next_occurrence};

/// Where a recurring series stands when one of its occurrences is completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesPosition {
    /// The due time of the series' first occurrence (or of the occurrence the user last
    /// re-anchored by editing the due time or the rule): the day-of-month, week phase and local
    /// time-of-day the series keeps. `None` means "use `due`".
    pub anchor: Option<DateTime<Utc>>,
    /// The due time of the occurrence being completed, if it has one.
    pub due: Option<DateTime<Utc>>,
    /// When the occurrence was completed.
    pub completed_at: DateTime<Utc>,
    /// The completed occurrence's 1-based position in the series.
    pub occurrence: u32,
}

/// The due time of the occurrence that follows `position` in a series following `rule`, with
/// the calendar math done in `time_zone`.
///
/// Returns `None` when the series has ended: `rule.count` occurrences exist already, the
/// next due time would be after `rule.until`, or it would fall outside the years 1 to 9999
/// (UTC), the range of timestamps the API accepts and RFC 3339 can write. It also returns
/// `None`, rather than panicking, when the next due time falls outside the range of dates
/// chrono can represent.
///
/// The result is strictly after the current due time (due-anchored series) or strictly after
/// `completed_at` (completion-anchored series and occurrences without a due time). A
/// due-anchored series does not skip occurrences that are already in the past: completing an
/// overdue occurrence yields the next one in the series, which may be overdue too, unless the
/// rule skips missed occurrences ([`next_occurrence`]).
pub fn next_due(
    rule: &Recurrence,
    time_zone: Tz,
    position: &SeriesPosition,
) -> Option<DateTime<Utc>> {
    next_occurrence(rule, time_zone, position).map(|next| next.due)
}

/// [`next_due`] for a rule that keeps missed occurrences: the occurrence right after the
/// completed one.
fn next_kept(rule: &Recurrence, time_zone: Tz, position: &SeriesPosition) -> Option<DateTime<Utc>> {
    if rule.count.is_some_and(|count| position.occurrence >= count) {
        return None;
    }
    let plan = match (rule.anchor, position.due) {
        (Anchor::Due, Some(due)) => {
            Plan::from_due(rule, time_zone, position.anchor.unwrap_or(due), due)
        }
        _ => Plan::from_completion(rule, time_zone, position),
    }?;
    let next = plan.first_after(time_zone)?;
    (!past_the_end(rule, next)).then_some(next)
}

/// The time zone a task's stored `time_zone` names: `""` means UTC.
///
/// Names are validated when they are written (see `TimeZone::parse`), so an unknown name can
/// only come from an older time-zone database; it falls back to UTC rather than failing.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// How many rule steps `first_after` tries before giving up. One step always suffices except
/// around pathological time-zone transitions, where a wall-clock step can fail to move the
/// instant forward.
const MAX_STEPS: usize = 8;

/// Whether `next` is past the rule's `until` or outside the years 1 to 9999.
fn past_the_end(rule: &Recurrence, next: DateTime<Utc>) -> bool {
    rule.until.is_some_and(|until| next > until) || !(1..=9999).contains(&next.year())
}

/// One next-due computation: the local date to step from, how to step, the local time-of-day
/// of the result, and the instant the result must be strictly after.
struct Plan {
    step: Step,
    start: NaiveDate,
    time: NaiveTime,
    after: DateTime<Utc>,
}

impl Plan {
    /// Steps from the local date the current due was meant for; the series anchor fixes
    /// day-of-month, week phase and time-of-day.
    fn from_due(
        rule: &Recurrence,
        tz: Tz,
        anchor: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> Option<Self> {
        let anchor = to_local(tz, anchor)?;
        let (origin, time) = (anchor.date(), anchor.time());
        let step = Step::new(rule, origin)?;
        let start = nominal_date(tz, due, time, |date| step.lands_on(origin, date))?;
        Some(Self {
            step,
            start,
            time,
            after: due,
        })
    }

    /// Steps from the completion's local date, which also fixes day-of-month and week phase;
    /// the time-of-day is the task's (anchor's, else due's), else the completion's.
    fn from_completion(rule: &Recurrence, tz: Tz, position: &SeriesPosition) -> Option<Self> {
        let done = to_local(tz, position.completed_at)?;
        let time = match position.anchor.or(position.due) {
            Some(scheduled) => to_local(tz, scheduled)?.time(),
            None => done.time(),
        };
        Some(Self {
            step: Step::new(rule, done.date())?,
            start: done.date(),
            time,
            after: position.completed_at,
        })
    }

    /// The first stepped date whose local time resolves to an instant after `self.after`.
    fn first_after(&self, tz: Tz) -> Option<DateTime<Utc>> {
        let mut date = self.start;
        for _ in 0..MAX_STEPS {
            date = self.step.next(date)?;
            let instant = resolve(tz, date.and_time(self.time))?;
            if instant > self.after {
                return Some(instant);
            }
        }
        None
    }
}

/// One step of a rule, on local calendar dates.
enum Step {
    /// A fixed number of days (daily, and weekly without weekdays).
    Days(u64),
    /// Weekly with weekdays: the next date whose weekday is in `weekdays` (bit `n` = `n` days
    /// after Monday) and whose week (starting Monday) is a multiple of `weeks` weeks away from
    /// the week starting on `origin_week`.
    Weekdays {
        origin_week: NaiveDate,
        weekdays: u8,
        weeks: u32,
    },
    /// Monthly and yearly without BY parts: `months` months on, on `day` clamped to the
    /// month's length.
    Months { months: i64, day: u32 },
    /// Monthly and yearly with BY parts.
    By(ByRules),
}

impl Step {
    /// The step of `rule` for a series whose day-of-month and week phase come from `origin`.
    fn new(rule: &Recurrence, origin: NaiveDate) -> Option<Self> {
        let interval = rule.interval.max(1);
        if let Some(by) = ByRules::new(rule, origin) {
            return Some(Self::By(by));
        }
        Some(match rule.frequency {
            Frequency::Daily => Self::Days(u64::from(interval)),
            Frequency::Weekly if rule.weekdays.is_empty() => Self::Days(7 * u64::from(interval)),
            Frequency::Weekly => Self::Weekdays {
                origin_week: week_start(origin)?,
                weekdays: rule
                    .weekdays
                    .iter()
                    .fold(0, |set, &day| set | 1 << day.days_from_monday()),
                weeks: interval,
            },
            Frequency::Monthly => Self::Months {
                months: i64::from(interval),
                day: origin.day(),
            },
            Frequency::Yearly => Self::Months {
                months: 12 * i64::from(interval),
                day: origin.day(),
            },
        })
    }

    /// The rule's next date strictly after `date`.
    fn next(&self, date: NaiveDate) -> Option<NaiveDate> {
        match *self {
            Self::By(ref by) => by.next(date),
            Self::Days(days) => date.checked_add_days(Days::new(days)),
            Self::Months { months, day } => {
                let index = i64::from(date.year()) * 12 + i64::from(date.month0()) + months;
                let year = i32::try_from(index.div_euclid(12)).ok()?;
                let month = u32::try_from(index.rem_euclid(12)).ok()? + 1;
                clamped_date(year, month, day)
            }
            Self::Weekdays {
                origin_week,
                weekdays,
                weeks,
            } => {
                let on = |offset: u32| weekdays & (1 << offset) != 0;
                let week = week_start(date)?;
                let phase = week_phase(origin_week, week, weeks);
                let weeks = i64::from(weeks);
                if phase == 0
                    && let Some(offset) =
                        (date.weekday().num_days_from_monday() + 1..7).find(|&d| on(d))
                {
                    return week.checked_add_days(Days::new(u64::from(offset)));
                }
                let first = (0..7).find(|&d| on(d))?;
                let skip = u64::try_from(weeks - phase).ok()?;
                week.checked_add_days(Days::new(skip.checked_mul(7)? + u64::from(first)))
            }
        }
    }

    /// Whether `date` is one of the dates the rule lands on in a series whose day-of-month
    /// and week phase come from `origin`.
    fn lands_on(&self, origin: NaiveDate, date: NaiveDate) -> bool {
        match *self {
            Self::By(ref by) => by.lands_on(date),
            Self::Days(days) => i64::try_from(days)
                .is_ok_and(|days| (date - origin).num_days().rem_euclid(days) == 0),
            Self::Months { months, day } => {
                let index = |d: NaiveDate| i64::from(d.year()) * 12 + i64::from(d.month0());
                (index(date) - index(origin)).rem_euclid(months) == 0
                    && clamped_date(date.year(), date.month(), day) == Some(date)
            }
            Self::Weekdays {
                origin_week,
                weekdays,
                weeks,
            } => {
                weekdays & (1 << date.weekday().num_days_from_monday()) != 0
                    && week_start(date)
                        .is_some_and(|week| week_phase(origin_week, week, weeks) == 0)
            }
        }
    }
}

/// `day` of the month, or the month's last day when it is shorter.
fn clamped_date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    (1..=day)
        .rev()
        .take(4)
        .find_map(|d| NaiveDate::from_ymd_opt(year, month, d))
}

/// How many weeks the week starting on `week` is past the last one in phase with the week
/// starting on `origin_week`, in a rule that recurs every `weeks` weeks.
fn week_phase(origin_week: NaiveDate, week: NaiveDate, weeks: u32) -> i64 {
    (week - origin_week)
        .num_days()
        .div_euclid(7)
        .rem_euclid(i64::from(weeks.max(1)))
}

/// The Monday starting `date`'s week.
fn week_start(date: NaiveDate) -> Option<NaiveDate> {
    date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
}

/// The local date `instant` falls on in `tz` (`None` past chrono's range).
pub fn local_date(tz: Tz, instant: DateTime<Utc>) -> Option<NaiveDate> {
    to_local(tz, instant).map(|local| local.date())
}

/// The wall-clock time `instant` shows in `tz` (`None` past chrono's range).
fn to_local(tz: Tz, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = instant.naive_utc();
    utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix())
}

/// The local date an occurrence due at `due`, at local `time`, was meant for; `in_series`
/// tells the dates the series' rule lands on.
///
/// That is the date `due` shows in `tz`, except when `time` fell into a spring-forward gap
/// that crosses midnight and was moved onto the next date: America/Nuuk skips Saturday
/// 23:00–24:00, so a Saturday 23:30 occurrence is due at Sunday 00:30, and Pacific/Kiritimati
/// skipped 1994-12-31, so that day's occurrences are due on January 1. The series steps from
/// the previous date then, or a daily series would skip Sunday, a weekly one would move to
/// Sundays and a monthly one on the 31st would skip January.
fn nominal_date(
    tz: Tz,
    due: DateTime<Utc>,
    time: NaiveTime,
    in_series: impl Fn(NaiveDate) -> bool,
) -> Option<NaiveDate> {
    let shown = to_local(tz, due)?;
    if shown.time() == time && in_series(shown.date()) {
        return Some(shown.date());
    }
    match shown.date().pred_opt() {
        Some(previous) if resolve(tz, previous.and_time(time)) == Some(due) => Some(previous),
        _ => Some(shown.date()),
    }
}

/// The instant a wall-clock time in `tz` denotes. A time in a spring-forward gap is read with
/// the offset in force before the gap, which moves it forward by the gap's length (02:30 →
/// 03:30 in Europe/Berlin); an ambiguous fall-back time takes the earlier instant.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(instant) => Some(instant.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => {
            let (_, before_gap) = GapInfo::new(&local, &tz)?.begin?;
            local
                .checked_sub_offset(before_gap.fix())
                .map(|utc| utc.and_utc())
        }
    }
}

#[cfg(test)]
mod by_rules_tests;
#[cfg(test)]
mod calendar_end_tests;
#[cfg(test)]
mod dst_properties;
#[cfg(test)]
mod dst_tests;
#[cfg(test)]
mod extreme_properties;
#[cfg(test)]
mod properties;
#[cfg(test)]
mod rrule_crate_properties;
#[cfg(test)]
mod tests;
