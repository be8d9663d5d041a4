//! Random recurrence rules of every shape, for property tests.

use chrono::DateTime;
use proptest::prelude::*;

use super::{Anchor, Frequency, Missed, Recurrence, RuleParts, Weekday};

fn weekday() -> impl Strategy<Value = Weekday> {
    prop::sample::select(Weekday::ALL.to_vec())
}

/// Weekday ordinals: mostly within a month, 0 (every such day) often.
fn ordinal(yearly_range: bool) -> impl Strategy<Value = i64> {
    let max: i64 = if yearly_range { 53 } else { 5 };
    prop_oneof![2 => Just(0i64), 3 => -5i64..=5, 1 => -max..=max]
}

fn signed(max: i64) -> impl Strategy<Value = i64> {
    prop_oneof![1..=max, -max..=-1]
}

/// The BY parts of a monthly or yearly rule: each present about half of the time.
fn month_parts(yearly: bool) -> impl Strategy<Value = RuleParts> {
    (
        prop::option::of(prop::collection::vec(1i64..=12, 1..=3)),
        prop::option::of(prop::collection::vec((any::<bool>(), weekday()), 1..=3)),
        prop::option::of(prop::collection::vec(signed(31), 1..=3)),
        prop::option::of(prop::collection::vec(signed(6), 1..=2)),
        -53i64..=53,
    )
        .prop_flat_map(move |(months, days, month_days, positions, wide)| {
            let with_months = months.is_some();
            let days = days.unwrap_or_default();
            (
                Just(months),
                prop::collection::vec(ordinal(yearly && !with_months), days.len()),
                Just(days),
                Just(month_days),
                Just(positions),
                Just(wide),
            )
        })
        .prop_map(
            move |(months, ordinals, days, month_days, positions, wide)| {
                let frequency = if yearly {
                    Frequency::Yearly
                } else {
                    Frequency::Monthly
                };
                let by_weekday = days
                    .iter()
                    .zip(ordinals)
                    .map(|(&(use_wide, day), n)| {
                        let n = if use_wide && yearly && months.is_none() {
                            wide
                        } else {
                            n
                        };
                        (n, day)
                    })
                    .collect();
                RuleParts {
                    months: months.unwrap_or_default(),
                    by_weekday,
                    month_days: month_days.unwrap_or_default(),
                    set_positions: positions.unwrap_or_default(),
                    ..RuleParts::new(frequency)
                }
            },
        )
}

fn ends() -> impl Strategy<Value = (Option<i64>, Option<i64>)> {
    prop_oneof![
        3 => Just((None, None)),
        1 => (1i64..=20).prop_map(|c| (Some(c), None)),
        1 => (0i64..4_000_000_000).prop_map(|s| (None, Some(s))),
    ]
}

/// Any valid rule: every frequency, weekly weekdays, monthly and yearly BY parts (or none),
/// `count` or `until` (at a whole second) or neither, either anchor and missed choice.
pub(crate) fn any_rule() -> impl Strategy<Value = Recurrence> {
    let shape = prop_oneof![
        Just(RuleParts::new(Frequency::Daily)),
        prop::collection::vec(weekday(), 0..=7).prop_map(|weekdays| RuleParts {
            weekdays,
            ..RuleParts::new(Frequency::Weekly)
        }),
        Just(RuleParts::new(Frequency::Monthly)),
        Just(RuleParts::new(Frequency::Yearly)),
        month_parts(false),
        month_parts(true),
    ];
    (
        shape,
        prop_oneof![3 => 1i64..=4, 1 => 1i64..=Recurrence::MAX_INTERVAL],
        ends(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_filter_map(
            "valid rules only",
            |(parts, interval, (count, until), completion, skip)| {
                RuleParts {
                    interval: Some(interval),
                    count,
                    until: until.and_then(|s| DateTime::from_timestamp(s, 0)),
                    anchor: if completion {
                        Anchor::Completion
                    } else {
                        Anchor::Due
                    },
                    missed: if skip { Missed::Skip } else { Missed::Keep },
                    ..parts
                }
                .validate()
                .ok()
            },
        )
}
