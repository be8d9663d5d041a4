//! The transactional outbox, the record of processed events, dead letters, and the anchor a
//! recurring series keeps its day and time from.

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
                    .add_column(big_integer_null(Tasks::SeriesAnchorUs))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(big_pk_auto(Outbox::Seq))
                    .col(uuid_uniq(Outbox::EventId))
                    .col(string_len(Outbox::Topic, 255))
                    .col(string_len(Outbox::EventType, 255))
                    .col(string_len(Outbox::PartitionKey, 128))
                    .col(small_integer(Outbox::Shard))
                    .col(string_len(Outbox::Subject, 255))
                    .col(blob(Outbox::Payload))
                    .col(string_len(Outbox::DataSchema, 255))
                    .col(string_len_null(Outbox::Traceparent, 64))
                    .col(big_integer(Outbox::CreatedUs))
                    .col(big_integer_null(Outbox::PublishedUs))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(text_null(Outbox::LastError))
                    .to_owned(),
            )
            .await?;
        // The relay reads unpublished rows in sequence order: a partial index keeps that
        // lookup small however many published rows accumulate (SQLite and PostgreSQL).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX ix_outbox_unpublished ON outbox (seq) WHERE published_us IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProcessedEvents::Table)
                    .col(string_len(ProcessedEvents::Consumer, 64))
                    .col(string_len(ProcessedEvents::EventId, 128))
                    .col(string_len(ProcessedEvents::EventType, 255))
                    .col(string_len(ProcessedEvents::UserId, 128))
                    .col(big_integer(ProcessedEvents::ProcessedUs))
                    .primary_key(
                        Index::create()
                            .col(ProcessedEvents::Consumer)
                            .col(ProcessedEvents::EventId),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeadLetters::Table)
                    .col(big_pk_auto(DeadLetters::Id))
                    .col(string_len(DeadLetters::EventId, 128))
                    .col(string_len(DeadLetters::Topic, 255))
                    .col(string_len(DeadLetters::EventType, 255))
                    .col(blob(DeadLetters::Payload))
                    .col(text(DeadLetters::Reason))
                    .col(big_integer(DeadLetters::ReceivedUs))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DeadLetters::Table.into_iden(),
            ProcessedEvents::Table.into_iden(),
            Outbox::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tasks::Table)
                    .drop_column(Tasks::SeriesAnchorUs)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    SeriesAnchorUs,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Seq,
    EventId,
    Topic,
    EventType,
    PartitionKey,
    Shard,
    Subject,
    Payload,
    DataSchema,
    Traceparent,
    CreatedUs,
    PublishedUs,
    Attempts,
    LastError,
}

#[derive(DeriveIden)]
enum ProcessedEvents {
    Table,
    Consumer,
    EventId,
    EventType,
    UserId,
    ProcessedUs,
}

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    Id,
    EventId,
    Topic,
    EventType,
    Payload,
    Reason,
    ReceivedUs,
}
