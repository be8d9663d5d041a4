//! Insights: a window of a user's history summarised in days of a time zone. The store counts
//! entries per quarter of an hour (every time zone's offset is a whole number of quarters), so
//! the days can be told apart here, in any zone, from a few thousand counts at most.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;

/// The width of the store's buckets, in microseconds (15 minutes).
pub const BUCKET_US: i64 = 15 * 60 * 1_000_000;

/// Counts of one quarter of an hour: entries of the window, and completions on time or late.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    /// The bucket's number: its start is `bucket * BUCKET_US` microseconds since the epoch.
    pub bucket: i64,
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

fn local_date(bucket: i64, tz: Tz) -> Option<NaiveDate> {
    let start = DateTime::<Utc>::from_timestamp_micros(bucket.checked_mul(BUCKET_US)?)?;
    Some(start.with_timezone(&tz).date_naive())
}

/// The longest run of consecutive dates, and the run that ends on `last` (or the day before
/// when `last` has none).
fn streaks(dates: &BTreeSet<NaiveDate>, last: NaiveDate) -> (i64, i64) {
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
    if !dates.contains(&end) {
        end = end.pred_opt().unwrap_or(end);
    }
    let mut current = 0;
    while dates.contains(&end) {
        current += 1;
        match end.pred_opt() {
            Some(day) => end = day,
            None => break,
        }
    }
    (current, longest)
}

/// The insights of the window `[start, end)` in `tz`, from the window's buckets, the buckets
/// of every completion up to `end` (for the streaks) and the count of overdue tasks.
pub fn summarise(
    window: &[Bucket],
    completions: &[Bucket],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    tz: Tz,
    overdue: i64,
) -> Insights {
    let first = start.with_timezone(&tz).date_naive();
    // The last day the window touches (its end is exclusive).
    let last = (end - Duration::microseconds(1))
        .with_timezone(&tz)
        .date_naive()
        .max(first);
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
    for bucket in window {
        let Some(date) = local_date(bucket.bucket, tz) else {
            continue;
        };
        if let Some(day) = days.get_mut(&date) {
            day.created += bucket.created;
            day.completed += bucket.completed;
        }
        insights.created += bucket.created;
        insights.completed += bucket.completed;
        insights.completed_on_time += bucket.on_time;
        insights.completed_late += bucket.late;
        by_weekday[date.weekday().num_days_from_monday() as usize] += bucket.completed;
    }
    insights.completed_without_due_time =
        insights.completed - insights.completed_on_time - insights.completed_late;
    let busiest = by_weekday
        .iter()
        .enumerate()
        .max_by_key(|(i, n)| (**n, std::cmp::Reverse(*i)));
    insights.busiest_weekday = match busiest {
        Some((i, n)) if *n > 0 => Weekday::try_from(i as u8).ok(),
        _ => None,
    };
    let completed_days: BTreeSet<NaiveDate> = completions
        .iter()
        .filter(|b| b.completed > 0)
        .filter_map(|b| local_date(b.bucket, tz))
        .collect();
    (insights.current_streak_days, insights.longest_streak_days) = streaks(&completed_days, last);
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

    fn completion(rfc3339: &str) -> Bucket {
        Bucket {
            bucket: at(rfc3339).timestamp_micros().div_euclid(BUCKET_US),
            completed: 1,
            ..Bucket::default()
        }
    }

    #[test]
    fn days_are_counted_in_the_time_zone() {
        // 23:30 UTC on Dec 1 is Dec 2 in Berlin, and 05:15 in Kolkata (+05:30) on Dec 2.
        let late = completion("2026-12-01T23:30:00Z");
        let berlin: Tz = "Europe/Berlin".parse().expect("a zone");
        let kolkata: Tz = "Asia/Kolkata".parse().expect("a zone");
        let (start, end) = (at("2026-12-01T00:00:00Z"), at("2026-12-03T00:00:00Z"));
        let utc = summarise(&[late], &[late], start, end, Tz::UTC, 0);
        assert_eq!(utc.days.len(), 2);
        assert_eq!(utc.days[0].completed, 1);
        let local = summarise(&[late], &[late], start, end, berlin, 0);
        assert_eq!(local.days[0].date.to_string(), "2026-12-01");
        assert_eq!(local.days[1].completed, 1, "{:?}", local.days);
        let india = summarise(&[late], &[late], start, end, kolkata, 0);
        let completed_on = india.days.iter().find(|d| d.completed == 1).expect("a day");
        assert_eq!(completed_on.date.to_string(), "2026-12-02");
        assert_eq!(india.busiest_weekday, Some(Weekday::Wed));
    }

    #[test]
    fn streaks_count_consecutive_days_and_survive_an_empty_today() {
        let done: Vec<Bucket> = [
            "2026-11-20T10:00:00Z",
            "2026-11-21T10:00:00Z",
            "2026-11-22T10:00:00Z",
            "2026-11-23T10:00:00Z",
            "2026-11-28T10:00:00Z",
            "2026-11-29T10:00:00Z",
            "2026-11-29T18:00:00Z",
        ]
        .into_iter()
        .map(completion)
        .collect();
        let end = at("2026-11-30T12:00:00Z");
        let insights = summarise(&[], &done, at("2026-11-01T00:00:00Z"), end, Tz::UTC, 3);
        assert_eq!(insights.longest_streak_days, 4);
        assert_eq!(insights.current_streak_days, 2, "today has none yet");
        assert_eq!(insights.overdue, 3);
        let broken = summarise(
            &[],
            &done,
            at("2026-11-01T00:00:00Z"),
            at("2026-12-02T12:00:00Z"),
            Tz::UTC,
            0,
        );
        assert_eq!(broken.current_streak_days, 0);
        assert_eq!(broken.days.len(), 32);
    }

    #[test]
    fn on_time_late_and_without_due_time_add_up() {
        let bucket = Bucket {
            bucket: at("2026-11-30T10:00:00Z").timestamp_micros() / BUCKET_US,
            created: 2,
            completed: 5,
            on_time: 2,
            late: 1,
        };
        let insights = summarise(
            &[bucket],
            &[bucket],
            at("2026-11-30T00:00:00Z"),
            at("2026-12-01T00:00:00Z"),
            Tz::UTC,
            0,
        );
        assert_eq!(
            (
                insights.created,
                insights.completed,
                insights.completed_on_time,
                insights.completed_late,
                insights.completed_without_due_time
            ),
            (2, 5, 2, 1, 2)
        );
        assert_eq!(insights.busiest_weekday, Some(Weekday::Mon));
    }
}
