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
//!   `compatible` disambiguation).

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone,
    Utc,
};
use chrono_tz::{GapInfo, Tz};

use super::recurrence::{Anchor, Frequency, Recurrence, Weekday};

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
/// Returns `None` when the series has ended: `rule.count` occurrences exist already, or the
/// next due time would be after `rule.until`. It also returns `None`, rather than panicking,
/// when the next due time falls outside the range of dates chrono can represent.
///
/// The result is strictly after the current due time (due-anchored series) or strictly after
/// `completed_at` (completion-anchored series and occurrences without a due time). A
/// due-anchored series does not skip occurrences that are already in the past: completing an
/// overdue occurrence yields the next one in the series, which may be overdue too.
pub fn next_due(
    rule: &Recurrence,
    time_zone: Tz,
    position: &SeriesPosition,
) -> Option<DateTime<Utc>> {
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
    if rule.until.is_some_and(|until| next > until) {
        return None;
    }
    Some(next)
}

/// The time zone a task's stored `time_zone` names: `""` means UTC.
///
/// Names are validated when they are written (see `parse_time_zone`), so an unknown name can
/// only come from an older time-zone database; it falls back to UTC rather than failing.
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// How many rule steps `first_after` tries before giving up. One step always suffices except
/// around pathological time-zone transitions, where a wall-clock step can fail to move the
/// instant forward.
const MAX_STEPS: usize = 8;

/// One next-due computation: the local date to step from, how to step, the local time-of-day
/// of the result, and the instant the result must be strictly after.
struct Plan {
    step: Step,
    start: NaiveDate,
    time: NaiveTime,
    after: DateTime<Utc>,
}

impl Plan {
    /// Steps from the current due's local date; the series anchor fixes day-of-month, week
    /// phase and time-of-day.
    fn from_due(
        rule: &Recurrence,
        tz: Tz,
        anchor: DateTime<Utc>,
        due: DateTime<Utc>,
    ) -> Option<Self> {
        let anchor = to_local(tz, anchor)?;
        Some(Self {
            step: Step::new(rule, anchor.date())?,
            start: to_local(tz, due)?.date(),
            time: anchor.time(),
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
    /// Monthly and yearly: `months` months on, on `day` clamped to the month's length.
    Months { months: i64, day: u32 },
}

impl Step {
    /// The step of `rule` for a series whose day-of-month and week phase come from `origin`.
    fn new(rule: &Recurrence, origin: NaiveDate) -> Option<Self> {
        let interval = rule.interval.max(1);
        Some(match rule.frequency {
            Frequency::Daily => Self::Days(u64::from(interval)),
            Frequency::Weekly if rule.weekdays.is_empty() => Self::Days(7 * u64::from(interval)),
            Frequency::Weekly => Self::Weekdays {
                origin_week: week_start(origin)?,
                weekdays: rule
                    .weekdays
                    .iter()
                    .fold(0, |set, &day| set | 1 << days_from_monday(day)),
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
                let weeks = i64::from(weeks);
                let phase = (week - origin_week)
                    .num_days()
                    .div_euclid(7)
                    .rem_euclid(weeks);
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
}

/// `day` of the month, or the month's last day when it is shorter.
fn clamped_date(year: i32, month: u32, day: u32) -> Option<NaiveDate> {
    (1..=day)
        .rev()
        .take(4)
        .find_map(|d| NaiveDate::from_ymd_opt(year, month, d))
}

/// The Monday starting `date`'s week.
fn week_start(date: NaiveDate) -> Option<NaiveDate> {
    date.checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
}

fn days_from_monday(day: Weekday) -> u32 {
    match day {
        Weekday::Monday => 0,
        Weekday::Tuesday => 1,
        Weekday::Wednesday => 2,
        Weekday::Thursday => 3,
        Weekday::Friday => 4,
        Weekday::Saturday => 5,
        Weekday::Sunday => 6,
    }
}

/// The wall-clock time `instant` shows in `tz` (`None` past chrono's range).
fn to_local(tz: Tz, instant: DateTime<Utc>) -> Option<NaiveDateTime> {
    let utc = instant.naive_utc();
    utc.checked_add_offset(tz.offset_from_utc_datetime(&utc).fix())
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
mod tests {
    use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
    use chrono_tz::Tz;

    use super::{SeriesPosition, next_due, resolve, to_local, zone};
    use crate::domain::{Anchor, Frequency, Recurrence, Weekday};

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .expect("valid UTC time")
    }

    fn rule(
        frequency: Frequency,
        interval: i64,
        weekdays: Vec<Weekday>,
        anchor: Anchor,
    ) -> Recurrence {
        Recurrence::new(frequency, Some(interval), weekdays, None, None, anchor)
            .expect("valid rule")
    }

    fn at(due: DateTime<Utc>, occurrence: u32) -> SeriesPosition {
        SeriesPosition {
            anchor: None,
            due: Some(due),
            completed_at: due,
            occurrence,
        }
    }

    /// The first `n` due times of a due-anchored series starting at `first`, each occurrence
    /// completed exactly when due.
    fn chain(rule: &Recurrence, tz: Tz, first: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut dues = vec![first];
        let mut due = first;
        for occurrence in 1..n {
            let position = SeriesPosition {
                anchor: Some(first),
                due: Some(due),
                completed_at: due,
                occurrence: u32::try_from(occurrence).expect("small"),
            };
            due = next_due(rule, tz, &position).expect("series continues");
            dues.push(due);
        }
        dues
    }

    fn local_dates(tz: Tz, dues: &[DateTime<Utc>]) -> Vec<String> {
        dues.iter()
            .map(|due| due.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
            .collect()
    }

    #[test]
    fn zone_names() {
        assert_eq!(zone(""), Tz::UTC);
        assert_eq!(zone("Europe/Berlin"), Tz::Europe__Berlin);
        assert_eq!(zone("Mars/Olympus"), Tz::UTC);
    }

    #[test]
    fn daily_keeps_the_time_and_steps_by_the_interval() {
        let daily = rule(Frequency::Daily, 3, vec![], Anchor::Due);
        assert_eq!(
            next_due(&daily, Tz::UTC, &at(utc(2025, 12, 30, 9, 0), 1)),
            Some(utc(2026, 1, 2, 9, 0))
        );
    }

    #[test]
    fn monthly_from_the_31st_clamps_without_drift_across_a_leap_year() {
        let monthly = rule(Frequency::Monthly, 1, vec![], Anchor::Due);
        let dues = chain(&monthly, Tz::UTC, utc(2024, 1, 31, 9, 0), 14);
        let days: Vec<_> = dues
            .iter()
            .map(|d| (d.year(), d.month(), d.day(), d.hour()))
            .collect();
        assert_eq!(
            days,
            vec![
                (2024, 1, 31, 9),
                (2024, 2, 29, 9),
                (2024, 3, 31, 9),
                (2024, 4, 30, 9),
                (2024, 5, 31, 9),
                (2024, 6, 30, 9),
                (2024, 7, 31, 9),
                (2024, 8, 31, 9),
                (2024, 9, 30, 9),
                (2024, 10, 31, 9),
                (2024, 11, 30, 9),
                (2024, 12, 31, 9),
                (2025, 1, 31, 9),
                (2025, 2, 28, 9),
            ]
        );
    }

    #[test]
    fn monthly_uses_the_anchor_day_even_from_a_clamped_due() {
        // Completing the Feb 28 occurrence of a series anchored on Jan 30 gives Mar 30.
        let monthly = rule(Frequency::Monthly, 1, vec![], Anchor::Due);
        let position = SeriesPosition {
            anchor: Some(utc(2025, 1, 30, 9, 0)),
            ..at(utc(2025, 2, 28, 9, 0), 2)
        };
        assert_eq!(
            next_due(&monthly, Tz::UTC, &position),
            Some(utc(2025, 3, 30, 9, 0))
        );
        // Every 3 months from Nov 30: Feb 28, then May 30.
        let quarterly = rule(Frequency::Monthly, 3, vec![], Anchor::Due);
        let dues = chain(&quarterly, Tz::UTC, utc(2024, 11, 30, 9, 0), 3);
        assert_eq!(
            dues,
            vec![
                utc(2024, 11, 30, 9, 0),
                utc(2025, 2, 28, 9, 0),
                utc(2025, 5, 30, 9, 0)
            ]
        );
    }

    #[test]
    fn monthly_in_local_time() {
        // Jan 31 09:00 in Berlin is 08:00 UTC; Mar 31 09:00 (summer time) is 07:00 UTC.
        let monthly = rule(Frequency::Monthly, 1, vec![], Anchor::Due);
        let berlin = Tz::Europe__Berlin;
        let dues = chain(&monthly, berlin, utc(2025, 1, 31, 8, 0), 3);
        assert_eq!(
            local_dates(berlin, &dues),
            ["2025-01-31 09:00", "2025-02-28 09:00", "2025-03-31 09:00"]
        );
        assert_eq!(dues[2], utc(2025, 3, 31, 7, 0));
    }

    #[test]
    fn yearly_from_february_29() {
        let yearly = rule(Frequency::Yearly, 1, vec![], Anchor::Due);
        let dues = chain(&yearly, Tz::UTC, utc(2024, 2, 29, 12, 0), 6);
        assert_eq!(
            dues,
            vec![
                utc(2024, 2, 29, 12, 0),
                utc(2025, 2, 28, 12, 0),
                utc(2026, 2, 28, 12, 0),
                utc(2027, 2, 28, 12, 0),
                utc(2028, 2, 29, 12, 0),
                utc(2029, 2, 28, 12, 0),
            ]
        );
        // Every 4 years from a leap day stays on leap days (2100 is not a leap year).
        let quadrennial = rule(Frequency::Yearly, 4, vec![], Anchor::Due);
        let dues = chain(&quadrennial, Tz::UTC, utc(2092, 2, 29, 12, 0), 4);
        assert_eq!(
            dues,
            vec![
                utc(2092, 2, 29, 12, 0),
                utc(2096, 2, 29, 12, 0),
                utc(2100, 2, 28, 12, 0),
                utc(2104, 2, 29, 12, 0),
            ]
        );
    }

    #[test]
    fn weekly_on_monday_wednesday_friday_every_other_week() {
        let weekly = rule(
            Frequency::Weekly,
            2,
            vec![Weekday::Monday, Weekday::Wednesday, Weekday::Friday],
            Anchor::Due,
        );
        // 2025-01-06 is a Monday.
        let dues = chain(&weekly, Tz::UTC, utc(2025, 1, 6, 8, 30), 8);
        assert_eq!(
            dues,
            vec![
                utc(2025, 1, 6, 8, 30),
                utc(2025, 1, 8, 8, 30),
                utc(2025, 1, 10, 8, 30),
                utc(2025, 1, 20, 8, 30),
                utc(2025, 1, 22, 8, 30),
                utc(2025, 1, 24, 8, 30),
                utc(2025, 2, 3, 8, 30),
                utc(2025, 2, 5, 8, 30),
            ]
        );
        // The week phase comes from the anchor, even when the anchor is mid-week (Thursday):
        // the anchor's week is in phase, so its Friday follows.
        let dues = chain(&weekly, Tz::UTC, utc(2025, 1, 9, 8, 30), 4);
        assert_eq!(
            dues,
            vec![
                utc(2025, 1, 9, 8, 30),
                utc(2025, 1, 10, 8, 30),
                utc(2025, 1, 20, 8, 30),
                utc(2025, 1, 22, 8, 30),
            ]
        );
    }

    #[test]
    fn weekly_without_weekdays_steps_whole_weeks() {
        let weekly = rule(Frequency::Weekly, 2, vec![], Anchor::Due);
        assert_eq!(
            next_due(&weekly, Tz::UTC, &at(utc(2025, 12, 24, 18, 0), 1)),
            Some(utc(2026, 1, 7, 18, 0))
        );
    }

    #[test]
    fn weekly_weekday_times_are_local() {
        // Sundays at 10:00 in New York, across the end of daylight saving time (Nov 2, 2025).
        let weekly = rule(Frequency::Weekly, 1, vec![Weekday::Sunday], Anchor::Due);
        let new_york = Tz::America__New_York;
        let dues = chain(&weekly, new_york, utc(2025, 10, 26, 14, 0), 3);
        assert_eq!(
            local_dates(new_york, &dues),
            ["2025-10-26 10:00", "2025-11-02 10:00", "2025-11-09 10:00"]
        );
        assert_eq!(dues[1], utc(2025, 11, 2, 15, 0));
    }

    #[test]
    fn daily_at_nine_across_daylight_saving_changes() {
        let daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
        // Berlin springs forward on 2025-03-30: 09:00 CET is 08:00Z, 09:00 CEST is 07:00Z.
        let berlin = Tz::Europe__Berlin;
        assert_eq!(
            next_due(&daily, berlin, &at(utc(2025, 3, 29, 8, 0), 1)),
            Some(utc(2025, 3, 30, 7, 0))
        );
        // ... and falls back on 2025-10-26.
        assert_eq!(
            next_due(&daily, berlin, &at(utc(2025, 10, 25, 7, 0), 1)),
            Some(utc(2025, 10, 26, 8, 0))
        );
        // New York springs forward on 2025-03-09 and falls back on 2025-11-02.
        let new_york = Tz::America__New_York;
        assert_eq!(
            next_due(&daily, new_york, &at(utc(2025, 3, 8, 14, 0), 1)),
            Some(utc(2025, 3, 9, 13, 0))
        );
        assert_eq!(
            next_due(&daily, new_york, &at(utc(2025, 11, 1, 13, 0), 1)),
            Some(utc(2025, 11, 2, 14, 0))
        );
    }

    #[test]
    fn a_time_in_the_spring_forward_gap_moves_forward_by_the_gap() {
        let daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
        // 02:30 Berlin does not exist on 2025-03-30: the occurrence is at 03:30 CEST (01:30Z),
        // and the series returns to 02:30 the next day.
        let berlin = Tz::Europe__Berlin;
        let dues = chain(&daily, berlin, utc(2025, 3, 29, 1, 30), 3);
        assert_eq!(
            local_dates(berlin, &dues),
            ["2025-03-29 02:30", "2025-03-30 03:30", "2025-03-31 02:30"]
        );
        assert_eq!(dues[1], utc(2025, 3, 30, 1, 30));
        // Same in New York on 2025-03-09: 02:30 EST would be 07:30Z; it is 03:30 EDT = 07:30Z.
        let new_york = Tz::America__New_York;
        let dues = chain(&daily, new_york, utc(2025, 3, 8, 7, 30), 3);
        assert_eq!(
            local_dates(new_york, &dues),
            ["2025-03-08 02:30", "2025-03-09 03:30", "2025-03-10 02:30"]
        );
    }

    #[test]
    fn an_ambiguous_fall_back_time_takes_the_earlier_instant() {
        let daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
        // 01:30 happens twice in New York on 2025-11-02: EDT (05:30Z) first, then EST (06:30Z).
        let new_york = Tz::America__New_York;
        assert_eq!(
            next_due(&daily, new_york, &at(utc(2025, 11, 1, 5, 30), 1)),
            Some(utc(2025, 11, 2, 5, 30))
        );
        // 02:30 happens twice in Berlin on 2025-10-26: CEST (00:30Z), then CET (01:30Z).
        assert_eq!(
            next_due(&daily, Tz::Europe__Berlin, &at(utc(2025, 10, 25, 0, 30), 1)),
            Some(utc(2025, 10, 26, 0, 30))
        );
    }

    #[test]
    fn completion_anchor_counts_from_the_completion_date() {
        let every_three_days = rule(Frequency::Daily, 3, vec![], Anchor::Completion);
        // Due Jan 10 09:00, done late on Jan 15 at 18:00: next is Jan 18 at the task's 09:00.
        let late = SeriesPosition {
            anchor: None,
            due: Some(utc(2025, 1, 10, 9, 0)),
            completed_at: utc(2025, 1, 15, 18, 0),
            occurrence: 1,
        };
        assert_eq!(
            next_due(&every_three_days, Tz::UTC, &late),
            Some(utc(2025, 1, 18, 9, 0))
        );
        // Done early, on Jan 8: next is Jan 11.
        let early = SeriesPosition {
            completed_at: utc(2025, 1, 8, 7, 0),
            ..late
        };
        assert_eq!(
            next_due(&every_three_days, Tz::UTC, &early),
            Some(utc(2025, 1, 11, 9, 0))
        );
        // Monthly from a completion on Jan 31 (Berlin local date): Feb 28, at the task's time.
        let monthly = rule(Frequency::Monthly, 1, vec![], Anchor::Completion);
        let position = SeriesPosition {
            anchor: Some(utc(2025, 1, 5, 16, 0)), // 17:00 Berlin
            due: Some(utc(2025, 1, 5, 16, 0)),
            completed_at: utc(2025, 1, 30, 23, 30), // 00:30 on Jan 31 in Berlin
            occurrence: 1,
        };
        assert_eq!(
            next_due(&monthly, Tz::Europe__Berlin, &position),
            Some(utc(2025, 2, 28, 16, 0))
        );
        // Weekly on Tuesdays and Thursdays every other week, done on Wednesday 2025-01-08: the
        // completion's week is in phase, so Thursday Jan 9 follows.
        let weekly = rule(
            Frequency::Weekly,
            2,
            vec![Weekday::Tuesday, Weekday::Thursday],
            Anchor::Completion,
        );
        let position = SeriesPosition {
            anchor: None,
            due: Some(utc(2024, 12, 31, 10, 0)),
            completed_at: utc(2025, 1, 8, 12, 0),
            occurrence: 1,
        };
        assert_eq!(
            next_due(&weekly, Tz::UTC, &position),
            Some(utc(2025, 1, 9, 10, 0))
        );
        // Done on that Thursday: the next in-phase week starts Jan 20, so Tuesday Jan 21.
        let position = SeriesPosition {
            completed_at: utc(2025, 1, 9, 12, 0),
            ..position
        };
        assert_eq!(
            next_due(&weekly, Tz::UTC, &position),
            Some(utc(2025, 1, 21, 10, 0))
        );
    }

    #[test]
    fn completion_anchor_result_is_after_the_completion() {
        // Daily at 09:00, completed at 10:00 the day after: tomorrow 09:00, not today.
        let daily = rule(Frequency::Daily, 1, vec![], Anchor::Completion);
        let position = SeriesPosition {
            anchor: None,
            due: Some(utc(2025, 6, 1, 9, 0)),
            completed_at: utc(2025, 6, 2, 10, 0),
            occurrence: 1,
        };
        assert_eq!(
            next_due(&daily, Tz::UTC, &position),
            Some(utc(2025, 6, 3, 9, 0))
        );
    }

    #[test]
    fn a_task_without_a_due_time_counts_from_completion() {
        let daily = rule(Frequency::Daily, 2, vec![], Anchor::Due);
        let berlin = Tz::Europe__Berlin;
        let position = SeriesPosition {
            anchor: None,
            due: None,
            completed_at: utc(2025, 5, 5, 12, 15), // 14:15 in Berlin
            occurrence: 1,
        };
        let next = next_due(&daily, berlin, &position).expect("series continues");
        assert_eq!(local_dates(berlin, &[next]), ["2025-05-07 14:15"]);
        // Without a due time the completion's local date decides the day of month.
        let monthly = rule(Frequency::Monthly, 1, vec![], Anchor::Due);
        let position = SeriesPosition {
            completed_at: utc(2025, 3, 31, 20, 0),
            ..position
        };
        assert_eq!(
            next_due(&monthly, Tz::UTC, &position),
            Some(utc(2025, 4, 30, 20, 0))
        );
    }

    #[test]
    fn count_ends_the_series() {
        let mut daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
        daily.count = Some(3);
        let first = utc(2025, 1, 1, 9, 0);
        assert_eq!(
            next_due(&daily, Tz::UTC, &at(first, 1)),
            Some(utc(2025, 1, 2, 9, 0))
        );
        assert_eq!(
            next_due(&daily, Tz::UTC, &at(utc(2025, 1, 2, 9, 0), 2)),
            Some(utc(2025, 1, 3, 9, 0))
        );
        assert_eq!(
            next_due(&daily, Tz::UTC, &at(utc(2025, 1, 3, 9, 0), 3)),
            None
        );
        // A completion-anchored series ends the same way.
        daily.anchor = Anchor::Completion;
        assert_eq!(
            next_due(&daily, Tz::UTC, &at(utc(2025, 1, 3, 9, 0), 3)),
            None
        );
    }

    #[test]
    fn until_ends_the_series() {
        let mut weekly = rule(Frequency::Weekly, 1, vec![], Anchor::Due);
        weekly.until = Some(utc(2025, 1, 15, 9, 0));
        // Jan 8 → Jan 15 09:00 is exactly `until`: included.
        assert_eq!(
            next_due(&weekly, Tz::UTC, &at(utc(2025, 1, 8, 9, 0), 1)),
            Some(utc(2025, 1, 15, 9, 0))
        );
        assert_eq!(
            next_due(&weekly, Tz::UTC, &at(utc(2025, 1, 15, 9, 0), 2)),
            None
        );
        // An `until` a minute before that occurrence ends the series one step earlier.
        weekly.until = Some(utc(2025, 1, 15, 8, 59));
        assert_eq!(
            next_due(&weekly, Tz::UTC, &at(utc(2025, 1, 8, 9, 0), 1)),
            None
        );
    }

    #[test]
    fn range_ends_give_none_instead_of_panicking() {
        let zones = [Tz::UTC, Tz::Pacific__Kiritimati, Tz::Pacific__Pago_Pago];
        for frequency in [
            Frequency::Daily,
            Frequency::Weekly,
            Frequency::Monthly,
            Frequency::Yearly,
        ] {
            for anchor in [Anchor::Due, Anchor::Completion] {
                let mut rule = rule(frequency, 1000, vec![], anchor);
                if frequency == Frequency::Weekly {
                    rule.weekdays = vec![Weekday::Monday];
                }
                for tz in zones {
                    for instant in [DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC] {
                        let position = SeriesPosition {
                            anchor: Some(instant),
                            ..at(instant, 1)
                        };
                        let next = next_due(&rule, tz, &position);
                        if instant == DateTime::<Utc>::MAX_UTC {
                            assert_eq!(next, None);
                        }
                    }
                }
            }
        }
        // Rules that bypassed validation do not panic either.
        let odd = Recurrence {
            frequency: Frequency::Yearly,
            interval: u32::MAX,
            weekdays: vec![Weekday::Sunday],
            until: None,
            count: Some(0),
            anchor: Anchor::Due,
        };
        assert_eq!(next_due(&odd, Tz::UTC, &at(utc(2025, 1, 1, 0, 0), 0)), None);
        let odd = Recurrence {
            count: None,
            interval: 0,
            ..odd
        };
        assert_eq!(
            next_due(&odd, Tz::UTC, &at(utc(2025, 1, 1, 0, 0), 0)),
            Some(utc(2026, 1, 1, 0, 0))
        );
    }

    #[test]
    fn resolve_round_trips_ordinary_times() {
        let berlin = Tz::Europe__Berlin;
        let noon = NaiveDate::from_ymd_opt(2025, 7, 1)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .expect("valid");
        let instant = resolve(berlin, noon).expect("exists");
        assert_eq!(instant, utc(2025, 7, 1, 10, 0));
        assert_eq!(to_local(berlin, instant), Some(noon));
    }
}

#[cfg(test)]
mod properties {
    use chrono::{DateTime, Datelike, Days, LocalResult, NaiveDate, TimeZone, Timelike, Utc};
    use chrono_tz::Tz;
    use proptest::prelude::*;

    use super::{SeriesPosition, clamped_date, next_due, resolve, to_local, zone};
    use crate::domain::{Anchor, Frequency, Recurrence, Weekday};

    const ZONES: &[&str] = &[
        "",
        "UTC",
        "Europe/Berlin",
        "Europe/London",
        "America/New_York",
        "America/Sao_Paulo",
        "America/Santiago",
        "America/St_Johns",
        "Australia/Lord_Howe",
        "Antarctica/Troll",
        "Pacific/Apia",
        "Pacific/Chatham",
        "Pacific/Kiritimati",
        "Asia/Kathmandu",
        "Asia/Kolkata",
        "Africa/Casablanca",
    ];

    const WEEKDAYS: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// 1900-01-01T00:00:00Z and 2201-01-01T00:00:00Z.
    const FROM: i64 = -2_208_988_800;
    const TO: i64 = 7_289_654_400;

    fn tz() -> impl Strategy<Value = Tz> {
        prop::sample::select(ZONES).prop_map(zone)
    }

    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (FROM..TO).prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap_or_default())
    }

    fn frequency() -> impl Strategy<Value = Frequency> {
        prop::sample::select(vec![
            Frequency::Daily,
            Frequency::Weekly,
            Frequency::Monthly,
            Frequency::Yearly,
        ])
    }

    fn anchor_mode() -> impl Strategy<Value = Anchor> {
        prop::sample::select(vec![Anchor::Due, Anchor::Completion])
    }

    fn interval() -> impl Strategy<Value = i64> {
        prop_oneof![3 => 1i64..=4, 1 => 1i64..=Recurrence::MAX_INTERVAL]
    }

    fn weekdays(bits: u8) -> Vec<Weekday> {
        WEEKDAYS
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, &day)| day)
            .collect()
    }

    /// A valid rule without `count` or `until`; weekly rules name weekdays half of the time.
    fn open_rule() -> impl Strategy<Value = Recurrence> {
        (
            frequency(),
            interval(),
            0u8..128,
            any::<bool>(),
            anchor_mode(),
        )
            .prop_map(|(frequency, interval, bits, with_days, anchor)| {
                let days = if frequency == Frequency::Weekly && with_days {
                    weekdays(bits)
                } else {
                    vec![]
                };
                Recurrence::new(frequency, Some(interval), days, None, None, anchor)
                    .expect("generated rules are valid")
            })
    }

    fn local_date(tz: Tz, instant: DateTime<Utc>) -> NaiveDate {
        to_local(tz, instant).expect("in range").date()
    }

    proptest! {
        /// Within 1900–2200 the series always continues, strictly after the current due
        /// (due-anchored) or the completion (completion-anchored, or no due time).
        #[test]
        fn next_is_strictly_after_the_due_or_completion(
            rule in open_rule(),
            tz in tz(),
            anchor in instant(),
            due_offset in prop::option::of(-400i64 * 86_400..400 * 86_400),
            completion_offset in -400i64 * 86_400..400 * 86_400,
            occurrence in 1u32..1000,
        ) {
            let due = due_offset.map(|secs| anchor + chrono::TimeDelta::seconds(secs));
            let completed_at = due.unwrap_or(anchor) + chrono::TimeDelta::seconds(completion_offset);
            let position = SeriesPosition { anchor: Some(anchor), due, completed_at, occurrence };
            let next = next_due(&rule, tz, &position);
            prop_assert!(next.is_some(), "{:?} {:?} {:?}", rule, tz, position);
            let next = next.expect("checked");
            match (rule.anchor, due) {
                (Anchor::Due, Some(due)) => prop_assert!(next > due, "{} <= due {}", next, due),
                _ => prop_assert!(next > completed_at, "{} <= completion {}", next, completed_at),
            }
        }

        /// Monthly and yearly series land on the anchor's day clamped to each month's length,
        /// in consecutive steps of the interval, never drifting (unless that local time does
        /// not exist at all, as on Samoa's skipped 2011-12-30).
        #[test]
        fn month_based_series_never_drift(
            yearly in any::<bool>(),
            interval in 1i64..=24,
            tz in tz(),
            year in 1900i32..=2200,
            month in 1u32..=12,
            day in 1u32..=31,
            minute_of_day in 0u32..1440,
        ) {
            let first_date = clamped_date(year, month, day).expect("valid date");
            let time = chrono::NaiveTime::from_hms_opt(minute_of_day / 60, minute_of_day % 60, 0)
                .expect("valid time");
            let first = resolve(tz, first_date.and_time(time)).expect("in range");
            prop_assume!(to_local(tz, first) == Some(first_date.and_time(time)));
            let frequency = if yearly { Frequency::Yearly } else { Frequency::Monthly };
            let rule = Recurrence::new(frequency, Some(interval), vec![], None, None, Anchor::Due)
                .expect("valid");
            let months = if yearly { 12 * interval } else { interval };
            let mut due = first;
            for k in 1..=30i64 {
                let position = SeriesPosition { anchor: Some(first), due: Some(due), completed_at: due, occurrence: 1 };
                due = next_due(&rule, tz, &position).expect("series continues");
                let index = i64::from(first_date.year()) * 12 + i64::from(first_date.month0()) + k * months;
                let expected = clamped_date(
                    i32::try_from(index.div_euclid(12)).expect("year"),
                    u32::try_from(index.rem_euclid(12)).expect("month") + 1,
                    first_date.day(),
                ).expect("valid date");
                prop_assert_eq!(expected.day(), first_date.day().min(days_in_month(expected)));
                let exists = !matches!(tz.from_local_datetime(&expected.and_time(time)), LocalResult::None);
                if exists {
                    prop_assert_eq!(local_date(tz, due), expected);
                    prop_assert_eq!(to_local(tz, due).expect("in range").time(), time);
                } else {
                    prop_assert!(local_date(tz, due) >= expected);
                }
            }
        }

        /// Weekly rules with weekdays agree with a day-by-day search: the first later date on a
        /// chosen weekday in a week that is a multiple of `interval` weeks from the anchor's.
        #[test]
        fn weekly_weekdays_match_brute_force(
            interval in 1i64..=5,
            bits in 1u8..128,
            tz in tz(),
            anchor in instant(),
            weeks_later in 0u64..20,
            extra_days in 0u64..7,
        ) {
            let rule = Recurrence::new(Frequency::Weekly, Some(interval), weekdays(bits), None, None, Anchor::Due)
                .expect("valid");
            let anchor_local = to_local(tz, anchor).expect("in range");
            let due_date = anchor_local.date() + Days::new(weeks_later * 7 + extra_days);
            let due = resolve(tz, due_date.and_time(anchor_local.time())).expect("in range");
            prop_assume!(local_date(tz, due) == due_date);
            let position = SeriesPosition { anchor: Some(anchor), due: Some(due), completed_at: due, occurrence: 1 };
            let next = next_due(&rule, tz, &position).expect("series continues");

            let week_of = |d: NaiveDate| d.week(chrono::Weekday::Mon).first_day();
            let anchor_week = week_of(anchor_local.date());
            let expected = (1..=7 * u64::try_from(interval).expect("positive") + 7)
                .map(|n| due_date + Days::new(n))
                .find(|d| {
                    let weeks = (week_of(*d) - anchor_week).num_days() / 7;
                    bits & (1 << d.weekday().num_days_from_monday()) != 0 && weeks % interval == 0
                })
                .expect("a matching day within interval + 1 weeks");
            let time = anchor_local.time();
            if !matches!(tz.from_local_datetime(&expected.and_time(time)), LocalResult::None) {
                prop_assert_eq!(to_local(tz, next).expect("in range"), expected.and_time(time));
            }
        }

        /// A series with `count` = N, followed from its first occurrence, has exactly N.
        #[test]
        fn count_n_gives_exactly_n_occurrences(
            rule in open_rule(),
            count in 1u32..=60,
            tz in tz(),
            first in instant(),
        ) {
            let rule = Recurrence { count: Some(count), ..rule };
            let mut position = SeriesPosition { anchor: Some(first), due: Some(first), completed_at: first, occurrence: 1 };
            while let Some(next) = next_due(&rule, tz, &position) {
                prop_assert!(position.occurrence < count);
                position = SeriesPosition { due: Some(next), completed_at: next, occurrence: position.occurrence + 1, ..position };
            }
            prop_assert_eq!(position.occurrence, count);
        }

        /// No next due time is ever after `until`.
        #[test]
        fn never_after_until(
            rule in open_rule(),
            tz in tz(),
            first in instant(),
            until_offset in -30i64 * 86_400..3_000 * 86_400,
            lateness in 0i64..30 * 86_400,
        ) {
            let until = first + chrono::TimeDelta::seconds(until_offset);
            let rule = Recurrence { until: Some(until), ..rule };
            let mut position = SeriesPosition { anchor: Some(first), due: Some(first), completed_at: first, occurrence: 1 };
            for _ in 0..50 {
                let completed_at = position.due.unwrap_or(first) + chrono::TimeDelta::seconds(lateness);
                position.completed_at = completed_at;
                let Some(next) = next_due(&rule, tz, &position) else { break };
                prop_assert!(next <= until, "{} > until {}", next, until);
                position = SeriesPosition { due: Some(next), occurrence: position.occurrence + 1, ..position };
            }
        }

        /// Arbitrary input, including rules that skipped validation, never panics.
        #[test]
        fn no_input_panics(
            frequency in frequency(),
            interval in prop_oneof![0u32..=3, any::<u32>()],
            bits in any::<u8>(),
            until in prop::option::of(instant()),
            count in prop::option::of(any::<u32>()),
            mode in anchor_mode(),
            tz in tz(),
            anchor in prop::option::of(instant()),
            due in prop::option::of(instant()),
            completed_at in instant(),
            occurrence in any::<u32>(),
        ) {
            let rule = Recurrence { frequency, interval, weekdays: weekdays(bits & 0x7f), until, count, anchor: mode };
            let position = SeriesPosition { anchor, due, completed_at, occurrence };
            let _ = next_due(&rule, tz, &position);
        }
    }

    fn days_in_month(date: NaiveDate) -> u32 {
        (28..=31)
            .rev()
            .find(|&d| date.with_day(d).is_some())
            .unwrap_or(28)
    }

    #[test]
    fn days_in_month_helper() {
        let feb = NaiveDate::from_ymd_opt(2024, 2, 10).expect("valid");
        assert_eq!(days_in_month(feb), 29);
        assert_eq!(
            Utc.timestamp_opt(FROM, 0).single().map(|t| t.year()),
            Some(1900)
        );
        assert_eq!(
            Utc.timestamp_opt(TO - 1, 0)
                .single()
                .map(|t| (t.year(), t.month(), t.day(), t.hour())),
            Some((2200, 12, 31, 23))
        );
    }
}
