//! Writing and reading notification rows.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, sea_query::OnConflict};
use uuid::Uuid;

use super::{Kind, NewNotification, Notification};
use crate::domain::{TaskId, TaskName, UserId};
use crate::error::AppError;
use crate::store::{entity::notification, from_micros, to_micros};

/// Inserts `new` on `conn` unless a notification with its dedupe key exists; returns the
/// stored notification, or `None` for a duplicate.
pub async fn record(
    conn: &impl ConnectionTrait,
    new: NewNotification,
    now: DateTime<Utc>,
) -> Result<Option<Notification>, AppError> {
    let id = Uuid::now_v7();
    let row = notification::ActiveModel {
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
    };
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
    Ok(Some(Notification {
        id,
        user: new.user,
        task: new.task,
        kind: new.kind,
        title: new.title,
        body: new.body,
        create_time: from_micros(to_micros(now)),
        read_time: None,
    }))
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
    })
}
