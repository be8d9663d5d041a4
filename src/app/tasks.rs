//! The task use cases behind `TaskService`.

use sea_orm::ConnectionTrait;
use tracing::Instrument;

use super::create_queue::CreateQueue;
use super::task_tree::{MAX_DEPTH, check_owner, height, named_list, place, surviving_list};
use crate::clock::now;
use crate::domain::{
    Deletion, Etag, Task, TaskField, TaskFields, TaskId, TaskName, TaskPatch, UserId,
};
use crate::error::AppError;
use crate::listing::Cursor;
use crate::outbox::{Cause, EventKind, Outbox, change_event, task_event};
use crate::store::{Database, is_unique_violation, subtasks, tasks};

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

    /// Creates a task from `patch` (its title required). With a `request_id`, a retry returns
    /// the task the first attempt made.
    pub async fn create(
        &self,
        user: &UserId,
        patch: TaskPatch,
        request_id: Option<&str>,
    ) -> Result<Task, AppError> {
        check_owner(user, &patch)?;
        let named = named_list(&patch);
        let mut fields = TaskFields::from_patch(patch)
            .ok_or_else(|| AppError::invalid("task.title", "required"))?;
        cross_check(&fields)?;
        if let Some(request_id) = request_id
            && let Some(existing) = tasks::find_by_request(self.db.conn(), user, request_id).await?
        {
            return Ok(existing);
        }
        place(self.db.conn(), user, None, named.as_ref(), &mut fields, 0).await?;
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

    /// Applies `patch`. A patch that changes nothing returns the task as it is. Moving a task
    /// to another list moves its subtasks with it (a `task.updated` each).
    pub async fn update(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        patch: TaskPatch,
    ) -> Result<Task, AppError> {
        self.update_in_transaction(name, etag, patch)
            .instrument(crate::telemetry::db_transaction("update"))
            .await
    }

    async fn update_in_transaction(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        patch: TaskPatch,
    ) -> Result<Task, AppError> {
        check_owner(&name.user, &patch)?;
        let tags_changed = patch.tags.is_some();
        let named = named_list(&patch);
        let moves = patch.list.is_some() || patch.parent.is_some();
        let (_turn, txn) = self.db.begin_write().await?;
        let current = locked(&txn, name).await?;
        Deleted::Refused.check(name, &current)?;
        check_etag(etag, &current)?;
        let mut fields = current.fields.clone();
        fields.apply(patch);
        cross_check(&fields)?;
        let below = if moves {
            subtasks::descendants(&txn, &name.user, name.task, MAX_DEPTH, true).await?
        } else {
            Vec::new()
        };
        if moves {
            let levels = height(&below);
            place(
                &txn,
                &name.user,
                Some(name.task),
                named.as_ref(),
                &mut fields,
                levels,
            )
            .await?;
        }
        let changed = current.fields.changed(&fields);
        if changed.is_empty() {
            return Ok(current);
        }
        let mut next = current.clone();
        next.update_time = later(current.update_time);
        if fields.due_time != current.fields.due_time
            || fields.recurrence != current.fields.recurrence
        {
            // Editing when or how a task recurs re-anchors its series.
            next.series_anchor = fields.due_time;
        }
        next.fields = fields;
        self.save(
            &txn,
            &current,
            &mut next,
            EventKind::TaskUpdated,
            &changed,
            tags_changed,
        )
        .await?;
        if next.fields.list != current.fields.list {
            for sub in below.iter().flatten() {
                let mut moved = sub.clone();
                moved.update_time = later(sub.update_time);
                moved.fields.list = next.fields.list;
                let changed = [TaskField::List];
                self.save(
                    &txn,
                    sub,
                    &mut moved,
                    EventKind::TaskUpdated,
                    &changed,
                    false,
                )
                .await?;
            }
        }
        txn.commit().await?;
        self.outbox.wake();
        Ok(next)
    }

    /// Completes a task and its open subtasks (a `task.completed` each); completing a
    /// completed task returns it unchanged.
    pub async fn complete(&self, name: &TaskName) -> Result<Task, AppError> {
        self.write(name, None, Deleted::Refused, Cascade::Complete, |task| {
            if task.completed {
                return Ok(None);
            }
            task.completed = true;
            task.complete_time = Some(task.update_time);
            Ok(Some((EventKind::TaskCompleted, Vec::new())))
        })
        .await
    }

    /// Reopens a completed task (not its subtasks); reopening an open task returns it
    /// unchanged.
    pub async fn reopen(&self, name: &TaskName) -> Result<Task, AppError> {
        self.write(name, None, Deleted::Refused, Cascade::None, |task| {
            if !task.completed {
                return Ok(None);
            }
            task.completed = false;
            task.complete_time = None;
            Ok(Some((EventKind::TaskReopened, Vec::new())))
        })
        .await
    }

    /// Deletes a task (soft delete): it keeps its row, with when it was deleted and when it
    /// will be purged, and can be undeleted until then. A deleted task is not found again.
    /// Its subtasks are deleted with it (a `task.deleted` each).
    pub async fn delete(&self, name: &TaskName, etag: Option<Etag>) -> Result<Task, AppError> {
        let purge_after = self.purge_after;
        self.write(
            name,
            etag,
            Deleted::NotFound,
            Cascade::Delete,
            move |task| {
                let at = task.update_time;
                task.deletion = Some(Deletion {
                    delete_time: at,
                    purge_time: at + purge_after,
                });
                Ok(Some((EventKind::TaskDeleted, Vec::new())))
            },
        )
        .await
    }

    /// Restores a deleted task as it was, with the subtasks deleted with it; a task that is
    /// not deleted is ALREADY_EXISTS. A subtask whose parent is deleted is
    /// FAILED_PRECONDITION; one whose parent is purged becomes a top-level task, and a task
    /// whose list is gone comes back in the inbox.
    pub async fn undelete(&self, name: &TaskName, etag: Option<Etag>) -> Result<Task, AppError> {
        self.write(name, etag, Deleted::Expected, Cascade::Undelete, |task| {
            task.deletion = None;
            Ok(Some((EventKind::TaskUndeleted, Vec::new())))
        })
        .await
    }

    /// Reads the task with its row locked, lets `change` edit it (returning the event that
    /// reports the change, or `None` when nothing changed), and writes it back with a new
    /// version and its event in the same transaction, then does `cascade` to its subtasks.
    async fn write(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        deleted: Deleted,
        cascade: Cascade,
        change: impl FnOnce(&mut Task) -> Result<Option<(EventKind, Vec<TaskField>)>, AppError>,
    ) -> Result<Task, AppError> {
        self.write_in_transaction(name, etag, deleted, cascade, change)
            .instrument(crate::telemetry::db_transaction("write"))
            .await
    }

    async fn write_in_transaction(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        deleted: Deleted,
        cascade: Cascade,
        change: impl FnOnce(&mut Task) -> Result<Option<(EventKind, Vec<TaskField>)>, AppError>,
    ) -> Result<Task, AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let current = locked(&txn, name).await?;
        deleted.check(name, &current)?;
        check_etag(etag, &current)?;
        let mut next = current.clone();
        // The time of the change, strictly later than the last one even if the clock stepped
        // back; `change` reads it from `update_time`.
        next.update_time = later(current.update_time);
        if cascade == Cascade::Undelete {
            resettle(&txn, &mut next).await?;
        }
        let Some((kind, changed)) = change(&mut next)? else {
            return Ok(current);
        };
        self.save(&txn, &current, &mut next, kind, &changed, false)
            .await?;
        if cascade != Cascade::None {
            let below = subtasks::descendants(&txn, &name.user, name.task, MAX_DEPTH, true).await?;
            for sub in below.iter().flatten() {
                let mut follows = sub.clone();
                follows.update_time = later(sub.update_time);
                let Some(kind) = cascade.apply(&current, &next, &mut follows) else {
                    continue;
                };
                self.save(&txn, sub, &mut follows, kind, &[], false).await?;
            }
        }
        txn.commit().await?;
        self.outbox.wake();
        Ok(next)
    }

    /// Writes `next` over `current` (a new version) with the event reporting the change.
    async fn save(
        &self,
        txn: &impl ConnectionTrait,
        current: &Task,
        next: &mut Task,
        kind: EventKind,
        changed: &[TaskField],
        tags_changed: bool,
    ) -> Result<(), AppError> {
        next.version = current.version + 1;
        if !tasks::update(txn, next, current.version, tags_changed).await? {
            return Err(AppError::Aborted(format!(
                "task {} changed while it was being updated; retry",
                current.name()
            )));
        }
        let event = change_event(kind, next, Some(current), &Cause::User, changed);
        self.outbox.enqueue(txn, event).await?;
        Ok(())
    }
}

/// A time strictly after `last`: now, unless the clock stepped back.
fn later(last: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    now().max(last + chrono::Duration::microseconds(1))
}

async fn locked(txn: &impl ConnectionTrait, name: &TaskName) -> Result<Task, AppError> {
    tasks::find(txn, name, true)
        .await?
        .ok_or_else(|| not_found(name))
}

/// Where a task being undeleted goes back to: under its parent unless that is deleted
/// (refused) or purged (then at the top), in its list unless that is gone (then the inbox).
async fn resettle(txn: &impl ConnectionTrait, task: &mut Task) -> Result<(), AppError> {
    if let Some(parent) = task.fields.parent {
        let parent_name = TaskName {
            user: task.user.clone(),
            task: parent,
        };
        match tasks::find(txn, &parent_name, false).await? {
            Some(found) if found.is_deleted() => {
                return Err(AppError::FailedPrecondition(format!(
                    "its parent task {parent_name} is deleted; undelete that first"
                )));
            }
            Some(found) => task.fields.list = found.fields.list,
            None => task.fields.parent = None,
        }
    }
    if task.fields.parent.is_none() {
        task.fields.list = surviving_list(txn, &task.user, task.fields.list).await?;
    }
    Ok(())
}

/// What a change to a task does to its subtasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cascade {
    None,
    /// Open subtasks are completed.
    Complete,
    /// Subtasks not deleted yet are deleted, at the same time as the task.
    Delete,
    /// Subtasks deleted with the task (at the same time) are undeleted.
    Undelete,
}

impl Cascade {
    /// Changes `sub` as `root` went from `before` to `after`; the event kind, or `None` when
    /// `sub` stays as it is.
    fn apply(self, before: &Task, after: &Task, sub: &mut Task) -> Option<EventKind> {
        match self {
            Cascade::Complete if !sub.completed && !sub.is_deleted() => {
                sub.completed = true;
                sub.complete_time = Some(sub.update_time);
                Some(EventKind::TaskCompleted)
            }
            Cascade::Delete if !sub.is_deleted() => {
                sub.deletion = after.deletion;
                Some(EventKind::TaskDeleted)
            }
            Cascade::Undelete
                if sub.deletion.is_some()
                    && sub.deletion.map(|d| d.delete_time)
                        == before.deletion.map(|d| d.delete_time) =>
            {
                sub.deletion = None;
                sub.fields.list = after.fields.list;
                Some(EventKind::TaskUndeleted)
            }
            _ => None,
        }
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
