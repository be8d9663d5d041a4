//! Dead letters an operator can work with: where the event came from (its original topic, user,
//! subject and CloudEvent attributes), how often and why it failed, and what was done with it
//! (replayed, discarded). One column per statement: SQLite alters one column at a time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

fn columns() -> Vec<ColumnDef> {
    vec![
        string_null(DeadLetters::OriginalTopic),
        string(DeadLetters::UserId).default("").to_owned(),
        string_null(DeadLetters::Subject),
        text_null(DeadLetters::Attributes),
        integer(DeadLetters::Attempts).default(0).to_owned(),
        string(DeadLetters::Status).default("stored").to_owned(),
        integer(DeadLetters::Replays).default(0).to_owned(),
        big_integer_null(DeadLetters::LastReplayUs),
        text_null(DeadLetters::LastReplayOutcome),
        big_integer_null(DeadLetters::ResolvedUs),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeadLetters::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_dead_letters_status")
                    .table(DeadLetters::Table)
                    .col(DeadLetters::Status)
                    .col(DeadLetters::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_dead_letters_status")
                    .table(DeadLetters::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            DeadLetters::OriginalTopic,
            DeadLetters::UserId,
            DeadLetters::Subject,
            DeadLetters::Attributes,
            DeadLetters::Attempts,
            DeadLetters::Status,
            DeadLetters::Replays,
            DeadLetters::LastReplayUs,
            DeadLetters::LastReplayOutcome,
            DeadLetters::ResolvedUs,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(DeadLetters::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum DeadLetters {
    Table,
    Id,
    OriginalTopic,
    UserId,
    Subject,
    Attributes,
    Attempts,
    Status,
    Replays,
    LastReplayUs,
    LastReplayOutcome,
    ResolvedUs,
}
