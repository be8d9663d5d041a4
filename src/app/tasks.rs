//! The task use cases behind `TaskService`.

use super::create_queue::CreateQueue;
use crate::clock::now;
use crate::domain::{
    Deletion, Etag, Task, TaskField, TaskFields, TaskId, TaskName, TaskPatch, UserId,
};
use crate::error::AppError;
use crate::listing::Cursor;
use crate::outbox::{Cause, EventKind, Outbox, change_event, task_event};
use crate::store::{Database, tasks};

pub use crate::store::tasks::{ListQuery, cursor_of};

/// How long a deleted task can be undeleted before it is purged, unless configured.
pub const DEFAULT_PURGE_AFTER: chrono::Duration = chrono::Duration::days(30);

#[derive(Debug, Clone)]
pub struct Tasks {
    db: Database,
    outbox: Outbox,
    creates: CreateQueue,
    purge_after: chrono::Duration,
}

fn not_found(name: &TaskName) -> AppError {
    AppError::NotFound(format!("task {name}"))
}

fn check_etag(expected: Option<Etag>, current: &Task) -> Result<(), AppError> {
    match expected {
        Some(etag) if etag != current.etag() => Err(AppError::Aborted(format!(
            "etag {etag} is stale: the task is now at {}; read it again and retry",
            current.etag()
        ))),
        _ => Ok(()),
    }
}

fn cross_check(fields: &TaskFields) -> Result<(), AppError> {
    let problems = fields.cross_check();
    if problems.is_empty() {
        return Ok(());
    }
    Err(AppError::InvalidArgument(
        problems
            .into_iter()
            .map(|(field, description)| crate::error::FieldViolation {
                field: format!("task.{field}"),
                description,
            })
            .collect(),
    ))
}

impl Tasks {
    /// Starts the use cases (and the queue that writes new tasks in batches).
    pub fn new(db: Database, outbox: Outbox) -> Self {
        let creates = CreateQueue::start(db.clone(), outbox.clone());
        Self {
            db,
            outbox,
            creates,
            purge_after: DEFAULT_PURGE_AFTER,
        }
    }

    /// Deleted tasks are purged this long after their delete.
    pub fn with_purge_after(mut self, purge_after: chrono::Duration) -> Self {
        self.purge_after = purge_after;
        self
    }

    /// Creates a task. With a `request_id`, a retry returns the task the first attempt made.
    pub async fn create(
        &self,
        user: &UserId,
        fields: TaskFields,
        request_id: Option<&str>,
    ) -> Result<Task, AppError> {
        cross_check(&fields)?;
        if let Some(request_id) = request_id
            && let Some(existing) = tasks::find_by_request(self.db.conn(), user, request_id).await?
        {
            return Ok(existing);
        }
        let task = Task::new(TaskId::new_v7(), user.clone(), fields, now());
        let event = task_event(EventKind::TaskCreated, &task, &Cause::User, &[]);
        match self.creates.insert(task.clone(), request_id, event).await {
            Ok(()) => Ok(task),
            Err(err) if request_id.is_some() && is_unique_violation(&err) => {
                // A concurrent retry with the same request id won the race: return its task.
                let request_id = request_id.unwrap_or_default();
                tasks::find_by_request(self.db.conn(), user, request_id)
                    .await?
                    .ok_or_else(|| AppError::from(err))
            }
            Err(err) => Err(err.into()),
        }
    }

    pub async fn get(&self, name: &TaskName) -> Result<Task, AppError> {
        tasks::find(self.db.conn(), name, false)
            .await?
            .ok_or_else(|| not_found(name))
    }

    pub async fn list(&self, query: &ListQuery) -> Result<(Vec<Task>, Option<Cursor>), AppError> {
        tasks::list(self.db.conn(), query).await
    }

    /// Applies `patch`. A patch that changes nothing returns the task as it is.
    pub async fn update(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        patch: TaskPatch,
    ) -> Result<Task, AppError> {
        let tags_changed = patch.tags.is_some();
        self.modify(
            name,
            etag,
            move |task| {
                let mut fields = task.fields.clone();
                fields.apply(patch);
                cross_check(&fields)?;
                let changed = task.fields.changed(&fields);
                if changed.is_empty() {
                    return Ok(None);
                }
                if fields.due_time != task.fields.due_time
                    || fields.recurrence != task.fields.recurrence
                {
                    // Editing when or how a task recurs re-anchors its series.
                    task.series_anchor = fields.due_time;
                }
                task.fields = fields;
                Ok(Some((EventKind::TaskUpdated, changed)))
            },
            tags_changed,
        )
        .await
    }

    /// Completes a task; completing a completed task returns it unchanged.
    pub async fn complete(&self, name: &TaskName) -> Result<Task, AppError> {
        self.modify(
            name,
            None,
            |task| {
                if task.completed {
                    return Ok(None);
                }
                task.completed = true;
                task.complete_time = Some(task.update_time);
                Ok(Some((EventKind::TaskCompleted, Vec::new())))
            },
            false,
        )
        .await
    }

    /// Reopens a completed task; reopening an open task returns it unchanged.
    pub async fn reopen(&self, name: &TaskName) -> Result<Task, AppError> {
        self.modify(
            name,
            None,
            |task| {
                if !task.completed {
                    return Ok(None);
                }
                task.completed = false;
                task.complete_time = None;
                Ok(Some((EventKind::TaskReopened, Vec::new())))
            },
            false,
        )
        .await
    }

    /// Deletes a task (soft delete): it keeps its row, with when it was deleted and when it
    /// will be purged, and can be undeleted until then. A deleted task is not found again.
    pub async fn delete(&self, name: &TaskName, etag: Option<Etag>) -> Result<Task, AppError> {
        let purge_after = self.purge_after;
        self.write(name, etag, Deleted::NotFound, move |task| {
            let at = task.update_time;
            task.deletion = Some(Deletion {
                delete_time: at,
                purge_time: at + purge_after,
            });
            Ok(Some((EventKind::TaskDeleted, Vec::new())))
        })
        .await
    }

    /// Restores a deleted task as it was; a task that is not deleted is ALREADY_EXISTS.
    pub async fn undelete(&self, name: &TaskName, etag: Option<Etag>) -> Result<Task, AppError> {
        self.write(name, etag, Deleted::Expected, |task| {
            task.deletion = None;
            Ok(Some((EventKind::TaskUndeleted, Vec::new())))
        })
        .await
    }

    /// Reads the task with its row locked, lets `change` edit it (returning the event that
    /// reports the change, or `None` when nothing changed), and writes it back with a new
    /// version and its event in the same transaction. A deleted task cannot be changed.
    async fn modify(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        change: impl FnOnce(&mut Task) -> Result<Option<(EventKind, Vec<TaskField>)>, AppError>,
        tags_changed: bool,
    ) -> Result<Task, AppError> {
        self.write_with(name, etag, Deleted::Refused, change, tags_changed)
            .await
    }

    async fn write(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        deleted: Deleted,
        change: impl FnOnce(&mut Task) -> Result<Option<(EventKind, Vec<TaskField>)>, AppError>,
    ) -> Result<Task, AppError> {
        self.write_with(name, etag, deleted, change, false).await
    }

    async fn write_with(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        deleted: Deleted,
        change: impl FnOnce(&mut Task) -> Result<Option<(EventKind, Vec<TaskField>)>, AppError>,
        tags_changed: bool,
    ) -> Result<Task, AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let current = tasks::find(&txn, name, true)
            .await?
            .ok_or_else(|| not_found(name))?;
        deleted.check(name, &current)?;
        check_etag(etag, &current)?;
        let mut next = current.clone();
        // The time of the change, strictly later than the last one even if the clock stepped
        // back; `change` reads it from `update_time`.
        next.update_time = now().max(current.update_time + chrono::Duration::microseconds(1));
        let Some((kind, changed)) = change(&mut next)? else {
            return Ok(current);
        };
        next.version = current.version + 1;
        if !tasks::update(&txn, &next, current.version, tags_changed).await? {
            return Err(AppError::Aborted(format!(
                "task {name} changed while it was being updated; retry"
            )));
        }
        let event = change_event(kind, &next, Some(&current), &Cause::User, &changed);
        self.outbox.enqueue(&txn, event).await?;
        txn.commit().await?;
        self.outbox.wake();
        Ok(next)
    }
}

/// What a write does with a deleted task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deleted {
    /// Changes to a deleted task are refused until it is undeleted.
    Refused,
    /// Deleting a deleted task finds nothing to delete.
    NotFound,
    /// Undeleting needs a deleted task.
    Expected,
}

impl Deleted {
    fn check(self, name: &TaskName, task: &Task) -> Result<(), AppError> {
        match (self, task.is_deleted()) {
            (Deleted::Refused, true) => Err(AppError::FailedPrecondition(format!(
                "task {name} is deleted; undelete it first (UndeleteTask)"
            ))),
            (Deleted::NotFound, true) => Err(not_found(name)),
            (Deleted::Expected, false) => Err(AppError::AlreadyExists(format!(
                "task {name} is not deleted"
            ))),
            _ => Ok(()),
        }
    }
}

fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
