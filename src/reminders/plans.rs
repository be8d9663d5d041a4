//! Which reminders a task should have armed, and whether a trigger is still one of them.

use chrono::{DateTime, Duration, Utc};

use super::rules;
use crate::domain::{LEAD_ID, ReminderSpec, Task, snoozed_of};

/// One reminder to arm: `id` fires at `fire_at` for the task due at `due_at` (unset for an
/// absolute one, which does not move with the due time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub id: String,
    pub fire_at: DateTime<Utc>,
    /// When it would fire had it been set in time (`fire_at` is never before now).
    pub nominal: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
}

impl Planned {
    /// Whether it fires at once because its time passed before it was armed.
    pub fn overdue(&self) -> bool {
        self.fire_at > self.nominal
    }
}

/// The reminders an open task should have armed at `now`:
/// - none for a completed or deleted task;
/// - with `reminders` set, those: an `at` that has not passed; a `before_due` of a task due
///   later than now, at due − lead or, when that has passed, at once — one of those at most,
///   the one nearest the due time;
/// - otherwise the older single reminder (`remind_before`, or the default lead), as
///   [`rules::plan`] says.
pub fn plans(task: &Task, default_lead: Duration, now: DateTime<Utc>) -> Vec<Planned> {
    if task.completed || task.is_deleted() {
        return Vec::new();
    }
    let due = task.fields.due_time;
    if task.fields.reminders.is_empty() {
        return rules::plan(task, default_lead, now)
            .map(|p| Planned {
                id: LEAD_ID.to_owned(),
                fire_at: p.fire_at,
                nominal: due.map_or(p.fire_at, |due| {
                    due - task.fields.remind_before.unwrap_or(default_lead)
                }),
                due_at: Some(p.due_at),
            })
            .into_iter()
            .collect();
    }
    let mut out = Vec::new();
    let mut overdue: Option<Planned> = None;
    for spec in &task.fields.reminders {
        let Some(nominal) = spec.nominal(due) else {
            continue;
        };
        let planned = Planned {
            id: spec.id(),
            fire_at: nominal.max(now),
            nominal,
            // An absolute one does not depend on the due time: moving it leaves it be.
            due_at: match spec {
                ReminderSpec::BeforeDue(_) => due,
                ReminderSpec::At(_) => None,
            },
        };
        match spec {
            ReminderSpec::At(_) if nominal > now => out.push(planned),
            ReminderSpec::At(_) => {}
            ReminderSpec::BeforeDue(_) if due.is_none_or(|due| due <= now) => {}
            ReminderSpec::BeforeDue(_) if nominal > now => out.push(planned),
            ReminderSpec::BeforeDue(_) => {
                if overdue.as_ref().is_none_or(|o| o.nominal < planned.nominal) {
                    overdue = Some(planned);
                }
            }
        }
    }
    out.extend(overdue);
    out
}

/// Whether reminder `id`, armed for a task due at `due_at`, is still one the task has: the
/// task is open, and the reminder is still among its reminders for that due time. A snooze
/// holds while the task is open.
pub fn still_wanted(task: &Task, id: &str, due_at: Option<DateTime<Utc>>) -> bool {
    if task.completed || task.is_deleted() {
        return false;
    }
    if snoozed_of(id).is_some() {
        return true;
    }
    if id == LEAD_ID || id.is_empty() {
        return task.fields.reminders.is_empty()
            && due_at.is_some()
            && task.fields.due_time == due_at;
    }
    match ReminderSpec::from_id(id) {
        Some(spec @ ReminderSpec::At(_)) => task.fields.reminders.contains(&spec),
        Some(spec @ ReminderSpec::BeforeDue(_)) => {
            task.fields.reminders.contains(&spec)
                && due_at.is_some()
                && task.fields.due_time == due_at
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{TaskFields, TaskId, Title, UserId};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2027-01-10T12:00:00Z")
            .expect("time")
            .with_timezone(&Utc)
    }

    fn task(due_in: Option<Duration>, reminders: Vec<ReminderSpec>) -> Task {
        let mut fields = TaskFields::titled(Title::parse("t").expect("a title"));
        fields.due_time = due_in.map(|d| now() + d);
        fields.reminders = reminders;
        Task::new(
            TaskId::new_v7(),
            UserId::parse("alice").expect("user"),
            fields,
            now(),
        )
    }

    #[test]
    fn several_reminders_each_get_a_plan() {
        let at = now() + Duration::hours(3);
        let t = task(
            Some(Duration::hours(10)),
            vec![
                ReminderSpec::BeforeDue(Duration::hours(1)),
                ReminderSpec::BeforeDue(Duration::hours(2)),
                ReminderSpec::At(at),
            ],
        );
        let planned = plans(&t, Duration::hours(24), now());
        let fires: Vec<_> = planned.iter().map(|p| p.fire_at).collect();
        assert_eq!(
            fires,
            vec![now() + Duration::hours(9), now() + Duration::hours(8), at]
        );
        assert!(planned.iter().all(|p| !p.overdue()));
    }

    #[test]
    fn passed_relative_ones_fire_once_at_once_and_passed_absolute_ones_never() {
        let t = task(
            Some(Duration::minutes(30)),
            vec![
                ReminderSpec::BeforeDue(Duration::hours(2)),
                ReminderSpec::BeforeDue(Duration::hours(1)),
                ReminderSpec::At(now() - Duration::minutes(1)),
            ],
        );
        let planned = plans(&t, Duration::hours(24), now());
        assert_eq!(planned.len(), 1);
        assert_eq!(
            planned[0].id,
            ReminderSpec::BeforeDue(Duration::hours(1)).id()
        );
        assert_eq!(planned[0].fire_at, now());
        assert!(planned[0].overdue());
    }

    #[test]
    fn absolute_ones_need_no_due_time_and_relative_ones_do() {
        let at = now() + Duration::hours(1);
        let t = task(
            None,
            vec![
                ReminderSpec::At(at),
                ReminderSpec::BeforeDue(Duration::hours(1)),
            ],
        );
        let planned = plans(&t, Duration::hours(24), now());
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].due_at, None);
        assert!(still_wanted(&t, &ReminderSpec::At(at).id(), None));
        assert!(!still_wanted(&t, LEAD_ID, None));
        assert!(still_wanted(&t, "snooze-lead", None));
    }
}
