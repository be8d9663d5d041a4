//! `activities`: recording an entry once per event, and listing a user's history (filtered,
//! newest or oldest first, keyset pages over the time and the id).

use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Statement,
    sea_query::{Expr, ExprTrait, OnConflict, Query, SimpleExpr},
};

use super::activity_hours::{self, Counted, Params, QUARTER_US, local_day};
use super::entity::activity::{self, Column, Entity};
use super::list::{compare, micros_condition};
use super::{from_micros, to_micros};
use crate::domain::{
    Activity, ActivityKind, Actor, DayRow, FieldChange, OffsetSpan, TaskId, UserId,
};
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
/// adds the new ones to their hours (`activity_hours`), in the caller's transaction.
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
    activity_hours::add(conn, &counted).await?;
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

/// The user's entries of `[from_us, to_us)` counted per local day (`spans` cover the window):
/// tasks created, completions, and of those the ones on time or late (against the due time
/// they had then). At most one row per day of the window. The whole quarters of an hour in
/// the window are read from `activity_hours`; only the bits before the first and after the
/// last (under a quarter of an hour each) from the entries.
pub async fn day_counts(
    conn: &impl ConnectionTrait,
    user: &UserId,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
) -> Result<Vec<DayRow>, AppError> {
    let ceil = |us: i64| us + (QUARTER_US - us.rem_euclid(QUARTER_US)) % QUARTER_US;
    let mid_from = Ord::min(ceil(from_us), to_us);
    let mid_to = Ord::max(to_us - to_us.rem_euclid(QUARTER_US), mid_from);
    let mut rows = Vec::new();
    if mid_from < mid_to {
        rows.extend(
            activity_hours::day_counts(conn, user.as_str(), mid_from, mid_to, spans).await?,
        );
    }
    if from_us < mid_from {
        rows.extend(entry_day_counts(conn, user, from_us, mid_from, spans).await?);
    }
    if mid_to < to_us && mid_to >= mid_from {
        rows.extend(entry_day_counts(conn, user, Ord::max(mid_to, from_us), to_us, spans).await?);
    }
    let mut by_day: std::collections::BTreeMap<i64, DayRow> = std::collections::BTreeMap::new();
    for row in rows {
        let day = by_day.entry(row.day).or_insert(DayRow {
            day: row.day,
            ..DayRow::default()
        });
        day.created += row.created;
        day.completed += row.completed;
        day.on_time += row.on_time;
        day.late += row.late;
    }
    Ok(by_day.into_values().collect())
}

/// [`day_counts`] from the entries themselves.
async fn entry_day_counts(
    conn: &impl ConnectionTrait,
    user: &UserId,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
) -> Result<Vec<DayRow>, AppError> {
    let backend = conn.get_database_backend();
    let mut params = Params::new(backend);
    let day = local_day("occur_us", spans, &mut params);
    let (user_p, from_p, to_p) = (
        params.text(user.as_str()),
        params.int(from_us),
        params.int(to_us),
    );
    let created = ActivityKind::TaskCreated.number();
    let completed = ActivityKind::TaskCompleted.number();
    let sql = format!(
        "SELECT {day} AS day, \
         SUM(CASE WHEN kind = {created} THEN 1 ELSE 0 END) AS created, \
         SUM(CASE WHEN kind = {completed} THEN 1 ELSE 0 END) AS completed, \
         SUM(CASE WHEN kind = {completed} AND due_us IS NOT NULL AND occur_us <= due_us \
             THEN 1 ELSE 0 END) AS on_time, \
         SUM(CASE WHEN kind = {completed} AND due_us IS NOT NULL AND occur_us > due_us \
             THEN 1 ELSE 0 END) AS late \
         FROM activities \
         WHERE user_id = {user_p} AND kind IN ({created}, {completed}) \
           AND occur_us >= {from_p} AND occur_us < {to_p} \
         GROUP BY 1"
    );
    let rows = conn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
        .await?;
    rows.iter()
        .map(|row| {
            let get = |column: &str| row.try_get::<i64>("", column);
            Ok(DayRow {
                day: get("day")?,
                created: get("created")?,
                completed: get("completed")?,
                on_time: get("on_time")?,
                late: get("late")?,
            })
        })
        .collect::<Result<Vec<_>, DbErr>>()
        .map_err(AppError::from)
}

/// The local days of `[from_us, to_us)` (`spans` cover it) on which the user completed
/// something.
pub async fn completion_days(
    conn: &impl ConnectionTrait,
    user: &UserId,
    from_us: i64,
    to_us: i64,
    spans: &[OffsetSpan],
) -> Result<Vec<i64>, AppError> {
    Ok(day_counts(conn, user, from_us, to_us, spans)
        .await?
        .into_iter()
        .filter(|d| d.completed > 0)
        .map(|d| d.day)
        .collect())
}
