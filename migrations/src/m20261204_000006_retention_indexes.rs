//! Indexes for retention: delivery records by when they were written and notifications by
//! when they were read, so that each pruning batch reads only the rows it deletes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const PROCESSED: &str = "ix_processed_events_processed_us";
const READ: &str = "ix_notifications_read_us";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(PROCESSED)
                    .table(ProcessedEvents::Table)
                    .col(ProcessedEvents::ProcessedUs)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(READ)
                    .table(Notifications::Table)
                    .col(Notifications::ReadUs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(READ)
                    .table(Notifications::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(PROCESSED)
                    .table(ProcessedEvents::Table)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum ProcessedEvents {
    Table,
    ProcessedUs,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    ReadUs,
}
