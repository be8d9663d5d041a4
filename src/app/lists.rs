//! The list use cases behind `ListService`.

use uuid::Uuid;

use super::Tasks;
use crate::clock::now;
use crate::domain::{Etag, ListId, ListName, TaskList, TaskName, Title, UserId};
use crate::error::AppError;
use crate::store::{Database, is_unique_violation, lists};

/// How many of a list's tasks a forced delete removes per transaction.
const DELETE_BATCH: u64 = 100;

#[derive(Debug, Clone)]
pub struct Lists {
    db: Database,
    tasks: Tasks,
}

fn not_found(name: &ListName) -> AppError {
    AppError::NotFound(format!("list {name}"))
}

fn inbox_is_fixed(what: &str) -> AppError {
    AppError::FailedPrecondition(format!("the inbox cannot be {what}"))
}

fn check_etag(expected: Option<Etag>, current: &TaskList) -> Result<(), AppError> {
    match expected {
        Some(etag) if etag.0 != current.version => Err(AppError::Aborted(format!(
            "etag {etag} is stale: the list is now at {}; read it again and retry",
            Etag(current.version)
        ))),
        _ => Ok(()),
    }
}

impl Lists {
    pub fn new(db: Database, tasks: Tasks) -> Self {
        Self { db, tasks }
    }

    /// Creates a list. With a `request_id`, a retry returns the list the first attempt made.
    pub async fn create(
        &self,
        user: &UserId,
        title: Title,
        request_id: Option<&str>,
    ) -> Result<TaskList, AppError> {
        let conn = self.db.conn();
        if let Some(request_id) = request_id
            && let Some(existing) = lists::find_by_request(conn, user, request_id).await?
        {
            return Ok(existing);
        }
        let at = now();
        let list = TaskList {
            user: user.clone(),
            id: ListId::new_v7(),
            title,
            version: 1,
            create_time: Some(at),
            update_time: Some(at),
        };
        let turn = self.db.write_turn().await?;
        let inserted = lists::insert(conn, &list, request_id).await;
        drop(turn);
        match inserted {
            Ok(()) => Ok(list),
            Err(err) if request_id.is_some() && is_unique_violation(&err) => {
                // A concurrent retry with the same request id won the race.
                let request_id = request_id.unwrap_or_default();
                lists::find_by_request(conn, user, request_id)
                    .await?
                    .ok_or_else(|| AppError::from(err))
            }
            Err(err) => Err(err.into()),
        }
    }

    pub async fn get(&self, name: &ListName) -> Result<TaskList, AppError> {
        lists::find(self.db.conn(), name, false)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// A page of the user's lists: the inbox first (on the first page), then the others
    /// oldest first; the position of the last one when more follow.
    pub async fn page(
        &self,
        user: &UserId,
        after: Option<(i64, Uuid)>,
        limit: u64,
    ) -> Result<(Vec<TaskList>, Option<(i64, Uuid)>), AppError> {
        let mut page = Vec::new();
        if after.is_none() {
            page.push(TaskList::inbox(user.clone()));
        }
        let room = limit.saturating_sub(page.len() as u64);
        let mut rows = lists::page(self.db.conn(), user, after, room).await?;
        let more = rows.len() as u64 > room;
        rows.truncate(usize::try_from(room).unwrap_or(usize::MAX));
        page.extend(rows);
        let next = match (more, page.last()) {
            (true, Some(last)) => position(last),
            _ => None,
        };
        Ok((page, next))
    }

    /// Renames a list.
    pub async fn rename(
        &self,
        name: &ListName,
        etag: Option<Etag>,
        title: Title,
    ) -> Result<TaskList, AppError> {
        if name.list == ListId::Inbox {
            return Err(inbox_is_fixed("renamed"));
        }
        let (_turn, txn) = self.db.begin_write().await?;
        let current = lists::find(&txn, name, true)
            .await?
            .ok_or_else(|| not_found(name))?;
        check_etag(etag, &current)?;
        if current.title == title {
            return Ok(current);
        }
        let mut next = current.clone();
        next.title = title;
        next.version = current.version + 1;
        next.update_time = Some(now());
        if !lists::update(&txn, &next, current.version).await? {
            return Err(AppError::Aborted(format!(
                "list {name} changed while it was being updated; retry"
            )));
        }
        txn.commit().await?;
        Ok(next)
    }

    /// Deletes a list; one still holding tasks only with `force`, which deletes its tasks
    /// first (soft deletes, a `task.deleted` each, a batch per transaction).
    pub async fn delete(
        &self,
        name: &ListName,
        etag: Option<Etag>,
        force: bool,
    ) -> Result<(), AppError> {
        if name.list == ListId::Inbox {
            return Err(inbox_is_fixed("deleted"));
        }
        let current = self.get(name).await?;
        check_etag(etag, &current)?;
        loop {
            let held = lists::live_tasks(self.db.conn(), name).await?;
            if held == 0 {
                break;
            }
            if !force {
                return Err(AppError::FailedPrecondition(format!(
                    "list {name} still holds {held} task(s); move or delete them, or delete \
                     with force"
                )));
            }
            for id in lists::live_task_ids(self.db.conn(), name, DELETE_BATCH).await? {
                let task = TaskName {
                    user: name.user.clone(),
                    task: id,
                };
                match self.tasks.delete(&task, None).await {
                    // Deleted by now some other way: nothing left to do for it.
                    Ok(_) | Err(AppError::NotFound(_)) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        let (_turn, txn) = self.db.begin_write().await?;
        let current = lists::find(&txn, name, true)
            .await?
            .ok_or_else(|| not_found(name))?;
        check_etag(etag, &current)?;
        // A task moved into the list meanwhile keeps it from going.
        let held = lists::live_tasks(&txn, name).await?;
        if held > 0 {
            return Err(AppError::Aborted(format!(
                "list {name} received tasks while it was being deleted; retry"
            )));
        }
        lists::delete(&txn, name).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Where a page ends: the last list's creation and id (the inbox comes before every row).
fn position(list: &TaskList) -> Option<(i64, Uuid)> {
    match (list.id, list.create_time) {
        (ListId::Id(id), Some(at)) => Some((crate::store::to_micros(at), id)),
        _ => Some((i64::MIN, Uuid::nil())),
    }
}
