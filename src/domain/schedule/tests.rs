//! Worked examples of the next-occurrence rules, and the helpers the other example files share.

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::{SeriesPosition, next_due, zone};
use crate::domain::{Anchor, Frequency, Recurrence, Weekday};

pub(super) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid UTC time")
}

pub(super) fn rule(
    frequency: Frequency,
    interval: i64,
    weekdays: Vec<Weekday>,
    anchor: Anchor,
) -> Recurrence {
    Recurrence::new(frequency, Some(interval), weekdays, None, None, anchor).expect("valid rule")
}

pub(super) fn at(due: DateTime<Utc>, occurrence: u32) -> SeriesPosition {
    SeriesPosition {
        anchor: None,
        due: Some(due),
        completed_at: due,
        occurrence,
    }
}

/// The first `n` due times of a due-anchored series starting at `first`, each occurrence
/// completed exactly when due.
pub(super) fn chain(
    rule: &Recurrence,
    tz: Tz,
    first: DateTime<Utc>,
    n: usize,
) -> Vec<DateTime<Utc>> {
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

pub(super) fn local_dates(tz: Tz, dues: &[DateTime<Utc>]) -> Vec<String> {
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
fn a_late_completion_stays_on_the_series_grid() {
    // Daily at 09:00 from Monday 2027-03-01, completed on Thursday: the next occurrence is
    // Tuesday's, already overdue, and completing that one gives Wednesday's.
    let daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
    let monday = utc(2027, 3, 1, 9, 0);
    let late = SeriesPosition {
        anchor: Some(monday),
        completed_at: utc(2027, 3, 4, 17, 0),
        ..at(monday, 1)
    };
    assert_eq!(
        next_due(&daily, Tz::UTC, &late),
        Some(utc(2027, 3, 2, 9, 0))
    );
    let later = SeriesPosition {
        due: Some(utc(2027, 3, 2, 9, 0)),
        completed_at: utc(2027, 3, 4, 17, 1),
        occurrence: 2,
        ..late
    };
    assert_eq!(
        next_due(&daily, Tz::UTC, &later),
        Some(utc(2027, 3, 3, 9, 0))
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
