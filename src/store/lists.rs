//! `task_lists`: a user's lists, and the questions about their tasks a list change asks.

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::entity::{task, task_list};
use super::{from_micros, to_micros};
use crate::domain::{ListId, ListName, TaskId, TaskList, Title, UserId};
use crate::error::AppError;

fn to_domain(row: task_list::Model) -> Result<TaskList, AppError> {
    let user = UserId::parse(&row.user_id)
        .map_err(|_| AppError::Internal(format!("list {} has an invalid user id", row.id)))?;
    Ok(TaskList {
        user,
        id: ListId::Id(row.id),
        title: Title::from_stored(row.title),
        version: row.version,
        create_time: Some(from_micros(row.create_time_us)),
        update_time: Some(from_micros(row.update_time_us)),
    })
}

fn active_model(list: &TaskList, id: Uuid, request_id: Option<&str>) -> task_list::ActiveModel {
    task_list::ActiveModel {
        id: Set(id),
        user_id: Set(list.user.as_str().to_owned()),
        title: Set(list.title.as_str().to_owned()),
        version: Set(list.version),
        request_id: Set(request_id.map(str::to_owned)),
        create_time_us: Set(list.create_time.map(to_micros).unwrap_or_default()),
        update_time_us: Set(list.update_time.map(to_micros).unwrap_or_default()),
    }
}

/// Stores a new list (one the user created: its id is a UUID).
pub async fn insert(
    conn: &impl ConnectionTrait,
    list: &TaskList,
    request_id: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    let ListId::Id(id) = list.id else {
        return Err(sea_orm::DbErr::Custom("the inbox has no row".into()));
    };
    task_list::Entity::insert(active_model(list, id, request_id))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// One of the user's lists; the inbox always exists. `for_update` locks its row.
pub async fn find(
    conn: &impl ConnectionTrait,
    name: &ListName,
    for_update: bool,
) -> Result<Option<TaskList>, AppError> {
    let ListId::Id(id) = name.list else {
        return Ok(Some(TaskList::inbox(name.user.clone())));
    };
    let mut query = task_list::Entity::find()
        .filter(task_list::Column::Id.eq(id))
        .filter(task_list::Column::UserId.eq(name.user.as_str()));
    if for_update {
        query = query.lock_exclusive();
    }
    query.one(conn).await?.map(to_domain).transpose()
}

/// The list a user created with this `request_id`.
pub async fn find_by_request(
    conn: &impl ConnectionTrait,
    user: &UserId,
    request_id: &str,
) -> Result<Option<TaskList>, AppError> {
    task_list::Entity::find()
        .filter(task_list::Column::UserId.eq(user.as_str()))
        .filter(task_list::Column::RequestId.eq(request_id))
        .one(conn)
        .await?
        .map(to_domain)
        .transpose()
}

/// Up to `limit` + 1 of the user's lists, oldest first, after `(create_us, id)` when given.
pub async fn page(
    conn: &impl ConnectionTrait,
    user: &UserId,
    after: Option<(i64, Uuid)>,
    limit: u64,
) -> Result<Vec<TaskList>, AppError> {
    let mut query = task_list::Entity::find()
        .filter(task_list::Column::UserId.eq(user.as_str()))
        .order_by_asc(task_list::Column::CreateTimeUs)
        .order_by_asc(task_list::Column::Id)
        .limit(limit + 1);
    if let Some((create_us, id)) = after {
        query = query.filter(
            Expr::tuple([
                Expr::col(task_list::Column::CreateTimeUs),
                Expr::col(task_list::Column::Id),
            ])
            .gt(Expr::tuple([Expr::value(create_us), Expr::value(id)])),
        );
    }
    query.all(conn).await?.into_iter().map(to_domain).collect()
}

/// Writes a changed list if its stored version is still `expected_version`.
pub async fn update(
    conn: &impl ConnectionTrait,
    list: &TaskList,
    expected_version: i64,
) -> Result<bool, AppError> {
    let ListId::Id(id) = list.id else {
        return Ok(false);
    };
    let result = task_list::Entity::update_many()
        .col_expr(task_list::Column::Title, Expr::value(list.title.as_str()))
        .col_expr(task_list::Column::Version, Expr::value(list.version))
        .col_expr(
            task_list::Column::UpdateTimeUs,
            Expr::value(list.update_time.map(to_micros).unwrap_or_default()),
        )
        .filter(task_list::Column::Id.eq(id))
        .filter(task_list::Column::Version.eq(expected_version))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes a list's row.
pub async fn delete(conn: &impl ConnectionTrait, name: &ListName) -> Result<bool, AppError> {
    let ListId::Id(id) = name.list else {
        return Ok(false);
    };
    let result = task_list::Entity::delete_many()
        .filter(task_list::Column::Id.eq(id))
        .filter(task_list::Column::UserId.eq(name.user.as_str()))
        .exec(conn)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Up to `limit` ids of the list's tasks that are not deleted, oldest first.
pub async fn live_task_ids(
    conn: &impl ConnectionTrait,
    name: &ListName,
    limit: u64,
) -> Result<Vec<TaskId>, AppError> {
    let query = of_list(name)
        .select_only()
        .column(task::Column::Id)
        .order_by_asc(task::Column::CreateTimeUs)
        .limit(limit);
    Ok(query
        .into_tuple::<Uuid>()
        .all(conn)
        .await?
        .into_iter()
        .map(TaskId::from_uuid)
        .collect())
}

/// The list's tasks that are not deleted.
fn of_list(name: &ListName) -> sea_orm::Select<task::Entity> {
    let query = task::Entity::find()
        .filter(task::Column::UserId.eq(name.user.as_str()))
        .filter(task::Column::DeleteTimeUs.is_null());
    match name.list.as_uuid() {
        Some(id) => query.filter(task::Column::ListId.eq(id)),
        None => query.filter(task::Column::ListId.is_null()),
    }
}

/// How many tasks of the list are not deleted.
pub async fn live_tasks(conn: &impl ConnectionTrait, name: &ListName) -> Result<u64, AppError> {
    Ok(of_list(name).count(conn).await?)
}
