//! The history's counts per user and UTC day, as running totals by the quarter hour: in the
//! row of a day, `created_k` is how many tasks were created in the day's first `k` quarters
//! of an hour (`k` from 1 to 96), and likewise completions, and completions on time or late.
//! Any quarter-aligned stretch of a day is then the difference of two columns, so a local day
//! of any zone (whole, half- or quarter-hour offsets, daylight saving time) reads one or two
//! rows, not 24 hourly ones: a year is 366 rows. Replaces `activity_hours`; filled from the
//! entries already there.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261204_000010_activity_hours as hours;

#[derive(DeriveMigrationName)]
pub struct Migration;

const COUNTS: [(&str, &str); 4] = [
    ("created", "kind = 1"),
    ("completed", "kind = 3"),
    (
        "on_time",
        "kind = 3 AND due_us IS NOT NULL AND occur_us <= due_us",
    ),
    (
        "late",
        "kind = 3 AND due_us IS NOT NULL AND occur_us > due_us",
    ),
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
            .col(big_integer(ActivityDays::DayUs));
        for (count, _) in COUNTS {
            for k in 1..=96 {
                table.col(integer(Alias::new(format!("{count}_{k:02}"))).default(0));
            }
        }
        table.primary_key(
            Index::create()
                .col(ActivityDays::UserId)
                .col(ActivityDays::DayUs),
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
        let day = format!("(occur_us / {DAY_US}) * {DAY_US}");
        let quarter = format!("(occur_us - {day}) / {QUARTER_US}");
        let mut columns = Vec::new();
        let mut sums = Vec::new();
        for (count, condition) in COUNTS {
            for k in 1..=96 {
                columns.push(format!("{count}_{k:02}"));
                sums.push(format!(
                    "SUM(CASE WHEN {condition} AND {quarter} < {k} THEN 1 ELSE 0 END)"
                ));
            }
        }
        let sql = format!(
            "INSERT INTO activity_days (user_id, day_us, {}) \
             SELECT user_id, {day}, {} FROM activities \
             WHERE occur_us >= 0 AND kind IN (1, 3) GROUP BY user_id, {day}",
            columns.join(", "),
            sums.join(", ")
        );
        manager.get_connection().execute_unprepared(&sql).await?;
        hours::Migration.down(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        hours::Migration.up(manager).await?;
        manager
            .drop_table(Table::drop().table(ActivityDays::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ActivityDays {
    Table,
    UserId,
    DayUs,
}
