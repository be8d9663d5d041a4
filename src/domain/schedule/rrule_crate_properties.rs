//! The schedule's dates against an independent RRULE implementation, the `rrule` crate: for
//! random rules, time zones and first due times, the rule as taskflow writes it
//! (`render_rrule`, with DTSTART the series' first due time) expands there to exactly the
//! dates taskflow gives when each occurrence is completed on time; and a late completion of a
//! rule that skips missed occurrences leads to the first of those dates after it, at its
//! position in that list.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::{SeriesPosition, local_date, next_occurrence};
use crate::domain::recurrence::strategies::any_rule;
use crate::domain::{Anchor, Missed, Recurrence, render_rrule};

/// Zones with daylight saving time in either hemisphere, half-hour offsets and none at all.
/// Their clock changes happen outside 06:00–21:00, the times of day used here: how a time in
/// a gap or a fold resolves is the schedule's own rule (see `dst_tests`), not RFC 5545's.
const ZONES: [Tz; 10] = [
    Tz::UTC,
    Tz::Europe__Berlin,
    Tz::Europe__London,
    Tz::America__New_York,
    Tz::America__Sao_Paulo,
    Tz::Australia__Sydney,
    Tz::Asia__Kolkata,
    Tz::Asia__Tokyo,
    Tz::Pacific__Auckland,
    Tz::America__St_Johns,
];

/// How many occurrences of each series are compared.
const OCCURRENCES: u16 = 12;

/// The dates the `rrule` crate expands `text` to from `start` (local time in `tz`), at most
/// `limit` of them, in years up to 9999.
fn reference(tz: Tz, start: DateTime<Utc>, text: &str, limit: u16) -> Vec<DateTime<Utc>> {
    let local = start.with_timezone(&tz).naive_local();
    let dtstart = if tz == Tz::UTC {
        format!("DTSTART:{}Z", local.format("%Y%m%dT%H%M%S"))
    } else {
        format!(
            "DTSTART;TZID={}:{}",
            tz.name(),
            local.format("%Y%m%dT%H%M%S")
        )
    };
    let set: rrule::RRuleSet = format!("{dtstart}\nRRULE:{text}")
        .parse()
        .unwrap_or_else(|err| panic!("the rrule crate reads {text}: {err}"));
    set.all(limit)
        .dates
        .into_iter()
        .map(|d| d.with_timezone(&Utc))
        .take_while(|d| d.format("%Y").to_string().len() == 4)
        .collect()
}

/// taskflow's series from `first`, each occurrence completed when due: at most `limit`.
fn ours(rule: &Recurrence, tz: Tz, first: DateTime<Utc>, limit: usize) -> Vec<DateTime<Utc>> {
    let mut dues = vec![first];
    let mut position = SeriesPosition {
        anchor: Some(first),
        due: Some(first),
        completed_at: first,
        occurrence: 1,
    };
    while dues.len() < limit {
        let Some(next) = next_occurrence(rule, tz, &position) else {
            break;
        };
        assert_eq!(next.occurrence, position.occurrence + 1);
        dues.push(next.due);
        position = SeriesPosition {
            due: Some(next.due),
            completed_at: next.due,
            occurrence: next.occurrence,
            ..position
        };
    }
    dues
}

fn start() -> impl Strategy<Value = (Tz, NaiveDate, NaiveTime)> {
    (
        prop::sample::select(ZONES.to_vec()),
        (1970i32..=2100, 1u32..=12, 1u32..=31),
        6u32..=20,
        0u32..60,
    )
        .prop_filter_map("a real date", |(tz, (y, m, d), hour, minute)| {
            Some((
                tz,
                NaiveDate::from_ymd_opt(y, m, d)?,
                NaiveTime::from_hms_opt(hour, minute, 0)?,
            ))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn dates_match_the_rrule_crate(
        rule in any_rule(),
        (tz, date, time) in start(),
        until_days in prop::option::of(0i64..3000),
        lateness in 0.0f64..1.0,
        late_index in 0usize..6,
    ) {
        // Where the rrule crate departs from RFC 5545, the rule is left to the worked examples
        // in `by_rules_tests`: it refuses the lowest ordinals (BYDAY=-5XX monthly, -53XX
        // yearly; it takes -4..=5 and -52..=53), and it keeps one entry per weekday, so
        // `BYDAY=MO,-1MO` (every Monday, the last one among them) loses the plain `MO`.
        prop_assume!(!rule.by_weekday.iter().any(|d| d.ordinal == -5
            && rule.frequency == crate::domain::Frequency::Monthly
            || d.ordinal == -53));
        prop_assume!(rule.by_weekday.iter().enumerate().all(|(i, d)| {
            rule.by_weekday[..i].iter().all(|e| e.day != d.day)
        }));
        let mut rule = Recurrence { anchor: Anchor::Due, missed: Missed::Keep, until: None, ..rule };
        let Some(start) = tz.from_local_datetime(&date.and_time(time)).single() else {
            return Err(TestCaseError::reject("not a single instant"));
        };
        let start = start.with_timezone(&Utc);
        // The series' first due time is the first date of the rule's expansion from `start`
        // (RFC 5545 counts DTSTART as the first occurrence; a DTSTART off the rule is
        // undefined there, and implementations differ).
        let open = Recurrence { count: None, ..rule.clone() };
        let open_text = render_rrule(&open, Some(date));
        let Some(&first) = reference(tz, start, &open_text, 1).first() else {
            return Err(TestCaseError::reject("no occurrence"));
        };
        if rule.count.is_none() {
            rule.until = until_days.map(|days| first + TimeDelta::days(days) + TimeDelta::hours(5));
        }
        let anchor_day = local_date(tz, first).expect("in range");
        let text = render_rrule(&rule, Some(anchor_day));
        let expected = reference(tz, first, &text, OCCURRENCES);
        let got = ours(&rule, tz, first, usize::from(OCCURRENCES));
        prop_assert_eq!(&got, &expected, "{} from {} in {}", text, first.with_timezone(&tz), tz);

        // Skipping: completed late, the first of those dates after the completion follows.
        if expected.len() >= 2 {
            let k = late_index % (expected.len() - 1);
            let span = (expected[expected.len() - 1] - expected[k]).num_seconds();
            // Truncation is intended: any second within the span.
            #[allow(clippy::cast_possible_truncation)]
            let completed_at = expected[k] + TimeDelta::seconds(((span as f64) * lateness) as i64 + 1);
            let skip = Recurrence { missed: Missed::Skip, ..rule.clone() };
            let position = SeriesPosition {
                anchor: Some(first),
                due: Some(expected[k]),
                completed_at,
                occurrence: u32::try_from(k + 1).expect("small"),
            };
            let next = next_occurrence(&skip, tz, &position);
            match expected.iter().position(|d| *d > completed_at) {
                Some(j) => {
                    let next = next.expect("the series continues");
                    prop_assert_eq!(next.due, expected[j], "{}", text);
                    prop_assert_eq!(next.occurrence, u32::try_from(j + 1).expect("small"));
                }
                None if expected.len() < usize::from(OCCURRENCES) => {
                    prop_assert_eq!(next, None, "the series ended: {}", text);
                }
                None => {}
            }
        }
    }
}
