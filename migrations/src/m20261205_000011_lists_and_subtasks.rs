//! Lists and subtasks: `task_lists` holds a user's lists (the inbox, every user's default list,
//! has no row); a task names its list (`list_id`, NULL for the inbox) and, for a subtask, its
//! parent task (`parent_id`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A user's tasks of one list in their default order (`create_time`, then id).
const BY_LIST: &str = "ix_tasks_user_list_create";
/// The subtasks of a task.
const BY_PARENT: &str = "ix_tasks_parent";
const LIST_REQUEST: &str = "ux_task_lists_user_request";
const LIST_ORDER: &str = "ix_task_lists_user_create";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TaskLists::Table)
                    .col(uuid(TaskLists::Id).primary_key())
                    .col(string(TaskLists::UserId))
                    .col(string(TaskLists::Title))
                    .col(big_integer(TaskLists::Version))
                    .col(string_null(TaskLists::RequestId))
                    .col(big_integer(TaskLists::CreateTimeUs))
                    .col(big_integer(TaskLists::UpdateTimeUs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LIST_REQUEST)
                    .table(TaskLists::Table)
                    .col(TaskLists::UserId)
                    .col(TaskLists::RequestId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(LIST_ORDER)
                    .table(TaskLists::Table)
                    .col(TaskLists::UserId)
                    .col(TaskLists::CreateTimeUs)
                    .col(TaskLists::Id)
                    .to_owned(),
            )
            .await?;
        for column in [Tasks::ListId, Tasks::ParentId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .add_column(uuid_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(BY_LIST)
                    .table(Tasks::Table)
                    .col(Tasks::UserId)
                    .col(Tasks::ListId)
                    .col(Tasks::CreateTimeUs)
                    .col(Tasks::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_PARENT)
                    .table(Tasks::Table)
                    .col(Tasks::ParentId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [BY_PARENT, BY_LIST] {
            manager
                .drop_index(Index::drop().name(name).table(Tasks::Table).to_owned())
                .await?;
        }
        for column in [Tasks::ParentId, Tasks::ListId] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(TaskLists::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum TaskLists {
    Table,
    Id,
    UserId,
    Title,
    Version,
    RequestId,
    CreateTimeUs,
    UpdateTimeUs,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    UserId,
    CreateTimeUs,
    ListId,
    ParentId,
}
