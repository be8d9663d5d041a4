//! Protobuf reminders <-> domain reminders.

use chrono::{DateTime, Utc};

use super::time::{duration_in, duration_out, timestamp_in, timestamp_out};
use crate::domain::{REMINDERS_MAX, ReminderSpec};
use crate::error::Violations;
use crate::proto::v1::{self as pb, reminder::When};

/// A task's reminders, checked: at most [`REMINDERS_MAX`], each with its time, no two alike.
/// A violation names the reminder (`task.reminders[2].before_due`).
pub fn reminders_in(
    reminders: &[pb::Reminder],
    path: &str,
    v: &mut Violations,
) -> Option<Vec<ReminderSpec>> {
    let before = v.len();
    if reminders.len() > REMINDERS_MAX {
        v.add(
            format!("{path}[{REMINDERS_MAX}]"),
            format!(
                "a task has at most {REMINDERS_MAX} reminders, got {}",
                reminders.len()
            ),
        );
        return None;
    }
    let mut out: Vec<ReminderSpec> = Vec::with_capacity(reminders.len());
    for (i, reminder) in reminders.iter().enumerate() {
        let at = format!("{path}[{i}]");
        let spec = match &reminder.when {
            Some(When::BeforeDue(d)) => v.check(
                &format!("{at}.before_due"),
                duration_in(d).and_then(|d| ReminderSpec::before_due(d).map_err(|e| e.to_string())),
            ),
            Some(When::At(t)) => v.check(
                &format!("{at}.at"),
                timestamp_in(t).and_then(|t| ReminderSpec::at(t).map_err(|e| e.to_string())),
            ),
            None => {
                v.add(&at, "needs a time: set before_due or at");
                None
            }
        };
        if let Some(spec) = spec {
            if let Some(j) = out.iter().position(|s| *s == spec) {
                v.add(&at, format!("repeats {path}[{j}]"));
            }
            out.push(spec);
        }
    }
    (v.len() == before).then_some(out)
}

/// One reminder for output, with its fire time for a task due at `due`.
pub fn reminder_out(spec: &ReminderSpec, due: Option<DateTime<Utc>>) -> pb::Reminder {
    pb::Reminder {
        when: Some(match spec {
            ReminderSpec::BeforeDue(lead) => When::BeforeDue(duration_out(*lead)),
            ReminderSpec::At(time) => When::At(timestamp_out(*time)),
        }),
        fire_time: spec.nominal(due).map(timestamp_out),
    }
}

/// A task's reminders for output.
pub fn reminders_out(reminders: &[ReminderSpec], due: Option<DateTime<Utc>>) -> Vec<pb::Reminder> {
    reminders.iter().map(|r| reminder_out(r, due)).collect()
}
