//! Worked examples of daylight-saving transitions: local times in a gap move forward by the
//! gap's length, repeated local times take their first instance, and a series keeps stepping
//! from the local date each occurrence was meant for, even when a gap crosses midnight.

use chrono::NaiveDate;
use chrono_tz::Tz;

use super::tests::{at, chain, local_dates, rule, utc};
use super::{next_due, resolve, to_local};
use crate::domain::{Anchor, Frequency, Weekday};

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
fn resolve_round_trips_ordinary_times() {
    let berlin = Tz::Europe__Berlin;
    let noon = NaiveDate::from_ymd_opt(2025, 7, 1)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .expect("valid");
    let instant = resolve(berlin, noon).expect("exists");
    assert_eq!(instant, utc(2025, 7, 1, 10, 0));
    assert_eq!(to_local(berlin, instant), Some(noon));
}
