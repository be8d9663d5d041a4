//! Properties of series in zones whose spring-forward gap crosses midnight, so that a local
//! time in the gap lands on the next local date: daily, weekly and every-N-days series keep
//! stepping from the date each occurrence was meant for.

use chrono::{Datelike, Days, LocalResult, NaiveDate, NaiveTime, TimeDelta, TimeZone};
use chrono_tz::{GapInfo, Tz};
use proptest::prelude::*;

use super::{SeriesPosition, next_due, resolve, to_local};
use crate::domain::{Anchor, Frequency, Recurrence, Weekday};

/// Zones and nights on which the clocks skip from before midnight to after it, each gap
/// shorter than a day. Greenland's are yearly (the last Saturday of March); the rest once.
const GAPS: &[(Tz, (i32, u32, u32))] = &[
    (Tz::America__Nuuk, (2024, 3, 30)),
    (Tz::America__Nuuk, (2026, 3, 28)),
    (Tz::America__Nuuk, (2031, 3, 29)),
    (Tz::America__Nuuk, (2099, 3, 28)),
    (Tz::America__Scoresbysund, (2025, 3, 29)),
    (Tz::America__Scoresbysund, (2027, 3, 27)),
    (Tz::Asia__Dhaka, (2009, 6, 19)),
    (Tz::Asia__Pyongyang, (2018, 5, 4)),
    (Tz::Asia__Singapore, (1981, 12, 31)),
    (Tz::Asia__Tehran, (1977, 3, 21)),
    (Tz::Europe__Moscow, (1918, 5, 31)),
    (Tz::Europe__Sofia, (1979, 3, 31)),
];

fn gap_date((y, m, d): (i32, u32, u32)) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid date")
}

/// The listed nights do skip local times across midnight, by less than a day.
#[test]
fn the_listed_gaps_cross_midnight() {
    for &(tz, date) in GAPS {
        let date = gap_date(date);
        let last_second = date.and_hms_opt(23, 59, 59).expect("valid");
        assert!(
            matches!(tz.from_local_datetime(&last_second), LocalResult::None),
            "{tz} {date}"
        );
        let gap = GapInfo::new(&last_second, &tz).expect("a gap");
        let (begin, _) = gap.begin.expect("a start");
        let end = gap.end.expect("an end").naive_local();
        assert!(begin.date() == date && end.date() > date, "{tz} {date}");
        assert!(end - begin < TimeDelta::days(1), "{tz} {date}");
    }
}

/// How a generated series steps: `days` local days, by a daily rule, a weekly rule without
/// weekdays, or a weekly rule naming the first occurrence's weekday.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Daily,
    Weekly,
    WeeklyOnItsDay,
}

fn weekday(date: NaiveDate) -> Weekday {
    [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ][date.weekday().num_days_from_monday() as usize]
}

proptest! {
    /// The k-th occurrence is at the series' time of day on the first date plus k steps;
    /// one whose time falls into the gap is later that night (on the next date), and the
    /// one after it is back on the grid.
    #[test]
    fn series_step_from_the_date_they_were_meant_for(
        gap in prop::sample::select(GAPS),
        kind in prop::sample::select(vec![Kind::Daily, Kind::Weekly, Kind::WeeklyOnItsDay]),
        interval in 1u32..=4,
        days_before in 0u64..=30,
        minute_of_day in prop_oneof![3 => 22 * 60..24 * 60u32, 1 => 0..24 * 60u32],
    ) {
        let (tz, gap_night) = (gap.0, gap_date(gap.1));
        let first_date = gap_night - Days::new(days_before);
        let time = NaiveTime::from_hms_opt(minute_of_day / 60, minute_of_day % 60, 0).expect("valid");
        let first = resolve(tz, first_date.and_time(time)).expect("in range");
        prop_assume!(to_local(tz, first) == Some(first_date.and_time(time)));
        let (frequency, weekdays, step) = match kind {
            Kind::Daily => (Frequency::Daily, vec![], interval),
            Kind::Weekly => (Frequency::Weekly, vec![], 7 * interval),
            Kind::WeeklyOnItsDay => (Frequency::Weekly, vec![weekday(first_date)], 7 * interval),
        };
        let rule = Recurrence::new(frequency, Some(i64::from(interval)), weekdays, None, None, Anchor::Due)
            .expect("valid");
        // Far enough to pass the gap night and a few occurrences beyond it.
        let n = days_before / u64::from(step) + 4;
        let mut due = first;
        for k in 1..=n {
            let position = SeriesPosition { anchor: Some(first), due: Some(due), completed_at: due, occurrence: 1 };
            due = next_due(&rule, tz, &position).expect("the series continues");
            let meant = (first_date + Days::new(k * u64::from(step))).and_time(time);
            let shown = to_local(tz, due).expect("in range");
            if matches!(tz.from_local_datetime(&meant), LocalResult::None) {
                prop_assert!(shown > meant && shown - meant < TimeDelta::days(1), "{}: {} for {}", tz, shown, meant);
            } else {
                prop_assert_eq!(shown, meant, "{}: occurrence {} from {}", tz, k, first_date);
            }
        }
    }
}
