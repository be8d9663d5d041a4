//! Several reminders per task, and snoozes: a task's own reminders (`tasks.reminders`), a
//! `reminders` row per reminder (keyed by task and reminder id; the older single reminder is
//! `lead`), and what a notification needs to be snoozed and to show the due time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATE_FIRE: &str = "ix_reminders_state_fire";
const JOB_PENDING: &str = "ix_reminders_job_pending";
const COLUMNS: &str = "user_id, fire_at_us, due_at_us, state, fired_us, updated_us, job_pending";

/// Copies `reminders` into `next` with `copy` and puts it in its place, with the indexes.
/// One multi-statement string, so that SQLite runs every step on the same connection (the
/// migrator's other statements may each take another one from the pool).
async fn swap_in(
    manager: &SchemaManager<'_>,
    next: TableCreateStatement,
    copy: &str,
) -> Result<(), DbErr> {
    let backend = manager.get_database_backend();
    let steps = [
        backend.build(&next).to_string(),
        copy.to_owned(),
        backend
            .build(&Table::drop().table(Reminders::Table).to_owned())
            .to_string(),
        backend
            .build(
                &Table::rename()
                    .table(NewReminders::Table, Reminders::Table)
                    .to_owned(),
            )
            .to_string(),
        backend
            .build(
                &Index::create()
                    .name(STATE_FIRE)
                    .table(Reminders::Table)
                    .col(Reminders::State)
                    .col(Reminders::FireAtUs)
                    .to_owned(),
            )
            .to_string(),
        backend
            .build(
                &Index::create()
                    .name(JOB_PENDING)
                    .table(Reminders::Table)
                    .col(Reminders::JobPending)
                    .col(Reminders::UpdatedUs)
                    .to_owned(),
            )
            .to_string(),
    ];
    manager
        .get_connection()
        .execute_unprepared(&steps.join(";\n"))
        .await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(text_null(Tasks::Reminders))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Notifications::Table)
                    .add_column(string_len_null(Notifications::ReminderId, 80))
                    .to_owned(),
            )
            .await?;
        for column in [Notifications::DueUs, Notifications::SnoozeUs] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Notifications::Table)
                        .add_column(big_integer_null(column))
                        .to_owned(),
                )
                .await?;
        }
        let next = Table::create()
            .table(NewReminders::Table)
            .col(uuid(Reminders::TaskId))
            .col(string_len(Reminders::ReminderId, 80))
            .col(string_len(Reminders::UserId, 128))
            .col(big_integer(Reminders::FireAtUs))
            .col(big_integer_null(Reminders::DueAtUs))
            .col(small_integer(Reminders::State))
            .col(big_integer_null(Reminders::FiredUs))
            .col(big_integer(Reminders::UpdatedUs))
            .col(boolean(Reminders::JobPending).default(false))
            .primary_key(
                Index::create()
                    .col(Reminders::TaskId)
                    .col(Reminders::ReminderId),
            )
            .to_owned();
        swap_in(
            manager,
            next,
            &format!(
                "INSERT INTO reminders_next (task_id, reminder_id, {COLUMNS}) \
                 SELECT task_id, 'lead', {COLUMNS} FROM reminders"
            ),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let previous = Table::create()
            .table(NewReminders::Table)
            .col(pk_uuid(Reminders::TaskId))
            .col(string_len(Reminders::UserId, 128))
            .col(big_integer(Reminders::FireAtUs))
            .col(big_integer(Reminders::DueAtUs))
            .col(small_integer(Reminders::State))
            .col(big_integer_null(Reminders::FiredUs))
            .col(big_integer(Reminders::UpdatedUs))
            .col(boolean(Reminders::JobPending).default(false))
            .to_owned();
        swap_in(
            manager,
            previous,
            &format!(
                "INSERT INTO reminders_next (task_id, {COLUMNS}) \
                 SELECT task_id, {COLUMNS} FROM reminders \
                 WHERE reminder_id = 'lead' AND due_at_us IS NOT NULL"
            ),
        )
        .await?;
        for column in [
            Notifications::SnoozeUs,
            Notifications::DueUs,
            Notifications::ReminderId,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Notifications::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::Reminders)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Reminders,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    ReminderId,
    DueUs,
    SnoozeUs,
}

#[derive(DeriveIden)]
enum Reminders {
    Table,
    TaskId,
    ReminderId,
    UserId,
    FireAtUs,
    DueAtUs,
    State,
    FiredUs,
    UpdatedUs,
    JobPending,
}

#[derive(DeriveIden)]
enum NewReminders {
    #[sea_orm(iden = "reminders_next")]
    Table,
}
