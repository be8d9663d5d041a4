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

/// A daily, weekly or every-N-days series at 23:30 in `tz`, from `first` (a local date at
/// 23:30), as local date-times.
fn at_half_past_eleven(
    tz: Tz,
    frequency: Frequency,
    interval: i64,
    weekdays: Vec<Weekday>,
    first: (i32, u32, u32),
    n: usize,
) -> Vec<String> {
    let (y, m, d) = first;
    let start = NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|date| date.and_hms_opt(23, 30, 0))
        .and_then(|local| resolve(tz, local))
        .expect("23:30 exists on the first date");
    let rule = rule(frequency, interval, weekdays, Anchor::Due);
    local_dates(tz, &chain(&rule, tz, start, n))
}

#[test]
fn a_gap_across_midnight_keeps_a_daily_series_on_its_days() {
    // Nuuk (and Scoresbysund) skip Saturday 23:00–24:00 on 2026-03-28: 23:30 that night is
    // 00:30 on Sunday, and the series is back at 23:30 on Sunday, not on Monday.
    for tz in [Tz::America__Nuuk, Tz::America__Scoresbysund] {
        let dues = at_half_past_eleven(tz, Frequency::Daily, 1, vec![], (2026, 3, 26), 5);
        assert_eq!(
            dues,
            [
                "2026-03-26 23:30",
                "2026-03-27 23:30",
                "2026-03-29 00:30",
                "2026-03-29 23:30",
                "2026-03-30 23:30",
            ],
            "{tz}"
        );
    }
    let start = utc(2026, 3, 27, 1, 30); // 2026-03-26 23:30 in Nuuk (-02)
    let daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
    let dues = chain(&daily, Tz::America__Nuuk, start, 4);
    assert_eq!(
        dues[2],
        utc(2026, 3, 29, 1, 30),
        "read with the offset before the gap"
    );
    assert_eq!(dues[3], utc(2026, 3, 30, 0, 30), "Sunday 23:30 at -01");
}

#[test]
fn a_gap_across_midnight_shifts_no_weekly_or_every_n_days_series() {
    let nuuk = Tz::America__Nuuk;
    // Every Saturday, with and without naming the weekday (2026-03-21 is a Saturday).
    for weekdays in [vec![], vec![Weekday::Saturday]] {
        let dues = at_half_past_eleven(nuuk, Frequency::Weekly, 1, weekdays, (2026, 3, 21), 4);
        assert_eq!(
            dues,
            [
                "2026-03-21 23:30",
                "2026-03-29 00:30",
                "2026-04-04 23:30",
                "2026-04-11 23:30",
            ]
        );
    }
    let dues = at_half_past_eleven(nuuk, Frequency::Daily, 2, vec![], (2026, 3, 26), 4);
    assert_eq!(
        dues,
        [
            "2026-03-26 23:30",
            "2026-03-29 00:30",
            "2026-03-30 23:30",
            "2026-04-01 23:30",
        ]
    );
    let dues = at_half_past_eleven(nuuk, Frequency::Daily, 3, vec![], (2026, 3, 25), 4);
    assert_eq!(
        dues,
        [
            "2026-03-25 23:30",
            "2026-03-29 00:30",
            "2026-03-31 23:30",
            "2026-04-03 23:30",
        ]
    );
}

#[test]
fn a_gap_across_midnight_keeps_monthly_and_yearly_series_on_their_day() {
    // The 28th at 23:30 in Nuuk: 2026-03-28 falls into the gap.
    let monthly = rule(Frequency::Monthly, 1, vec![], Anchor::Due);
    let nuuk = Tz::America__Nuuk;
    let dues = chain(&monthly, nuuk, utc(2026, 1, 29, 1, 30), 4);
    assert_eq!(
        local_dates(nuuk, &dues),
        [
            "2026-01-28 23:30",
            "2026-02-28 23:30",
            "2026-03-29 00:30",
            "2026-04-28 23:30",
        ]
    );
    // Singapore skipped 1981-12-31 23:30–24:00: the 31st at 23:45 became 00:15 on Jan 1,
    // and neither January 31 nor the next December 31 is lost.
    let singapore = Tz::Asia__Singapore;
    let first = utc(1981, 10, 31, 16, 15); // 23:45 at +07:30
    let dues = chain(&monthly, singapore, first, 5);
    assert_eq!(
        local_dates(singapore, &dues),
        [
            "1981-10-31 23:45",
            "1981-11-30 23:45",
            "1982-01-01 00:15",
            "1982-01-31 23:45",
            "1982-02-28 23:45",
        ]
    );
    let yearly = rule(Frequency::Yearly, 1, vec![], Anchor::Due);
    let dues = chain(&yearly, singapore, utc(1980, 12, 31, 16, 15), 3);
    assert_eq!(
        local_dates(singapore, &dues),
        ["1980-12-31 23:45", "1982-01-01 00:15", "1982-12-31 23:45"]
    );
}

#[test]
fn a_repeated_hour_before_midnight_takes_its_first_instance() {
    // Nuuk repeats Saturday 23:00–24:00 on 2026-10-24 (-01, then -02): 23:30 that night is
    // 00:30Z, and the series stays at 23:30 local on the following days.
    let daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
    let nuuk = Tz::America__Nuuk;
    let dues = chain(&daily, nuuk, utc(2026, 10, 24, 0, 30), 3);
    assert_eq!(
        dues,
        [
            utc(2026, 10, 24, 0, 30),
            utc(2026, 10, 25, 0, 30),
            utc(2026, 10, 26, 1, 30),
        ]
    );
    assert_eq!(
        local_dates(nuuk, &dues),
        ["2026-10-23 23:30", "2026-10-24 23:30", "2026-10-25 23:30"]
    );
    // Completing the occurrence in the repeated hour late changes nothing.
    let late = super::SeriesPosition {
        anchor: Some(dues[0]),
        completed_at: utc(2026, 10, 25, 12, 0),
        ..at(dues[1], 2)
    };
    assert_eq!(next_due(&daily, nuuk, &late), Some(dues[2]));
}

#[test]
fn a_skipped_day_keeps_a_series_on_its_dates() {
    // Kiritimati skipped 1994-12-31 (from -10 to +14): that day's midnight is January 1's.
    let kiritimati = Tz::Pacific__Kiritimati;
    let monthly = rule(Frequency::Monthly, 1, vec![], Anchor::Due);
    let on_the_31st = chain(&monthly, kiritimati, utc(1994, 10, 31, 10, 0), 5);
    assert_eq!(
        local_dates(kiritimati, &on_the_31st),
        [
            "1994-10-31 00:00",
            "1994-11-30 00:00",
            "1995-01-01 00:00",
            "1995-01-31 00:00",
            "1995-02-28 00:00",
        ]
    );
    let on_the_1st = chain(&monthly, kiritimati, utc(1994, 11, 1, 10, 0), 4);
    assert_eq!(
        local_dates(kiritimati, &on_the_1st),
        [
            "1994-11-01 00:00",
            "1994-12-01 00:00",
            "1995-01-01 00:00",
            "1995-02-01 00:00",
        ]
    );
    // A daily series has one occurrence less: December 31 and January 1 are the same instant.
    let daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
    let dues = chain(&daily, kiritimati, utc(1994, 12, 30, 10, 0), 3);
    assert_eq!(
        local_dates(kiritimati, &dues),
        ["1994-12-30 00:00", "1995-01-01 00:00", "1995-01-02 00:00"]
    );
}
