//! Replicas that start together on a fresh PostgreSQL database: the migrator runs under an
//! advisory lock, so one migrates and the others wait for it, then find nothing left to do.

use std::process::Stdio;

use migrations::MigratorTrait;
use sea_orm::{ConnectionTrait, Statement};
use tokio::process::Command;

use crate::helpers::{Backend, TestDb, double};
use crate::support::server::{ChildServer, server_binary};

const PROCESSES: usize = 8;

/// The migrations the binary knows (rows of `seaql_migrations` after a full migration).
async fn applied(database_url: &str) -> i64 {
    let db = taskflow::store::Database::connect(database_url, 1)
        .await
        .expect("connects");
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.conn().get_database_backend(),
            "SELECT count(*) AS n FROM seaql_migrations",
        ))
        .await
        .expect("the migrations table")
        .expect("a count");
    row.try_get::<i64>("", "n").expect("a number")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_migrate_commands_on_a_fresh_database_all_succeed() {
    for round in 0..2 {
        let (_db, url) = TestDb::create(Backend::Postgres).await;
        let runs = (0..PROCESSES).map(|_| {
            Command::new(server_binary())
                .arg("migrate")
                .env("TASKFLOW_DATABASE_URL", &url)
                .env("TASKFLOW_LOG", "warn")
                .stdin(Stdio::null())
                .output()
        });
        let outputs = futures_util::future::join_all(runs).await;
        let failed: Vec<String> = outputs
            .into_iter()
            .map(|o| o.expect("the binary runs"))
            .filter(|o| !o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
            .collect();
        assert!(
            failed.is_empty(),
            "round {round}: {} of {PROCESSES} `taskflow migrate` failed:\n{}",
            failed.len(),
            failed.join("\n---\n")
        );
        let expected = i64::try_from(migrations::Migrator::migrations().len()).expect("a count");
        assert_eq!(
            applied(&url).await,
            expected,
            "every migration applied once"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_replicas_starting_on_a_fresh_database_all_serve() {
    let (_db, url) = TestDb::create(Backend::Postgres).await;
    let mut doubles = Vec::new();
    for _ in 0..PROCESSES {
        doubles.push(double().await);
    }
    // Each start waits until its server answers health checks, and fails on an early exit.
    let servers: Vec<ChildServer> =
        futures_util::future::join_all(doubles.iter().map(|d| ChildServer::start(&url, d))).await;
    assert_eq!(servers.len(), PROCESSES);
    let expected = i64::try_from(migrations::Migrator::migrations().len()).expect("a count");
    assert_eq!(
        applied(&url).await,
        expected,
        "every migration applied once"
    );
}
