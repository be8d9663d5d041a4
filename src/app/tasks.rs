//! The task use cases behind `TaskService`.

use chrono::{DateTime, Utc};

use crate::domain::{Etag, Task, TaskFields, TaskId, TaskName, TaskPatch, UserId};
use crate::error::AppError;
use crate::listing::Cursor;
use crate::store::{Database, from_micros, tasks, to_micros};

pub use crate::store::tasks::ListQuery;

/// The current time at the storage precision (microseconds), so that what a call returns
/// equals what a later read returns.
pub fn now() -> DateTime<Utc> {
    from_micros(to_micros(Utc::now()))
}

#[derive(Debug, Clone)]
pub struct Tasks {
    db: Database,
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
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub fn db(&self) -> &Database {
        &self.db
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
        let now = now();
        let id = TaskId::new_v7();
        let task = Task {
            id,
            user: user.clone(),
            fields,
            completed: false,
            complete_time: None,
            series: id.as_uuid(),
            occurrence: 1,
            version: 1,
            create_time: now,
            update_time: now,
        };
        let txn = self.db.begin_write().await?;
        match tasks::insert(&txn, &task, request_id).await {
            Ok(()) => {
                txn.commit().await?;
                Ok(task)
            }
            Err(err) if request_id.is_some() && is_unique_violation(&err) => {
                // A concurrent retry with the same request id won the race: return its task.
                txn.rollback().await?;
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
                let changed = fields != task.fields;
                task.fields = fields;
                Ok(changed)
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
                    return Ok(false);
                }
                task.completed = true;
                task.complete_time = Some(now());
                Ok(true)
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
                    return Ok(false);
                }
                task.completed = false;
                task.complete_time = None;
                Ok(true)
            },
            false,
        )
        .await
    }

    pub async fn delete(&self, name: &TaskName, etag: Option<Etag>) -> Result<(), AppError> {
        let txn = self.db.begin_write().await?;
        let current = tasks::find(&txn, name, true)
            .await?
            .ok_or_else(|| not_found(name))?;
        check_etag(etag, &current)?;
        if !tasks::delete(&txn, name).await? {
            return Err(not_found(name));
        }
        txn.commit().await?;
        Ok(())
    }

    /// Reads the task with its row locked, lets `change` edit it (returning whether anything
    /// changed), and writes it back with a new version in the same transaction.
    async fn modify(
        &self,
        name: &TaskName,
        etag: Option<Etag>,
        change: impl FnOnce(&mut Task) -> Result<bool, AppError>,
        tags_changed: bool,
    ) -> Result<Task, AppError> {
        let txn = self.db.begin_write().await?;
        let current = tasks::find(&txn, name, true)
            .await?
            .ok_or_else(|| not_found(name))?;
        check_etag(etag, &current)?;
        let mut next = current.clone();
        if !change(&mut next)? {
            return Ok(current);
        }
        next.version = current.version + 1;
        // Strictly later than before, even if the clock stepped back.
        next.update_time = now().max(current.update_time + chrono::Duration::microseconds(1));
        if !tasks::update(&txn, &next, current.version, tags_changed).await? {
            return Err(AppError::Aborted(format!(
                "task {name} changed while it was being updated; retry"
            )));
        }
        txn.commit().await?;
        Ok(next)
    }
}

fn is_unique_violation(err: &sea_orm::DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}
