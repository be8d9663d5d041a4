//! The series anchor travels with `task.completed`: the next occurrence comes out the same
//! whether or not the completed occurrence is still stored when its event is handled.

use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, create, list_all, ts};
use crate::helpers::{NO_SIDECAR, deliver_from_outbox};

/// Completes `task`, deletes it before its `task.completed` is handled, then delivers that
/// event as the sidecar would; returns the task list afterwards.
async fn complete_delete_then_deliver(app: &TestApp, task: &pb::Task) -> Vec<pb::Task> {
    let mut alice = app.user("alice");
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    let status = deliver_from_outbox(app, &task.name, "task.completed", Some("alice"), None).await;
    assert_eq!(status, 0, "SUCCESS");
    list_all(&mut alice, "alice").await
}

/// Delivers the completion of `task` (left stored) and returns its next occurrence.
async fn next_of(app: &TestApp, task: &pb::Task) -> pb::Task {
    let mut alice = app.user("alice");
    alice
        .complete_task(pb::CompleteTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("complete");
    deliver_from_outbox(app, &task.name, "task.completed", Some("alice"), None).await;
    list_all(&mut alice, "alice")
        .await
        .into_iter()
        .find(|t| t.series == task.series && t.occurrence == task.occurrence + 1)
        .expect("the next occurrence")
}

fn only_open(tasks: Vec<pb::Task>) -> pb::Task {
    let open: Vec<pb::Task> = tasks.into_iter().filter(|t| !t.completed).collect();
    assert_eq!(open.len(), 1, "one open occurrence: {open:?}");
    open.into_iter().next().expect("one")
}

async fn a_month_end_series_keeps_its_day_after_a_deleted_occurrence(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut alice = app.user("alice");
    let first = create(
        &mut alice,
        "alice",
        pb::Task {
            title: "Pay rent".into(),
            due_time: Some(ts("2027-01-31T09:00:00Z")),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Monthly as i32,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let february = next_of(&app, &first).await;
    assert_eq!(february.due_time, Some(ts("2027-02-28T09:00:00Z")));
    let march = only_open(complete_delete_then_deliver(&app, &february).await);
    assert_eq!(march.occurrence, 3);
    assert_eq!(
        march.due_time,
        Some(ts("2027-03-31T09:00:00Z")),
        "the series keeps the 31st, not the 28th of the deleted occurrence"
    );
}

async fn a_series_returns_from_a_dst_gap_after_a_deleted_occurrence(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut alice = app.user("alice");
    // 02:30 in Berlin; on 2027-03-28 the clocks skip 02:00-03:00, so that day's occurrence
    // is at 03:30 local (01:30Z).
    let first = create(
        &mut alice,
        "alice",
        pb::Task {
            title: "Night shift".into(),
            due_time: Some(ts("2027-03-27T01:30:00Z")),
            time_zone: "Europe/Berlin".into(),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Daily as i32,
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    let in_the_gap = next_of(&app, &first).await;
    assert_eq!(in_the_gap.due_time, Some(ts("2027-03-28T01:30:00Z")));
    let after = only_open(complete_delete_then_deliver(&app, &in_the_gap).await);
    assert_eq!(
        after.due_time,
        Some(ts("2027-03-29T00:30:00Z")),
        "back at 02:30 local (CEST), not 03:30"
    );
}

both_backends!(
    a_month_end_series_keeps_its_day_after_a_deleted_occurrence,
    a_series_returns_from_a_dst_gap_after_a_deleted_occurrence,
);
