//! Properties of the next-occurrence rules at the edges: every time zone chrono-tz knows,
//! instants up to the limits chrono can represent, intervals far past what validation allows,
//! and `count`/`until` at their boundaries. Nothing panics, and a series only ever moves
//! forward or ends.

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};
use proptest::prelude::*;

use super::properties::weekdays;
use super::{SeriesPosition, next_due};
use crate::domain::{Anchor, Frequency, Recurrence, Weekday};

pub(super) fn any_zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(TZ_VARIANTS.to_vec())
}

pub(super) fn frequency() -> impl Strategy<Value = Frequency> {
    prop::sample::select(vec![
        Frequency::Daily,
        Frequency::Weekly,
        Frequency::Monthly,
        Frequency::Yearly,
    ])
}

/// Any instant chrono can represent, most often within a few years of either limit.
pub(super) fn extreme_instant() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) = (
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
    );
    let years = 4 * 366 * 86_400;
    prop_oneof![
        min..min + years,
        max - years..=max,
        min..=max,
        -2_208_988_800i64..7_289_654_400,
    ]
    .prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap_or_default())
}

/// Where the next occurrence must lie strictly after.
fn floor(rule: &Recurrence, position: &SeriesPosition) -> DateTime<Utc> {
    match (rule.anchor, position.due) {
        (Anchor::Due, Some(due)) => due,
        _ => position.completed_at,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Any rule, even one validation would refuse (interval 0 or 4 billion), in any zone, at
    /// any representable instant: no panic, and an answer is strictly later than the due
    /// time or completion it follows, within `until` and `count`.
    #[test]
    fn extreme_inputs_never_panic_and_only_move_forward(
        frequency in frequency(),
        interval in prop_oneof![Just(0u32), Just(1), Just(u32::MAX), any::<u32>()],
        bits in any::<u8>(),
        until in prop::option::of(extreme_instant()),
        count in prop::option::of(prop_oneof![Just(0u32), Just(1), Just(u32::MAX), any::<u32>()]),
        mode in prop::sample::select(vec![Anchor::Due, Anchor::Completion]),
        tz in any_zone(),
        anchor in prop::option::of(extreme_instant()),
        due in prop::option::of(extreme_instant()),
        completed_at in extreme_instant(),
        occurrence in prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()],
    ) {
        let rule = Recurrence { frequency, interval, weekdays: weekdays(bits & 0x7f), until, count, anchor: mode, ..Recurrence::plain(frequency) };
        let position = SeriesPosition { anchor, due, completed_at, occurrence };
        if let Some(next) = next_due(&rule, tz, &position) {
            prop_assert!(next > floor(&rule, &position), "{} after {:?}", next, position);
            prop_assert!(until.is_none_or(|until| next <= until));
            prop_assert!(count.is_none_or(|count| occurrence < count));
        }
    }

    /// Followed step by step in any zone from near either limit of chrono's range, every
    /// occurrence is strictly later than the one before, until the series ends.
    #[test]
    fn series_near_the_limits_only_move_forward(
        frequency in frequency(),
        interval in prop_oneof![1u32..=3, Just(Recurrence::MAX_INTERVAL as u32)],
        bits in 1u8..128,
        tz in any_zone(),
        first in extreme_instant(),
        lateness in prop_oneof![Just(0i64), -86_400i64..86_400 * 400],
        mode in prop::sample::select(vec![Anchor::Due, Anchor::Completion]),
    ) {
        let days = if frequency == Frequency::Weekly { weekdays(bits) } else { vec![] };
        let rule = Recurrence { frequency, interval, weekdays: days, until: None, count: None, anchor: mode, ..Recurrence::plain(frequency) };
        let mut position = SeriesPosition { anchor: Some(first), due: Some(first), completed_at: first, occurrence: 1 };
        for _ in 0..12 {
            let Some(completed_at) = position.due.and_then(|d| d.checked_add_signed(TimeDelta::seconds(lateness))) else { break };
            position.completed_at = completed_at;
            let Some(next) = next_due(&rule, tz, &position) else { break };
            prop_assert!(next > floor(&rule, &position));
            if let Some(due) = position.due {
                prop_assert!(next > due || rule.anchor == Anchor::Completion, "{} after {}", next, due);
            }
            position = SeriesPosition { due: Some(next), occurrence: position.occurrence.saturating_add(1), ..position };
        }
    }

    /// `count` and `until` are exact: the N-th occurrence is the last one of a series with
    /// count N, and an `until` equal to the next due time still includes it, one
    /// nanosecond earlier excludes it.
    #[test]
    fn count_and_until_edges_are_exact(
        frequency in frequency(),
        interval in 1u32..=5,
        tz in any_zone(),
        first in -2_208_988_800i64..7_289_654_400,
        occurrence in 1u32..=100_000,
    ) {
        let first = DateTime::from_timestamp(first, 0).unwrap_or_default();
        let open = Recurrence { frequency, interval, weekdays: vec![], until: None, count: None, anchor: Anchor::Due, ..Recurrence::plain(frequency) };
        let position = SeriesPosition { anchor: Some(first), due: Some(first), completed_at: first, occurrence };
        let next = next_due(&open, tz, &position).expect("an open series continues");
        let with = |count: Option<u32>, until: Option<DateTime<Utc>>| {
            next_due(&Recurrence { count, until, ..open.clone() }, tz, &position)
        };
        prop_assert_eq!(with(Some(occurrence), None), None);
        prop_assert_eq!(with(Some(occurrence + 1), None), Some(next));
        prop_assert_eq!(with(None, Some(next)), Some(next));
        prop_assert_eq!(with(None, Some(next - TimeDelta::nanoseconds(1))), None);
        prop_assert_eq!(with(Some(occurrence + 1), Some(next)), Some(next));
    }
}

/// Every zone chrono-tz knows, from both ends of the years the API accepts (1 to 9999) and
/// across the years where zones changed their rules: a few steps of each kind of rule only
/// ever move forward.
#[test]
fn every_zone_steps_forward_from_both_ends_of_the_range() {
    let rules = [
        (Frequency::Daily, 1, vec![]),
        (Frequency::Weekly, 1, vec![Weekday::Monday, Weekday::Sunday]),
        (Frequency::Weekly, 1000, vec![Weekday::Wednesday]),
        (Frequency::Monthly, 1, vec![]),
        (Frequency::Yearly, 1000, vec![]),
    ];
    let starts = [
        // 0001-01-01T00:00:00Z
        DateTime::from_timestamp(-62_135_596_800, 0).unwrap_or_default(),
        DateTime::from_timestamp(-2_208_988_800, 0).unwrap_or_default(),
        DateTime::from_timestamp(1_301_184_000, 0).unwrap_or_default(),
        DateTime::from_timestamp(1_325_203_200, 0).unwrap_or_default(),
        // 40 days before 9999-12-31T23:59:59Z
        DateTime::from_timestamp(253_402_300_799, 0).unwrap_or_default() - TimeDelta::days(40),
    ];
    let mut steps = 0usize;
    for tz in TZ_VARIANTS {
        for (frequency, interval, days) in &rules {
            let rule = Recurrence {
                frequency: *frequency,
                interval: *interval,
                weekdays: days.clone(),
                until: None,
                count: None,
                anchor: Anchor::Due,
                ..Recurrence::plain(*frequency)
            };
            for first in starts {
                let mut due = first;
                for occurrence in 1..=4 {
                    let position = SeriesPosition {
                        anchor: Some(first),
                        due: Some(due),
                        completed_at: due,
                        occurrence,
                    };
                    let Some(next) = next_due(&rule, tz, &position) else {
                        break;
                    };
                    assert!(next > due, "{tz}: {next} after {due} ({rule:?})");
                    due = next;
                    steps += 1;
                }
            }
        }
    }
    // Most series continue: the calendar's end only stops those that would pass 9999.
    assert!(
        steps > TZ_VARIANTS.len() * rules.len() * 3 * 4,
        "{steps} steps"
    );
}
