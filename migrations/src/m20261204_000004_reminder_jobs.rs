//! Reminders whose Dapr job still has to be scheduled or deleted: the delivery that changes a
//! reminder marks it in its own transaction, and a worker calls the sidecar after the commit.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Reminders::Table)
                    .add_column(boolean(Reminders::JobPending).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reminders_job_pending")
                    .table(Reminders::Table)
                    .col(Reminders::JobPending)
                    .col(Reminders::UpdatedUs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_reminders_job_pending")
                    .table(Reminders::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Reminders::Table)
                    .drop_column(Reminders::JobPending)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Reminders {
    Table,
    JobPending,
    UpdatedUs,
}
