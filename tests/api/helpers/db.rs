//! A fresh database per test: a SQLite file, or a PostgreSQL database created and dropped.

#[allow(unused_imports)]
use super::*;

/// Where the tests find PostgreSQL: `TASKFLOW_TEST_POSTGRES_URL`, or the local server.
pub fn postgres_admin_url() -> String {
    std::env::var("TASKFLOW_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A connection to PostgreSQL's `postgres` database, for what a test does to another database
/// from outside (ending its sessions, refusing connections).
pub async fn postgres_admin() -> sea_orm::DatabaseConnection {
    sea_orm::Database::connect(postgres_admin_url())
        .await
        .expect("connects as admin")
}

/// The name of the PostgreSQL database a URL points at.
pub fn database_name(database_url: &str) -> String {
    database_url
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned()
}

/// Every row of `activity_days`, every column, in key order (the database's).
pub async fn day_rows(db: &taskflow::store::Database) -> Vec<(String, i64, i16, Vec<i32>)> {
    use sea_orm::{ConnectionTrait, Statement};
    let conn = db.conn();
    let rows = conn
        .query_all_raw(Statement::from_string(
            conn.get_database_backend(),
            "SELECT * FROM activity_days ORDER BY user_id, day_us, counted",
        ))
        .await
        .expect("reads the days");
    rows.iter()
        .map(|row| {
            let totals = (3..3 + taskflow::store::activity_days::QUARTERS)
                .map(|i| row.try_get_by_index::<i32>(i).expect("a total"))
                .collect();
            (
                row.try_get_by_index::<String>(0).expect("a user"),
                row.try_get_by_index::<i64>(1).expect("a day"),
                row.try_get_by_index::<i16>(2).expect("what is counted"),
                totals,
            )
        })
        .collect()
}

/// A database that exists for one test.
pub enum TestDb {
    /// The directory holding the database file, removed on drop.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    pub async fn create(backend: Backend) -> (Self, String) {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}/taskflow.db?mode=rwc", dir.path().display());
                (Self::Sqlite(dir), url)
            }
            Backend::Postgres => {
                let admin_url = postgres_admin_url();
                let admin = sea_orm::Database::connect(&admin_url).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is not reachable at {admin_url}: {e}\n\
                         Fix: start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                         (scripts/test does this), or point TASKFLOW_TEST_POSTGRES_URL at a server."
                    )
                });
                let name = format!("taskflow_test_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("CREATE DATABASE");
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .unwrap_or(&admin_url);
                let url = format!("{base}/{name}");
                (Self::Postgres { admin_url, name }, url)
            }
        }
    }

    /// A second database holding what this one holds now, dropped on its own. The server on
    /// `database_url` must be stopped: PostgreSQL copies a database with `CREATE DATABASE …
    /// TEMPLATE`, which needs it unused; SQLite's file is copied after a WAL checkpoint.
    pub async fn copy(&self, database_url: &str) -> (Self, String) {
        match self {
            Self::Sqlite(dir) => {
                let source = sea_orm::Database::connect(database_url)
                    .await
                    .expect("opens the SQLite file");
                source
                    .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                    .await
                    .expect("checkpoints the WAL");
                let _ = source.close().await;
                let target = tempfile::tempdir().expect("a temporary directory");
                std::fs::copy(
                    dir.path().join("taskflow.db"),
                    target.path().join("taskflow.db"),
                )
                .expect("copies the database file");
                let url = format!("sqlite://{}/taskflow.db?mode=rwc", target.path().display());
                (Self::Sqlite(target), url)
            }
            Self::Postgres { admin_url, name } => {
                let admin = sea_orm::Database::connect(admin_url.as_str())
                    .await
                    .expect("connects as admin");
                let copy = format!("taskflow_test_{}", uuid::Uuid::new_v4().simple());
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                // Connections of the stopped server may linger a moment; end them first.
                loop {
                    admin
                        .execute_unprepared(&format!(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
                        ))
                        .await
                        .expect("ends connections to the source");
                    match admin
                        .execute_unprepared(&format!(
                            "CREATE DATABASE \"{copy}\" TEMPLATE \"{name}\""
                        ))
                        .await
                    {
                        Ok(_) => break,
                        Err(_) if tokio::time::Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(err) => panic!("CREATE DATABASE … TEMPLATE {name}: {err}"),
                    }
                }
                let _ = admin.close().await;
                let base = admin_url
                    .rsplit_once('/')
                    .map(|(base, _)| base)
                    .unwrap_or(admin_url);
                let url = format!("{base}/{copy}");
                (
                    Self::Postgres {
                        admin_url: admin_url.clone(),
                        name: copy,
                    },
                    url,
                )
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Self::Postgres { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs inside the test's runtime: do the async work on a thread of its own.
            let _ = std::thread::spawn(move || {
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                rt.block_on(async {
                    if let Ok(admin) = sea_orm::Database::connect(&admin_url).await {
                        let _ = admin
                            .execute_unprepared(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}
