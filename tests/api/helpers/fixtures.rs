//! Building requests and reading answers.

#[allow(unused_imports)]
use super::*;

/// A new task with just a title.
pub fn titled(title: &str) -> pb::Task {
    pb::Task {
        title: title.into(),
        ..Default::default()
    }
}

/// "Water plants", due 2027-06-01T09:00Z, repeating at `frequency`.
pub fn water_plants(frequency: pb::Frequency) -> pb::Task {
    pb::Task {
        due_time: Some(ts("2027-06-01T09:00:00Z")),
        recurrence: Some(pb::Recurrence {
            frequency: frequency as i32,
            ..Default::default()
        }),
        ..titled("Water plants")
    }
}

/// Creates a task for `user` and returns it.
pub async fn create(client: &mut Client, user: &str, task: pb::Task) -> pb::Task {
    client
        .create_task(pb::CreateTaskRequest {
            parent: format!("users/{user}"),
            task: Some(task),
            request_id: String::new(),
        })
        .await
        .expect("CreateTask succeeds")
        .into_inner()
}

/// Completes the task `name` and returns it.
pub async fn complete(client: &mut Client, name: &str) -> pb::Task {
    client
        .complete_task(pb::CompleteTaskRequest { name: name.into() })
        .await
        .expect("CompleteTask succeeds")
        .into_inner()
}

/// Every task of `user`, in the default order (one page of up to 500).
pub async fn list_all(client: &mut Client, user: &str) -> Vec<pb::Task> {
    client
        .list_tasks(pb::ListTasksRequest {
            parent: format!("users/{user}"),
            page_size: 500,
            ..Default::default()
        })
        .await
        .expect("ListTasks succeeds")
        .into_inner()
        .tasks
}

/// A `google.protobuf.Timestamp` from RFC 3339 text.
pub fn ts(rfc3339: &str) -> prost_types::Timestamp {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("an RFC 3339 time");
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: i32::try_from(t.timestamp_subsec_nanos()).expect("nanos fit"),
    }
}

/// The field violations of an `InvalidArgument` status, as `(field, description)`.
pub fn violations(status: &Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .map(|br| {
            br.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts that `status` is `InvalidArgument` naming `field`.
#[track_caller]
pub fn assert_invalid(status: &Status, field: &str) {
    let fields = violations(status);
    assert!(
        fields.iter().any(|(f, _)| f == field),
        "expected a violation of {field}, got {fields:?} ({})",
        status.message()
    );
}

/// Creates, updates (title and priority), completes twice, reopens and deletes one task of
/// `user`: five changes, so five events. Returns the task as created.
pub async fn full_lifecycle(client: &mut Client, user: &str) -> pb::Task {
    let task = create(client, user, titled("Write the report")).await;
    client
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: task.name.clone(),
                title: "Write the annual report".into(),
                priority: pb::Priority::High as i32,
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into(), "priority".into()],
            }),
        })
        .await
        .expect("update");
    for _ in 0..2 {
        // The second completion changes nothing and publishes nothing.
        client
            .complete_task(pb::CompleteTaskRequest {
                name: task.name.clone(),
            })
            .await
            .expect("complete");
    }
    client
        .reopen_task(pb::ReopenTaskRequest {
            name: task.name.clone(),
        })
        .await
        .expect("reopen");
    client
        .delete_task(pb::DeleteTaskRequest {
            name: task.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete");
    task
}

/// The CloudEvent types of a full lifecycle, in order.
pub const LIFECYCLE_TYPES: [&str; 5] = [
    "task.created",
    "task.updated",
    "task.completed",
    "task.reopened",
    "task.deleted",
];
