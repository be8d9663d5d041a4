//! Reminders: armed from task events, fired once into an in-app notification and a
//! `reminder.triggered` event — by the in-process loop over the `reminders` table (embedded
//! mode) or by Dapr's Jobs API (cluster mode).

mod fire;
mod jobs;
mod local;
pub mod plans;
pub mod rules;
pub mod scheduler;
mod snooze;
mod sync;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::Notify;

use crate::clock::Clock;
use crate::convert::timestamp_out;
use crate::domain::TaskName;
use crate::notifications::Hub;
use crate::outbox::Outbox;
use crate::proto::events::v1 as ev;
use crate::store::Database;

pub use fire::{Fired, Trigger};
pub use scheduler::{DaprJobs, ReminderScheduler, TableScheduler};
pub use snooze::SnoozeFor;

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
