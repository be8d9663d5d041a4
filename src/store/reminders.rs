//! The `reminders` table: one row per reminder of a task (by task and reminder id), armed,
//! fired or cancelled.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{LockBehavior, LockType, OnConflict},
};

use super::entity::reminder::{self, CANCELLED, FIRED, SCHEDULED};
use super::to_micros;
use crate::domain::{TaskId, TaskName, UserId};
use crate::error::AppError;

pub use reminder::Model as ReminderRow;

/// The task a row is a reminder of.
pub fn task_of(row: &ReminderRow) -> Result<TaskName, AppError> {
    let user = UserId::parse(&row.user_id)
        .map_err(|_| AppError::Internal(format!("reminder {} has an invalid user", row.task_id)))?;
    Ok(TaskName {
        user,
        task: TaskId::from_uuid(row.task_id),
    })
}

/// One reminder to arm.
#[derive(Debug, Clone, Copy)]
pub struct Arm<'a> {
    pub task: &'a TaskName,
    pub reminder: &'a str,
    pub fire_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
}

/// Arms (or re-arms) a reminder of a task; `job_pending` marks its Dapr job as still to be
/// scheduled.
pub async fn schedule(
    conn: &impl ConnectionTrait,
    arm: Arm<'_>,
    now: DateTime<Utc>,
    job_pending: bool,
) -> Result<(), AppError> {
    let row = reminder::ActiveModel {
        task_id: Set(arm.task.task.as_uuid()),
        reminder_id: Set(arm.reminder.to_owned()),
        user_id: Set(arm.task.user.as_str().to_owned()),
        fire_at_us: Set(to_micros(arm.fire_at)),
        due_at_us: Set(arm.due_at.map(to_micros)),
        state: Set(SCHEDULED),
        fired_us: Set(None),
        updated_us: Set(to_micros(now)),
        job_pending: Set(job_pending),
    };
    reminder::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([reminder::Column::TaskId, reminder::Column::ReminderId])
                .update_columns([
                    reminder::Column::UserId,
                    reminder::Column::FireAtUs,
                    reminder::Column::DueAtUs,
                    reminder::Column::State,
                    reminder::Column::FiredUs,
                    reminder::Column::UpdatedUs,
                    reminder::Column::JobPending,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

fn of_task(task: &TaskName) -> Condition {
    Condition::all()
        .add(reminder::Column::TaskId.eq(task.task.as_uuid()))
        .add(reminder::Column::UserId.eq(task.user.as_str()))
}

fn one(task: &TaskName, reminder_id: &str) -> Condition {
    of_task(task).add(reminder::Column::ReminderId.eq(reminder_id))
}

/// Every reminder row of a task.
pub async fn all_of(
    conn: &impl ConnectionTrait,
    task: &TaskName,
) -> Result<Vec<ReminderRow>, AppError> {
    Ok(reminder::Entity::find()
        .filter(of_task(task))
        .order_by_asc(reminder::Column::ReminderId)
        .all(conn)
        .await?)
}

/// The older single reminder (`lead`) of a task, if it has one.
pub async fn find(
    conn: &impl ConnectionTrait,
    task: &TaskName,
) -> Result<Option<ReminderRow>, AppError> {
    Ok(reminder::Entity::find()
        .filter(one(task, crate::domain::LEAD_ID))
        .one(conn)
        .await?)
}

/// One reminder of a task, locked until the transaction ends. Firing locks the reminder
/// before the task, in the same order as the scheduler's claim, so triggers never deadlock.
pub async fn lock(
    conn: &impl ConnectionTrait,
    task: &TaskName,
    reminder_id: &str,
) -> Result<Option<ReminderRow>, AppError> {
    Ok(reminder::Entity::find()
        .filter(one(task, reminder_id))
        .lock_exclusive()
        .one(conn)
        .await?)
}

/// Cancels one armed reminder of a task; true when it was armed. `job_pending` marks its Dapr
/// job as still to be deleted.
pub async fn cancel(
    conn: &impl ConnectionTrait,
    task: &TaskName,
    reminder_id: &str,
    now: DateTime<Utc>,
    job_pending: bool,
) -> Result<bool, AppError> {
    set_state(conn, one(task, reminder_id), CANCELLED, now, job_pending).await
}

/// Cancels every armed reminder of a task (its task is gone).
pub async fn cancel_all(
    conn: &impl ConnectionTrait,
    task: &TaskName,
    now: DateTime<Utc>,
    job_pending: bool,
) -> Result<bool, AppError> {
    set_state(conn, of_task(task), CANCELLED, now, job_pending).await
}

/// Marks an armed reminder fired; true when it was armed. A fired reminder's job has run, so
/// nothing is left to do for it.
pub async fn mark_fired(
    conn: &impl ConnectionTrait,
    task: &TaskName,
    reminder_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    set_state(conn, one(task, reminder_id), FIRED, now, false).await
}

async fn set_state(
    conn: &impl ConnectionTrait,
    rows: Condition,
    to: i16,
    now: DateTime<Utc>,
    job_pending: bool,
) -> Result<bool, AppError> {
    let mut update = reminder::Entity::update_many()
        .col_expr(reminder::Column::State, to.into())
        .col_expr(reminder::Column::UpdatedUs, to_micros(now).into())
        .col_expr(reminder::Column::JobPending, job_pending.into());
    if to == FIRED {
        update = update.col_expr(reminder::Column::FiredUs, to_micros(now).into());
    }
    let result = update
        .filter(rows)
        .filter(reminder::Column::State.eq(SCHEDULED))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Armed reminders whose time has come, oldest first, locked for this transaction (other
/// replicas skip them on PostgreSQL; SQLite's write transaction excludes them anyway).
pub async fn claim_due(
    conn: &impl ConnectionTrait,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<ReminderRow>, AppError> {
    Ok(reminder::Entity::find()
        .filter(reminder::Column::State.eq(SCHEDULED))
        .filter(reminder::Column::FireAtUs.lte(to_micros(now)))
        .order_by_asc(reminder::Column::FireAtUs)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(conn)
        .await?)
}

/// When the next armed reminder fires.
pub async fn next_fire_at(conn: &impl ConnectionTrait) -> Result<Option<i64>, AppError> {
    Ok(reminder::Entity::find()
        .filter(reminder::Column::State.eq(SCHEDULED))
        .order_by_asc(reminder::Column::FireAtUs)
        .one(conn)
        .await?
        .map(|r| r.fire_at_us))
}

/// Reminders whose Dapr job still has to be brought in line with them, oldest change first.
pub async fn pending_jobs(
    conn: &impl ConnectionTrait,
    limit: u64,
) -> Result<Vec<ReminderRow>, AppError> {
    Ok(reminder::Entity::find()
        .filter(reminder::Column::JobPending.eq(true))
        .order_by_asc(reminder::Column::UpdatedUs)
        .limit(limit)
        .all(conn)
        .await?)
}

/// Marks the job of `row` done, unless the reminder changed since `row` was read (then it
/// stays pending, and its new state is carried out next). True when marked.
pub async fn job_done(conn: &impl ConnectionTrait, row: &ReminderRow) -> Result<bool, AppError> {
    let due = match row.due_at_us {
        Some(due) => reminder::Column::DueAtUs.eq(due),
        None => reminder::Column::DueAtUs.is_null(),
    };
    let result = reminder::Entity::update_many()
        .col_expr(reminder::Column::JobPending, false.into())
        .filter(reminder::Column::TaskId.eq(row.task_id))
        .filter(reminder::Column::ReminderId.eq(row.reminder_id.as_str()))
        .filter(reminder::Column::JobPending.eq(true))
        .filter(reminder::Column::State.eq(row.state))
        .filter(reminder::Column::FireAtUs.eq(row.fire_at_us))
        .filter(due)
        .filter(reminder::Column::UpdatedUs.eq(row.updated_us))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}
