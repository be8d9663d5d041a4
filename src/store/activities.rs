//! `activities`: recording an entry once per event, and listing a user's history (filtered,
//! newest or oldest first, keyset pages over the time and the id).

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, OnConflict, Query, SimpleExpr},
};

use super::activity_days::{self, Counted};
use super::entity::activity::{self, Column, Entity};
use super::list::{compare, micros_condition};
use super::{from_micros, to_micros};
use crate::domain::{Activity, ActivityKind, Actor, FieldChange, TaskId, UserId};
use crate::error::AppError;
use crate::listing::{ActivityTerm, Cmp, Cursor, CursorValue};

/// The row of an entry.
pub fn row(entry: &Activity) -> activity::ActiveModel {
    activity::ActiveModel {
        id: Set(entry.id),
        user_id: Set(entry.user.as_str().to_owned()),
        kind: Set(entry.kind.number()),
        actor: Set(entry.actor.number()),
        task_id: Set(entry.task.as_uuid()),
        task_title: Set(entry.task_title.clone()),
        occur_us: Set(to_micros(entry.occur_time)),
        changes: Set((!entry.changes.is_empty())
            .then(|| serde_json::to_string(&entry.changes).unwrap_or_default())),
        event_id: Set(entry.event_id.clone()),
        due_us: Set(entry.due_time.map(to_micros)),
    }
}

/// Records entries, skipping those already recorded (the same event delivered again), and
/// adds the new ones to their days' running totals (`activity_days`), in the caller's
/// transaction.
pub async fn record(
    conn: &impl ConnectionTrait,
    rows: Vec<activity::ActiveModel>,
) -> Result<u64, DbErr> {
    if rows.is_empty() {
        return Ok(0);
    }
    let insert = Entity::insert_many(rows)
        .on_conflict(OnConflict::column(Column::Id).do_nothing().to_owned());
    let mut insert = sea_orm::QueryTrait::into_query(insert);
    insert.returning(Query::returning().columns([
        Column::UserId,
        Column::Kind,
        Column::OccurUs,
        Column::DueUs,
    ]));
    let backend = conn.get_database_backend();
    let inserted = conn.query_all_raw(backend.build(&insert)).await?;
    let counted = inserted
        .iter()
        .map(|row| {
            Ok(Counted {
                user_id: row.try_get("", "user_id")?,
                kind: row.try_get("", "kind")?,
                occur_us: row.try_get("", "occur_us")?,
                due_us: row.try_get("", "due_us")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    activity_days::add(conn, &counted).await?;
    Ok(counted.len() as u64)
}

/// One page request, already validated.
#[derive(Debug, Clone)]
pub struct ActivityQuery {
    pub user: UserId,
    pub terms: Vec<ActivityTerm>,
    /// Newest first.
    pub descending: bool,
    pub after: Option<Cursor>,
    pub limit: u64,
}

fn condition(term: &ActivityTerm) -> SimpleExpr {
    match term {
        ActivityTerm::Kind(equal, kind) => {
            let cmp = if *equal { Cmp::Eq } else { Cmp::Ne };
            compare(Expr::col(Column::Kind), cmp, Expr::value(kind.number()))
        }
        ActivityTerm::Task(equal, id) => {
            let cmp = if *equal { Cmp::Eq } else { Cmp::Ne };
            compare(Expr::col(Column::TaskId), cmp, Expr::value(*id))
        }
        ActivityTerm::Time(cmp, time) => micros_condition(Expr::col(Column::OccurUs), *cmp, *time),
        ActivityTerm::Not(inner) => condition(inner).not(),
    }
}

/// The cursor of an entry: its time, then its id.
pub fn cursor_of(entry: &Activity) -> Cursor {
    Cursor {
        values: vec![CursorValue::Int(to_micros(entry.occur_time))],
        id: entry.id,
    }
}

/// Returns up to `limit` entries and, when more follow, the cursor of the last one.
pub async fn list(
    conn: &impl ConnectionTrait,
    query: &ActivityQuery,
) -> Result<(Vec<Activity>, Option<Cursor>), AppError> {
    let mut select = Entity::find().filter(Column::UserId.eq(query.user.as_str()));
    for term in &query.terms {
        select = select.filter(condition(term));
    }
    if let Some(after) = &query.after {
        let [CursorValue::Int(at)] = after.values.as_slice() else {
            return Err(AppError::invalid(
                "page_token",
                "was not issued for this request",
            ));
        };
        let beyond = |col: Column, value: SimpleExpr| {
            if query.descending {
                Expr::col(col).lt(value)
            } else {
                Expr::col(col).gt(value)
            }
        };
        select = select.filter(
            Condition::any()
                .add(beyond(Column::OccurUs, Expr::value(*at)))
                .add(
                    Condition::all()
                        .add(Column::OccurUs.eq(*at))
                        .add(beyond(Column::Id, Expr::value(after.id))),
                ),
        );
    }
    let order = if query.descending {
        Order::Desc
    } else {
        Order::Asc
    };
    let rows = select
        .order_by(Column::OccurUs, order.clone())
        .order_by(Column::Id, order)
        .limit(query.limit.saturating_add(1))
        .all(conn)
        .await?;
    let mut entries = rows
        .into_iter()
        .map(to_domain)
        .collect::<Result<Vec<_>, _>>()?;
    let more = entries.len() as u64 > query.limit;
    entries.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
    let next = if more {
        entries.last().map(cursor_of)
    } else {
        None
    };
    Ok((entries, next))
}

fn to_domain(row: activity::Model) -> Result<Activity, AppError> {
    let corrupt = |what: &str| AppError::Internal(format!("activity {} has {what}", row.id));
    let changes: Vec<FieldChange> = match &row.changes {
        Some(raw) => serde_json::from_str(raw).map_err(|_| corrupt("unreadable changes"))?,
        None => Vec::new(),
    };
    Ok(Activity {
        id: row.id,
        user: UserId::parse(&row.user_id).map_err(|_| corrupt("an invalid user id"))?,
        kind: ActivityKind::from_number(i64::from(row.kind))
            .ok_or_else(|| corrupt("an unknown kind"))?,
        actor: Actor::from_number(row.actor).ok_or_else(|| corrupt("an unknown actor"))?,
        task: TaskId::from_uuid(row.task_id),
        task_title: row.task_title,
        occur_time: from_micros(row.occur_us),
        changes,
        event_id: row.event_id,
        due_time: row.due_us.map(from_micros),
    })
}
