//! Reminders: armed from task events, fired once into an in-app notification and a
//! `reminder.triggered` event — by the in-process loop over the `reminders` table (embedded
//! mode) or by Dapr's Jobs API (cluster mode).

mod fire;
mod jobs;
mod local;
pub mod rules;
pub mod scheduler;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use sea_orm::ConnectionTrait;
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::convert::timestamp_out;
use crate::domain::TaskName;
use crate::error::AppError;
use crate::notifications::Hub;
use crate::outbox::{EventKind, NewEvent, Outbox};
use crate::proto::events::v1 as ev;
use crate::store::reminders as store;
use crate::store::{Database, tasks, to_micros};

pub use fire::Fired;
pub use scheduler::{DaprJobs, ReminderScheduler, TableScheduler};

/// A reminder that fires later than this after its time is marked late.
pub const LATE_AFTER: Duration = Duration::seconds(60);
/// In cluster mode, an armed reminder whose trigger has not come this long after its time is
/// fired by the sweep ([`Reminders::fire_overdue`]).
pub const OVERDUE_AFTER: Duration = Duration::minutes(2);

#[derive(Debug, Clone)]
pub struct Reminders {
    db: Database,
    outbox: Outbox,
    hub: Hub,
    clock: Arc<dyn Clock>,
    lead: Duration,
    scheduler: Arc<dyn ReminderScheduler>,
    changed: Arc<Notify>,
}

fn context(task: &TaskName, now: DateTime<Utc>, causation_id: &str) -> Option<ev::EventContext> {
    Some(ev::EventContext {
        user_id: task.user.as_str().to_owned(),
        occur_time: Some(timestamp_out(now)),
        origin: ev::Origin::Automation as i32,
        causation_id: causation_id.to_owned(),
    })
}

impl Reminders {
    pub fn new(
        db: Database,
        outbox: Outbox,
        hub: Hub,
        clock: Arc<dyn Clock>,
        lead: Duration,
        scheduler: Arc<dyn ReminderScheduler>,
    ) -> Self {
        Self {
            db,
            outbox,
            hub,
            clock,
            lead,
            scheduler,
            changed: Arc::new(Notify::new()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Brings a task's reminder in line with the task as stored now (armed, moved, or
    /// cancelled), inside the transaction of the event that changed it. Nothing remote is
    /// called here: in cluster mode the row is marked for the job worker, which schedules or
    /// deletes the Dapr job after the commit ([`Reminders::sync_jobs`]). Returns whether it
    /// changed anything that background work acts on (an event to publish, a job to sync).
    pub async fn sync(
        &self,
        txn: &impl ConnectionTrait,
        name: &TaskName,
        causation_id: &str,
    ) -> Result<bool, AppError> {
        let now = self.clock.now();
        let task = tasks::find(txn, name, false).await?;
        let plan = task.as_ref().and_then(|t| rules::plan(t, self.lead, now));
        let existing = store::find(txn, name).await?;
        let armed = existing
            .as_ref()
            .filter(|r| r.state == crate::store::entity::reminder::SCHEDULED);
        let Some(plan) = plan else {
            if armed.is_some() {
                let job_pending = !self.fires_locally();
                store::cancel(txn, name, now, job_pending).await?;
                tracing::debug!(task = %name, "reminder cancelled");
                return Ok(job_pending);
            }
            return Ok(false);
        };
        let unchanged = existing.as_ref().is_some_and(|r| {
            r.fire_at_us == to_micros(plan.fire_at) && r.due_at_us == to_micros(plan.due_at)
        });
        if unchanged && (armed.is_some() || existing.as_ref().is_some_and(|r| r.fired_us.is_some()))
        {
            // Already armed (or already fired) for this very time: a redelivery changes nothing.
            return Ok(false);
        }
        let job_pending = !self.fires_locally();
        store::schedule(txn, name, plan.fire_at, plan.due_at, now, job_pending).await?;
        let scheduled = ev::ReminderScheduled {
            context: context(name, now, causation_id),
            task: name.to_string(),
            fire_time: Some(timestamp_out(plan.fire_at)),
            due_time: Some(timestamp_out(plan.due_at)),
        };
        self.outbox
            .enqueue(
                txn,
                NewEvent {
                    kind: EventKind::ReminderScheduled,
                    user: name.user.clone(),
                    subject: name.to_string(),
                    payload: prost::Message::encode_to_vec(&scheduled),
                    id: uuid::Uuid::now_v7(),
                },
            )
            .await?;
        tracing::debug!(task = %name, fire_at = %plan.fire_at, "reminder armed");
        Ok(true)
    }

    /// Tells the local loop (embedded mode) or the job worker (cluster mode) that reminders
    /// changed.
    pub fn changed(&self) {
        self.changed.notify_one();
    }

    /// Whether reminders fire from the in-process loop (embedded mode).
    pub fn fires_locally(&self) -> bool {
        self.scheduler.fires_locally()
    }
}
