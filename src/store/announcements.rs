//! PostgreSQL's `NOTIFY`/`LISTEN` channels between replicas: one on which every replica
//! announces the notifications it commits (the payload is the notification's id), and one on
//! which a replica that is not the outbox relay tells the relay that it committed events.

use std::time::Duration;

use sea_orm::sqlx::{
    self,
    postgres::{PgListener, PgPool, PgPoolOptions},
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use super::Database;
use crate::error::AppError;

/// The channel that announces new notifications.
pub const CHANNEL: &str = "taskflow_notifications";
/// The channel on which replicas wake the outbox relay.
pub const OUTBOX_CHANNEL: &str = "taskflow_outbox";

/// Announces notification `id` on `conn` (PostgreSQL): delivered to every listener when the
/// transaction commits, never if it rolls back.
pub async fn announce(conn: &impl ConnectionTrait, id: Uuid) -> Result<(), AppError> {
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [CHANNEL.into(), id.hyphenated().to_string().into()],
    ))
    .await?;
    Ok(())
}

/// Announces every one of `ids` on `conn` (PostgreSQL) in one statement, as [`announce`]
/// does one.
pub async fn announce_many(conn: &impl ConnectionTrait, ids: &[Uuid]) -> Result<(), AppError> {
    if ids.is_empty() {
        return Ok(());
    }
    let joined = ids
        .iter()
        .map(|id| id.hyphenated().to_string())
        .collect::<Vec<_>>()
        .join(",");
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, id) FROM unnest(string_to_array($2, ',')) AS id",
        [CHANNEL.into(), joined.into()],
    ))
    .await?;
    Ok(())
}

/// Wakes the outbox relay, whichever replica it runs on. Sent on its own (never inside a
/// write transaction, whose commit a `NOTIFY` would serialise with every other notifying
/// commit), by replicas that are not the relay.
pub async fn wake_relay(db: &Database) -> Result<(), AppError> {
    db.conn()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, '')",
            [OUTBOX_CHANNEL.into()],
        ))
        .await?;
    Ok(())
}

/// A pool of its own for the listening connection, which is held for good and must not take
/// one from the API's pool.
pub fn listener_pool(db: &Database) -> PgPool {
    let options = db.conn().get_postgres_connection_pool().connect_options();
    PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with((*options).clone())
}

/// A connection from `pool` listening on [`CHANNEL`].
pub async fn listen(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    listen_on(pool, CHANNEL).await
}

/// A connection from `pool` listening on `channel`.
pub async fn listen_on(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(channel).await?;
    Ok(listener)
}
