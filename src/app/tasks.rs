//! The task use cases behind `TaskService`.

use super::create_queue::CreateQueue;
use crate::clock::now;
use crate::domain::{Etag, Task, TaskField, TaskFields, TaskId, TaskName, TaskPatch, UserId};
use crate::error::AppError;
use crate::listing::Cursor;
use crate::outbox::{Cause, EventKind, Outbox, task_event};
use crate::store::{Database, tasks};

pub use crate::store::tasks::{ListQuery, cursor_of};

#[derive(Debug, Clone)]
pub struct Tasks {
    db: Database,
    outbox: Outbox,
    creates: CreateQueue,
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
        }
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
                task.complete_time = Some(now());
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

    pub async fn delete(&self, name: &TaskName, etag: Option<Etag>) -> Result<(), AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let current = tasks::find(&txn, name, true)
            .await?
            .ok_or_else(|| not_found(name))?;
        check_etag(etag, &current)?;
        if !tasks::delete(&txn, name).await? {
            return Err(not_found(name));
        }
        let mut gone = current;
        gone.update_time = now().max(gone.update_time);
        let event = task_event(EventKind::TaskDeleted, &gone, &Cause::User, &[]);
        self.outbox.enqueue(&txn, event).await?;
        txn.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    /// Reads the task with its row locked, lets `change` edit it (returning the event that
    /// reports the change, or `None` when nothing changed), and writes it back with a new
    /// version and its event in the same transaction.
    async fn modify(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        change: impl FnOnce(&mut Task) -> Result<Option<(EventKind, Vec<TaskField>)>, AppError>,
        tags_changed: bool,
    ) -> Result<Task, AppError> {
        let (_turn, txn) = self.db.begin_write().await?;
        let current = tasks::find(&txn, name, true)
            .await?
            .ok_or_else(|| not_found(name))?;
        check_etag(etag, &current)?;
        let mut next = current.clone();
        let Some((kind, changed)) = change(&mut next)? else {
            return Ok(current);
        };
        next.version = current.version + 1;
        // Strictly later than before, even if the clock stepped back.
        next.update_time = now().max(current.update_time + chrono::Duration::microseconds(1));
        if !tasks::update(&txn, &next, current.version, tags_changed).await? {
            return Err(AppError::Aborted(format!(
                "task {name} changed while it was being updated; retry"
            )));
        }
        let event = task_event(kind, &next, &Cause::User, &changed);
        self.outbox.enqueue(&txn, event).await?;
        txn.commit().await?;
        self.outbox.wake();
        Ok(next)
    }
}

fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
