//! `activity_hours`: the history counted per user and UTC hour (tasks created, completions,
//! completions on time and late), each per quarter of the hour. Kept with the entries, in the
//! same transaction and only for entries newly recorded, so a year is at most 8,784 rows per
//! user whatever the user's pace; the insights read these instead of the entries.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::domain::{ActivityKind, DAY_US, DayRow, OffsetSpan};

pub const HOUR_US: i64 = 3_600_000_000;
pub const QUARTER_US: i64 = 900_000_000;

const COUNTS: [&str; 4] = ["created", "completed", "on_time", "late"];

/// An entry as the counts see it.
#[derive(Debug, Clone)]
pub struct Counted {
    pub user_id: String,
    pub kind: i16,
    pub occur_us: i64,
    pub due_us: Option<i64>,
}

/// Which of the 16 counters (count × quarter) an entry adds one to.
fn counters(entry: &Counted) -> Vec<usize> {
    let quarter = usize::try_from(entry.occur_us.rem_euclid(HOUR_US) / QUARTER_US).unwrap_or(0);
    let mut hits = Vec::new();
    if entry.kind == ActivityKind::TaskCreated.number() {
        hits.push(quarter);
    } else if entry.kind == ActivityKind::TaskCompleted.number() {
        hits.push(4 + quarter);
        match entry.due_us {
            Some(due) if entry.occur_us <= due => hits.push(8 + quarter),
            Some(_) => hits.push(12 + quarter),
            None => {}
        }
    }
    hits
}

fn column(index: usize) -> String {
    format!("{}{}", COUNTS[index / 4], index % 4)
}

/// Parameter `n` (from 1), which may appear more than once.
fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// Adds newly recorded entries to their hours (one statement, hours in order, so concurrent
/// writers lock shared rows in the same order).
pub async fn add(conn: &impl ConnectionTrait, entries: &[Counted]) -> Result<(), DbErr> {
    let mut hours: BTreeMap<(&str, i64), [i64; 16]> = BTreeMap::new();
    for entry in entries {
        let hits = counters(entry);
        if hits.is_empty() {
            continue;
        }
        let hour = entry.occur_us - entry.occur_us.rem_euclid(HOUR_US);
        let row = hours.entry((entry.user_id.as_str(), hour)).or_default();
        for hit in hits {
            row[hit] += 1;
        }
    }
    if hours.is_empty() {
        return Ok(());
    }
    let backend = conn.get_database_backend();
    let columns: Vec<String> = (0..16).map(column).collect();
    let mut values = Vec::new();
    let mut rows = Vec::new();
    for ((user, hour), counts) in &hours {
        values.push(Value::from(*user));
        let counts: Vec<String> = counts.iter().map(i64::to_string).collect();
        rows.push(format!(
            "({}, {hour}, {})",
            placeholder(backend, values.len()),
            counts.join(", ")
        ));
    }
    let updates: Vec<String> = columns
        .iter()
        .map(|c| format!("{c} = activity_hours.{c} + excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO activity_hours (user_id, hour_us, {}) VALUES {} \
         ON CONFLICT (user_id, hour_us) DO UPDATE SET {}",
        columns.join(", "),
        rows.join(", "),
        updates.join(", ")
    );
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// The values of a statement, bound in order: each `int` or `text` gives its placeholder.
/// Binding the times and offsets (rather than writing them into the SQL) keeps the text of a
/// query the same from call to call, so each connection prepares it once.
pub(super) struct Params {
    backend: DbBackend,
    pub(super) values: Vec<Value>,
}

impl Params {
    pub(super) fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    pub(super) fn text(&mut self, value: &str) -> String {
        self.values.push(value.into());
        placeholder(self.backend, self.values.len())
    }

    pub(super) fn int(&mut self, value: i64) -> String {
        self.values.push(value.into());
        let at = placeholder(self.backend, self.values.len());
        match self.backend {
            DbBackend::Postgres => format!("{at}::bigint"),
            _ => at,
        }
    }
}

/// `expr`'s local day under `spans` (offsets in force from each span's start), as SQL: days
/// since 1970-01-01.
pub(super) fn local_day(expr: &str, spans: &[OffsetSpan], params: &mut Params) -> String {
    let shift = match spans {
        [] => params.int(0),
        [only] => params.int(only.offset_us),
        [first, rest @ ..] => {
            let mut case = String::from("CASE");
            let mut offset = first.offset_us;
            for span in rest {
                let (until, then) = (params.int(span.from_us), params.int(offset));
                case.push_str(&format!(" WHEN {expr} < {until} THEN {then}"));
                offset = span.offset_us;
            }
            case.push_str(&format!(" ELSE {} END", params.int(offset)));
            case
        }
    };
    format!("({expr} + {shift}) / {DAY_US}")
}

/// The user's counts of `[from_us, to_us)`, both whole quarters of an hour, per local day
/// (`spans` cover the range). When every offset is whole hours, an hour's quarters share its
/// day: the hours wholly inside the range are read once each, and only the (at most two)
/// hours cut by its ends quarter by quarter. Other offsets read every hour quarter by quarter.
pub async fn day_counts(
    conn: &impl ConnectionTrait,
    user: &str,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
) -> Result<Vec<DayRow>, DbErr> {
    let backend = conn.get_database_backend();
    let mut params = Params::new(backend);
    let user = params.text(user);
    // Hours that overlap the range; quarters outside it are left out below.
    let first_hour = from_us - from_us.rem_euclid(HOUR_US);
    let whole_from = from_us + (HOUR_US - from_us.rem_euclid(HOUR_US)) % HOUR_US;
    let whole_to = to_us - to_us.rem_euclid(HOUR_US);
    let by_hour =
        spans.iter().all(|s| s.offset_us.rem_euclid(HOUR_US) == 0) && whole_from < whole_to;
    let mut parts = Vec::new();
    if by_hour {
        let sum = |count: &str| {
            (0..4)
                .map(|q| format!("{count}{q}"))
                .collect::<Vec<_>>()
                .join(" + ")
        };
        let day = local_day("hour_us", spans, &mut params);
        let (lo, hi) = (params.int(whole_from), params.int(whole_to));
        parts.push(format!(
            "SELECT {day} AS day, {} AS created, {} AS completed, {} AS on_time, {} AS late \
             FROM activity_hours WHERE user_id = {user} AND hour_us >= {lo} AND hour_us < {hi}",
            sum("created"),
            sum("completed"),
            sum("on_time"),
            sum("late"),
        ));
    }
    if !by_hour || from_us < whole_from || whole_to < to_us {
        for q in 0..4 {
            let at = format!("(hour_us + {})", q * QUARTER_US);
            let day = local_day(&at, spans, &mut params);
            let (lo, hi) = (params.int(first_hour), params.int(to_us));
            let (from, to) = (params.int(from_us), params.int(to_us));
            let cut = if by_hour {
                let (a, b) = (params.int(whole_from), params.int(whole_to));
                format!(" AND (hour_us < {a} OR hour_us >= {b})")
            } else {
                String::new()
            };
            parts.push(format!(
                "SELECT {day} AS day, created{q} AS created, completed{q} AS completed, \
                 on_time{q} AS on_time, late{q} AS late FROM activity_hours \
                 WHERE user_id = {user} AND hour_us >= {lo} AND hour_us < {hi}{cut} \
                 AND {at} >= {from} AND {at} < {to}"
            ));
        }
    }
    let sql = format!(
        "SELECT day, SUM(created) AS created, SUM(completed) AS completed, \
         SUM(on_time) AS on_time, SUM(late) AS late FROM ({}) AS q GROUP BY day",
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
        .collect()
}
