//! A user's history counted per local day, for the insights: one statement per window.
//!
//! The whole quarters of an hour in the window are read from `activity_hours`; only the bits
//! before the first and after the last whole quarter (under a quarter of an hour each) from the
//! entries. When every offset in force is whole hours, an hour's quarters share its local day:
//! the hours wholly inside the window are read once each, and the (at most two) hours the
//! window's ends cut quarter by quarter. Other offsets (`+05:30`, `+05:45`) read every hour
//! quarter by quarter, still in one pass over the hours.

use sea_orm::{ConnectionTrait, DbErr, Statement};

use super::activity_hours::{HOUR_US, Params, QUARTER_US, local_day};
use crate::domain::{ActivityKind, DayRow, OffsetSpan, UserId};
use crate::error::AppError;

/// The four quarters of an hour as the microseconds they start at, joined to each hour read
/// quarter by quarter (a plain join: both databases take it).
const QUARTERS: &str = "(SELECT 0 AS q UNION ALL SELECT 900000000 UNION ALL SELECT 1800000000 \
                        UNION ALL SELECT 2700000000) AS qs";

/// `count` of the quarter `qs.q` of a row of `activity_hours`.
fn quarter_of(count: &str) -> String {
    let cases: Vec<String> = (0..4)
        .map(|q| format!("WHEN {} THEN {count}{q}", q * QUARTER_US))
        .collect();
    format!("CASE qs.q {} END", cases.join(" "))
}

/// The part of the statement reading the hours `[first_hour, to_us)` quarter by quarter,
/// keeping the quarters inside `[from_us, to_us)`; `hours` narrows the hours read.
fn by_quarter(
    user: &str,
    hours: &str,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
    params: &mut Params,
) -> String {
    let at = "(hour_us + qs.q)";
    let day = local_day(at, spans, params);
    let (from, to) = (params.int(from_us), params.int(to_us));
    format!(
        "SELECT {day} AS day, {} AS created, {} AS completed, {} AS on_time, {} AS late \
         FROM activity_hours CROSS JOIN {QUARTERS} \
         WHERE user_id = {user} AND {hours} AND {at} >= {from} AND {at} < {to}",
        quarter_of("created"),
        quarter_of("completed"),
        quarter_of("on_time"),
        quarter_of("late"),
    )
}

/// The parts reading `activity_hours` for `[from_us, to_us)`, both whole quarters.
fn hour_parts(
    user: &str,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
    params: &mut Params,
) -> Vec<String> {
    let first_hour = from_us - from_us.rem_euclid(HOUR_US);
    let whole_from = from_us + (HOUR_US - from_us.rem_euclid(HOUR_US)) % HOUR_US;
    let whole_to = to_us - to_us.rem_euclid(HOUR_US);
    let by_hour =
        spans.iter().all(|s| s.offset_us.rem_euclid(HOUR_US) == 0) && whole_from < whole_to;
    if !by_hour {
        let (lo, hi) = (params.int(first_hour), params.int(to_us));
        let hours = format!("hour_us >= {lo} AND hour_us < {hi}");
        return vec![by_quarter(user, &hours, from_us, to_us, spans, params)];
    }
    let sum = |count: &str| {
        (0..4)
            .map(|q| format!("{count}{q}"))
            .collect::<Vec<_>>()
            .join(" + ")
    };
    let day = local_day("hour_us", spans, params);
    let (lo, hi) = (params.int(whole_from), params.int(whole_to));
    let mut parts = vec![format!(
        "SELECT {day} AS day, {} AS created, {} AS completed, {} AS on_time, {} AS late \
         FROM activity_hours WHERE user_id = {user} AND hour_us >= {lo} AND hour_us < {hi}",
        sum("created"),
        sum("completed"),
        sum("on_time"),
        sum("late"),
    )];
    // The hours cut by the window's ends, each found by its key.
    let cut: Vec<i64> = [
        (from_us < whole_from, first_hour),
        (whole_to < to_us, whole_to),
    ]
    .into_iter()
    .filter_map(|(cut, hour)| cut.then_some(hour))
    .collect();
    if !cut.is_empty() {
        let keys: Vec<String> = cut.iter().map(|hour| params.int(*hour)).collect();
        let hours = format!("hour_us IN ({})", keys.join(", "));
        parts.push(by_quarter(user, &hours, from_us, to_us, spans, params));
    }
    parts
}

/// The part counting the entries of `[from_us, to_us)` themselves.
fn entry_part(
    user: &str,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
    params: &mut Params,
) -> String {
    let day = local_day("occur_us", spans, params);
    let (from, to) = (params.int(from_us), params.int(to_us));
    let created = ActivityKind::TaskCreated.number();
    let completed = ActivityKind::TaskCompleted.number();
    format!(
        "SELECT {day} AS day, \
         CASE WHEN kind = {created} THEN 1 ELSE 0 END AS created, \
         CASE WHEN kind = {completed} THEN 1 ELSE 0 END AS completed, \
         CASE WHEN kind = {completed} AND due_us IS NOT NULL AND occur_us <= due_us \
             THEN 1 ELSE 0 END AS on_time, \
         CASE WHEN kind = {completed} AND due_us IS NOT NULL AND occur_us > due_us \
             THEN 1 ELSE 0 END AS late \
         FROM activities \
         WHERE user_id = {user} AND kind IN ({created}, {completed}) \
           AND occur_us >= {from} AND occur_us < {to}"
    )
}

/// The user's entries of `[from_us, to_us)` counted per local day (`spans` cover the window):
/// tasks created, completions, and of those the ones on time or late (against the due time
/// they had then). At most one row per day of the window, in order of the days.
pub async fn day_counts(
    conn: &impl ConnectionTrait,
    user: &UserId,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
) -> Result<Vec<DayRow>, AppError> {
    let backend = conn.get_database_backend();
    let mut params = Params::new(backend);
    let user = params.text(user.as_str());
    let ceil = |us: i64| us + (QUARTER_US - us.rem_euclid(QUARTER_US)) % QUARTER_US;
    let mid_from = Ord::min(ceil(from_us), to_us);
    let mid_to = Ord::max(to_us - to_us.rem_euclid(QUARTER_US), mid_from);
    let mut parts = Vec::new();
    if mid_from < mid_to {
        parts.extend(hour_parts(&user, mid_from, mid_to, spans, &mut params));
    }
    if from_us < mid_from {
        parts.push(entry_part(&user, from_us, mid_from, spans, &mut params));
    }
    if mid_to < to_us && mid_to >= mid_from {
        let from = Ord::max(mid_to, from_us);
        parts.push(entry_part(&user, from, to_us, spans, &mut params));
    }
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT day, SUM(created) AS created, SUM(completed) AS completed, \
         SUM(on_time) AS on_time, SUM(late) AS late FROM ({}) AS q GROUP BY day ORDER BY day",
        parts.join(" UNION ALL ")
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await?;
    rows.iter()
        .map(|row| {
            let get = |column: &str| row.try_get::<i64>("", column);
            Ok(DayRow {
                day: get("day")?,
                created: get("created")?,
                completed: get("completed")?,
                on_time: get("on_time")?,
                late: get("late")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()
        .map_err(AppError::from)
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
