//! The `notifications` table: writing, listing and marking read.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, OnConflict},
};
use uuid::Uuid;

use super::{entity::notification, from_micros, to_micros};
use crate::domain::{FiredReminder, Kind, NewNotification, Notification, TaskId, TaskName, UserId};
use crate::error::AppError;

/// Inserts `new` on `conn` unless a notification with its dedupe key exists; returns the
/// stored notification, or `None` for a duplicate.
pub async fn record(
    conn: &impl ConnectionTrait,
    new: NewNotification,
    now: DateTime<Utc>,
) -> Result<Option<Notification>, AppError> {
    let id = Uuid::now_v7();
    let row = active_model(id, &new, now);
    let inserted = notification::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    Ok(Some(written(id, new, now)))
}

fn active_model(id: Uuid, new: &NewNotification, now: DateTime<Utc>) -> notification::ActiveModel {
    notification::ActiveModel {
        id: Set(id),
        user_id: Set(new.user.as_str().to_owned()),
        task_id: Set(new.task.task.as_uuid()),
        kind: Set(match new.kind {
            Kind::Reminder => notification::KIND_REMINDER,
        }),
        title: Set(new.title.clone()),
        body: Set(new.body.clone()),
        dedupe_key: Set(new.dedupe_key.clone()),
        create_us: Set(to_micros(now)),
        read_us: Set(None),
        reminder_id: Set(new.reminder.as_ref().map(FiredReminder::to_stored)),
        due_us: Set(new.due_time.map(to_micros)),
        snooze_us: Set(None),
    }
}

fn written(id: Uuid, new: NewNotification, now: DateTime<Utc>) -> Notification {
    Notification {
        id,
        user: new.user,
        task: new.task,
        kind: new.kind,
        title: new.title,
        body: new.body,
        create_time: from_micros(to_micros(now)),
        read_time: None,
        due_time: new.due_time.map(|t| from_micros(to_micros(t))),
        reminder: new.reminder,
        snooze_time: None,
    }
}

/// Inserts every one of `news`, whose dedupe keys are new ([`existing_keys`]), a chunk per
/// statement; returns them as stored. A key written meanwhile is skipped by the database.
pub async fn record_many(
    conn: &impl ConnectionTrait,
    news: Vec<NewNotification>,
    now: DateTime<Utc>,
) -> Result<Vec<Notification>, AppError> {
    let ids: Vec<Uuid> = news.iter().map(|_| Uuid::now_v7()).collect();
    for (chunk, ids) in news.chunks(CHUNK).zip(ids.chunks(CHUNK)) {
        let rows = chunk
            .iter()
            .zip(ids)
            .map(|(new, id)| active_model(*id, new, now));
        notification::Entity::insert_many(rows)
            .on_conflict(
                OnConflict::column(notification::Column::DedupeKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(news
        .into_iter()
        .zip(ids)
        .map(|(new, id)| written(id, new, now))
        .collect())
}

/// Rows per statement in [`record_many`] and [`existing_keys`].
const CHUNK: usize = 300;

/// Which of `keys` are dedupe keys of stored notifications.
pub async fn existing_keys(
    conn: &impl ConnectionTrait,
    keys: &[String],
) -> Result<std::collections::HashSet<String>, AppError> {
    let mut found = std::collections::HashSet::new();
    for chunk in keys.chunks(CHUNK) {
        let rows: Vec<String> = notification::Entity::find()
            .select_only()
            .column(notification::Column::DedupeKey)
            .filter(notification::Column::DedupeKey.is_in(chunk.iter().cloned()))
            .into_tuple()
            .all(conn)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// A row as a domain value.
pub fn to_domain(row: notification::Model) -> Result<Notification, AppError> {
    let corrupt = |what: &str| AppError::Internal(format!("notification {} has {what}", row.id));
    let user = UserId::parse(&row.user_id).map_err(|_| corrupt("an invalid user id"))?;
    Ok(Notification {
        id: row.id,
        task: TaskName {
            user: user.clone(),
            task: TaskId::from_uuid(row.task_id),
        },
        user,
        kind: match row.kind {
            notification::KIND_REMINDER => Kind::Reminder,
            _ => return Err(corrupt("an unknown kind")),
        },
        title: row.title,
        body: row.body,
        create_time: from_micros(row.create_us),
        read_time: row.read_us.map(from_micros),
        due_time: row.due_us.map(from_micros),
        reminder: row.reminder_id.as_deref().map(FiredReminder::from_stored),
        snooze_time: row.snooze_us.map(from_micros),
    })
}

/// Where a notification sits in creation order: by create time, then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub create_us: i64,
    pub id: Uuid,
}

impl Position {
    /// Before every notification.
    pub const FIRST: Self = Self {
        create_us: i64::MIN,
        id: Uuid::nil(),
    };

    pub fn of(notification: &Notification) -> Self {
        Self {
            create_us: to_micros(notification.create_time),
            id: notification.id,
        }
    }

    /// The position just after every notification created at or before `time`.
    pub fn after_time(time: DateTime<Utc>) -> Self {
        Self {
            create_us: to_micros(time),
            id: Uuid::max(),
        }
    }

    /// Rows strictly after this position.
    fn later(&self) -> Condition {
        Condition::any()
            .add(notification::Column::CreateUs.gt(self.create_us))
            .add(
                Condition::all()
                    .add(notification::Column::CreateUs.eq(self.create_us))
                    .add(notification::Column::Id.gt(self.id)),
            )
    }

    /// Rows strictly before this position.
    fn earlier(&self) -> Condition {
        Condition::any()
            .add(notification::Column::CreateUs.lt(self.create_us))
            .add(
                Condition::all()
                    .add(notification::Column::CreateUs.eq(self.create_us))
                    .add(notification::Column::Id.lt(self.id)),
            )
    }
}

fn all_to_domain(rows: Vec<notification::Model>) -> Result<Vec<Notification>, AppError> {
    rows.into_iter().map(to_domain).collect()
}

/// One page of `user`'s notifications, newest first, strictly before `before`; with the
/// position of the last one when more follow.
pub async fn page(
    conn: &impl ConnectionTrait,
    user: &UserId,
    unread_only: bool,
    before: Option<Position>,
    limit: u64,
) -> Result<(Vec<Notification>, Option<Position>), AppError> {
    let mut select =
        notification::Entity::find().filter(notification::Column::UserId.eq(user.as_str()));
    if unread_only {
        select = select.filter(notification::Column::ReadUs.is_null());
    }
    if let Some(before) = before {
        select = select.filter(before.earlier());
    }
    let mut rows = select
        .order_by_desc(notification::Column::CreateUs)
        .order_by_desc(notification::Column::Id)
        .limit(limit + 1)
        .all(conn)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let notifications = all_to_domain(rows)?;
    let next = if more {
        notifications.last().map(Position::of)
    } else {
        None
    };
    Ok((notifications, next))
}

/// Up to `limit` notifications strictly after `after`, oldest first: of `user`, or of every
/// user with `None`.
pub async fn after(
    conn: &impl ConnectionTrait,
    user: Option<&UserId>,
    after: Position,
    limit: u64,
) -> Result<Vec<Notification>, AppError> {
    let mut select = notification::Entity::find().filter(after.later());
    if let Some(user) = user {
        select = select.filter(notification::Column::UserId.eq(user.as_str()));
    }
    let rows = select
        .order_by_asc(notification::Column::CreateUs)
        .order_by_asc(notification::Column::Id)
        .limit(limit)
        .all(conn)
        .await?;
    all_to_domain(rows)
}

/// The position of `user`'s newest notification, if any.
pub async fn latest(
    conn: &impl ConnectionTrait,
    user: &UserId,
) -> Result<Option<Position>, AppError> {
    let (mut newest, _) = page(conn, user, false, None, 1).await?;
    Ok(newest.pop().as_ref().map(Position::of))
}

/// The notification with this id, whoever it belongs to.
pub async fn by_id(
    conn: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<Notification>, AppError> {
    notification::Entity::find_by_id(id)
        .one(conn)
        .await?
        .map(to_domain)
        .transpose()
}

/// Marks `user`'s notification `id` read at `now` unless it already is, and returns it
/// (`None` when `user` has no such notification). Marking again changes nothing.
pub async fn mark_read(
    conn: &impl ConnectionTrait,
    user: &UserId,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Notification>, AppError> {
    let owned = || {
        Condition::all()
            .add(notification::Column::Id.eq(id))
            .add(notification::Column::UserId.eq(user.as_str()))
    };
    notification::Entity::update_many()
        .col_expr(notification::Column::ReadUs, Expr::value(to_micros(now)))
        .filter(owned())
        .filter(notification::Column::ReadUs.is_null())
        .exec(conn)
        .await?;
    notification::Entity::find()
        .filter(owned())
        .one(conn)
        .await?
        .map(to_domain)
        .transpose()
}

/// `user`'s notification `id`, locked until the transaction ends (`None` when there is none).
pub async fn lock(
    conn: &impl ConnectionTrait,
    user: &UserId,
    id: Uuid,
) -> Result<Option<Notification>, AppError> {
    notification::Entity::find_by_id(id)
        .filter(notification::Column::UserId.eq(user.as_str()))
        .lock_exclusive()
        .one(conn)
        .await?
        .map(to_domain)
        .transpose()
}

/// Sets when notification `id`'s reminder fires again.
pub async fn set_snooze(
    conn: &impl ConnectionTrait,
    id: Uuid,
    until: DateTime<Utc>,
) -> Result<(), AppError> {
    notification::Entity::update_many()
        .col_expr(
            notification::Column::SnoozeUs,
            Expr::value(to_micros(until)),
        )
        .filter(notification::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}
