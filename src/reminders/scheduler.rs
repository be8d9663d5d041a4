//! Where armed reminders wait for their time: the `reminders` table, watched by an in-process
//! loop (embedded mode), or Dapr's Jobs API (cluster mode), which calls back `OnJobEvent`.

use std::sync::atomic::{AtomicBool, Ordering};

use dapr::dapr::proto::runtime::v1 as dapr_pb;
use prost::Message;

use crate::domain::{LEAD_ID, TaskName};
use crate::error::AppError;
use crate::proto::events::v1 as ev;
use crate::sidecar::{Sidecar, SidecarError};

/// The `type_url` of a job's data: the reminder as scheduled.
pub const JOB_DATA_TYPE: &str = "type.googleapis.com/taskflow.events.v1.ReminderScheduled";

/// How often a reminder's trigger is retried when the app cannot take it (its database is
/// down, say). Without a failure policy the Scheduler retries 3 times, 1 s apart, and then
/// drops the trigger (go-etcd-cron `internal/scheduler/builder.go`); this one has no
/// `max_retries`, which means forever. The app answers `NotFound` for a trigger it has no use
/// for, which the Scheduler counts as done (dapr `runtime/scheduler/internal/cluster/streamer.go`).
pub const TRIGGER_RETRY_INTERVAL_SECONDS: i64 = 10;

fn failure_policy() -> dapr::dapr::proto::common::v1::JobFailurePolicy {
    use dapr::dapr::proto::common::v1::{
        JobFailurePolicy, JobFailurePolicyConstant, job_failure_policy::Policy,
    };
    JobFailurePolicy {
        policy: Some(Policy::Constant(JobFailurePolicyConstant {
            interval: Some(prost_types::Duration {
                seconds: TRIGGER_RETRY_INTERVAL_SECONDS,
                nanos: 0,
            }),
            max_retries: None,
        })),
    }
}

/// The job name of one reminder of a task, overwritten on reschedule: `reminder-{task}` for
/// the older single reminder (`lead`), `reminder-{task}-{reminder id}` for the others
/// (letters, digits and `-` only).
pub fn job_name(task: &TaskName, reminder_id: &str) -> String {
    if reminder_id == LEAD_ID || reminder_id.is_empty() {
        format!("reminder-{}", task.task)
    } else {
        format!("reminder-{}-{reminder_id}", task.task)
    }
}

#[tonic::async_trait]
pub trait ReminderScheduler: Send + Sync + std::fmt::Debug + 'static {
    /// Arms the reminder described by `scheduled` (replacing any earlier time of the same
    /// reminder).
    async fn schedule(
        &self,
        task: &TaskName,
        scheduled: &ev::ReminderScheduled,
    ) -> Result<(), AppError>;
    /// Disarms one reminder of a task; disarming a missing one is fine.
    async fn cancel(&self, task: &TaskName, reminder_id: &str) -> Result<(), AppError>;
    /// Whether the in-process loop must fire reminders from the table.
    fn fires_locally(&self) -> bool;
}

/// Embedded mode: the `reminders` row is the schedule; the local loop fires it.
#[derive(Debug, Default)]
pub struct TableScheduler;

#[tonic::async_trait]
impl ReminderScheduler for TableScheduler {
    async fn schedule(&self, _: &TaskName, _: &ev::ReminderScheduled) -> Result<(), AppError> {
        Ok(())
    }

    async fn cancel(&self, _: &TaskName, _: &str) -> Result<(), AppError> {
        Ok(())
    }

    fn fires_locally(&self) -> bool {
        true
    }
}

/// Cluster mode: Dapr's Jobs API through the shared sidecar client; the stable calls first,
/// the `*Alpha1` ones on sidecars older than 1.18.
#[derive(Debug)]
pub struct DaprJobs {
    sidecar: Sidecar,
    alpha: AtomicBool,
}

impl DaprJobs {
    pub fn new(sidecar: Sidecar) -> Self {
        Self {
            sidecar,
            alpha: AtomicBool::new(false),
        }
    }
}

fn unavailable(err: SidecarError) -> AppError {
    AppError::Sidecar(err.to_string())
}

#[tonic::async_trait]
impl ReminderScheduler for DaprJobs {
    async fn schedule(
        &self,
        task: &TaskName,
        scheduled: &ev::ReminderScheduled,
    ) -> Result<(), AppError> {
        let fire_at = scheduled
            .fire_time
            .as_ref()
            .and_then(|t| {
                chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
            })
            .ok_or_else(|| AppError::Internal("a scheduled reminder without a fire time".into()))?;
        let request = dapr_pb::ScheduleJobRequest {
            job: Some(dapr_pb::Job {
                name: job_name(task, &scheduled.reminder_id),
                due_time: Some(fire_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                data: Some(prost_types::Any {
                    type_url: JOB_DATA_TYPE.to_owned(),
                    value: scheduled.encode_to_vec(),
                }),
                failure_policy: Some(failure_policy()),
                ..Default::default()
            }),
            overwrite: true,
        };
        loop {
            let alpha = self.alpha.load(Ordering::Relaxed);
            match self.sidecar.schedule_job(request.clone(), alpha).await {
                Ok(()) => return Ok(()),
                Err(err) if err.is_missing_method() && !alpha => {
                    tracing::info!("the sidecar has no stable Jobs API; using ScheduleJobAlpha1");
                    self.alpha.store(true, Ordering::Relaxed);
                }
                Err(err) => return Err(unavailable(err)),
            }
        }
    }

    async fn cancel(&self, task: &TaskName, reminder_id: &str) -> Result<(), AppError> {
        let request = dapr_pb::DeleteJobRequest {
            name: job_name(task, reminder_id),
        };
        loop {
            let alpha = self.alpha.load(Ordering::Relaxed);
            match self.sidecar.delete_job(request.clone(), alpha).await {
                Ok(()) => return Ok(()),
                Err(SidecarError::Status(status)) if status.code() == tonic::Code::NotFound => {
                    return Ok(());
                }
                Err(err) if err.is_missing_method() && !alpha => {
                    self.alpha.store(true, Ordering::Relaxed);
                }
                Err(err) => return Err(unavailable(err)),
            }
        }
    }

    fn fires_locally(&self) -> bool {
        false
    }
}
