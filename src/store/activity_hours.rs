//! `activity_hours`: the history counted per user and UTC hour (tasks created, completions,
//! completions on time and late), each per quarter of the hour. Kept with the entries, in the
//! same transaction and only for entries newly recorded, so a year is at most 8,784 rows per
//! user whatever the user's pace; the insights read these instead of the entries.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::domain::{ActivityKind, DAY_US, OffsetSpan};

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
