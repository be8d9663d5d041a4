//! A user's history counted per local day, for the insights.
//!
//! The quarter-aligned middle of the window is read from `activity_days`: one row per UTC day,
//! and of each row only the running totals at the quarters where something changes — a local
//! day begins (under each offset the zone has in the window), the offset changes, the window
//! begins or ends. Between two such quarters every quarter has the same local day, and its
//! counts are the difference of two totals. The bits before the first and after the last whole
//! quarter (under a quarter of an hour each) are counted from the entries themselves.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{ConnectionTrait, DbErr, QueryResult, Statement, Value};

use super::activity_days::{
    COUNTS, QUARTER_US, QUARTERS, Tally, column, day_and_quarter, placeholder,
};
use crate::domain::{DAY_US, DayRow, OffsetSpan, UserId, local_day};
use crate::error::AppError;

fn ceil_quarter(us: i64) -> i64 {
    us + (QUARTER_US - us.rem_euclid(QUARTER_US)) % QUARTER_US
}

fn floor_quarter(us: i64) -> i64 {
    us - us.rem_euclid(QUARTER_US)
}

/// The quarters of a day (1 to 96) at which the counts of `[from_us, to_us)` (both whole
/// quarters) are cut: where a local day begins under each offset of `spans`, where an offset
/// begins, where the window begins and ends, and the day's end. Within a UTC day, the quarters
/// between two cuts all have one local day.
fn cuts(spans: &[OffsetSpan], from_us: i64, to_us: i64) -> Vec<usize> {
    let mut cuts = BTreeSet::from([QUARTERS]);
    let mut cut_at = |us: i64| {
        let (_, quarter) = day_and_quarter(ceil_quarter(us));
        if quarter > 0 {
            cuts.insert(quarter);
        }
    };
    cut_at(from_us);
    cut_at(to_us);
    for span in spans {
        cut_at(span.from_us);
        // Local midnight under this offset, as a time of the UTC day.
        cut_at((-span.offset_us).rem_euclid(DAY_US));
    }
    cuts.into_iter().collect()
}

/// The running totals of a row at each cut, in the order of the cuts (after the row's day and
/// what it counts).
fn totals(row: &QueryResult, cuts: usize) -> Result<Vec<i64>, DbErr> {
    (0..cuts)
        .map(|i| row.try_get_by_index::<i32>(2 + i).map(i64::from))
        .collect()
}

/// Adds the counts of `[from_us, to_us)` (both whole quarters) from `activity_days`.
async fn from_days(
    conn: &impl ConnectionTrait,
    user: &UserId,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
    days: &mut BTreeMap<i64, Tally>,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let cuts = cuts(spans, from_us, to_us);
    let columns: Vec<String> = cuts.iter().map(|&k| column(k)).collect();
    let sql = format!(
        "SELECT day_us, counted, {} FROM activity_days WHERE user_id = {} AND day_us >= {} \
         AND day_us < {}",
        columns.join(", "),
        placeholder(backend, 1),
        placeholder(backend, 2),
        placeholder(backend, 3),
    );
    let (first_day, _) = day_and_quarter(from_us);
    let values: [Value; 3] = [user.as_str().into(), first_day.into(), to_us.into()];
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    for row in &rows {
        let day: i64 = row.try_get_by_index(0)?;
        let counted: i16 = row.try_get_by_index(1)?;
        let Some(count) = usize::try_from(counted).ok().filter(|&c| c < COUNTS) else {
            continue;
        };
        let totals = totals(row, cuts.len())?;
        let mut before = (0, 0);
        for (&cut, &total) in cuts.iter().zip(&totals) {
            let (start, end) = (
                day + before.0 as i64 * QUARTER_US,
                day + cut as i64 * QUARTER_US,
            );
            let n = total - before.1;
            if start >= from_us && end <= to_us && n != 0 {
                *days
                    .entry(local_day(spans, start))
                    .or_default()
                    .get_mut(count) += n;
            }
            before = (cut, total);
        }
    }
    Ok(())
}

/// Adds the counts of the entries in `ranges` (each `[from, to)`, under a quarter long).
async fn from_entries(
    conn: &impl ConnectionTrait,
    user: &UserId,
    ranges: &[(i64, i64)],
    spans: &[OffsetSpan],
    days: &mut BTreeMap<i64, Tally>,
) -> Result<(), DbErr> {
    if ranges.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let created = crate::domain::ActivityKind::TaskCreated.number();
    let completed = crate::domain::ActivityKind::TaskCompleted.number();
    let mut values: Vec<Value> = vec![user.as_str().into()];
    // One SELECT per range: each bounds the index scan by itself (an OR of the ranges would
    // leave a prepared statement's generic plan to read all of the user's entries).
    let mut parts = Vec::new();
    for &(from, to) in ranges {
        values.push(from.into());
        values.push(to.into());
        parts.push(format!(
            "SELECT kind, occur_us, due_us FROM activities WHERE user_id = {} \
             AND kind IN ({created}, {completed}) AND occur_us >= {} AND occur_us < {}",
            placeholder(backend, 1),
            placeholder(backend, values.len() - 1),
            placeholder(backend, values.len())
        ));
    }
    let sql = parts.join(" UNION ALL ");
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    for row in &rows {
        let kind: i16 = row.try_get("", "kind")?;
        let occur_us: i64 = row.try_get("", "occur_us")?;
        let due_us: Option<i64> = row.try_get("", "due_us")?;
        days.entry(local_day(spans, occur_us))
            .or_default()
            .add(&Tally::of(kind, occur_us, due_us));
    }
    Ok(())
}

/// The user's entries of `[from_us, to_us)` counted per local day (`spans` cover the window):
/// tasks created, completions, and of those the ones on time or late (against the due time
/// they had then). One row per day with something counted, in order of the days.
pub async fn day_counts(
    conn: &impl ConnectionTrait,
    user: &UserId,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
) -> Result<Vec<DayRow>, AppError> {
    let mid_from = Ord::min(ceil_quarter(from_us), to_us);
    let mid_to = Ord::max(floor_quarter(to_us), mid_from);
    let mut days = BTreeMap::new();
    if mid_from < mid_to {
        from_days(conn, user, mid_from, mid_to, spans, &mut days).await?;
    }
    let mut ends = Vec::new();
    if from_us < mid_from {
        ends.push((from_us, mid_from));
    }
    if mid_to < to_us {
        ends.push((Ord::max(mid_to, from_us), to_us));
    }
    from_entries(conn, user, &ends, spans, &mut days).await?;
    Ok(days
        .into_iter()
        .filter(|(_, tally)| !tally.is_zero())
        .map(|(day, tally)| DayRow {
            day,
            created: tally.created,
            completed: tally.completed,
            on_time: tally.on_time,
            late: tally.late,
        })
        .collect())
}

/// The local days of `[from_us, to_us)` (`spans` cover it) on which the user completed
/// something.
pub async fn completion_days(
    conn: &impl ConnectionTrait,
    user: &UserId,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
) -> Result<Vec<i64>, AppError> {
    Ok(day_counts(conn, user, from_us, to_us, spans)
        .await?
        .into_iter()
        .filter(|d| d.completed > 0)
        .map(|d| d.day)
        .collect())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use chrono_tz::Tz;

    use super::*;
    use crate::domain::offset_spans;

    /// Every quarter of `[from, to)`, walked one by one: where its local day differs from the
    /// previous quarter's within a UTC day, `cuts` must have a cut.
    fn assert_cut_where_the_day_changes(what: &str, spans: &[OffsetSpan], from: i64, to: i64) {
        let cuts = cuts(spans, from, to);
        let mut at = from;
        while at + QUARTER_US < to {
            let next = at + QUARTER_US;
            let (day, quarter) = day_and_quarter(next);
            let (previous_day, _) = day_and_quarter(at);
            if day == previous_day && local_day(spans, next) != local_day(spans, at) {
                assert!(
                    cuts.contains(&quarter),
                    "{what}: no cut at quarter {quarter} of day {day}"
                );
            }
            at = next;
        }
        assert_eq!(cuts.last(), Some(&QUARTERS));
        assert!(cuts.len() <= 3 + 2 * spans.len(), "{what}: {cuts:?}");
    }

    /// Clocks going back across midnight (00:30 to 23:30 at 23:30 UTC): the local day goes
    /// back where the offset changes, which no midnight of either offset marks.
    #[test]
    fn a_change_of_offset_across_midnight_is_cut() {
        let day = 20_000 * DAY_US;
        let change = day + 94 * QUARTER_US;
        let spans = [
            OffsetSpan {
                from_us: day,
                offset_us: 3_600_000_000,
            },
            OffsetSpan {
                from_us: change,
                offset_us: 0,
            },
        ];
        assert!(cuts(&spans, day, day + 2 * DAY_US).contains(&94));
        assert_cut_where_the_day_changes("synthetic", &spans, day, day + 2 * DAY_US);
    }

    #[test]
    fn the_cuts_keep_each_stretch_in_one_local_day() {
        let windows = [
            ("2025-12-05T10:07:13Z", 365),
            ("2026-03-20T00:00:00Z", 40),
            ("2026-10-20T23:59:59Z", 20),
            ("1971-06-01T00:00:00Z", 400),
        ];
        for zone in [
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "Asia/Kathmandu",
            "Australia/Lord_Howe",
            "Pacific/Chatham",
            "America/St_Johns",
            "Africa/Monrovia",
            "Pacific/Kiritimati",
            "Pacific/Pago_Pago",
            "America/Santiago",
            "America/Havana",
            "Asia/Beirut",
            "UTC",
        ] {
            let tz: Tz = zone.parse().expect("a zone");
            for (start, days) in windows {
                let start: DateTime<Utc> = start.parse().expect("a time");
                let end = start + Duration::days(days);
                let spans = offset_spans(tz, start, end);
                let (from, to) = (
                    ceil_quarter(start.timestamp_micros()),
                    floor_quarter(end.timestamp_micros()),
                );
                assert_cut_where_the_day_changes(zone, &spans, from, to);
            }
        }
    }
}
