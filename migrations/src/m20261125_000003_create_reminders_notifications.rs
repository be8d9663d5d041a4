//! Reminders (one per task) and in-app notifications, plus a task's own reminder lead.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .add_column(big_integer_null(Tasks::RemindBeforeUs))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Reminders::Table)
                    .col(pk_uuid(Reminders::TaskId))
                    .col(string_len(Reminders::UserId, 128))
                    .col(big_integer(Reminders::FireAtUs))
                    .col(big_integer(Reminders::DueAtUs))
                    .col(small_integer(Reminders::State))
                    .col(big_integer_null(Reminders::FiredUs))
                    .col(big_integer(Reminders::UpdatedUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reminders_state_fire")
                    .table(Reminders::Table)
                    .col(Reminders::State)
                    .col(Reminders::FireAtUs)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(pk_uuid(Notifications::Id))
                    .col(string_len(Notifications::UserId, 128))
                    .col(uuid(Notifications::TaskId))
                    .col(small_integer(Notifications::Kind))
                    .col(string_len(Notifications::Title, 800))
                    .col(text(Notifications::Body))
                    .col(string_len_uniq(Notifications::DedupeKey, 255))
                    .col(big_integer(Notifications::CreateUs))
                    .col(big_integer_null(Notifications::ReadUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notifications_user_create")
                    .table(Notifications::Table)
                    .col(Notifications::UserId)
                    .col(Notifications::CreateUs)
                    .col(Notifications::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Notifications::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Reminders::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::RemindBeforeUs)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    RemindBeforeUs,
}

#[derive(DeriveIden)]
enum Reminders {
    Table,
    TaskId,
    UserId,
    FireAtUs,
    DueAtUs,
    State,
    FiredUs,
    UpdatedUs,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    TaskId,
    Kind,
    Title,
    Body,
    DedupeKey,
    CreateUs,
    ReadUs,
}
