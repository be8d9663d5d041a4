//! Soft delete (AIP-164): a deleted task keeps its row, with when it was deleted and when it
//! will be purged, until the purge removes it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const PURGE: &str = "ix_tasks_purge_time_us";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Tasks::DeleteTimeUs, Tasks::PurgeTimeUs] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .add_column(big_integer_null(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(PURGE)
                    .table(Tasks::Table)
                    .col(Tasks::PurgeTimeUs)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(PURGE).table(Tasks::Table).to_owned())
            .await?;
        for column in [Tasks::PurgeTimeUs, Tasks::DeleteTimeUs] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tasks::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    DeleteTimeUs,
    PurgeTimeUs,
}
