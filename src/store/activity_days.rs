//! `activity_days`: the history counted per user and UTC day as running totals by the quarter
//! hour. In a day's row, `created_k` is how many tasks were created in its first `k` quarters
//! of an hour (`k` from 1 to 96; the day's total is `created_96`), and likewise `completed_k`,
//! `on_time_k` and `late_k`. Kept with the entries, in the same transaction and only for
//! entries newly recorded; a quarter-aligned stretch of a day is the difference of two
//! columns, so the insights read one row per UTC day of the window.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use crate::domain::{ActivityKind, DAY_US};

pub const QUARTER_US: i64 = 900_000_000;

/// Quarters of an hour in a day.
pub const QUARTERS: usize = 96;

/// What is counted, in the order of [`Tally`]'s fields.
const COUNTS: [&str; 4] = ["created", "completed", "on_time", "late"];

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
    fn get(&self, count: usize) -> i64 {
        [self.created, self.completed, self.on_time, self.late][count]
    }

    fn get_mut(&mut self, count: usize) -> &mut i64 {
        match count {
            0 => &mut self.created,
            1 => &mut self.completed,
            2 => &mut self.on_time,
            _ => &mut self.late,
        }
    }

    pub fn add(&mut self, other: &Tally) {
        for count in 0..COUNTS.len() {
            *self.get_mut(count) += other.get(count);
        }
    }

    pub fn minus(&self, other: &Tally) -> Tally {
        let mut out = *self;
        for count in 0..COUNTS.len() {
            *out.get_mut(count) -= other.get(count);
        }
        out
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

/// The column of `count`'s running total over a day's first `k` quarters (1 ≤ k ≤ 96).
pub fn column(count: usize, k: usize) -> String {
    format!("{}_{k:02}", COUNTS[count])
}

/// The names of the four running totals at quarter `k`, in [`Tally`]'s order.
pub fn columns_at(k: usize) -> [String; 4] {
    [0, 1, 2, 3].map(|count| column(count, k))
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
    let mut days: BTreeMap<(&str, i64), Vec<Tally>> = BTreeMap::new();
    for entry in entries {
        let tally = Tally::of(entry.kind, entry.occur_us, entry.due_us);
        if tally.is_zero() {
            continue;
        }
        let (day, quarter) = day_and_quarter(entry.occur_us);
        let totals = days
            .entry((entry.user_id.as_str(), day))
            .or_insert_with(|| vec![Tally::default(); QUARTERS]);
        // The running totals of quarters k > quarter (columns k = quarter + 1 ..= 96).
        for total in &mut totals[quarter..] {
            total.add(&tally);
        }
    }
    if days.is_empty() {
        return Ok(());
    }
    // The columns any of the rows changes; the others keep their value (0 in a new row).
    let mut touched = Vec::new();
    for count in 0..COUNTS.len() {
        for k in 1..=QUARTERS {
            if days.values().any(|totals| totals[k - 1].get(count) != 0) {
                touched.push((count, k));
            }
        }
    }
    let backend = conn.get_database_backend();
    let mut values = Vec::new();
    let mut rows = Vec::new();
    for ((user, day), totals) in &days {
        values.push(Value::from(*user));
        let counts: Vec<String> = touched
            .iter()
            .map(|&(count, k)| totals[k - 1].get(count).to_string())
            .collect();
        rows.push(format!(
            "({}, {day}, {})",
            placeholder(backend, values.len()),
            counts.join(", ")
        ));
    }
    let names: Vec<String> = touched.iter().map(|&(c, k)| column(c, k)).collect();
    let updates: Vec<String> = names
        .iter()
        .map(|c| format!("{c} = activity_days.{c} + excluded.{c}"))
        .collect();
    let sql = format!(
        "INSERT INTO activity_days (user_id, day_us, {}) VALUES {} \
         ON CONFLICT (user_id, day_us) DO UPDATE SET {}",
        names.join(", "),
        rows.join(", "),
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
        assert_eq!(column(3, 7), "late_07");
        assert_eq!(columns_at(96)[0], "created_96");
    }
}
