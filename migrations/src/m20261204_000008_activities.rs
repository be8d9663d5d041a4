//! The activity history: one row per task event a user caused or automation did for them,
//! written by the event handlers, exactly once per event (its id is derived from the event's).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Activities::Table)
                    .col(pk_uuid(Activities::Id))
                    .col(string_len(Activities::UserId, 128))
                    .col(small_integer(Activities::Kind))
                    .col(small_integer(Activities::Actor))
                    .col(uuid(Activities::TaskId))
                    .col(string_len(Activities::TaskTitle, 800))
                    .col(big_integer(Activities::OccurUs))
                    .col(text_null(Activities::Changes))
                    .col(string_len(Activities::EventId, 128))
                    // For insights: the task's due time when it was completed (on time or late),
                    // and the time zone its days are counted in.
                    .col(big_integer_null(Activities::DueUs))
                    .to_owned(),
            )
            .await?;
        // A user's history in time order (pages, time windows, insights by type)...
        manager
            .create_index(
                Index::create()
                    .name("ix_activities_user_time")
                    .table(Activities::Table)
                    .col(Activities::UserId)
                    .col(Activities::OccurUs)
                    .col(Activities::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_activities_user_kind_time")
                    .table(Activities::Table)
                    .col(Activities::UserId)
                    .col(Activities::Kind)
                    .col(Activities::OccurUs)
                    .to_owned(),
            )
            .await?;
        // Retention deletes the oldest entries of every user.
        manager
            .create_index(
                Index::create()
                    .name("ix_activities_occur_us")
                    .table(Activities::Table)
                    .col(Activities::OccurUs)
                    .to_owned(),
            )
            .await?;
        // ...and one task's.
        manager
            .create_index(
                Index::create()
                    .name("ix_activities_user_task_time")
                    .table(Activities::Table)
                    .col(Activities::UserId)
                    .col(Activities::TaskId)
                    .col(Activities::OccurUs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Activities::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    Id,
    UserId,
    Kind,
    Actor,
    TaskId,
    TaskTitle,
    OccurUs,
    Changes,
    EventId,
    DueUs,
}
