//! A PostgreSQL session advisory lock that makes one replica at a time the leader of some
//! background work. The lock lives as long as the session that took it, so the connection is
//! kept out of the pool while it is held.

use sea_orm::sqlx::{self, Connection, Postgres, pool::PoolConnection};

use super::Database;
use crate::error::AppError;

fn query_error(err: sqlx::Error) -> AppError {
    AppError::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
        err.into(),
    )))
}

/// A held advisory lock, on its own connection.
#[derive(Debug)]
pub struct LeaderLock {
    conn: PoolConnection<Postgres>,
    key: i64,
}

impl LeaderLock {
    /// Takes the lock `key` if no other session holds it (PostgreSQL only).
    pub async fn try_acquire(db: &Database, key: i64) -> Result<Option<Self>, AppError> {
        let pool = db.conn().get_postgres_connection_pool();
        let mut conn = pool.acquire().await.map_err(|e| {
            AppError::from(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
                e.into(),
            )))
        })?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(locked.then_some(Self { conn, key }))
    }

    /// Whether the session holding the lock is still alive (and so the lock still held).
    pub async fn is_alive(&mut self) -> bool {
        sqlx::query("SELECT 1")
            .execute(&mut *self.conn)
            .await
            .is_ok()
    }

    /// Releases the lock; closing the session releases it when the unlock cannot be sent.
    pub async fn release(mut self) {
        let released = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *self.conn)
            .await;
        if released.is_err() {
            let _ = self.conn.detach().close_hard().await;
        }
    }
}
