//! A PostgreSQL session advisory lock that makes one replica at a time the leader of some
//! background work. The lock lives as long as the session that took it, so the connection is
//! kept out of the pool while it is held.

use sea_orm::sqlx::{self, Connection, PgConnection, Postgres, pool::PoolConnection};

use super::Database;
use crate::error::AppError;

fn query_error(err: sqlx::Error) -> AppError {
    AppError::from(sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(
        err.into(),
    )))
}

/// A held advisory lock, on its own connection. Dropped without [`LeaderLock::release`] (a
/// cancelled or panicking holder), the connection is closed rather than returned to the pool,
/// so the lock never outlives its holder in a pooled session.
#[derive(Debug)]
pub struct LeaderLock {
    conn: Option<Session>,
    key: i64,
}

/// The session a lock lives in: borrowed from the pool, or opened for the lock alone (a wait
/// that may be long must not hold one of the pool's connections, which may be the only one).
#[derive(Debug)]
enum Session {
    Pooled(PoolConnection<Postgres>),
    Own(PgConnection),
}

impl Session {
    fn conn(&mut self) -> &mut PgConnection {
        match self {
            Self::Pooled(conn) => conn,
            Self::Own(conn) => conn,
        }
    }

    /// Ends the session without waiting for the server.
    async fn close_hard(self) {
        let conn = match self {
            Self::Pooled(conn) => conn.detach(),
            Self::Own(conn) => conn,
        };
        let _ = conn.close_hard().await;
    }
}

fn conn_error(err: sqlx::Error) -> AppError {
    AppError::from(sea_orm::DbErr::Conn(sea_orm::RuntimeErr::SqlxError(
        err.into(),
    )))
}

impl LeaderLock {
    /// Takes the lock `key` if no other session holds it (PostgreSQL only).
    pub async fn try_acquire(db: &Database, key: i64) -> Result<Option<Self>, AppError> {
        let pool = db.conn().get_postgres_connection_pool();
        let mut conn = pool.acquire().await.map_err(conn_error)?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await
            .map_err(query_error)?;
        Ok(locked.then_some(Self {
            conn: Some(Session::Pooled(conn)),
            key,
        }))
    }

    /// Takes the lock `key`, waiting for as long as another session holds it (PostgreSQL only).
    pub async fn acquire(db: &Database, key: i64) -> Result<Self, AppError> {
        if let Some(lock) = Self::try_acquire(db, key).await? {
            return Ok(lock);
        }
        tracing::info!(key, "waiting for another process that holds the lock");
        let options = db.conn().get_postgres_connection_pool().connect_options();
        let mut conn = PgConnection::connect_with(&options)
            .await
            .map_err(conn_error)?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(Self {
            conn: Some(Session::Own(conn)),
            key,
        })
    }

    /// Whether the session holding the lock is still alive (and so the lock still held).
    pub async fn is_alive(&mut self) -> bool {
        let Some(conn) = self.conn.as_mut() else {
            return false;
        };
        sqlx::query("SELECT 1").execute(conn.conn()).await.is_ok()
    }

    /// Releases the lock; closing the session releases it when the unlock cannot be sent.
    pub async fn release(mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        let released = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(conn.conn())
            .await;
        match (released, conn) {
            (Ok(_), Session::Pooled(conn)) => drop(conn),
            (Ok(_), Session::Own(conn)) => {
                let _ = conn.close().await;
            }
            (Err(_), conn) => conn.close_hard().await,
        }
    }
}

impl Drop for LeaderLock {
    fn drop(&mut self) {
        // Not released: end the session (dropping a detached connection closes its socket),
        // which releases the lock on the server.
        match self.conn.take() {
            Some(Session::Pooled(conn)) => drop(conn.detach()),
            Some(Session::Own(conn)) => drop(conn),
            None => {}
        }
    }
}
