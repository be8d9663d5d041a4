//! Insights: a window of a user's history summarised in days of a time zone. The store counts
//! entries per local day from running totals kept per UTC day — the window is cut where the
//! zone's UTC offset changes and where its days begin — so a year is a few hundred rows,
//! whatever the zone.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;

/// Microseconds in a day.
pub const DAY_US: i64 = 86_400_000_000;

/// A stretch of time in which the zone's UTC offset is `offset_us`, from `from_us` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetSpan {
    pub from_us: i64,
    pub offset_us: i64,
}

/// The local day (days since 1970-01-01) of the instant `us` under `spans`: shifted by the
/// offset of the last span begun by then (the first span's before any began).
pub fn local_day(spans: &[OffsetSpan], us: i64) -> i64 {
    let offset = spans
        .iter()
        .rev()
        .find(|s| s.from_us <= us)
        .or(spans.first())
        .map_or(0, |s| s.offset_us);
    (us + offset).div_euclid(DAY_US)
}

/// The counts of one local day, as the store returns them: `day` is the local date's number
/// of days since 1970-01-01.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayRow {
    pub day: i64,
    pub created: i64,
    pub completed: i64,
    pub on_time: i64,
    pub late: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayCount {
    pub date: NaiveDate,
    pub created: i64,
    pub completed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Insights {
    pub days: Vec<DayCount>,
    pub created: i64,
    pub completed: i64,
    pub completed_on_time: i64,
    pub completed_late: i64,
    pub completed_without_due_time: i64,
    pub overdue: i64,
    pub current_streak_days: i64,
    pub longest_streak_days: i64,
    pub busiest_weekday: Option<Weekday>,
}

fn offset_us(tz: Tz, at: DateTime<Utc>) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc(),
    ) * 1_000_000
}

/// The spans of `[start, end)` in which `tz` keeps one offset, in order. Offsets change at
/// most a few times a year, on quarter-hour boundaries: the window is walked a day at a time,
/// and a change found is narrowed down to its quarter of an hour.
pub fn offset_spans(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<OffsetSpan> {
    let mut spans = vec![OffsetSpan {
        from_us: start.timestamp_micros(),
        offset_us: offset_us(tz, start),
    }];
    let mut at = start;
    while at < end {
        let next = (at + Duration::days(1)).min(end);
        let current = spans.last().map_or(0, |s| s.offset_us);
        if offset_us(tz, next) != current || next == end {
            // Find each change within (at, next], to the quarter of an hour.
            let mut quarter = at + Duration::minutes(15);
            while quarter <= next && quarter < end {
                let offset = offset_us(tz, quarter);
                if spans.last().is_some_and(|s| s.offset_us != offset) {
                    spans.push(OffsetSpan {
                        from_us: quarter.timestamp_micros(),
                        offset_us: offset,
                    });
                }
                quarter += Duration::minutes(15);
            }
        }
        at = next;
    }
    spans
}

fn date_of(day: i64) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(1970, 1, 1)?.checked_add_signed(Duration::try_days(day)?)
}

/// The longest run of consecutive days in `dates`, and the run that ends on `last` (or the day
/// before, when `last` has none).
fn streaks(dates: &[NaiveDate], last: NaiveDate) -> (i64, i64) {
    let mut longest = 0;
    let mut run = 0;
    let mut previous: Option<NaiveDate> = None;
    for date in dates.iter().filter(|d| **d <= last) {
        run = match previous {
            Some(p) if p.succ_opt() == Some(*date) => run + 1,
            _ => 1,
        };
        longest = longest.max(run);
        previous = Some(*date);
    }
    let mut end = last;
    if dates.binary_search(&end).is_err() {
        end = end.pred_opt().unwrap_or(end);
    }
    let mut current = 0;
    while dates.binary_search(&end).is_ok() {
        current += 1;
        match end.pred_opt() {
            Some(day) => end = day,
            None => break,
        }
    }
    (current, longest)
}

/// The local dates of `[start, end)` in `tz`, first and last.
pub fn window_dates(tz: Tz, start: DateTime<Utc>, end: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let first = start.with_timezone(&tz).date_naive();
    let last = (end - Duration::microseconds(1))
        .with_timezone(&tz)
        .date_naive()
        .max(first);
    (first, last)
}

/// The insights of the window `[start, end)` in `tz` from its day rows, the days with a
/// completion before the window (newest first, for a current streak that started before
/// it), and the count of overdue tasks. The longest streak is the window's.
pub fn summarise(
    rows: &[DayRow],
    earlier_days: &[i64],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    overdue: i64,
) -> Insights {
    let (first, last) = window_dates(tz, start, end);
    let mut days: BTreeMap<NaiveDate, DayCount> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| {
            (
                date,
                DayCount {
                    date,
                    ..DayCount::default()
                },
            )
        })
        .collect();
    let mut insights = Insights {
        overdue,
        ..Insights::default()
    };
    let mut by_weekday = [0i64; 7];
    let mut completed_dates = Vec::new();
    for row in rows {
        let Some(date) = date_of(row.day) else {
            continue;
        };
        let Some(day) = days.get_mut(&date) else {
            continue;
        };
        day.created += row.created;
        day.completed += row.completed;
        insights.created += row.created;
        insights.completed += row.completed;
        insights.completed_on_time += row.on_time;
        insights.completed_late += row.late;
        by_weekday[date.weekday().num_days_from_monday() as usize] += row.completed;
        if row.completed > 0 {
            completed_dates.push(date);
        }
    }
    insights.completed_without_due_time =
        insights.completed - insights.completed_on_time - insights.completed_late;
    let busiest = by_weekday
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)));
    insights.busiest_weekday = match busiest {
        Some((i, n)) if *n > 0 => u8::try_from(i).ok().and_then(|i| Weekday::try_from(i).ok()),
        _ => None,
    };
    completed_dates.sort();
    insights.longest_streak_days = streaks(&completed_dates, last).1;
    // The current streak may reach back before the window.
    let mut all = completed_dates;
    all.extend(earlier_days.iter().filter_map(|d| date_of(*d)));
    all.sort();
    all.dedup();
    insights.current_streak_days = streaks(&all, last).0;
    insights.days = days.into_values().collect();
    insights
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339)
            .expect("a time")
            .with_timezone(&Utc)
    }

    fn day_of(spans: &[OffsetSpan], when: DateTime<Utc>) -> i64 {
        local_day(spans, when.timestamp_micros())
    }

    #[test]
    fn spans_follow_daylight_saving_time_to_the_quarter_hour() {
        let berlin: Tz = "Europe/Berlin".parse().expect("a zone");
        let spans = offset_spans(
            berlin,
            at("2026-01-01T00:00:00Z"),
            at("2027-01-01T00:00:00Z"),
        );
        assert_eq!(spans.len(), 3, "{spans:?}");
        assert_eq!(
            spans[1].from_us,
            at("2026-03-29T01:00:00Z").timestamp_micros()
        );
        assert_eq!(spans[1].offset_us, 2 * 3_600_000_000);
        assert_eq!(
            spans[2].from_us,
            at("2026-10-25T01:00:00Z").timestamp_micros()
        );
        let lord_howe: Tz = "Australia/Lord_Howe".parse().expect("a zone");
        let spans = offset_spans(
            lord_howe,
            at("2026-01-01T00:00:00Z"),
            at("2027-01-01T00:00:00Z"),
        );
        assert!(
            spans
                .iter()
                .any(|s| s.offset_us == 10 * 3_600_000_000 + 1_800_000_000)
        );
        // Every instant of the year falls on the local date chrono gives it.
        let kathmandu: Tz = "Asia/Kathmandu".parse().expect("a zone");
        for zone in [berlin, lord_howe, kathmandu, Tz::America__St_Johns] {
            let (start, end) = (at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"));
            let spans = offset_spans(zone, start, end);
            let mut when = start;
            while when < end {
                let expected = when.with_timezone(&zone).date_naive();
                assert_eq!(
                    date_of(day_of(&spans, when)),
                    Some(expected),
                    "{zone} {when}"
                );
                when += Duration::minutes(15);
            }
        }
    }

    #[test]
    fn days_weekdays_and_totals() {
        let day = |date: &str| {
            (NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("a date")
                - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch"))
            .num_days()
        };
        let rows = [
            DayRow {
                day: day("2026-11-30"),
                created: 2,
                completed: 5,
                on_time: 2,
                late: 1,
            },
            DayRow {
                day: day("2026-11-29"),
                completed: 1,
                ..DayRow::default()
            },
        ];
        let insights = summarise(
            &rows,
            &[day("2026-11-28"), day("2026-11-20")],
            at("2026-11-29T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
            Tz::UTC,
            3,
        );
        assert_eq!(insights.days.len(), 2);
        assert_eq!(
            (
                insights.created,
                insights.completed,
                insights.completed_on_time,
                insights.completed_late,
                insights.completed_without_due_time,
                insights.overdue
            ),
            (2, 6, 2, 1, 3, 3)
        );
        assert_eq!(insights.busiest_weekday, Some(Weekday::Mon));
        assert_eq!(insights.longest_streak_days, 2, "in the window");
        assert_eq!(insights.current_streak_days, 3, "back into the 28th");
    }

    #[test]
    fn a_current_streak_survives_an_empty_last_day_and_breaks_on_a_gap() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date");
        let dates = [d("2026-11-20"), d("2026-11-21"), d("2026-11-29")];
        assert_eq!(streaks(&dates, d("2026-11-30")), (1, 2));
        assert_eq!(streaks(&dates, d("2026-12-01")), (0, 2));
    }
}
