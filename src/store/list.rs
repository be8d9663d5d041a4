//! `ListTasks` as one keyset-paginated query: the parsed filter becomes a WHERE clause, the
//! sort keys an ORDER BY with the task id as the last tie-breaker, and the cursor a
//! "strictly after this row" condition over the same expressions.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SimpleExpr},
};

use super::entity::{task, task_tag};
use super::tasks::with_tags;
use super::to_micros;
use crate::domain::{Task, UserId};
use crate::error::AppError;
use crate::listing::{
    Cmp, Cursor, CursorValue, Filter, OrderBy, SortField, SortKey, Term, TextField, TimeField,
};

/// One page request, already validated.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub user: UserId,
    pub filter: Filter,
    pub order: OrderBy,
    pub after: Option<Cursor>,
    pub limit: u64,
}

/// Returns up to `limit` tasks and, when more follow, the cursor of the last one.
pub async fn list(
    conn: &impl ConnectionTrait,
    query: &ListQuery,
) -> Result<(Vec<Task>, Option<Cursor>), AppError> {
    let mut select = task::Entity::find().filter(task::Column::UserId.eq(query.user.as_str()));
    for term in &query.filter.terms {
        select = select.filter(condition(term, &query.user));
    }
    if let Some(after) = &query.after {
        select = select.filter(after_cursor(&query.order, after)?);
    }
    for key in &query.order.keys {
        select = select.order_by(sort_expr(key), direction(key.descending));
    }
    select = select
        .order_by(
            task::Column::Id,
            direction(query.order.tie_break_descending()),
        )
        .limit(query.limit + 1);
    let mut rows = select.all(conn).await?;
    let more = rows.len() as u64 > query.limit;
    rows.truncate(usize::try_from(query.limit).unwrap_or(usize::MAX));
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(cursor_of(&query.order, last)),
        _ => None,
    };
    Ok((with_tags(conn, rows).await?, next))
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

fn cursor_of(order: &OrderBy, row: &task::Model) -> Cursor {
    let values = order
        .keys
        .iter()
        .map(|key| match key.field {
            SortField::DueTime => CursorValue::Int(
                row.due_time_us
                    .unwrap_or_else(|| missing_due_sentinel(key.descending)),
            ),
            SortField::Priority => CursorValue::Int(i64::from(row.priority)),
            SortField::CreateTime => CursorValue::Int(row.create_time_us),
            SortField::UpdateTime => CursorValue::Int(row.update_time_us),
            SortField::Title => CursorValue::Text(row.title.clone()),
        })
        .collect();
    Cursor { values, id: row.id }
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

fn compare(expr: SimpleExpr, cmp: Cmp, value: SimpleExpr) -> SimpleExpr {
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

fn condition(term: &Term, user: &UserId) -> Condition {
    let expr = match term {
        Term::Completed(flag) => task::Column::Completed.eq(*flag),
        Term::Priority(cmp, priority) => compare(
            Expr::col((task::Entity, task::Column::Priority)),
            *cmp,
            Expr::value(priority.rank()),
        ),
        Term::Tag(tag) => task::Column::Id.in_subquery(
            Query::select()
                .column(task_tag::Column::TaskId)
                .from(task_tag::Entity)
                .and_where(Expr::col(task_tag::Column::UserId).eq(user.as_str()))
                .and_where(Expr::col(task_tag::Column::Tag).eq(tag.as_str()))
                .to_owned(),
        ),
        Term::Time(field, cmp, time) => {
            let column = match field {
                TimeField::DueTime => task::Column::DueTimeUs,
                TimeField::CreateTime => task::Column::CreateTimeUs,
                TimeField::UpdateTime => task::Column::UpdateTimeUs,
            };
            compare(
                Expr::col((task::Entity, column)),
                *cmp,
                Expr::value(to_micros(*time)),
            )
        }
        Term::HasDueTime => task::Column::DueTimeUs.is_not_null(),
        Term::Contains(field, text) => {
            let column = match field {
                TextField::Title => task::Column::Title,
                TextField::Description => task::Column::Description,
            };
            // Case-insensitive through lower(), which SQLite applies to ASCII letters only:
            // the text as given is matched too, so that an exact substring always matches.
            let folded = SimpleExpr::from(Func::lower(Expr::col((task::Entity, column))))
                .like(LikeExpr::new(contains_pattern(&text.to_lowercase())).escape('\\'));
            let exact = Expr::col((task::Entity, column))
                .like(LikeExpr::new(contains_pattern(text)).escape('\\'));
            folded.or(exact)
        }
        Term::Not(inner) => return condition(inner, user).not(),
    };
    Condition::all().add(expr)
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_wildcards_in_user_text_are_escaped() {
        assert_eq!(super::contains_pattern("50%_Off\\"), "%50\\%\\_Off\\\\%");
    }
}
