//! PostgreSQL ends the service's sessions (a restart, a fail-over, an administrator): pooled
//! connections are not pinged on every use, so at most the first call after it can meet a
//! dead one, and it hears UNAVAILABLE (a retry succeeds), never INTERNAL; the calls after it
//! succeed, and nothing written is lost.

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use taskflow::proto::v1 as pb;
use tonic::Code;

use crate::helpers::{
    Backend, TestApp, create, database_name, eventually, list_all, postgres_admin, titled,
};

async fn pids(admin: &DatabaseConnection, sql: String) -> Vec<i32> {
    admin
        .query_all_raw(Statement::from_string(admin.get_database_backend(), sql))
        .await
        .expect("listed")
        .iter()
        .map(|row| row.try_get::<i32>("", "pid").expect("pid"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_ended_by_the_database_fail_at_most_one_call_with_unavailable() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut alice = app.user("alice");
    let mut created = Vec::new();
    for n in 0..8 {
        created.push(create(&mut alice, "alice", titled(&format!("before {n}"))).await);
    }
    // Many connections in the pool, each used moments ago: calls at once.
    let reads = (0..32).map(|n| {
        let (mut client, name) = (alice.clone(), created[n % created.len()].name.clone());
        async move { client.get_task(pb::GetTaskRequest { name }).await }
    });
    for read in futures_util::future::join_all(reads).await {
        read.expect("read before");
    }
    let name = database_name(&app.database_url);
    let admin = postgres_admin().await;
    let ended = pids(
        &admin,
        format!(
            "SELECT pid, pg_terminate_backend(pid) AS ended FROM pg_stat_activity \
             WHERE datname = '{name}'"
        ),
    )
    .await;
    assert!(!ended.is_empty(), "no session to end");
    let list = ended
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",");
    eventually("the ended sessions to be gone", || {
        let (admin, list) = (&admin, &list);
        async move {
            let left = pids(
                admin,
                format!("SELECT pid FROM pg_stat_activity WHERE pid IN ({list})"),
            )
            .await;
            left.is_empty().then_some(())
        }
    })
    .await;

    let mut failures = Vec::new();
    for task in &created {
        match alice
            .get_task(pb::GetTaskRequest {
                name: task.name.clone(),
            })
            .await
        {
            Ok(got) => assert_eq!(got.into_inner().title, task.title),
            Err(status) => failures.push(status),
        }
    }
    assert!(
        failures.len() <= 1,
        "more than the first call failed: {failures:?}"
    );
    for status in &failures {
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    let after = create(&mut alice, "alice", titled("after")).await;
    let titles: Vec<String> = list_all(&mut alice, "alice")
        .await
        .into_iter()
        .map(|t| t.title)
        .collect();
    assert_eq!(titles.len(), 9, "{titles:?}");
    assert!(titles.contains(&after.title));
}
