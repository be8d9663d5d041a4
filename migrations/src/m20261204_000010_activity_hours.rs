//! Hourly counts of the history, kept with the entries (the insights read them instead of a
//! year of entries): per user and UTC hour, tasks created, completions, and completions on
//! time or late, each per quarter of the hour, so that days of zones with half- and
//! quarter-hour offsets are exact too. Filled from the entries already there.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COUNTS: [&str; 4] = ["created", "completed", "on_time", "late"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create();
        table
            .table(ActivityHours::Table)
            .col(string_len(ActivityHours::UserId, 128))
            .col(big_integer(ActivityHours::HourUs));
        for count in COUNTS {
            for quarter in 0..4 {
                table.col(integer(Alias::new(format!("{count}{quarter}"))).default(0));
            }
        }
        table.primary_key(
            Index::create()
                .col(ActivityHours::UserId)
                .col(ActivityHours::HourUs),
        );
        manager.create_table(table.to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_activity_hours_hour_us")
                    .table(ActivityHours::Table)
                    .col(ActivityHours::HourUs)
                    .to_owned(),
            )
            .await?;
        // The entries already recorded, counted the same way.
        let quarter = "(occur_us - (occur_us / 3600000000) * 3600000000) / 900000000";
        let mut columns = Vec::new();
        let mut sums = Vec::new();
        for (count, condition) in [
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
        ] {
            for q in 0..4 {
                columns.push(format!("{count}{q}"));
                sums.push(format!(
                    "SUM(CASE WHEN {condition} AND {quarter} = {q} THEN 1 ELSE 0 END)"
                ));
            }
        }
        let sql = format!(
            "INSERT INTO activity_hours (user_id, hour_us, {}) \
             SELECT user_id, (occur_us / 3600000000) * 3600000000, {} FROM activities \
             WHERE occur_us >= 0 AND kind IN (1, 3) \
             GROUP BY user_id, (occur_us / 3600000000) * 3600000000",
            columns.join(", "),
            sums.join(", ")
        );
        manager.get_connection().execute_unprepared(&sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ActivityHours::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ActivityHours {
    Table,
    UserId,
    HourUs,
}
