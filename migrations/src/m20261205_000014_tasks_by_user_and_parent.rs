//! The subtasks of a task found by their user and parent together: the index on `parent_id`
//! alone lost to the user's indexes in SQLite's planner (which has no statistics), so each
//! completion read all of its user's tasks to find the subtasks. This one leads with the user,
//! as every query by parent does, and keeps a parent's subtasks in their default order.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const BY_PARENT: &str = "ix_tasks_parent";
const BY_USER_PARENT: &str = "ix_tasks_user_parent_create";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(BY_USER_PARENT)
                    .table(Tasks::Table)
                    .col(Tasks::UserId)
                    .col(Tasks::ParentId)
                    .col(Tasks::CreateTimeUs)
                    .col(Tasks::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(BY_PARENT).table(Tasks::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(BY_PARENT)
                    .table(Tasks::Table)
                    .col(Tasks::ParentId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(BY_USER_PARENT)
                    .table(Tasks::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    UserId,
    ParentId,
    CreateTimeUs,
}
