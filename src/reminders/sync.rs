//! Bringing a task's reminders in line with the task as stored now, inside the transaction of
//! the event that changed it.

use sea_orm::ConnectionTrait;

use super::plans::{Planned, plans};
use super::{Reminders, context};
use crate::convert::timestamp_out;
use crate::domain::{TaskName, snoozed_of};
use crate::error::AppError;
use crate::outbox::{EventKind, NewEvent};
use crate::proto::events::v1 as ev;
use crate::store::entity::reminder::{FIRED, SCHEDULED};
use crate::store::reminders::{self as store, Arm, ReminderRow};
use crate::store::{tasks, to_micros};

/// Whether `row` already is `plan`: armed for the same time, or fired for it (a reminder that
/// fired at once because its time had passed counts as fired for any time up to then).
fn unchanged(row: &ReminderRow, plan: &Planned) -> bool {
    if row.due_at_us != plan.due_at.map(to_micros) {
        return false;
    }
    match row.state {
        SCHEDULED => row.fire_at_us == to_micros(plan.fire_at),
        FIRED => {
            row.fire_at_us == to_micros(plan.fire_at)
                || (plan.overdue() && row.fire_at_us >= to_micros(plan.nominal))
        }
        _ => false,
    }
}

impl Reminders {
    /// Brings a task's reminders in line with the task as stored now (armed, moved, or
    /// cancelled, snoozes included), inside the transaction of the event that changed it.
    /// Nothing remote is called here: in cluster mode each changed row is marked for the job
    /// worker, which schedules or deletes its Dapr job after the commit
    /// ([`Reminders::sync_jobs`]). Returns whether it changed anything that background work
    /// acts on (an event to publish, a job to sync).
    pub async fn sync(
        &self,
        txn: &impl ConnectionTrait,
        name: &TaskName,
        causation_id: &str,
    ) -> Result<bool, AppError> {
        let now = self.clock.now();
        let task = tasks::find(txn, name, false).await?;
        let wanted = task
            .as_ref()
            .map(|t| plans(t, self.lead, now))
            .unwrap_or_default();
        let open = task
            .as_ref()
            .is_some_and(|t| !t.completed && !t.is_deleted());
        let rows = store::all_of(txn, name).await?;
        let job_pending = !self.fires_locally();
        let mut changed = false;
        for row in rows.iter().filter(|r| r.state == SCHEDULED) {
            let keep = match snoozed_of(&row.reminder_id) {
                Some(_) => open,
                None => wanted.iter().any(|p| p.id == row.reminder_id),
            };
            if !keep {
                store::cancel(txn, name, &row.reminder_id, now, job_pending).await?;
                tracing::debug!(task = %name, reminder = %row.reminder_id, "reminder cancelled");
                changed |= job_pending;
            }
        }
        for plan in &wanted {
            if rows
                .iter()
                .any(|r| r.reminder_id == plan.id && unchanged(r, plan))
            {
                // Already armed (or already fired) for this very time: a redelivery changes
                // nothing.
                continue;
            }
            let arm = Arm {
                task: name,
                reminder: &plan.id,
                fire_at: plan.fire_at,
                due_at: plan.due_at,
            };
            store::schedule(txn, arm, now, job_pending).await?;
            self.scheduled_event(txn, arm, now, causation_id).await?;
            tracing::debug!(task = %name, reminder = %plan.id, fire_at = %plan.fire_at, "reminder armed");
            changed = true;
        }
        Ok(changed)
    }

    /// Writes `reminder.scheduled` for a reminder just armed.
    pub(super) async fn scheduled_event(
        &self,
        txn: &impl ConnectionTrait,
        arm: Arm<'_>,
        now: chrono::DateTime<chrono::Utc>,
        causation_id: &str,
    ) -> Result<(), AppError> {
        let scheduled = ev::ReminderScheduled {
            context: context(arm.task, now, causation_id),
            task: arm.task.to_string(),
            fire_time: Some(timestamp_out(arm.fire_at)),
            due_time: arm.due_at.map(timestamp_out),
            reminder_id: arm.reminder.to_owned(),
        };
        self.outbox
            .enqueue(
                txn,
                NewEvent {
                    kind: EventKind::ReminderScheduled,
                    user: arm.task.user.clone(),
                    subject: arm.task.to_string(),
                    payload: prost::Message::encode_to_vec(&scheduled),
                    id: uuid::Uuid::now_v7(),
                },
            )
            .await
    }
}
