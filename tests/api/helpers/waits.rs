//! Waiting for what the server does in the background, with a deadline.

#[allow(unused_imports)]
use super::*;

/// Waits until `check` returns `Some`, re-checking every 20 ms, for at most 10 s. Only for
/// what happens outside the test's hands: deliveries the sidecar double makes on its own,
/// another replica's work, a restarted process, a client that went away. Work in this process
/// is driven to its end instead (`TestApp::drain_events`, `reminders().fire_due()`).
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(what, Duration::from_secs(10), check).await
}

/// Waits until `check` returns `Some`, re-checking every 20 ms, for at most `timeout`.
pub async fn eventually_within<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every outbox row, in commit order.
pub async fn outbox_rows(
    db: &taskflow::store::Database,
) -> Vec<taskflow::store::outbox::OutboxRow> {
    use sea_orm::{EntityTrait, QueryOrder};
    taskflow::store::entity::outbox::Entity::find()
        .order_by_asc(taskflow::store::entity::outbox::Column::Seq)
        .all(db.conn())
        .await
        .expect("reads the outbox")
}

/// Waits until the outbox holds `count` events (any number with `None`), all published.
pub async fn published_outbox(
    db: &taskflow::store::Database,
    count: Option<usize>,
) -> Vec<taskflow::store::outbox::OutboxRow> {
    eventually("the outbox to be published", || async {
        let rows = outbox_rows(db).await;
        let complete = count.is_none_or(|n| rows.len() == n);
        (complete && rows.iter().all(|r| r.published_us.is_some())).then_some(rows)
    })
    .await
}
