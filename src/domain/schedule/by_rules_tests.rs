//! Worked examples of monthly and yearly rules with BY parts, and of skipping missed
//! occurrences.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::tests::{chain, local_dates, utc};
use super::{SeriesPosition, next_due, next_occurrence};
use crate::domain::{Anchor, Missed, Recurrence, parse_rrule};

/// The rule RRULE `text` describes, due-anchored.
pub(super) fn text_rule(text: &str) -> Recurrence {
    parse_rrule(text)
        .expect("the text parses")
        .validate()
        .expect("the rule is valid")
}

fn days(tz: Tz, dues: &[DateTime<Utc>]) -> Vec<String> {
    local_dates(tz, dues)
}

#[test]
fn second_tuesday_of_the_month() {
    let rule = text_rule("FREQ=MONTHLY;BYDAY=2TU");
    let dues = chain(&rule, Tz::UTC, utc(2025, 1, 14, 9, 0), 6);
    assert_eq!(
        days(Tz::UTC, &dues),
        [
            "2025-01-14 09:00",
            "2025-02-11 09:00",
            "2025-03-11 09:00",
            "2025-04-08 09:00",
            "2025-05-13 09:00",
            "2025-06-10 09:00"
        ]
    );
}

#[test]
fn last_friday_of_the_month_in_berlin_across_summer_time() {
    let rule = text_rule("FREQ=MONTHLY;BYDAY=-1FR");
    let berlin = Tz::Europe__Berlin;
    // 2025-01-31 18:00 in Berlin (CET) is 17:00Z.
    let dues = chain(&rule, berlin, utc(2025, 1, 31, 17, 0), 4);
    assert_eq!(
        days(berlin, &dues),
        [
            "2025-01-31 18:00",
            "2025-02-28 18:00",
            "2025-03-28 18:00",
            "2025-04-25 18:00"
        ]
    );
    assert_eq!(dues[3], utc(2025, 4, 25, 16, 0), "18:00 CEST");
}

#[test]
fn first_and_last_weekday_of_the_month() {
    let first = text_rule("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1");
    // 2025-02-01 is a Saturday, so February's first weekday is Monday the 3rd; June 1 is a
    // Sunday.
    let dues = chain(&first, Tz::UTC, utc(2025, 1, 1, 8, 0), 6);
    assert_eq!(
        days(Tz::UTC, &dues),
        [
            "2025-01-01 08:00",
            "2025-02-03 08:00",
            "2025-03-03 08:00",
            "2025-04-01 08:00",
            "2025-05-01 08:00",
            "2025-06-02 08:00"
        ]
    );
    let last = text_rule("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1");
    // May 31, 2025 is a Saturday, August 31 a Sunday.
    let dues = chain(&last, Tz::UTC, utc(2025, 4, 30, 8, 0), 5);
    assert_eq!(
        days(Tz::UTC, &dues),
        [
            "2025-04-30 08:00",
            "2025-05-30 08:00",
            "2025-06-30 08:00",
            "2025-07-31 08:00",
            "2025-08-29 08:00"
        ]
    );
}

#[test]
fn thanksgiving_every_year_and_every_other_year() {
    let rule = text_rule("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH");
    let new_york = Tz::America__New_York;
    // Nov 27, 2025 12:00 EST is 17:00Z.
    let dues = chain(&rule, new_york, utc(2025, 11, 27, 17, 0), 4);
    assert_eq!(
        days(new_york, &dues),
        [
            "2025-11-27 12:00",
            "2026-11-26 12:00",
            "2027-11-25 12:00",
            "2028-11-23 12:00"
        ]
    );
    let biennial = Recurrence {
        interval: 2,
        ..rule
    };
    let dues = chain(&biennial, new_york, utc(2025, 11, 27, 17, 0), 3);
    assert_eq!(
        days(new_york, &dues),
        ["2025-11-27 12:00", "2027-11-25 12:00", "2029-11-22 12:00"]
    );
}

#[test]
fn last_day_of_the_month_and_its_clamp_form() {
    let last = text_rule("FREQ=MONTHLY;BYMONTHDAY=-1");
    let dues = chain(&last, Tz::UTC, utc(2024, 1, 31, 9, 0), 4);
    assert_eq!(
        days(Tz::UTC, &dues),
        [
            "2024-01-31 09:00",
            "2024-02-29 09:00",
            "2024-03-31 09:00",
            "2024-04-30 09:00"
        ]
    );
    // The 30th or the month's last day: the plain monthly rule from Jan 30, written out.
    let clamp = text_rule("FREQ=MONTHLY;BYMONTHDAY=30,-1;BYSETPOS=1");
    let plain = text_rule("FREQ=MONTHLY");
    let first = utc(2025, 1, 30, 9, 0);
    assert_eq!(
        chain(&clamp, Tz::UTC, first, 14),
        chain(&plain, Tz::UTC, first, 14)
    );
    assert_eq!(
        days(Tz::UTC, &chain(&clamp, Tz::UTC, first, 3)),
        ["2025-01-30 09:00", "2025-02-28 09:00", "2025-03-30 09:00"]
    );
}

#[test]
fn months_without_a_match_are_skipped() {
    // The 5th Friday: only some months have one.
    let rule = text_rule("FREQ=MONTHLY;BYDAY=5FR");
    let dues = chain(&rule, Tz::UTC, utc(2025, 1, 31, 9, 0), 4);
    assert_eq!(
        days(Tz::UTC, &dues),
        [
            "2025-01-31 09:00",
            "2025-05-30 09:00",
            "2025-08-29 09:00",
            "2025-10-31 09:00"
        ]
    );
    // With BYMONTH and no day, the first occurrence's day; months without it are skipped.
    let rule = text_rule("FREQ=MONTHLY;BYMONTH=1,2,3");
    let dues = chain(&rule, Tz::UTC, utc(2025, 1, 30, 9, 0), 3);
    assert_eq!(
        days(Tz::UTC, &dues),
        ["2025-01-30 09:00", "2025-03-30 09:00", "2026-01-30 09:00"]
    );
}

#[test]
fn interval_counts_months_from_the_series_anchor() {
    // Every 3 months on the 2nd Tuesday, from January: April, July, October.
    let rule = text_rule("FREQ=MONTHLY;INTERVAL=3;BYDAY=2TU");
    let anchor = utc(2025, 1, 14, 9, 0);
    let position = SeriesPosition {
        anchor: Some(anchor),
        due: Some(utc(2025, 4, 8, 9, 0)),
        completed_at: utc(2025, 4, 8, 9, 0),
        occurrence: 2,
    };
    assert_eq!(
        next_due(&rule, Tz::UTC, &position),
        Some(utc(2025, 7, 8, 9, 0))
    );
}

#[test]
fn a_yearly_ordinal_without_months_counts_within_the_year() {
    // The 20th Monday of the year, and the last Sunday of the year.
    let rule = text_rule("FREQ=YEARLY;BYDAY=20MO");
    let dues = chain(&rule, Tz::UTC, utc(2025, 5, 19, 9, 0), 3);
    assert_eq!(
        days(Tz::UTC, &dues),
        ["2025-05-19 09:00", "2026-05-18 09:00", "2027-05-17 09:00"]
    );
    let rule = text_rule("FREQ=YEARLY;BYDAY=-1SU");
    let dues = chain(&rule, Tz::UTC, utc(2025, 12, 28, 9, 0), 2);
    assert_eq!(
        days(Tz::UTC, &dues),
        ["2025-12-28 09:00", "2026-12-27 09:00"]
    );
}

#[test]
fn completion_anchored_by_rules_count_from_the_completion_date() {
    let rule = Recurrence {
        anchor: Anchor::Completion,
        ..text_rule("FREQ=MONTHLY;BYDAY=-1FR")
    };
    // Due Jan 31, done on Feb 3: this month's last Friday, Feb 28.
    let position = SeriesPosition {
        anchor: Some(utc(2025, 1, 31, 9, 0)),
        due: Some(utc(2025, 1, 31, 9, 0)),
        completed_at: utc(2025, 2, 3, 12, 0),
        occurrence: 1,
    };
    assert_eq!(
        next_due(&rule, Tz::UTC, &position),
        Some(utc(2025, 2, 28, 9, 0))
    );
    // Done on Feb 28 itself: the next one, March 28.
    let on_the_day = SeriesPosition {
        completed_at: utc(2025, 2, 28, 7, 0),
        ..position
    };
    assert_eq!(
        next_due(&rule, Tz::UTC, &on_the_day),
        Some(utc(2025, 3, 28, 9, 0))
    );
}

#[test]
fn a_gap_on_the_day_moves_the_occurrence_and_the_series_goes_on() {
    // The last Sunday of the month at 02:30 in Berlin; on 2025-03-30 the clocks skip
    // 02:00-03:00, so that occurrence is at 03:30 CEST, and April's is back at 02:30.
    let rule = text_rule("FREQ=MONTHLY;BYDAY=-1SU");
    let berlin = Tz::Europe__Berlin;
    let dues = chain(&rule, berlin, utc(2025, 2, 23, 1, 30), 3);
    assert_eq!(
        days(berlin, &dues),
        ["2025-02-23 02:30", "2025-03-30 03:30", "2025-04-27 02:30"]
    );
    assert_eq!(dues[1], utc(2025, 3, 30, 1, 30));
}

fn late(due: DateTime<Utc>, completed_at: DateTime<Utc>, occurrence: u32) -> SeriesPosition {
    SeriesPosition {
        anchor: Some(utc(2027, 3, 1, 9, 0)),
        due: Some(due),
        completed_at,
        occurrence,
    }
}

#[test]
fn skip_goes_to_the_first_occurrence_after_the_completion() {
    let keep = text_rule("FREQ=DAILY");
    let skip = Recurrence {
        missed: Missed::Skip,
        ..keep.clone()
    };
    // Due Monday 09:00, done Thursday 17:00.
    let position = late(utc(2027, 3, 1, 9, 0), utc(2027, 3, 4, 17, 0), 1);
    let kept = next_occurrence(&keep, Tz::UTC, &position).expect("continues");
    assert_eq!((kept.due, kept.occurrence), (utc(2027, 3, 2, 9, 0), 2));
    let skipped = next_occurrence(&skip, Tz::UTC, &position).expect("continues");
    assert_eq!(
        (skipped.due, skipped.occurrence),
        (utc(2027, 3, 5, 9, 0), 5),
        "Tuesday to Thursday are skipped and keep their positions"
    );
    // Done at 08:00 on Thursday: Thursday's 09:00 occurrence is still ahead.
    let position = late(utc(2027, 3, 1, 9, 0), utc(2027, 3, 4, 8, 0), 1);
    let skipped = next_occurrence(&skip, Tz::UTC, &position).expect("continues");
    assert_eq!(
        (skipped.due, skipped.occurrence),
        (utc(2027, 3, 4, 9, 0), 4)
    );
    // On time or early, the two agree.
    let on_time = late(utc(2027, 3, 1, 9, 0), utc(2027, 3, 1, 9, 0), 1);
    assert_eq!(
        next_occurrence(&skip, Tz::UTC, &on_time),
        next_occurrence(&keep, Tz::UTC, &on_time)
    );
}

#[test]
fn skipped_occurrences_count_toward_count_and_until() {
    let skip = Recurrence {
        missed: Missed::Skip,
        count: Some(4),
        ..text_rule("FREQ=DAILY")
    };
    let position = late(utc(2027, 3, 1, 9, 0), utc(2027, 3, 3, 17, 0), 1);
    let next = next_occurrence(&skip, Tz::UTC, &position).expect("the 4th is left");
    assert_eq!((next.due, next.occurrence), (utc(2027, 3, 4, 9, 0), 4));
    let position = late(utc(2027, 3, 1, 9, 0), utc(2027, 3, 4, 17, 0), 1);
    assert_eq!(
        next_occurrence(&skip, Tz::UTC, &position),
        None,
        "all four fell due before the completion"
    );
    let until = Recurrence {
        count: None,
        until: Some(utc(2027, 3, 4, 9, 0)),
        ..skip
    };
    assert_eq!(next_occurrence(&until, Tz::UTC, &position), None);
}

#[test]
fn skip_by_ordinal_weekday_and_far_in_the_past() {
    let skip = Recurrence {
        missed: Missed::Skip,
        ..text_rule("FREQ=MONTHLY;BYDAY=-1FR")
    };
    // Due Jan 31, 2025, done on May 1: April 25 was missed too; next is May 30, the 5th.
    let position = late(utc(2025, 1, 31, 9, 0), utc(2025, 5, 1, 9, 0), 1);
    let next = next_occurrence(&skip, Tz::UTC, &position).expect("continues");
    assert_eq!((next.due, next.occurrence), (utc(2025, 5, 30, 9, 0), 5));
    // A daily series due in year 2, done in 2025: the leap keeps it fast and exact.
    let daily = Recurrence {
        missed: Missed::Skip,
        ..text_rule("FREQ=DAILY;INTERVAL=2")
    };
    let first = utc(2, 1, 1, 9, 0);
    let position = SeriesPosition {
        anchor: Some(first),
        due: Some(first),
        completed_at: utc(2025, 6, 1, 12, 0),
        occurrence: 1,
    };
    let next = next_occurrence(&daily, Tz::UTC, &position).expect("continues");
    let days = (next.due - first).num_days();
    assert!(next.due > position.completed_at && days % 2 == 0);
    assert!(next.due - position.completed_at < chrono::TimeDelta::days(2));
    assert_eq!(i64::from(next.occurrence), days / 2 + 1);
}
