//! Queries and mutations on `tasks` and `task_tags`. Each function runs on whatever
//! connection or transaction it is given.

use std::collections::HashMap;

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait,
    sea_query::{InsertStatement, OnConflict},
};
use uuid::Uuid;

use super::entity::{task, task_tag};
use super::{from_micros, to_micros};
use crate::domain::{
    Deletion, Description, ListId, Priority, Recurrence, Tags, Task, TaskFields, TaskId, TaskName,
    TimeZone, Title, UserId,
};
use crate::error::AppError;

pub use super::list::{ListQuery, cursor_of, list};

/// Writes a changed task if its stored version is still `expected_version`. Returns false
/// when another writer got there first.
pub async fn update(
    conn: &impl ConnectionTrait,
    task: &Task,
    expected_version: i64,
    tags_changed: bool,
) -> Result<bool, sea_orm::DbErr> {
    let mut row = active_model(task);
    row.request_id = sea_orm::ActiveValue::NotSet;
    row.create_time_us = sea_orm::ActiveValue::NotSet;
    let result = task::Entity::update_many()
        .set(row)
        .filter(task::Column::Id.eq(task.id.as_uuid()))
        .filter(task::Column::UserId.eq(task.user.as_str()))
        .filter(task::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Ok(false);
    }
    if tags_changed {
        task_tag::Entity::delete_many()
            .filter(task_tag::Column::TaskId.eq(task.id.as_uuid()))
            .exec(conn)
            .await?;
        insert_tags(conn, task).await?;
    }
    Ok(true)
}

/// Deletes a task (its tags go with it). Returns false when there was none.
pub async fn delete(conn: &impl ConnectionTrait, name: &TaskName) -> Result<bool, sea_orm::DbErr> {
    task_tag::Entity::delete_many()
        .filter(task_tag::Column::TaskId.eq(name.task.as_uuid()))
        .filter(task_tag::Column::UserId.eq(name.user.as_str()))
        .exec(conn)
        .await?;
    let result = task::Entity::delete_many()
        .filter(task::Column::Id.eq(name.task.as_uuid()))
        .filter(task::Column::UserId.eq(name.user.as_str()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Finds one of the user's tasks. `for_update` locks the row until the transaction ends
/// (PostgreSQL; SQLite's write transaction already excludes other writers).
pub async fn find(
    conn: &impl ConnectionTrait,
    name: &TaskName,
    for_update: bool,
) -> Result<Option<Task>, AppError> {
    let mut query = task::Entity::find()
        .filter(task::Column::Id.eq(name.task.as_uuid()))
        .filter(task::Column::UserId.eq(name.user.as_str()));
    if for_update {
        query = query.lock_exclusive();
    }
    let Some(row) = query.one(conn).await? else {
        return Ok(None);
    };
    let mut tasks = with_tags(conn, vec![row]).await?;
    Ok(tasks.pop())
}

/// Deleted tasks whose purge time is before `before_us`, at most `limit`, soonest first, with
/// their rows locked; on PostgreSQL rows another transaction holds are skipped.
pub async fn purgeable(
    conn: &impl ConnectionTrait,
    before_us: i64,
    limit: u64,
) -> Result<Vec<Task>, AppError> {
    let rows = task::Entity::find()
        .filter(task::Column::PurgeTimeUs.lt(before_us))
        .order_by_asc(task::Column::PurgeTimeUs)
        .limit(limit)
        .lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        )
        .all(conn)
        .await?;
    with_tags(conn, rows).await
}

/// How many of the user's open tasks (not deleted) were due before `now_us`.
pub async fn overdue(
    conn: &impl ConnectionTrait,
    user: &UserId,
    now_us: i64,
) -> Result<u64, AppError> {
    Ok(task::Entity::find()
        .filter(task::Column::UserId.eq(user.as_str()))
        .filter(task::Column::Completed.eq(false))
        .filter(task::Column::DeleteTimeUs.is_null())
        .filter(task::Column::DueTimeUs.lt(now_us))
        .count(conn)
        .await?)
}

/// Finds the task a user created with this `request_id`.
pub async fn find_by_request(
    conn: &impl ConnectionTrait,
    user: &UserId,
    request_id: &str,
) -> Result<Option<Task>, AppError> {
    let Some(row) = task::Entity::find()
        .filter(task::Column::UserId.eq(user.as_str()))
        .filter(task::Column::RequestId.eq(request_id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let mut tasks = with_tags(conn, vec![row]).await?;
    Ok(tasks.pop())
}

/// Inserts new tasks (with their tags) in one statement per table.
pub async fn insert_many(
    conn: &impl ConnectionTrait,
    tasks: &[(&Task, Option<&str>)],
) -> Result<(), sea_orm::DbErr> {
    if tasks.is_empty() {
        return Ok(());
    }
    task::Entity::insert_many(task_rows(tasks))
        .exec_without_returning(conn)
        .await?;
    insert_tags_of(conn, tasks.iter().map(|(task, _)| *task)).await
}

/// The INSERT statements of new tasks and of their tags (none without tags), to be run as
/// parts of a larger statement.
pub fn insert_statements(
    tasks: &[(&Task, Option<&str>)],
) -> (InsertStatement, Option<InsertStatement>) {
    let tasks_insert = task::Entity::insert_many(task_rows(tasks)).into_query();
    let tags: Vec<task_tag::ActiveModel> = tag_rows(tasks.iter().map(|(task, _)| *task));
    let tags_insert = (!tags.is_empty()).then(|| {
        task_tag::Entity::insert_many(tags)
            .on_conflict(tag_conflict())
            .into_query()
    });
    (tasks_insert, tags_insert)
}

fn task_rows<'a>(
    tasks: &'a [(&Task, Option<&str>)],
) -> impl Iterator<Item = task::ActiveModel> + 'a {
    tasks.iter().map(|(task, request_id)| {
        let mut row = active_model(task);
        row.request_id = Set(request_id.map(str::to_owned));
        row
    })
}

/// A tag given twice is stored once.
fn tag_conflict() -> OnConflict {
    OnConflict::columns([task_tag::Column::TaskId, task_tag::Column::Tag])
        .do_nothing()
        .to_owned()
}

fn tag_rows<'a>(tasks: impl Iterator<Item = &'a Task>) -> Vec<task_tag::ActiveModel> {
    tasks
        .flat_map(|task| {
            task.fields.tags.iter().map(|tag| task_tag::ActiveModel {
                task_id: Set(task.id.as_uuid()),
                tag: Set(tag.to_owned()),
                user_id: Set(task.user.as_str().to_owned()),
            })
        })
        .collect()
}

/// Inserts `task` unless its id or its (series, occurrence) exists; true when inserted.
pub async fn insert_if_absent(conn: &impl ConnectionTrait, task: &Task) -> Result<bool, AppError> {
    let inserted = task::Entity::insert(active_model(task))
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .exec_without_returning(conn)
        .await?;
    if inserted == 0 {
        return Ok(false);
    }
    insert_tags(conn, task).await?;
    Ok(true)
}

pub(crate) async fn insert_tags(
    conn: &impl ConnectionTrait,
    task: &Task,
) -> Result<(), sea_orm::DbErr> {
    insert_tags_of(conn, std::iter::once(task)).await
}

async fn insert_tags_of<'a>(
    conn: &impl ConnectionTrait,
    tasks: impl Iterator<Item = &'a Task>,
) -> Result<(), sea_orm::DbErr> {
    let rows = tag_rows(tasks);
    if rows.is_empty() {
        return Ok(());
    }
    task_tag::Entity::insert_many(rows)
        .on_conflict(tag_conflict())
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

pub(crate) fn active_model(task: &Task) -> task::ActiveModel {
    let f = &task.fields;
    task::ActiveModel {
        id: Set(task.id.as_uuid()),
        user_id: Set(task.user.as_str().to_owned()),
        title: Set(f.title.as_str().to_owned()),
        description: Set(f.description.as_str().to_owned()),
        priority: Set(f.priority.rank()),
        due_time_us: Set(f.due_time.map(to_micros)),
        time_zone: Set(f.time_zone.as_str().to_owned()),
        recurrence: Set(f.recurrence.as_ref().map(Recurrence::to_json)),
        completed: Set(task.completed),
        complete_time_us: Set(task.complete_time.map(to_micros)),
        series_id: Set(task.series),
        occurrence: Set(task.occurrence),
        version: Set(task.version),
        request_id: Set(None),
        create_time_us: Set(to_micros(task.create_time)),
        update_time_us: Set(to_micros(task.update_time)),
        series_anchor_us: Set(task.series_anchor.map(to_micros)),
        remind_before_us: Set(f.remind_before.and_then(|d| d.num_microseconds())),
        delete_time_us: Set(task.deletion.map(|d| to_micros(d.delete_time))),
        purge_time_us: Set(task.deletion.map(|d| to_micros(d.purge_time))),
        list_id: Set(f.list.as_uuid()),
        parent_id: Set(f.parent.map(|p| p.as_uuid())),
        reminders: Set(crate::domain::reminders_to_stored(&f.reminders)),
    }
}

/// Loads the tags of `rows` in one query and builds the domain tasks, in the same order.
pub(super) async fn with_tags(
    conn: &impl ConnectionTrait,
    rows: Vec<task::Model>,
) -> Result<Vec<Task>, AppError> {
    let mut tags: HashMap<Uuid, Vec<String>> = HashMap::new();
    if !rows.is_empty() {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let tag_rows = task_tag::Entity::find()
            .filter(task_tag::Column::TaskId.is_in(ids))
            .order_by_asc(task_tag::Column::Tag)
            .all(conn)
            .await?;
        for row in tag_rows {
            tags.entry(row.task_id).or_default().push(row.tag);
        }
    }
    rows.into_iter()
        .map(|row| {
            let row_tags = tags.remove(&row.id).unwrap_or_default();
            to_domain(row, row_tags)
        })
        .collect()
}

fn to_domain(row: task::Model, tags: Vec<String>) -> Result<Task, AppError> {
    let corrupt = |what: &str| AppError::Internal(format!("task {} has {what}", row.id));
    let recurrence = match &row.recurrence {
        Some(raw) => {
            Some(Recurrence::from_json(raw).map_err(|_| corrupt("an unreadable recurrence"))?)
        }
        None => None,
    };
    // Stored values were parsed on the way in: they are taken as they are.
    let fields = TaskFields {
        title: Title::from_stored(row.title),
        description: Description::from_stored(row.description),
        priority: Priority::from_rank(i64::from(row.priority))
            .ok_or_else(|| corrupt("an unknown priority"))?,
        tags: Tags::from_stored(tags),
        due_time: row.due_time_us.map(from_micros),
        time_zone: TimeZone::from_stored(row.time_zone),
        recurrence,
        remind_before: row.remind_before_us.map(chrono::Duration::microseconds),
        list: ListId::from_stored(row.list_id),
        parent: row.parent_id.map(TaskId::from_uuid),
        reminders: crate::domain::reminders_from_stored(row.reminders.as_deref()),
    };
    let user = UserId::parse(&row.user_id).map_err(|_| corrupt("an invalid user id"))?;
    let mut task = Task::new(
        TaskId::from_uuid(row.id),
        user,
        fields,
        from_micros(row.create_time_us),
    );
    task.completed = row.completed;
    task.complete_time = row.complete_time_us.map(from_micros);
    task.series = row.series_id;
    task.occurrence = row.occurrence;
    task.version = row.version;
    task.update_time = from_micros(row.update_time_us);
    task.series_anchor = row.series_anchor_us.map(from_micros);
    task.deletion = match (row.delete_time_us, row.purge_time_us) {
        (Some(deleted), Some(purged)) => Some(Deletion {
            delete_time: from_micros(deleted),
            purge_time: from_micros(purged),
        }),
        (None, None) => None,
        _ => return Err(corrupt("half of a deletion")),
    };
    Ok(task)
}
