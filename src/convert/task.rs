//! Protobuf tasks <-> domain tasks: whole tasks, the fields of a new task, and the patch an
//! update mask names.

use prost_types::Timestamp;

use super::recurrence::{Source, recurrence_in, recurrence_out};
use super::reminder::{reminders_in, reminders_out};
use super::time::{duration_in, duration_out, timestamp_in, timestamp_out};
use crate::domain::{
    Description, ListName, Priority, Tags, Task, TaskField, TaskFields, TaskName, TaskPatch,
    TimeZone, Title, local_date, parse_remind_before,
};
use crate::error::{Violations, excerpt};
use crate::proto::v1 as pb;

pub fn task_out(task: &Task) -> pb::Task {
    let f = &task.fields;
    pb::Task {
        name: task.name().to_string(),
        title: f.title.as_str().to_owned(),
        description: f.description.as_str().to_owned(),
        priority: i32::from(f.priority.rank()),
        tags: f.tags.as_slice().to_vec(),
        due_time: f.due_time.map(timestamp_out),
        time_zone: f.time_zone.as_str().to_owned(),
        recurrence: f.recurrence.as_ref().map(|rule| {
            let anchor = task.series_anchor.or(f.due_time);
            recurrence_out(rule, anchor.and_then(|t| local_date(f.time_zone.tz(), t)))
        }),
        completed: task.completed,
        complete_time: task.complete_time.map(timestamp_out),
        series: task.series.to_string(),
        occurrence: task.occurrence,
        create_time: Some(timestamp_out(task.create_time)),
        update_time: Some(timestamp_out(task.update_time)),
        etag: task.etag().to_string(),
        remind_before: f.remind_before.map(duration_out),
        delete_time: task.deletion.map(|d| timestamp_out(d.delete_time)),
        purge_time: task.deletion.map(|d| timestamp_out(d.purge_time)),
        list: ListName {
            user: task.user.clone(),
            list: f.list,
        }
        .to_string(),
        parent: f
            .parent
            .map(|parent| {
                TaskName {
                    user: task.user.clone(),
                    task: parent,
                }
                .to_string()
            })
            .unwrap_or_default(),
        reminders: reminders_out(&f.reminders, f.due_time),
    }
}

/// Reads `fields` from `task` into a patch, checking each one; a violation names its field
/// under `prefix`, the request field holding the task (`task`).
pub fn patch_in(
    task: &pb::Task,
    fields: &[TaskField],
    prefix: &str,
    v: &mut Violations,
) -> TaskPatch {
    patch_from(task, fields, prefix, Source::Request, v)
}

fn patch_from(
    task: &pb::Task,
    fields: &[TaskField],
    prefix: &str,
    source: Source,
    v: &mut Violations,
) -> TaskPatch {
    let mut patch = TaskPatch::default();
    for field in fields {
        let path = format!("{prefix}.{field}");
        match field {
            TaskField::Title => patch.title = v.check(&path, Title::parse(&task.title)),
            TaskField::Description => {
                patch.description = v.check(&path, Description::parse(&task.description));
            }
            TaskField::Priority => {
                patch.priority = v.check(
                    &path,
                    Priority::from_rank(i64::from(task.priority))
                        .ok_or_else(|| format!("unknown priority {}", task.priority)),
                );
            }
            TaskField::Tags => patch.tags = v.check(&path, Tags::parse(&task.tags)),
            TaskField::DueTime => {
                patch.due_time = match &task.due_time {
                    Some(ts) => v.check(&path, timestamp_in(ts)).map(Some),
                    None => Some(None),
                };
            }
            TaskField::TimeZone => {
                patch.time_zone = v.check(&path, TimeZone::parse(&task.time_zone));
            }
            TaskField::RemindBefore => {
                patch.remind_before = match &task.remind_before {
                    Some(d) => v
                        .check(
                            &path,
                            duration_in(d)
                                .and_then(|d| parse_remind_before(d).map_err(|e| e.to_string())),
                        )
                        .map(Some),
                    None => Some(None),
                };
            }
            TaskField::Reminders => patch.reminders = reminders_in(&task.reminders, &path, v),
            TaskField::Recurrence => {
                patch.recurrence = match &task.recurrence {
                    Some(rule) => recurrence_in(rule, &path, source, v).map(Some),
                    None => Some(None),
                };
            }
            TaskField::List => {
                patch.list = match task.list.as_str() {
                    "" => Some(None),
                    raw => v.check(&path, ListName::parse(raw)).map(Some),
                };
            }
            TaskField::Parent => {
                patch.parent = match task.parent.as_str() {
                    "" => Some(None),
                    raw => v.check(&path, TaskName::parse(raw)).map(Some),
                };
            }
        }
    }
    patch
}

/// The fields of a new task (`None`, with the violations added, when they are not valid).
pub fn fields_in(task: &pb::Task, prefix: &str, v: &mut Violations) -> Option<TaskFields> {
    TaskFields::from_patch(patch_in(task, &TaskField::ALL, prefix, v))
}

/// Whether `field` is "populated" in `task` (set to a value other than its default).
fn is_populated(task: &pb::Task, field: TaskField) -> bool {
    match field {
        TaskField::Title => !task.title.is_empty(),
        TaskField::Description => !task.description.is_empty(),
        TaskField::Priority => task.priority != 0,
        TaskField::Tags => !task.tags.is_empty(),
        TaskField::DueTime => task.due_time.is_some(),
        TaskField::TimeZone => !task.time_zone.is_empty(),
        TaskField::Recurrence => task.recurrence.is_some(),
        TaskField::RemindBefore => task.remind_before.is_some(),
        TaskField::List => !task.list.is_empty(),
        TaskField::Parent => !task.parent.is_empty(),
        TaskField::Reminders => !task.reminders.is_empty(),
    }
}

/// The fields that are populated in `task`, for an update without a mask (AIP-134).
pub fn populated_fields(task: &pb::Task) -> Vec<TaskField> {
    TaskField::ALL
        .into_iter()
        .filter(|f| is_populated(task, *f))
        .collect()
}

/// Output-only fields: named in a mask, they are ignored (AIP-203).
const OUTPUT_ONLY: &[&str] = &[
    "name",
    "complete_time",
    "series",
    "occurrence",
    "create_time",
    "update_time",
    "etag",
];

/// Checks an update mask and returns the updatable fields it names.
pub fn mask_fields(mask: &[String], v: &mut Violations) -> Vec<TaskField> {
    let mut paths = Vec::new();
    for path in mask {
        if path == "*" {
            return TaskField::ALL.to_vec();
        }
        if let Some(known) = TaskField::from_path(path) {
            if !paths.contains(&known) {
                paths.push(known);
            }
        } else if path == "completed" {
            v.add(
                "update_mask",
                "completed cannot be updated; call CompleteTask or ReopenTask",
            );
        } else if OUTPUT_ONLY.contains(&path.as_str()) {
            // Output only: ignored.
        } else if let Some(whole) = ["recurrence", "reminders"]
            .into_iter()
            .find(|f| path.starts_with(&format!("{f}.")))
        {
            v.add(
                "update_mask",
                format!("{}: update {whole} as a whole", excerpt(path)),
            );
        } else {
            v.add(
                "update_mask",
                format!(
                    "unknown field {}; updatable: {}",
                    excerpt(path),
                    TaskField::all_paths()
                ),
            );
        }
    }
    paths
}

/// A whole task from a snapshot (as carried by events), checked like user input.
pub fn task_in(task: &pb::Task) -> Result<Task, crate::error::AppError> {
    use crate::domain::Task as DomainTask;
    use crate::error::AppError;

    let mut v = Violations::default();
    let fields = TaskFields::from_patch(patch_from(
        task,
        &TaskField::ALL,
        "task",
        Source::Snapshot,
        &mut v,
    ));
    let name = v.check("task.name", TaskName::parse(&task.name));
    let series = v.check(
        "task.series",
        crate::domain::parse_canonical_uuid(&task.series)
            .ok_or_else(|| "is not a UUID in lowercase hyphenated form".to_owned()),
    );
    let time = |field: &str, ts: &Option<Timestamp>, v: &mut Violations| {
        ts.as_ref().and_then(|t| v.check(field, timestamp_in(t)))
    };
    let complete_time = time("task.complete_time", &task.complete_time, &mut v);
    let create_time = time("task.create_time", &task.create_time, &mut v);
    let update_time = time("task.update_time", &task.update_time, &mut v);
    let delete_time = time("task.delete_time", &task.delete_time, &mut v);
    let purge_time = time("task.purge_time", &task.purge_time, &mut v);
    let version = v.check(
        "task.etag",
        crate::domain::Etag::parse(&task.etag).map(|e| e.0),
    );
    if task.occurrence < 1 {
        v.add("task.occurrence", "must be at least 1");
    }
    let (Some(name), Some(series), Some(version), Some(fields)) = (name, series, version, fields)
    else {
        return Err(v
            .finish(())
            .err()
            .unwrap_or_else(|| AppError::invalid("task", "incomplete")));
    };
    let mut whole = DomainTask::new(
        name.task,
        name.user,
        fields,
        create_time.unwrap_or_default(),
    );
    whole.completed = task.completed;
    whole.complete_time = complete_time;
    whole.series = series;
    whole.occurrence = task.occurrence;
    whole.version = version;
    whole.update_time = update_time.unwrap_or_default();
    // A snapshot does not say where its series is anchored.
    whole.series_anchor = None;
    whole.deletion = match (delete_time, purge_time) {
        (Some(delete_time), Some(purge_time)) => Some(crate::domain::Deletion {
            delete_time,
            purge_time,
        }),
        _ => None,
    };
    v.finish(whole)
}
