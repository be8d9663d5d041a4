//! Worked examples at the ends of the calendar: a series ends where its next occurrence would
//! leave the years the API accepts (1 to 9999), and nothing panics at the limits chrono can
//! represent.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::extreme_properties::{any_zone, extreme_instant, frequency};
use super::properties::weekdays;
use super::tests::{at, rule, utc};
use super::{SeriesPosition, next_due};
use crate::domain::{Anchor, Frequency, Recurrence, Weekday};

const FREQUENCIES: [Frequency; 4] = [
    Frequency::Daily,
    Frequency::Weekly,
    Frequency::Monthly,
    Frequency::Yearly,
];

/// A zone 14 hours ahead of UTC, one 11 hours behind, and one with DST.
const ZONES: [Tz; 4] = [
    Tz::UTC,
    Tz::Pacific__Kiritimati,
    Tz::Pacific__Pago_Pago,
    Tz::America__Nuuk,
];

#[test]
fn a_yearly_series_due_in_9999_ends() {
    let yearly = rule(Frequency::Yearly, 1, vec![], Anchor::Due);
    let due = utc(9999, 6, 1, 9, 0);
    assert_eq!(next_due(&yearly, Tz::UTC, &at(due, 1)), None);
    let late = SeriesPosition {
        completed_at: utc(9999, 12, 31, 23, 0),
        ..at(due, 1)
    };
    assert_eq!(next_due(&yearly, Tz::UTC, &late), None);
    // The year before, the series goes on.
    assert_eq!(
        next_due(&yearly, Tz::UTC, &at(utc(9998, 6, 1, 9, 0), 1)),
        Some(due)
    );
}

#[test]
fn every_rule_ends_where_its_next_occurrence_would_pass_9999() {
    for frequency in FREQUENCIES {
        for anchor in [Anchor::Due, Anchor::Completion] {
            let mut rule = rule(frequency, 1, vec![], anchor);
            for tz in ZONES {
                for days in [vec![], vec![Weekday::Monday, Weekday::Sunday]] {
                    if frequency == Frequency::Weekly {
                        rule.weekdays = days;
                    }
                    let last = at(utc(9999, 12, 31, 12, 0), 1);
                    assert_eq!(next_due(&rule, tz, &last), None, "{tz} {rule:?}");
                }
            }
        }
    }
    // A day earlier, a daily series has one more occurrence, whichever the zone.
    for anchor in [Anchor::Due, Anchor::Completion] {
        let daily = rule(Frequency::Daily, 1, vec![], anchor);
        for tz in ZONES {
            assert_eq!(
                next_due(&daily, tz, &at(utc(9999, 12, 30, 12, 0), 1)),
                Some(utc(9999, 12, 31, 12, 0)),
                "{tz}"
            );
        }
    }
}

#[test]
fn the_end_is_in_utc_not_in_local_time() {
    let daily = rule(Frequency::Daily, 1, vec![], Anchor::Due);
    // 01:00 on 10000-01-01 in Kiritimati (+14) is still 9999 in UTC: it is due.
    let kiritimati = Tz::Pacific__Kiritimati;
    assert_eq!(
        next_due(&daily, kiritimati, &at(utc(9999, 12, 30, 11, 0), 1)),
        Some(utc(9999, 12, 31, 11, 0))
    );
    // 23:00 on 9999-12-31 in Pago Pago (-11) is 10000 in UTC: the series ends before it.
    let pago_pago = Tz::Pacific__Pago_Pago;
    assert_eq!(
        next_due(&daily, pago_pago, &at(utc(9999, 12, 31, 10, 0), 1)),
        None
    );
}

#[test]
fn the_longest_intervals_end_a_series_instead_of_overflowing() {
    let weekly_on_mondays = |anchor| rule(Frequency::Weekly, 1000, vec![Weekday::Monday], anchor);
    for anchor in [Anchor::Due, Anchor::Completion] {
        let cases = [
            (
                rule(Frequency::Yearly, 1000, vec![], anchor),
                utc(9000, 1, 1, 0, 0),
            ),
            (
                rule(Frequency::Monthly, 1000, vec![], anchor),
                utc(9950, 1, 31, 0, 0),
            ),
            (weekly_on_mondays(anchor), utc(9990, 1, 1, 0, 0)),
            (
                rule(Frequency::Weekly, 1000, vec![], anchor),
                utc(9990, 1, 1, 0, 0),
            ),
            (
                rule(Frequency::Daily, 1000, vec![], anchor),
                utc(9998, 1, 1, 0, 0),
            ),
        ];
        for (rule, due) in cases {
            for tz in ZONES {
                assert_eq!(next_due(&rule, tz, &at(due, 1)), None, "{tz} {rule:?}");
            }
        }
    }
    // A rule that bypassed validation, with an interval of four billion years.
    let odd = Recurrence {
        interval: u32::MAX,
        ..rule(Frequency::Yearly, 1, vec![], Anchor::Due)
    };
    assert_eq!(next_due(&odd, Tz::UTC, &at(utc(2025, 1, 1, 0, 0), 1)), None);
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
                    // Both are far outside years 1 to 9999.
                    assert_eq!(next_due(&rule, tz, &position), None, "{tz} {instant}");
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
        ..Recurrence::plain(Frequency::Yearly)
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any rule, even one validation would refuse, in any zone, from any instant chrono can
    /// represent: no panic, and a next occurrence is always within years 1 to 9999 (UTC).
    #[test]
    fn next_due_stays_within_years_1_to_9999(
        frequency in frequency(),
        interval in prop_oneof![1u32..=4, Just(1000), any::<u32>()],
        bits in any::<u8>(),
        mode in prop::sample::select(vec![Anchor::Due, Anchor::Completion]),
        tz in prop_oneof![prop::sample::select(ZONES.to_vec()), any_zone()],
        anchor in prop::option::of(edge_instant()),
        due in prop::option::of(edge_instant()),
        completed_at in edge_instant(),
        occurrence in any::<u32>(),
    ) {
        let rule = Recurrence { frequency, interval, weekdays: weekdays(bits & 0x7f), until: None, count: None, anchor: mode, ..Recurrence::plain(frequency) };
        let position = SeriesPosition { anchor, due, completed_at, occurrence };
        if let Some(next) = next_due(&rule, tz, &position) {
            prop_assert!((1..=9999).contains(&next.year()), "{} from {:?}", next, position);
        }
    }
}

/// Instants most often in the first or last years the API accepts, else anywhere chrono can
/// represent.
fn edge_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let first = utc(1, 1, 1, 0, 0).timestamp();
    let last = utc(9999, 12, 31, 23, 59).timestamp() + 59;
    let years = 3 * 366 * 86_400;
    prop_oneof![
        2 => last - years..=last,
        1 => first..first + years,
        1 => extreme_instant().prop_map(|t| t.timestamp()),
    ]
    .prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap_or_default())
}
