//! When a task's reminder fires.

use chrono::{DateTime, Duration, Utc};

use crate::domain::Task;

/// A reminder to arm: fire at `fire_at` for the task due at `due_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub fire_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

/// The reminder an open task should have at `now`, if any:
/// - no due time, a completed task, or a due time already past: none;
/// - its own `remind_before`: zero means none, otherwise due − lead (at once if that is past);
/// - otherwise the default lead, and only when the task is due later than that.
pub fn plan(task: &Task, default_lead: Duration, now: DateTime<Utc>) -> Option<Plan> {
    let due_at = task.fields.due_time?;
    if task.completed || task.is_deleted() || due_at <= now {
        return None;
    }
    let fire_at = match task.fields.remind_before {
        Some(lead) if lead <= Duration::zero() => return None,
        Some(lead) => (due_at - lead).max(now),
        None if due_at - now > default_lead => due_at - default_lead,
        None => return None,
    };
    Some(Plan { fire_at, due_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TaskFields, TaskId, Title, UserId};

    fn task(due_in: Option<Duration>, remind_before: Option<Duration>, now: DateTime<Utc>) -> Task {
        let mut fields = TaskFields::titled(Title::parse("t").expect("a title"));
        fields.due_time = due_in.map(|d| now + d);
        fields.remind_before = remind_before;
        Task::new(
            TaskId::new_v7(),
            UserId::parse("alice").expect("user"),
            fields,
            now,
        )
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-01-10T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn default_lead_fires_a_day_ahead_only_for_tasks_due_later_than_that() {
        let lead = Duration::hours(24);
        let far = task(Some(Duration::hours(30)), None, now());
        assert_eq!(
            plan(&far, lead, now()).map(|p| p.fire_at),
            Some(now() + Duration::hours(6))
        );
        assert_eq!(
            plan(&task(Some(Duration::hours(20)), None, now()), lead, now()),
            None
        );
        assert_eq!(
            plan(&task(Some(Duration::hours(24)), None, now()), lead, now()),
            None
        );
        assert_eq!(plan(&task(None, None, now()), lead, now()), None);
    }

    #[test]
    fn a_task_lead_wins_even_when_due_soon_and_zero_means_none() {
        let lead = Duration::hours(24);
        let soon = task(Some(Duration::hours(2)), Some(Duration::hours(1)), now());
        assert_eq!(
            plan(&soon, lead, now()).map(|p| p.fire_at),
            Some(now() + Duration::hours(1))
        );
        let past_lead = task(Some(Duration::minutes(30)), Some(Duration::hours(1)), now());
        assert_eq!(
            plan(&past_lead, lead, now()).map(|p| p.fire_at),
            Some(now()),
            "fires at once"
        );
        let none = task(Some(Duration::hours(48)), Some(Duration::zero()), now());
        assert_eq!(plan(&none, lead, now()), None);
    }

    #[test]
    fn completed_or_overdue_tasks_get_no_reminder() {
        let lead = Duration::hours(24);
        let mut done = task(Some(Duration::hours(48)), None, now());
        done.completed = true;
        assert_eq!(plan(&done, lead, now()), None);
        let overdue = task(Some(Duration::hours(-1)), Some(Duration::hours(2)), now());
        assert_eq!(plan(&overdue, lead, now()), None);
    }
}
