//! A series ends where its next occurrence would fall after 9999-12-31: the API neither
//! accepts nor prints timestamps in year 10000 (RFC 3339, proto3 JSON).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use taskflow::proto::v1 as pb;
use taskflow::store::entity::{dead_letter, processed_event};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, complete, create, list_all, outbox_rows, titled, ts};

async fn a_yearly_series_due_in_9999_ends_when_completed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let first = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("9998-06-01T09:00:00Z")),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Yearly as i32,
                ..Default::default()
            }),
            ..titled("Renew the lease")
        },
    )
    .await;
    // 9999 is still in range: completing the 9998 occurrence creates it.
    complete(&mut alice, &first.name).await;
    let last = app.occurrence(&mut alice, "alice", &first.series, 2).await;
    assert_eq!(last.due_time, Some(ts("9999-06-01T09:00:00Z")));

    complete(&mut alice, &last.name).await;
    app.drain_events().await;
    let db = app.db().await;
    let rows = outbox_rows(&db).await;
    let task_events: Vec<&str> = rows
        .iter()
        .filter(|r| r.topic == "tasks")
        .map(|r| r.event_type.as_str())
        .collect();
    assert_eq!(
        task_events,
        [
            "task.created",
            "task.completed",
            "task.created",
            "task.completed"
        ],
        "no occurrence after the one due in 9999"
    );
    // The last completion was handled (not dropped, not retried): the series ended.
    let completed = rows
        .iter()
        .rfind(|r| r.event_type == "task.completed")
        .expect("the last completion");
    let handled = processed_event::Entity::find()
        .filter(processed_event::Column::EventId.eq(completed.event_id.to_string()))
        .one(db.conn())
        .await
        .expect("reads processed_events");
    assert!(handled.is_some(), "the completion was handled");
    let dead = dead_letter::Entity::find()
        .all(db.conn())
        .await
        .expect("reads dead_letters");
    assert!(dead.is_empty(), "{dead:?}");

    let in_series: Vec<(i32, bool, Option<prost_types::Timestamp>)> = list_all(&mut alice, "alice")
        .await
        .into_iter()
        .filter(|t| t.series == first.series)
        .map(|t| (t.occurrence, t.completed, t.due_time))
        .collect();
    assert_eq!(
        in_series.len(),
        2,
        "occurrences 1 and 2, both completed: {in_series:?}"
    );
    assert!(in_series.iter().all(|(_, completed, _)| *completed));
    assert!(
        in_series
            .iter()
            .any(|(n, _, due)| *n == 2 && *due == Some(ts("9999-06-01T09:00:00Z")))
    );
}

both_backends!(a_yearly_series_due_in_9999_ends_when_completed);
