//! Insights read a user's creations and completions of a window with their due times: an
//! index that holds the due time too answers them from the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const OLD: &str = "ix_activities_user_kind_time";
const NEW: &str = "ix_activities_user_kind_time_due";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NEW)
                    .table(Activities::Table)
                    .col(Activities::UserId)
                    .col(Activities::Kind)
                    .col(Activities::OccurUs)
                    .col(Activities::DueUs)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(OLD).table(Activities::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(OLD)
                    .table(Activities::Table)
                    .col(Activities::UserId)
                    .col(Activities::Kind)
                    .col(Activities::OccurUs)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(Index::drop().name(NEW).table(Activities::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Activities {
    Table,
    UserId,
    Kind,
    OccurUs,
    DueUs,
}
