//! Worked examples at the ends of the calendar: a series ends where its next occurrence would
//! leave the years the API accepts (1 to 9999), and nothing panics at the limits chrono can
//! represent.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::tests::{at, rule, utc};
use super::{SeriesPosition, next_due};
use crate::domain::{Anchor, Frequency, Recurrence, Weekday};

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
