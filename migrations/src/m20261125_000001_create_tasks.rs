//! Tasks and their tags.
//!
//! Times are stored as microseconds since the Unix epoch (UTC) in BIGINT columns: the same
//! exact, totally ordered representation on SQLite and PostgreSQL, which keyset pagination
//! and range filters rely on.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .col(pk_uuid(Tasks::Id))
                    .col(string_len(Tasks::UserId, 128))
                    .col(string_len(Tasks::Title, 800))
                    .col(text(Tasks::Description))
                    .col(small_integer(Tasks::Priority))
                    .col(big_integer_null(Tasks::DueTimeUs))
                    .col(string_len(Tasks::TimeZone, 64))
                    .col(text_null(Tasks::Recurrence))
                    .col(boolean(Tasks::Completed))
                    .col(big_integer_null(Tasks::CompleteTimeUs))
                    .col(uuid(Tasks::SeriesId))
                    .col(integer(Tasks::Occurrence))
                    .col(big_integer(Tasks::Version))
                    .col(string_len_null(Tasks::RequestId, 64))
                    .col(big_integer(Tasks::CreateTimeUs))
                    .col(big_integer(Tasks::UpdateTimeUs))
                    .to_owned(),
            )
            .await?;
        for (name, unique, cols) in [
            (
                "ux_tasks_series_occurrence",
                true,
                &[Tasks::SeriesId, Tasks::Occurrence][..],
            ),
            (
                "ux_tasks_user_request",
                true,
                &[Tasks::UserId, Tasks::RequestId][..],
            ),
            (
                "ix_tasks_user_create",
                false,
                &[Tasks::UserId, Tasks::CreateTimeUs, Tasks::Id][..],
            ),
            (
                "ix_tasks_user_due",
                false,
                &[Tasks::UserId, Tasks::DueTimeUs][..],
            ),
            (
                "ix_tasks_user_update",
                false,
                &[Tasks::UserId, Tasks::UpdateTimeUs][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Tasks::Table);
            for col in cols {
                index.col(*col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(TaskTags::Table)
                    .col(uuid(TaskTags::TaskId))
                    .col(string_len(TaskTags::UserId, 128))
                    .col(string_len(TaskTags::Tag, 200))
                    .primary_key(Index::create().col(TaskTags::TaskId).col(TaskTags::Tag))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_task_tags_task")
                            .from(TaskTags::Table, TaskTags::TaskId)
                            .to(Tasks::Table, Tasks::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_task_tags_user_tag")
                    .table(TaskTags::Table)
                    .col(TaskTags::UserId)
                    .col(TaskTags::Tag)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TaskTags::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tasks {
    Table,
    Id,
    UserId,
    Title,
    Description,
    Priority,
    DueTimeUs,
    TimeZone,
    Recurrence,
    Completed,
    CompleteTimeUs,
    SeriesId,
    Occurrence,
    Version,
    RequestId,
    CreateTimeUs,
    UpdateTimeUs,
}

#[derive(DeriveIden, Clone, Copy)]
enum TaskTags {
    Table,
    TaskId,
    UserId,
    Tag,
}
