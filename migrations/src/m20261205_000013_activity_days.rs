//! The history's counts per user, UTC day and what is counted (`counted`: 0 tasks created, 1 completions, 2 of those
//! on time, 3 late), as running totals by the quarter hour: `t_k` is the count over the day's
//! first `k` quarters of an hour (`k` from 1 to 96). Any quarter-aligned stretch of a day is
//! the difference of two columns, so a local day of any zone (whole, half- or quarter-hour
//! offsets, daylight saving time) reads a row or two per count, not 24 hourly ones. A row holds
//! one count (384 bytes of totals), so that recording a created task rewrites no more than
//! that. Filled from the entries already there. It replaces `activity_hours`, which stays
//! (expand, then contract): replicas of the previous release still write it during a rolling
//! update, and a later release removes it.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261204_000010_activity_hours as hours;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// What each value of `counted` counts, as a condition on an entry.
const COUNTED: [&str; 4] = [
    "kind = 1",
    "kind = 3",
    "kind = 3 AND due_us IS NOT NULL AND occur_us <= due_us",
    "kind = 3 AND due_us IS NOT NULL AND occur_us > due_us",
];

const DAY_US: i64 = 86_400_000_000;
const QUARTER_US: i64 = 900_000_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(ActivityDays::Table)
            .col(string_len(ActivityDays::UserId, 128))
            .col(big_integer(ActivityDays::DayUs))
            .col(small_integer(ActivityDays::Counted));
        for k in 1..=96 {
            table.col(integer(Alias::new(format!("t{k:02}"))).default(0));
        }
        table.primary_key(
            Index::create()
                .col(ActivityDays::UserId)
                .col(ActivityDays::DayUs)
                .col(ActivityDays::Counted),
        );
        manager.create_table(table.to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_activity_days_day_us")
                    .table(ActivityDays::Table)
                    .col(ActivityDays::DayUs)
                    .to_owned(),
            )
            .await?;
        // The entries already recorded, counted the same way.
        for sql in fill("occur_us >= 0") {
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The hourly counts, not written while this migration was applied, made again from
        // the entries for the code that reads them.
        hours::Migration.down(manager).await?;
        hours::Migration.up(manager).await?;
        manager
            .drop_table(Table::drop().table(ActivityDays::Table).to_owned())
            .await
    }
}

/// The statements that add the entries matching `only` (an SQL condition on `activities`) to
/// `activity_days`, one per count; the entries must not be counted there yet.
pub fn fill(only: &str) -> Vec<String> {
    let day = format!("(occur_us / {DAY_US}) * {DAY_US}");
    let quarter = format!("(occur_us - {day}) / {QUARTER_US}");
    let columns: Vec<String> = (1..=96).map(|k| format!("t{k:02}")).collect();
    let sums: Vec<String> = (1..=96)
        .map(|k| format!("SUM(CASE WHEN {quarter} < {k} THEN 1 ELSE 0 END)"))
        .collect();
    COUNTED
        .iter()
        .enumerate()
        .map(|(counted, condition)| {
            format!(
                "INSERT INTO activity_days (user_id, day_us, counted, {}) \
                 SELECT user_id, {day}, {counted}, {} FROM activities \
                 WHERE ({only}) AND {condition} GROUP BY user_id, {day}",
                columns.join(", "),
                sums.join(", ")
            )
        })
        .collect()
}

#[derive(DeriveIden)]
enum ActivityDays {
    Table,
    UserId,
    DayUs,
    Counted,
}
