//! Properties of the next-occurrence rules over random series.

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

/// The weekdays whose bits (Monday = bit 0) are set in `bits`.
pub(super) fn weekdays(bits: u8) -> Vec<Weekday> {
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

    /// A series with `count` = N, followed from its first occurrence, has exactly N, unless
    /// the calendar ends first (after 9999-12-31).
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
        let open = Recurrence { count: None, ..rule };
        if next_due(&open, tz, &position).is_some() {
            prop_assert_eq!(position.occurrence, count);
        }
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
        let rule = Recurrence { frequency, interval, weekdays: weekdays(bits & 0x7f), until, count, anchor: mode, ..Recurrence::plain(frequency) };
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
