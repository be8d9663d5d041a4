//! Jobs: `ScheduleJob`/`DeleteJob` (and their `Alpha1` twins) store jobs by name; a job with a
//! `due_time` (RFC 3339, Go or ISO 8601 duration) and/or an `@every <duration>` schedule is
//! triggered by calling the app's job callback as the configured daprd line does (1.18:
//! `OnJobEvent`, falling back to `OnJobEventAlpha1`; 1.16 and 1.17: `OnJobEventAlpha1` only),
//! with the job's failure policy. Cron expressions and other `@` periods are stored but only fire
//! through [`DaprDouble::trigger_job_now`].

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use dapr::dapr::proto::common::v1::HttpExtension;
use dapr::dapr::proto::common::v1::http_extension::Verb;
use dapr::dapr::proto::common::v1::job_failure_policy::Policy;
use dapr::dapr::proto::runtime::v1::{
    DeleteJobRequest, DeleteJobResponse, Job, JobEventRequest, ScheduleJobRequest,
    ScheduleJobResponse,
};
use tokio::task::AbortHandle;
use tonic::{Code, Request, Response, Status};

use crate::DaprDouble;
use crate::double::Shared;
use crate::duration::{parse_due_time, parse_every};
use crate::error::DoubleError;
use crate::record::{JobOutcome, JobTrigger, WaitTimeout, lock};

/// The scheduled jobs by name.
#[derive(Default)]
pub(crate) struct JobStore {
    jobs: Mutex<HashMap<String, JobEntry>>,
    generations: AtomicU64,
}

struct JobEntry {
    job: Job,
    /// Distinguishes a job from a later one with the same name (overwrite).
    generation: u64,
    timer: Option<AbortHandle>,
}

impl JobStore {
    fn current(&self, name: &str, generation: u64) -> Option<Job> {
        lock(&self.jobs)
            .get(name)
            .filter(|entry| entry.generation == generation)
            .map(|entry| entry.job.clone())
    }

    /// Removes the job if it is still this generation.
    fn remove_if(&self, name: &str, generation: u64) -> Option<JobEntry> {
        let mut jobs = lock(&self.jobs);
        if jobs.get(name).is_some_and(|e| e.generation == generation) {
            jobs.remove(name)
        } else {
            None
        }
    }
}

/// `ScheduleJob` / `ScheduleJobAlpha1`.
pub(crate) async fn schedule_job(
    shared: Arc<Shared>,
    request: Request<ScheduleJobRequest>,
) -> Result<Response<ScheduleJobResponse>, Status> {
    let request = request.into_inner();
    let job = request
        .job
        .ok_or_else(|| Status::invalid_argument("job is required"))?;
    if job.name.is_empty() {
        return Err(Status::invalid_argument("job name is required"));
    }
    if job.schedule.is_none() && job.due_time.is_none() {
        return Err(Status::invalid_argument(
            "job must have a schedule or a due time",
        ));
    }
    let now = SystemTime::now();
    let due = match &job.due_time {
        Some(text) => Some(
            parse_due_time(text, now)
                .ok_or_else(|| Status::invalid_argument(format!("invalid due time: {text}")))?,
        ),
        None => None,
    };
    let every = job.schedule.as_deref().and_then(parse_every);
    let first = due.or_else(|| every.and_then(|every| now.checked_add(every)));

    let mut jobs = lock(&shared.jobs.jobs);
    if !request.overwrite && jobs.contains_key(&job.name) {
        return Err(Status::already_exists(format!(
            "job {} already exists",
            job.name
        )));
    }
    if let Some(old) = jobs.remove(&job.name)
        && let Some(timer) = old.timer
    {
        timer.abort();
    }
    let generation = shared.jobs.generations.fetch_add(1, Ordering::SeqCst);
    let timer = first.map(|first| {
        shared.spawn(run_timer(
            shared.clone(),
            job.name.clone(),
            generation,
            first,
            every,
            job.repeats,
        ))
    });
    jobs.insert(
        job.name.clone(),
        JobEntry {
            job,
            generation,
            timer,
        },
    );
    Ok(Response::new(ScheduleJobResponse {}))
}

/// `DeleteJob` / `DeleteJobAlpha1`: cancels the job (deleting an unknown name is not an error).
pub(crate) async fn delete_job(
    shared: Arc<Shared>,
    request: Request<DeleteJobRequest>,
) -> Result<Response<DeleteJobResponse>, Status> {
    let name = request.into_inner().name;
    if name.is_empty() {
        return Err(Status::invalid_argument("job name is required"));
    }
    if let Some(entry) = lock(&shared.jobs.jobs).remove(&name)
        && let Some(timer) = entry.timer
    {
        timer.abort();
    }
    Ok(Response::new(DeleteJobResponse {}))
}

/// Fires a job at its due time, then every `every` until `repeats` triggers are done. A trigger
/// whose failure policy gave up still counts towards `repeats`, and a one-shot job is deleted
/// after it either way (go-etcd-cron `internal/counter/counter.go`: `TriggerFailed` moves on to
/// the next tick and deletes the job when there is none).
async fn run_timer(
    shared: Arc<Shared>,
    name: String,
    generation: u64,
    first: SystemTime,
    every: Option<Duration>,
    repeats: Option<u32>,
) {
    let mut next = first;
    let mut count = 0u32;
    loop {
        let wait = next.duration_since(SystemTime::now()).unwrap_or_default();
        tokio::time::sleep(wait).await;
        // daprd only triggers while it runs and the app is healthy: a job due meanwhile is
        // staged by the Scheduler and triggered once the app's stream is back (`health.rs`).
        shared.wait_running().await;
        shared.wait_healthy().await;
        shared.app.wait_addr().await;
        let Some(job) = shared.jobs.current(&name, generation) else {
            return;
        };
        let trigger = shared.trigger(&job).await;
        count = count.saturating_add(1);
        let done = match every {
            None => true,
            Some(_) => repeats.is_some_and(|r| count >= r),
        };
        match every {
            Some(every) if !done => {
                shared.job_triggers.push(trigger);
                next = next.checked_add(every).unwrap_or(next);
            }
            _ => {
                // Gone before the trigger is recorded, so a test that saw it sees no job.
                shared.jobs.remove_if(&name, generation);
                shared.job_triggers.push(trigger);
                return;
            }
        }
    }
}

fn to_std(duration: prost_types::Duration) -> Duration {
    let seconds = u64::try_from(duration.seconds).unwrap_or(0);
    let nanos = u32::try_from(duration.nanos).unwrap_or(0);
    Duration::new(seconds, 0).saturating_add(Duration::from_nanos(u64::from(nanos)))
}

impl Shared {
    /// One trigger with the job's failure policy, as go-etcd-cron applies it
    /// (`internal/counter/counter.go` `TriggerFailed`/`policyTryAgain`):
    /// - no policy (or one with neither `drop` nor `constant`, which daprd passes on as none:
    ///   `pkg/scheduler/server/api.go` `schedFPToCron`) → go-etcd-cron's default, constant 1 s,
    ///   3 retries (`internal/scheduler/builder.go`; `DaprDoubleConfig::job_failure_policy`);
    /// - `drop` → one attempt;
    /// - `constant` → retries `interval` apart (an unset interval is zero: the next attempt
    ///   follows at once, here after at least 1 ms), `max_retries` of them, or forever when
    ///   unset.
    ///
    /// The app's answer counts as daprd's `invokeApp` counts it
    /// (`pkg/runtime/scheduler/internal/cluster/streamer.go`): OK and `NotFound` end the trigger
    /// as done; any other code (also `Unimplemented`) is a failure.
    async fn trigger(&self, job: &Job) -> JobTrigger {
        let default = self.config.job_failure_policy;
        let (interval, max_retries) = match job.failure_policy.and_then(|p| p.policy) {
            Some(Policy::Drop(_)) => (Duration::ZERO, Some(0)),
            Some(Policy::Constant(constant)) => (
                constant
                    .interval
                    .map_or(Duration::ZERO, to_std)
                    .max(Duration::from_millis(1)),
                constant.max_retries,
            ),
            None => (default.interval, Some(default.max_retries)),
        };
        let request = JobEventRequest {
            name: job.name.clone(),
            data: job.data.clone(),
            method: format!("job/{}", job.name),
            content_type: job
                .data
                .as_ref()
                .map(|any| any.type_url.clone())
                .unwrap_or_default(),
            http_extension: Some(HttpExtension {
                verb: Verb::Post as i32,
                querystring: String::new(),
            }),
        };
        let mut attempts = 0u32;
        loop {
            self.wait_running().await;
            attempts += 1;
            let (method, code) = self.call_job(request.clone()).await;
            let outcome = match code {
                Code::Ok => Some(JobOutcome::Succeeded),
                Code::NotFound => Some(JobOutcome::NotFound),
                _ if max_retries.is_some_and(|max| attempts > max) => Some(JobOutcome::Failed),
                _ => None,
            };
            if let Some(outcome) = outcome {
                return JobTrigger {
                    name: job.name.clone(),
                    attempts,
                    outcome,
                    last_code: code,
                    method,
                    finished_at: Instant::now(),
                };
            }
            tokio::time::sleep(interval).await;
        }
    }
}

impl DaprDouble {
    /// The scheduled jobs, by name. One-shot jobs disappear once triggered.
    pub fn jobs(&self) -> Vec<Job> {
        let mut jobs: Vec<Job> = lock(&self.shared.jobs.jobs)
            .values()
            .map(|e| e.job.clone())
            .collect();
        jobs.sort_by(|a, b| a.name.cmp(&b.name));
        jobs
    }

    /// One scheduled job.
    pub fn job(&self, name: &str) -> Option<Job> {
        lock(&self.shared.jobs.jobs)
            .get(name)
            .map(|e| e.job.clone())
    }

    /// Triggers a job now (with its failure policy), records and returns the result. A job
    /// without an `@every` schedule is then done: it is removed and its timer cancelled.
    pub async fn trigger_job_now(&self, name: &str) -> Result<JobTrigger, DoubleError> {
        let shared = &self.shared;
        if shared.app.addr().is_none() {
            return Err(DoubleError::NoAppAddr);
        }
        let (job, generation) = lock(&shared.jobs.jobs)
            .get(name)
            .map(|e| (e.job.clone(), e.generation))
            .ok_or_else(|| DoubleError::JobNotFound(name.to_owned()))?;
        let trigger = shared.trigger(&job).await;
        shared.job_triggers.push(trigger.clone());
        if job.schedule.as_deref().and_then(parse_every).is_none()
            && let Some(entry) = shared.jobs.remove_if(name, generation)
            && let Some(timer) = entry.timer
        {
            timer.abort();
        }
        Ok(trigger)
    }

    /// Every finished job trigger so far.
    pub fn job_triggers(&self) -> Vec<JobTrigger> {
        self.shared.job_triggers.snapshot()
    }

    /// Waits (woken on every trigger) until at least `n` job triggers have finished.
    pub async fn wait_for_job_triggers(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<JobTrigger>, WaitTimeout<JobTrigger>> {
        self.shared.job_triggers.wait_for(n, timeout).await
    }
}
