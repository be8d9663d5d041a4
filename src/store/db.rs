//! Connecting to SQLite or PostgreSQL, migrating, and starting write transactions.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::pool::PoolConnectionMetadata;
use sea_orm::sqlx::postgres::PgConnection;
use sea_orm::{
    ConnectOptions, DatabaseConnection, DatabaseTransaction, DbBackend, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use super::LeaderLock;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// How long a call waits for a pooled connection by default, in milliseconds: long enough for
/// a busy pool, short enough that callers hear `UNAVAILABLE` quickly while the database is down.
pub const DEFAULT_ACQUIRE_TIMEOUT_MS: u64 = 2000;

/// The advisory-lock key the migrator holds ("tfmigrat" in ASCII).
pub const MIGRATION_LOCK_KEY: i64 = 0x7466_6d69_6772_6174;

/// A pooled PostgreSQL connection idle longer than this is pinged before it is handed out. Every
/// connection is pinged when it goes back to the pool (SQLx does that on each release), so one
/// idle for less was found alive that recently; pinging it again on each acquire cost a round
/// trip per transaction under load.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);
/// For this long after a connection was found broken, every pooled connection is pinged
/// before it is handed out: a restarted database has ended the idle sessions too, and each
/// would otherwise fail one caller.
const PING_ALL_AFTER_FAULT: Duration = Duration::from_secs(10);

/// Whether a pooled connection idle for `idle_for` is tested before it is handed out.
fn ping_before_use(idle_for: Duration) -> bool {
    idle_for >= PING_IF_IDLE_FOR || crate::error::connection_fault_within(PING_ALL_AFTER_FAULT)
}

/// The test a PostgreSQL pool runs on a connection before handing it out: a ping when
/// [`ping_before_use`] says so (the pool's own test, which pings every time, is off).
pub(super) fn ping_if_due(
    conn: &mut PgConnection,
    meta: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + '_>> {
    Box::pin(async move {
        if ping_before_use(meta.idle_for) {
            sea_orm::sqlx::Connection::ping(conn).await?;
        }
        Ok(true)
    })
}

/// How long a SQLite writer waits for the write lock (in this process or another).
const SQLITE_WRITE_WAIT: Duration = Duration::from_secs(10);

/// The connection pool, with the few backend differences kept here.
#[derive(Debug, Clone)]
pub struct Database {
    conn: DatabaseConnection,
    backend: Backend,
    /// SQLite: this process's writers take turns here, in arrival order, before they ask
    /// SQLite for its write lock. SQLite makes a writer that finds the lock taken sleep and
    /// retry (1, 2, 5, 10 … 100 ms), which at a few concurrent writers put 100–250 ms tails on
    /// writes; a queue wakes the next writer as soon as the last one is done.
    writers: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// A writer's turn on SQLite (`None` on PostgreSQL): hold it until the write is committed or
/// rolled back.
pub type WriteTurn = Option<tokio::sync::OwnedMutexGuard<()>>;

impl Database {
    /// Connects to `url` (`sqlite://…` or `postgres://…`). An in-memory SQLite database gets a
    /// single connection, since each SQLite connection to `:memory:` is a database of its own.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, AppError> {
        Self::connect_with(
            url,
            max_connections,
            Duration::from_millis(DEFAULT_ACQUIRE_TIMEOUT_MS),
        )
        .await
    }

    /// [`Database::connect`] with the longest wait for a connection (opening one included):
    /// while the database is unreachable, a call fails after `acquire_timeout`.
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, AppError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(AppError::FailedPrecondition(format!(
                "unsupported database URL {:?}: use sqlite://FILE?mode=rwc or postgres://USER@HOST/DB",
                redact(url)
            )));
        };
        let mut options = ConnectOptions::new(url);
        options
            .sqlx_logging(false)
            .connect_timeout(acquire_timeout)
            .acquire_timeout(acquire_timeout);
        match backend {
            Backend::Sqlite => {
                let memory = url.contains(":memory:") || url.contains("mode=memory");
                options
                    .max_connections(if memory { 1 } else { max_connections.max(1) })
                    .min_connections(if memory { 1 } else { 0 })
                    .map_sqlx_sqlite_opts(move |o| {
                        // REGEXP: the Unicode-aware case-insensitive text filters of ListTasks.
                        let o = o
                            .with_regexp()
                            .foreign_keys(true)
                            .busy_timeout(SQLITE_WRITE_WAIT)
                            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal);
                        if memory {
                            o
                        } else {
                            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                        }
                    });
                if memory {
                    // The one connection must live as long as the pool, or the data goes with it.
                    options.idle_timeout(None).max_lifetime(None);
                }
            }
            Backend::Postgres => {
                options
                    .max_connections(max_connections.max(1))
                    .test_before_acquire(false)
                    .map_sqlx_postgres_before_acquire(ping_if_due);
            }
        }
        let conn = sea_orm::Database::connect(options)
            .await
            .map_err(AppError::from)?;
        let writers = (backend == Backend::Sqlite).then(Arc::default);
        Ok(Self {
            conn,
            backend,
            writers,
        })
    }

    /// Applies every pending migration. On PostgreSQL the migrator runs under an advisory lock,
    /// so replicas (or `taskflow migrate` jobs) that start together take turns: one migrates,
    /// the others wait and then find nothing left to do. The lock is released on every path,
    /// and with the session if the process dies.
    pub async fn migrate(&self) -> Result<(), AppError> {
        let lock = match self.backend {
            Backend::Postgres => Some(LeaderLock::acquire(self, MIGRATION_LOCK_KEY).await?),
            Backend::Sqlite => None,
        };
        let migrated = Migrator::up(&self.conn, None).await.map_err(AppError::from);
        if let Some(lock) = lock {
            lock.release().await;
        }
        migrated
    }

    /// Whether the database answers a trivial query within `within`.
    pub async fn reachable(&self, within: Duration) -> bool {
        matches!(
            tokio::time::timeout(within, self.conn.ping()).await,
            Ok(Ok(()))
        )
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn db_backend(&self) -> DbBackend {
        match self.backend {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
        }
    }

    /// Waits for this process's turn to write (SQLite; at once on PostgreSQL). Statements
    /// that write outside [`Database::begin_write`] take it too, for as long as they run.
    pub async fn write_turn(&self) -> Result<WriteTurn, AppError> {
        let Some(writers) = &self.writers else {
            return Ok(None);
        };
        match tokio::time::timeout(SQLITE_WRITE_WAIT, writers.clone().lock_owned()).await {
            Ok(turn) => Ok(Some(turn)),
            Err(_) => Err(AppError::Unavailable(sea_orm::DbErr::ConnectionAcquire(
                sea_orm::ConnAcquireErr::Timeout,
            ))),
        }
    }

    /// Begins a transaction that will write, in its turn. On SQLite it takes the write lock
    /// at once (`BEGIN IMMEDIATE`), so a read-then-write transaction never fails half-way on
    /// a lock upgrade; PostgreSQL uses row locks (`SELECT … FOR UPDATE`) instead. Keep the
    /// turn until the transaction is committed or rolled back: `let (_turn, txn) = …`, in
    /// that order, so a transaction dropped on an error rolls back before the turn passes.
    pub async fn begin_write(&self) -> Result<(WriteTurn, DatabaseTransaction), AppError> {
        let turn = self.write_turn().await?;
        let options = TransactionOptions {
            sqlite_transaction_mode: (self.backend == Backend::Sqlite)
                .then_some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        let txn = self
            .conn
            .begin_with_options(options)
            .await
            .map_err(AppError::from)?;
        Ok((turn, txn))
    }

    /// The pool's connections now: open (idle or in use), idle, and the most it opens.
    pub fn pool_stats(&self) -> PoolStats {
        fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolStats {
            PoolStats {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match self.backend {
            Backend::Postgres => of(self.conn.get_postgres_connection_pool()),
            Backend::Sqlite => of(self.conn.get_sqlite_connection_pool()),
        }
    }

    /// Closes every connection of the pool.
    pub async fn close(self) -> Result<(), AppError> {
        self.conn.close().await.map_err(AppError::from)
    }
}

/// A connection pool's size at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// A URL (the database's, the sidecar's) with its passwords hidden, for messages and logs:
/// the one in the credentials (`postgres://USER:***@HOST/DB`) and any `password` or
/// `sslpassword` parameter of the query string.
pub fn redact(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(end) => url.split_at(end + 3),
        None => ("", url),
    };
    // As URL parsers do: the authority ends at the first `/`, `?` or `#`, and its last `@`
    // ends the credentials (so a password may hold `@` and `:`).
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.to_ascii_lowercase().ends_with("password") => {
                        format!("{key}=***")
                    }
                    _ => param.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// While one writer holds its turn, the others wait, and they get theirs in the order
    /// they asked (the test's runtime is single-threaded: each spawned writer runs until it
    /// waits, at the test's next yield).
    #[tokio::test]
    async fn sqlite_writers_take_turns_in_arrival_order() {
        let db = super::Database::connect("sqlite::memory:", 1)
            .await
            .expect("an in-memory database");
        let first = db.write_turn().await.expect("a turn");
        assert!(first.is_some(), "SQLite writers take turns");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut writers = Vec::new();
        for n in 0..3 {
            let (db, order) = (db.clone(), order.clone());
            writers.push(tokio::spawn(async move {
                let _turn = db.write_turn().await.expect("a turn");
                order.lock().expect("the order").push(n);
                tokio::task::yield_now().await;
            }));
            tokio::task::yield_now().await;
        }
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            order.lock().expect("the order").is_empty(),
            "no one writes while a turn is held"
        );
        drop(first);
        for writer in writers {
            writer.await.expect("the writer finished");
        }
        assert_eq!(*order.lock().expect("the order"), vec![0, 1, 2]);
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            super::redact("postgres://app:s3cret@db:5432/tasks"),
            "postgres://app:***@db:5432/tasks"
        );
        assert_eq!(
            super::redact("postgres://app@db/tasks"),
            "postgres://app@db/tasks"
        );
        assert_eq!(
            super::redact("sqlite://taskflow.db?mode=rwc"),
            "sqlite://taskflow.db?mode=rwc"
        );
        assert_eq!(
            super::redact("postgres://app:p@ss:w@rd@db/tasks?sslmode=require"),
            "postgres://app:***@db/tasks?sslmode=require"
        );
        assert_eq!(
            super::redact("postgres://db/tasks?options=a@b&password=s@cret"),
            "postgres://db/tasks?options=a@b&password=***"
        );
        assert_eq!(
            super::redact(
                "postgres://app@db/tasks?password=s3cret&sslpassword=k3y&application_name=x"
            ),
            "postgres://app@db/tasks?password=***&sslpassword=***&application_name=x"
        );
    }
}
