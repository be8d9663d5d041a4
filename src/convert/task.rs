//! Protobuf tasks <-> domain tasks: whole tasks, the fields of a new task, and the patch an
//! update mask names.

use prost_types::Timestamp;

use super::recurrence::{recurrence_in, recurrence_out};
use super::time::{duration_in, duration_out, timestamp_in, timestamp_out};
use crate::domain::{
    Priority, Task, TaskFields, TaskPatch, parse_description, parse_tags, parse_time_zone,
    parse_title,
};
use crate::error::{Violations, excerpt};
use crate::proto::v1 as pb;

pub fn task_out(task: &Task) -> pb::Task {
    let f = &task.fields;
    pb::Task {
        name: task.name().to_string(),
        title: f.title.clone(),
        description: f.description.clone(),
        priority: i32::from(f.priority.rank()),
        tags: f.tags.clone(),
        due_time: f.due_time.map(timestamp_out),
        time_zone: f.time_zone.clone(),
        recurrence: f.recurrence.as_ref().map(recurrence_out),
        completed: task.completed,
        complete_time: task.complete_time.map(timestamp_out),
        series: task.series.to_string(),
        occurrence: task.occurrence,
        create_time: Some(timestamp_out(task.create_time)),
        update_time: Some(timestamp_out(task.update_time)),
        etag: task.etag().to_string(),
        remind_before: f.remind_before.map(duration_out),
    }
}

/// The updatable fields of a task, by their mask path.
pub const UPDATABLE: &[&str] = &[
    "title",
    "description",
    "priority",
    "tags",
    "due_time",
    "time_zone",
    "recurrence",
    "remind_before",
];

/// Reads the fields named in `paths` from `task` into a patch, checking each one.
/// `prefix` is the request field holding the task (`task`).
pub fn patch_in(task: &pb::Task, paths: &[&str], prefix: &str, v: &mut Violations) -> TaskPatch {
    let mut patch = TaskPatch::default();
    let field = |name: &str| format!("{prefix}.{name}");
    for path in paths {
        match *path {
            "title" => patch.title = v.check(&field("title"), parse_title(&task.title)),
            "description" => {
                patch.description =
                    v.check(&field("description"), parse_description(&task.description));
            }
            "priority" => {
                patch.priority = v.check(
                    &field("priority"),
                    Priority::from_rank(i64::from(task.priority))
                        .ok_or_else(|| format!("unknown priority {}", task.priority)),
                );
            }
            "tags" => patch.tags = v.check(&field("tags"), parse_tags(&task.tags)),
            "due_time" => {
                patch.due_time = match &task.due_time {
                    Some(ts) => v.check(&field("due_time"), timestamp_in(ts)).map(Some),
                    None => Some(None),
                };
            }
            "time_zone" => {
                patch.time_zone = v.check(&field("time_zone"), parse_time_zone(&task.time_zone))
            }
            "remind_before" => {
                patch.remind_before = match &task.remind_before {
                    Some(d) => v
                        .check(
                            &field("remind_before"),
                            duration_in(d).and_then(crate::domain::parse_remind_before),
                        )
                        .map(Some),
                    None => Some(None),
                };
            }
            "recurrence" => {
                patch.recurrence = match &task.recurrence {
                    Some(rule) => recurrence_in(rule, &field("recurrence"), v).map(Some),
                    None => Some(None),
                };
            }
            _ => {}
        }
    }
    patch
}

/// The fields of a new task.
pub fn fields_in(task: &pb::Task, prefix: &str, v: &mut Violations) -> TaskFields {
    let mut fields = TaskFields::default();
    fields.apply(patch_in(task, UPDATABLE, prefix, v));
    fields
}

/// The mask paths that are "populated" in `task`, for an update without a mask (AIP-134).
pub fn populated_paths(task: &pb::Task) -> Vec<&'static str> {
    let mut paths = Vec::new();
    if !task.title.is_empty() {
        paths.push("title");
    }
    if !task.description.is_empty() {
        paths.push("description");
    }
    if task.priority != 0 {
        paths.push("priority");
    }
    if !task.tags.is_empty() {
        paths.push("tags");
    }
    if task.due_time.is_some() {
        paths.push("due_time");
    }
    if !task.time_zone.is_empty() {
        paths.push("time_zone");
    }
    if task.recurrence.is_some() {
        paths.push("recurrence");
    }
    if task.remind_before.is_some() {
        paths.push("remind_before");
    }
    paths
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

/// Checks an update mask and returns the updatable paths it names.
pub fn mask_paths(mask: &[String], v: &mut Violations) -> Vec<&'static str> {
    let mut paths = Vec::new();
    for path in mask {
        if path == "*" {
            return UPDATABLE.to_vec();
        }
        if let Some(known) = UPDATABLE.iter().find(|p| **p == path) {
            if !paths.contains(known) {
                paths.push(*known);
            }
        } else if path == "completed" {
            v.add(
                "update_mask",
                "completed cannot be updated; call CompleteTask or ReopenTask",
            );
        } else if OUTPUT_ONLY.contains(&path.as_str()) {
            // Output only: ignored.
        } else if path.starts_with("recurrence.") {
            v.add(
                "update_mask",
                format!("{}: update recurrence as a whole", excerpt(path)),
            );
        } else {
            v.add(
                "update_mask",
                format!(
                    "unknown field {}; updatable: {}",
                    excerpt(path),
                    UPDATABLE.join(", ")
                ),
            );
        }
    }
    paths
}

/// A whole task from a snapshot (as carried by events), checked like user input.
pub fn task_in(task: &pb::Task) -> Result<Task, crate::error::AppError> {
    use crate::domain::{Task as DomainTask, TaskName};
    use crate::error::AppError;

    let mut v = Violations::default();
    let fields = fields_in(task, "task", &mut v);
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
    let version = v.check(
        "task.etag",
        crate::domain::Etag::parse(&task.etag).map(|e| e.0),
    );
    if task.occurrence < 1 {
        v.add("task.occurrence", "must be at least 1");
    }
    let (Some(name), Some(series), Some(version)) = (name, series, version) else {
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
    v.finish(whole)
}
