//! The filter and order of `ListActivities`: the AIP-160 grammar of task filters
//! ([`parse_terms`]) over the fields of an activity.
//!
//! ```text
//! type = TASK_COMPLETED AND create_time >= "2026-11-30T00:00:00Z"
//! task = "users/alice/tasks/0199…" NOT type = TASK_UPDATED
//! ```

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::filter::{Cmp, Literal, cmp, parse_terms, show_literal, time_literal};
use crate::domain::{ActivityKind, TaskName};
use crate::error::excerpt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityTerm {
    /// `type = K` (true) or `type != K` (false).
    Kind(bool, ActivityKind),
    /// `task = "users/…/tasks/…"` (true) or `!=` (false): the task's id.
    Task(bool, Uuid),
    /// `create_time <cmp> time`, exact to the nanosecond.
    Time(Cmp, DateTime<Utc>),
    Not(Box<ActivityTerm>),
}

/// Terms that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityFilter {
    pub terms: Vec<ActivityTerm>,
}

impl ActivityFilter {
    /// Parses a filter; the empty string matches every activity.
    pub fn parse(input: &str) -> Result<Self, String> {
        let terms = parse_terms(input, comparison, |t| ActivityTerm::Not(Box::new(t)))?;
        Ok(Self { terms })
    }
}

fn equality(field: &str, op: &str) -> Result<bool, String> {
    match op {
        "=" => Ok(true),
        "!=" => Ok(false),
        _ => Err(format!("{field} supports only = and !=, not {op:?}")),
    }
}

fn comparison(field: &str, op: &str, value: Literal<'_>) -> Result<ActivityTerm, String> {
    let bad_value = || format!("{} is not a valid value for {field}", show_literal(value));
    match field {
        "type" => {
            let equal = equality(field, op)?;
            let kind = ActivityKind::parse(value.text().ok_or_else(bad_value)?)?;
            Ok(ActivityTerm::Kind(equal, kind))
        }
        "task" => {
            let equal = equality(field, op)?;
            let name = TaskName::parse(value.text().ok_or_else(bad_value)?)?;
            Ok(ActivityTerm::Task(equal, name.task.as_uuid()))
        }
        "create_time" => {
            let cmp = cmp(op)
                .ok_or_else(|| format!("{field} supports only =, !=, <, <=, >, >=, not {op:?}"))?;
            Ok(ActivityTerm::Time(
                cmp,
                time_literal(value.text().ok_or_else(bad_value)?)?,
            ))
        }
        other => Err(format!(
            "unknown field {}; filter on type, task or create_time",
            excerpt(other)
        )),
    }
}

/// `create_time desc` (newest first, the default) or `create_time`.
pub fn parse_activity_order(input: &str) -> Result<bool, String> {
    let words: Vec<&str> = input.split_whitespace().collect();
    match words.as_slice() {
        [] | ["create_time", "desc"] => Ok(true),
        ["create_time"] | ["create_time", "asc"] => Ok(false),
        _ => Err(format!(
            "{} is not supported; use \"create_time desc\" (the default) or \"create_time\"",
            excerpt(input)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_field_and_negation() {
        let filter = ActivityFilter::parse(
            r#"type = task_completed AND NOT task = "users/alice/tasks/0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" create_time >= "2026-11-30T00:00:00Z""#,
        )
        .expect("valid");
        assert_eq!(
            filter.terms[0],
            ActivityTerm::Kind(true, ActivityKind::TaskCompleted)
        );
        assert!(matches!(filter.terms[1], ActivityTerm::Not(_)));
        assert!(matches!(filter.terms[2], ActivityTerm::Time(Cmp::Ge, _)));
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [
            "type > TASK_CREATED",
            "type = TASK_EXPLODED",
            "task = alice",
            "create_time < tomorrow",
            "title:\"x\"",
            "type = TASK_CREATED OR type = TASK_UPDATED",
        ] {
            assert!(ActivityFilter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn orders_newest_first_by_default() {
        assert_eq!(parse_activity_order(""), Ok(true));
        assert_eq!(parse_activity_order("create_time desc"), Ok(true));
        assert_eq!(parse_activity_order("create_time"), Ok(false));
        assert!(parse_activity_order("title").is_err());
    }
}
