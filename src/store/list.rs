//! `ListTasks` as one keyset-paginated query: the parsed filter becomes a WHERE clause, the
//! sort keys an ORDER BY with the task id as the last tie-breaker, and the cursor a
//! "strictly after this row" condition over the same expressions.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, Select,
    sea_query::{BinOper, Expr, ExprTrait, Func, LikeExpr, Query, SimpleExpr, extension::postgres},
};

use super::entity::{task, task_tag};
use super::tasks::with_tags;
use super::to_micros;
use crate::domain::{Task, UserId};
use crate::error::AppError;
use crate::listing::{
    Cmp, Cursor, CursorValue, Filter, MicrosCmp, OrderBy, SortField, SortKey, Term, TextField,
    TimeField, micros_cmp,
};

/// One page request, already validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub user: UserId,
    pub filter: Filter,
    pub order: OrderBy,
    pub after: Option<Cursor>,
    pub limit: u64,
    /// Also deleted tasks (AIP-164 `show_deleted`).
    pub show_deleted: bool,
}

/// Returns up to `limit` tasks and, when more follow, the cursor of the last one.
pub async fn list(
    conn: &impl ConnectionTrait,
    query: &ListQuery,
) -> Result<(Vec<Task>, Option<Cursor>), AppError> {
    let mut rows = select(query, conn.get_database_backend())?
        .all(conn)
        .await?;
    let more = rows.len() as u64 > query.limit;
    rows.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
    let tasks = with_tags(conn, rows).await?;
    let next = match (more, tasks.last()) {
        (true, Some(last)) => Some(cursor_of(&query.order, last)),
        _ => None,
    };
    Ok((tasks, next))
}

/// The query of one page (one row more than `limit`, to tell whether more follow).
fn select(query: &ListQuery, backend: DbBackend) -> Result<Select<task::Entity>, AppError> {
    let mut select = task::Entity::find().filter(task::Column::UserId.eq(query.user.as_str()));
    if !query.show_deleted {
        select = select.filter(task::Column::DeleteTimeUs.is_null());
    }
    for term in &query.filter.terms {
        select = select.filter(condition(term, &query.user, backend));
    }
    if let Some(after) = &query.after {
        select = select.filter(after_cursor(&query.order, after)?);
    }
    for key in &query.order.keys {
        select = select.order_by(sort_expr(key), direction(key.descending));
    }
    Ok(select
        .order_by(
            task::Column::Id,
            direction(query.order.tie_break_descending()),
        )
        .limit(query.limit + 1))
}

fn direction(descending: bool) -> Order {
    if descending { Order::Desc } else { Order::Asc }
}

/// Tasks without a due time sort last in either direction.
fn missing_due_sentinel(descending: bool) -> i64 {
    if descending { i64::MIN } else { i64::MAX }
}

fn sort_expr(key: &SortKey) -> SimpleExpr {
    match key.field {
        SortField::DueTime => Func::coalesce([
            Expr::col((task::Entity, task::Column::DueTimeUs)),
            Expr::value(missing_due_sentinel(key.descending)),
        ])
        .into(),
        SortField::Priority => Expr::col((task::Entity, task::Column::Priority)),
        SortField::CreateTime => Expr::col((task::Entity, task::Column::CreateTimeUs)),
        SortField::UpdateTime => Expr::col((task::Entity, task::Column::UpdateTimeUs)),
        SortField::Title => Expr::col((task::Entity, task::Column::Title)),
    }
}

/// The position of `task` in `order`: a page that ends with it continues from here.
pub fn cursor_of(order: &OrderBy, task: &Task) -> Cursor {
    let values = order
        .keys
        .iter()
        .map(|key| match key.field {
            SortField::DueTime => CursorValue::Int(
                task.fields
                    .due_time
                    .map_or_else(|| missing_due_sentinel(key.descending), to_micros),
            ),
            SortField::Priority => CursorValue::Int(i64::from(task.fields.priority.rank())),
            SortField::CreateTime => CursorValue::Int(to_micros(task.create_time)),
            SortField::UpdateTime => CursorValue::Int(to_micros(task.update_time)),
            SortField::Title => CursorValue::Text(task.fields.title.as_str().to_owned()),
        })
        .collect();
    Cursor {
        values,
        id: task.id.as_uuid(),
    }
}

fn value_expr(field: SortField, value: &CursorValue) -> Result<SimpleExpr, AppError> {
    match (field, value) {
        // No title holds a NUL (PostgreSQL cannot store one): such a token was not issued here.
        (SortField::Title, CursorValue::Text(text)) if text.contains('\0') => Err(bad_token()),
        (SortField::Title, CursorValue::Text(text)) => Ok(Expr::value(text.clone())),
        (SortField::Priority, CursorValue::Int(rank)) => {
            Ok(Expr::value(i16::try_from(*rank).map_err(|_| bad_token())?))
        }
        (SortField::Title, _) | (_, CursorValue::Text(_)) => Err(bad_token()),
        (_, CursorValue::Int(n)) => Ok(Expr::value(*n)),
    }
}

fn bad_token() -> AppError {
    AppError::invalid("page_token", "is not a page token issued by this service")
}

fn beyond(expr: SimpleExpr, value: SimpleExpr, descending: bool) -> SimpleExpr {
    if descending {
        expr.lt(value)
    } else {
        expr.gt(value)
    }
}

/// `(k1 > v1) OR (k1 = v1 AND k2 > v2) OR … OR (all equal AND id > last id)`, with `<`
/// for descending keys.
fn after_cursor(order: &OrderBy, cursor: &Cursor) -> Result<Condition, AppError> {
    if cursor.values.len() != order.keys.len() {
        return Err(bad_token());
    }
    let pairs: Vec<(SimpleExpr, SimpleExpr, bool)> = order
        .keys
        .iter()
        .zip(&cursor.values)
        .map(|(key, value)| {
            Ok((
                sort_expr(key),
                value_expr(key.field, value)?,
                key.descending,
            ))
        })
        .collect::<Result<_, AppError>>()?;
    let mut any = Condition::any();
    for i in 0..=pairs.len() {
        let mut all = Condition::all();
        for (expr, value, _) in &pairs[..i] {
            all = all.add(expr.clone().eq(value.clone()));
        }
        all = all.add(match pairs.get(i) {
            Some((expr, value, descending)) => beyond(expr.clone(), value.clone(), *descending),
            None => beyond(
                Expr::col((task::Entity, task::Column::Id)),
                Expr::value(cursor.id),
                order.tie_break_descending(),
            ),
        });
        any = any.add(all);
    }
    Ok(any)
}

/// `expr <cmp> time` for a column of whole microseconds, exactly (see [`micros_cmp`]).
pub(super) fn micros_condition(expr: SimpleExpr, cmp: Cmp, time: DateTime<Utc>) -> SimpleExpr {
    match micros_cmp(cmp, time) {
        MicrosCmp::Cmp(cmp, micros) => compare(expr, cmp, Expr::value(micros)),
        MicrosCmp::Never => Expr::value(false),
        MicrosCmp::Always => Expr::value(true),
    }
}

pub(super) fn compare(expr: SimpleExpr, cmp: Cmp, value: SimpleExpr) -> SimpleExpr {
    match cmp {
        Cmp::Eq => expr.eq(value),
        Cmp::Ne => expr.ne(value),
        Cmp::Lt => expr.lt(value),
        Cmp::Le => expr.lte(value),
        Cmp::Gt => expr.gt(value),
        Cmp::Ge => expr.gte(value),
    }
}

/// `%text%` with LIKE's own wildcards escaped, so user text only ever matches itself.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A regular expression that finds `text` anywhere, ignoring case under Unicode simple case
/// folding (SQLite's `REGEXP`, which the store registers on every connection).
fn contains_regex(text: &str) -> String {
    format!("(?i){}", regex::escape(text))
}

/// `column <cmp> time` at the stored microsecond precision; `nullable` columns hold only
/// where they have a value, so that the result is TRUE or FALSE, never NULL.
fn time_condition(
    column: task::Column,
    nullable: bool,
    cmp: Cmp,
    time: DateTime<Utc>,
) -> SimpleExpr {
    let col = || Expr::col((task::Entity, column));
    let compared = micros_condition(col(), cmp, time);
    if nullable {
        col().is_not_null().and(compared)
    } else {
        compared
    }
}

/// A term as SQL that is TRUE or FALSE for every row, never NULL (SQL's NULL would make a
/// term and its negation both drop a row), so that `NOT` is the term's exact complement.
/// Every column compared here is NOT NULL except `due_time_us`, `complete_time_us`,
/// `list_id` and `parent_id`, which are guarded.
fn condition(term: &Term, user: &UserId, backend: DbBackend) -> SimpleExpr {
    match term {
        Term::Completed(flag) => task::Column::Completed.eq(*flag),
        Term::Priority(cmp, priority) => compare(
            Expr::col((task::Entity, task::Column::Priority)),
            *cmp,
            Expr::value(priority.rank()),
        ),
        // `IN` is NULL only when the subquery yields a NULL; `task_id` never is.
        Term::Tag(tag) => task::Column::Id.in_subquery(
            Query::select()
                .column(task_tag::Column::TaskId)
                .from(task_tag::Entity)
                .and_where(Expr::col(task_tag::Column::UserId).eq(user.as_str()))
                .and_where(Expr::col(task_tag::Column::Tag).eq(tag.as_str()))
                .to_owned(),
        ),
        Term::Time(field, cmp, time) => match field {
            TimeField::DueTime => time_condition(task::Column::DueTimeUs, true, *cmp, *time),
            TimeField::CreateTime => time_condition(task::Column::CreateTimeUs, false, *cmp, *time),
            TimeField::UpdateTime => time_condition(task::Column::UpdateTimeUs, false, *cmp, *time),
            TimeField::CompleteTime => {
                time_condition(task::Column::CompleteTimeUs, true, *cmp, *time)
            }
        },
        Term::HasDueTime => task::Column::DueTimeUs.is_not_null(),
        Term::Contains(field, text) => {
            let column = Expr::col((
                task::Entity,
                match field {
                    TextField::Title => task::Column::Title,
                    TextField::Description => task::Column::Description,
                },
            ));
            match backend {
                // ILIKE lower-cases both sides by the database's locale; backslash is
                // PostgreSQL's default LIKE escape.
                DbBackend::Postgres => {
                    postgres::PgExpr::ilike(column, LikeExpr::new(contains_pattern(text)))
                }
                // SQLite's own LIKE and lower() fold ASCII only.
                _ => column.binary(BinOper::Custom("REGEXP"), Expr::value(contains_regex(text))),
            }
        }
        // `x IS NOT NULL AND x = v` is FALSE, not NULL, where x is NULL.
        Term::List(name) => match name.list.as_uuid() {
            None => task::Column::ListId.is_null(),
            Some(id) => task::Column::ListId
                .is_not_null()
                .and(task::Column::ListId.eq(id)),
        },
        Term::Parent(name) => task::Column::ParentId
            .is_not_null()
            .and(task::Column::ParentId.eq(name.task.as_uuid())),
        Term::HasParent => task::Column::ParentId.is_not_null(),
        Term::Not(inner) => condition(inner, user, backend).not(),
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};

    use super::{ListQuery, select};
    use crate::domain::UserId;
    use crate::listing::{Filter, OrderBy};
    use crate::store::Database;

    #[test]
    fn like_wildcards_in_user_text_are_escaped() {
        assert_eq!(super::contains_pattern("50%_Off\\"), "%50\\%\\_Off\\\\%");
    }

    #[test]
    fn regular_expression_metacharacters_in_user_text_are_escaped() {
        let pattern = super::contains_regex("a.b*(c)[d]|e\\");
        let regex = regex::Regex::new(&pattern).expect("a valid expression");
        assert!(regex.is_match("xA.B*(C)[D]|E\\y"));
        assert!(!regex.is_match("axb*(c)[d]|e\\"));
    }

    /// However many terms and negations a filter has, SQLite reads a page through one of
    /// the indexes that start with the user, never by scanning every user's tasks.
    #[tokio::test]
    async fn filtered_pages_are_read_through_a_user_index() {
        let db = Database::connect("sqlite::memory:", 1)
            .await
            .expect("a database");
        db.migrate().await.expect("migrated");
        for (filter, order_by) in [
            ("", ""),
            (
                r#"NOT title:"milk" -description:"x" NOT due_time < "2027-01-01T00:00:00.5Z""#,
                "title",
            ),
            (
                r#"tags:"home" NOT tags:"work" priority >= HIGH completed = false"#,
                "due_time desc",
            ),
            (
                r#"NOT create_time != "2027-01-01T00:00:00.0000005Z" due_time:*"#,
                "priority, update_time",
            ),
        ] {
            let query = ListQuery {
                user: UserId::parse("alice").expect("a user"),
                filter: Filter::parse(filter).expect("a filter"),
                order: OrderBy::parse(order_by).expect("an order"),
                after: None,
                limit: 50,
                show_deleted: false,
            };
            let statement = select(&query, DbBackend::Sqlite)
                .expect("a query")
                .build(DbBackend::Sqlite);
            let explain = Statement::from_sql_and_values(
                DbBackend::Sqlite,
                format!("EXPLAIN QUERY PLAN {}", statement.sql),
                statement.values.map(|v| v.0).unwrap_or_default(),
            );
            let plan: Vec<String> = db
                .conn()
                .query_all_raw(explain)
                .await
                .expect("a plan")
                .iter()
                .map(|row| row.try_get::<String>("", "detail").expect("a detail"))
                .collect();
            let reads_tasks: Vec<&String> = plan
                .iter()
                .filter(|step| step.contains(" tasks") && !step.contains("task_tags"))
                .collect();
            assert!(
                !reads_tasks.is_empty()
                    && reads_tasks
                        .iter()
                        .all(|step| step.contains("USING INDEX ix_tasks_user_")
                            || step.contains("USING COVERING INDEX ix_tasks_user_")),
                "{filter:?} ordered by {order_by:?}: {plan:#?}"
            );
        }
    }
}
