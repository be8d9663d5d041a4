//! Where a task sits: its list and its parent. A subtask is a task of the same user, at most
//! [`MAX_DEPTH`] levels deep, never under itself or one of its own subtasks, and always in
//! its parent's list.

use sea_orm::ConnectionTrait;

use crate::domain::{ListId, ListName, Task, TaskFields, TaskId, TaskName, TaskPatch, UserId};
use crate::error::AppError;
use crate::store::{lists, subtasks, tasks};

/// The most levels a tree of tasks has: a task, its subtasks, theirs and theirs.
pub const MAX_DEPTH: usize = 4;

fn invalid(field: &str, description: impl Into<String>) -> AppError {
    AppError::invalid(format!("task.{field}"), description)
}

/// Refuses a patch that names another user's list or task.
pub fn check_owner(user: &UserId, patch: &TaskPatch) -> Result<(), AppError> {
    match patch.foreign(user) {
        Some((field, name)) => Err(AppError::PermissionDenied(format!(
            "task.{field} names {name}, which belongs to another user"
        ))),
        None => Ok(()),
    }
}

/// Settles `fields.list` and checks `fields.parent` for task `id` of `user` (`None`: a new
/// task), whose own subtasks reach `height` levels below it. `named` is the list the request
/// named, if it named one: a subtask follows its parent's list, and naming another is an
/// error.
pub async fn place(
    conn: &impl ConnectionTrait,
    user: &UserId,
    id: Option<TaskId>,
    named: Option<&ListName>,
    fields: &mut TaskFields,
    height: usize,
) -> Result<(), AppError> {
    let Some(parent) = fields.parent else {
        if let Some(name) = named
            && lists::find(conn, name, false).await?.is_none()
        {
            return Err(AppError::NotFound(format!("list {name}")));
        }
        return Ok(());
    };
    let parent_name = TaskName {
        user: user.clone(),
        task: parent,
    };
    if Some(parent) == id {
        return Err(invalid("parent", "a task cannot be its own parent"));
    }
    let Some(found) = tasks::find(conn, &parent_name, false).await? else {
        return Err(AppError::NotFound(format!("parent task {parent_name}")));
    };
    if found.is_deleted() {
        return Err(AppError::FailedPrecondition(format!(
            "parent task {parent_name} is deleted"
        )));
    }
    let above = subtasks::ancestors(conn, user, found.fields.parent, MAX_DEPTH).await?;
    if id.is_some_and(|id| above.contains(&id)) {
        return Err(invalid(
            "parent",
            format!("{parent_name} is one of the task's own subtasks"),
        ));
    }
    let depth = above.len() + 2 + height;
    if depth > MAX_DEPTH {
        return Err(invalid(
            "parent",
            format!(
                "the task{} would be {depth} levels deep; at most {MAX_DEPTH} are allowed",
                if height > 0 { " and its subtasks" } else { "" }
            ),
        ));
    }
    if let Some(name) = named
        && name.list != found.fields.list
    {
        return Err(invalid(
            "list",
            format!(
                "a subtask is in its parent's list, {}",
                ListName {
                    user: user.clone(),
                    list: found.fields.list
                }
            ),
        ));
    }
    fields.list = found.fields.list;
    Ok(())
}

/// The list a request named explicitly (`Some(Some(name))` in the patch).
pub fn named_list(patch: &TaskPatch) -> Option<ListName> {
    patch.list.clone().flatten()
}

/// How many levels of subtasks `levels` (as [`subtasks::descendants`] returns them) hold.
pub fn height(levels: &[Vec<Task>]) -> usize {
    levels.iter().filter(|level| !level.is_empty()).count()
}

/// The list a task is undeleted into: its own, unless that list is gone (then the inbox).
pub async fn surviving_list(
    conn: &impl ConnectionTrait,
    user: &UserId,
    list: ListId,
) -> Result<ListId, AppError> {
    let name = ListName {
        user: user.clone(),
        list,
    };
    Ok(match lists::find(conn, &name, false).await? {
        Some(_) => list,
        None => ListId::Inbox,
    })
}
