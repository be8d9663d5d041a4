//! `activity_days`: the history counted per user, UTC day and what is counted (`counted`: the
//! index of a [`Tally`] field — tasks created, completions, completions on time, late) as
//! running totals by the quarter hour: `t_k` is the count over the day's first `k` quarters of
//! an hour (`k` from 1 to 96; the day's total is `t96`). Kept with the entries, in the same
//! transaction and only for entries newly recorded; a quarter-aligned stretch of a day is the
//! difference of two columns, so the insights read a row per count and UTC day of the window.
//! One row per count keeps the row a write rewrites small (a created task: 96 totals).

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::domain::{ActivityKind, DAY_US};

pub const QUARTER_US: i64 = 900_000_000;

/// Quarters of an hour in a day.
pub const QUARTERS: usize = 96;

/// How many counts a [`Tally`] holds (the values of `counted`).
pub const COUNTS: usize = 4;

/// An entry as the counts see it.
#[derive(Debug, Clone)]
pub struct Counted {
    pub user_id: String,
    pub kind: i16,
    pub occur_us: i64,
    pub due_us: Option<i64>,
}

/// Counts of created tasks, completions, and completions on time or late.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub created: i64,
    pub completed: i64,
    pub on_time: i64,
    pub late: i64,
}

impl Tally {
    pub fn get(&self, count: usize) -> i64 {
        [self.created, self.completed, self.on_time, self.late][count]
    }

    pub fn get_mut(&mut self, count: usize) -> &mut i64 {
        match count {
            0 => &mut self.created,
            1 => &mut self.completed,
            2 => &mut self.on_time,
            _ => &mut self.late,
        }
    }

    pub fn add(&mut self, other: &Tally) {
        for count in 0..COUNTS {
            *self.get_mut(count) += other.get(count);
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Tally::default()
    }

    /// What one entry adds.
    pub fn of(kind: i16, occur_us: i64, due_us: Option<i64>) -> Tally {
        let mut tally = Tally::default();
        if kind == ActivityKind::TaskCreated.number() {
            tally.created = 1;
        } else if kind == ActivityKind::TaskCompleted.number() {
            tally.completed = 1;
            match due_us {
                Some(due) if occur_us <= due => tally.on_time = 1,
                Some(_) => tally.late = 1,
                None => {}
            }
        }
        tally
    }
}

/// The column of the running total over a day's first `k` quarters (1 ≤ k ≤ 96).
pub fn column(k: usize) -> String {
    format!("t{k:02}")
}

/// Parameter `n` (from 1), which may appear more than once.
pub(super) fn placeholder(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => format!("?{n}"),
    }
}

/// The UTC day (its first microsecond) and the quarter of that day `us` falls in.
pub fn day_and_quarter(us: i64) -> (i64, usize) {
    let day = us - us.rem_euclid(DAY_US);
    let quarter = usize::try_from((us - day) / QUARTER_US).unwrap_or(0);
    (day, quarter)
}

/// Adds newly recorded entries to their days (one statement, days in order, so concurrent
/// writers lock shared rows in the same order). Only the running totals an entry changes
/// are written: those from its quarter to the day's end.
pub async fn add(conn: &impl ConnectionTrait, entries: &[Counted]) -> Result<(), DbErr> {
    // Per user, day and count: the running totals' increments, quarter by quarter.
    let mut rows: BTreeMap<(&str, i64, usize), [i64; QUARTERS]> = BTreeMap::new();
    for entry in entries {
        let tally = Tally::of(entry.kind, entry.occur_us, entry.due_us);
        let (day, quarter) = day_and_quarter(entry.occur_us);
        for count in (0..COUNTS).filter(|&count| tally.get(count) != 0) {
            let totals = rows
                .entry((entry.user_id.as_str(), day, count))
                .or_insert([0; QUARTERS]);
            // The totals of the quarters from this one on (columns k = quarter + 1 ..= 96).
            for total in &mut totals[quarter..] {
                *total += tally.get(count);
            }
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    // The columns any of the rows changes (from the earliest quarter on); the others keep
    // their value (0 in a new row).
    let first = rows
        .values()
        .filter_map(|totals| totals.iter().position(|n| *n != 0))
        .min()
        .unwrap_or(0);
    let backend = conn.get_database_backend();
    let mut values = Vec::new();
    let mut tuples = Vec::new();
    for ((user, day, count), totals) in &rows {
        values.push(Value::from(*user));
        let counts: Vec<String> = totals[first..].iter().map(i64::to_string).collect();
        tuples.push(format!(
            "({}, {day}, {count}, {})",
            placeholder(backend, values.len()),
            counts.join(", ")
        ));
    }
    let names: Vec<String> = (first + 1..=QUARTERS).map(column).collect();
    let updates: Vec<String> = names
        .iter()
        .map(|c| format!("{c} = activity_days.{c} + excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO activity_days (user_id, day_us, counted, {}) VALUES {} \
         ON CONFLICT (user_id, day_us, counted) DO UPDATE SET {}",
        names.join(", "),
        tuples.join(", "),
        updates.join(", ")
    );
    conn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_counts_from_its_quarter_to_the_days_end() {
        let day = 20_000 * DAY_US;
        let at = day + 5 * QUARTER_US + 1;
        assert_eq!(day_and_quarter(at), (day, 5));
        assert_eq!(day_and_quarter(day), (day, 0));
        assert_eq!(day_and_quarter(day + DAY_US - 1), (day, 95));
        let created = ActivityKind::TaskCreated.number();
        let completed = ActivityKind::TaskCompleted.number();
        assert_eq!(
            Tally::of(completed, at, Some(at + 1)),
            Tally {
                completed: 1,
                on_time: 1,
                ..Tally::default()
            }
        );
        assert_eq!(Tally::of(completed, at, Some(at - 1)).late, 1);
        assert_eq!(Tally::of(completed, at, None).on_time, 0);
        assert_eq!(Tally::of(created, at, None).created, 1);
        assert!(Tally::of(ActivityKind::TaskUpdated.number(), at, None).is_zero());
        assert_eq!(column(7), "t07");
        assert_eq!(column(96), "t96");
    }
}
