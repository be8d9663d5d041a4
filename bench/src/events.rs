//! Figures of the event path in Dapr mode: commit → sidecar receipt at a steady partial load,
//! the outbox backlog drain after a sidecar outage, and complete → next occurrence visible.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use dapr_double::DaprDouble;
use hdrhistogram::Histogram;
use taskflow::proto::v1 as pb;
use tokio::time::MissedTickBehavior;

use crate::Error;
use crate::client::{self, Tasks, as_user};
use crate::load::{self, Measured, Until, histogram, micros};
use crate::pg;
use crate::rpc;

/// The partitions of the `tasks` and `reminders` topics, as `k8s/kafka.yaml` creates them: the
/// double delivers one message per partition at a time, as daprd's Kafka consumer does.
pub const TOPIC_PARTITIONS: u32 = 12;

/// The sidecar double the Dapr-mode loads run against: retries 5 ms apart, and the topics'
/// partitions as deployed.
pub fn double_config() -> dapr_double::DaprDoubleConfig {
    dapr_double::DaprDoubleConfig {
        partitions: TOPIC_PARTITIONS,
        ..dapr_double::DaprDoubleConfig::fast(Duration::from_millis(5))
    }
}

/// What [`settle`] waited for: the deliveries the double finished since its last clear, and
/// when the last of them finished, counted from the call.
#[derive(Debug, Clone, Copy)]
pub struct Settled {
    pub deliveries: usize,
    pub took: Duration,
}

/// Waits until the relay has published every committed event and the double has delivered
/// them all to the app (its delivery count stops growing), then forgets what it recorded, so
/// one figure's backlog does not leak into the next.
pub async fn settle(double: &DaprDouble, url: &str, timeout: Duration) -> Result<Settled, Error> {
    let started = Instant::now();
    pg::wait_outbox_empty(url, timeout).await?;
    let mut last = double.delivery_count();
    let mut last_grew = started.elapsed();
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let delivered = double.delivery_count();
        if delivered != last {
            last = delivered;
            last_grew = started.elapsed();
        } else if started.elapsed() - last_grew >= Duration::from_millis(500) {
            double.clear();
            return Ok(Settled {
                deliveries: delivered,
                took: last_grew,
            });
        }
        if started.elapsed() > timeout {
            return Err(format!("deliveries still going after {timeout:?}").into());
        }
    }
}

/// What the deliveries of a CreateTask load's events came to.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryFigures {
    /// Deliveries a second once the creates had stopped (0 when none were left).
    pub drain_per_s: f64,
    /// Creates a second, counting the wait for the last delivery.
    pub sustained_per_s: f64,
}

/// Waits until embedded mode's relay has handed every committed event to the in-process bus,
/// whose handlers run before an event counts as published (their own events included).
pub async fn settle_embedded(database_url: &str, timeout: Duration) -> Result<(), Error> {
    let db = taskflow::store::Database::connect(database_url, 1).await?;
    let started = Instant::now();
    while !taskflow::store::outbox::unpublished(db.conn(), 1)
        .await?
        .is_empty()
    {
        if started.elapsed() > timeout {
            return Err(format!("events still unpublished after {timeout:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Commit → sidecar receipt, measured two ways (µs histograms).
pub struct PublishLatency {
    /// Achieved CreateTask rate.
    pub rate: f64,
    /// The creates' own latency at that rate.
    pub create: Measured,
    /// From the moment the client sent CreateTask to the double storing its event: an upper
    /// bound of commit → receipt (it adds the request's way in and the transaction).
    pub from_send: Histogram<u64>,
    /// From the task's `create_time` (the server's clock, read before the transaction that
    /// commits the task) to the double storing the event, on the same machine's wall clock:
    /// the tightest upper bound of commit → receipt.
    pub from_create_time: Histogram<u64>,
    /// From CreateTask's response reaching the client to the double storing the event (0 when
    /// the event arrived first): a lower bound, since the commit precedes the response.
    pub from_response: Histogram<u64>,
    /// From the commit itself, as PostgreSQL records it (`pg_xact_commit_timestamp` of the
    /// task row's transaction), to the double storing the event: the figure, exactly. `None`
    /// when the server runs without `track_commit_timestamp`.
    pub from_commit: Option<Histogram<u64>>,
}

/// Creates tasks at `rate` per second in all (spread over `callers` paced callers) for
/// `duration`, then matches each task to its `task.created` event in the double by subject.
pub async fn publish_latency(
    double: &DaprDouble,
    url: &str,
    clients: &[Tasks],
    callers: usize,
    rate: f64,
    duration: Duration,
) -> Result<PublishLatency, Error> {
    double.clear();
    type Sent = HashMap<String, (Instant, Instant, SystemTime)>;
    let sent: Arc<Mutex<Sent>> = Arc::default();
    let started = Instant::now();
    let started_wall = SystemTime::now() - Duration::from_secs(1);
    let mut workers = Vec::new();
    let period = Duration::from_secs_f64(callers as f64 / rate.max(1.0));
    for caller in 0..callers {
        let mut client = clients[caller % clients.len()].clone();
        let sent = sent.clone();
        workers.push(tokio::spawn(async move {
            let user = rpc::caller_user(caller);
            // Spread the callers' first ticks over one period.
            let offset = period.mul_f64(caller as f64 / callers as f64);
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut latency = histogram()?;
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut n = 0u64;
            while started.elapsed() < duration {
                ticks.tick().await;
                n += 1;
                let t0 = Instant::now();
                let request = as_user(&user, client::create_request(&user, n));
                match client.create_task(request).await {
                    Ok(task) => {
                        let t1 = Instant::now();
                        latency.saturating_record(micros(t1 - t0));
                        ok += 1;
                        let task = task.into_inner();
                        let created = task
                            .create_time
                            .and_then(|t| SystemTime::try_from(t).ok())
                            .unwrap_or(SystemTime::UNIX_EPOCH);
                        if let Ok(mut sent) = sent.lock() {
                            sent.insert(task.name, (t0, t1, created));
                        }
                    }
                    Err(_) => errors += 1,
                }
            }
            Ok::<_, Error>((ok, errors, latency))
        }));
    }
    let mut create = Measured {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: histogram()?,
        first_error: None,
    };
    for worker in workers {
        let (ok, errors, latency) = worker.await??;
        create.ok += ok;
        create.errors += errors;
        create.latency.add(&latency)?;
    }
    create.elapsed = started.elapsed();
    let sent = std::mem::take(&mut *sent.lock().map_err(|_| "poisoned")?);
    let published = double
        .wait_for_published(sent.len(), Duration::from_secs(60))
        .await
        .map_err(|e| format!("{} of {} events published", e.got.len(), e.wanted))?;
    let (mut from_send, mut from_response) = (histogram()?, histogram()?);
    let mut from_create_time = histogram()?;
    let commits = pg::commit_times(url, started_wall).await?;
    let mut from_commit = histogram()?;
    // The double records an `Instant`; this pair places it on the wall clock.
    let (anchor, anchor_wall) = (Instant::now(), SystemTime::now());
    let mut matched = 0usize;
    for event in &published {
        let Some(subject) = event.cloud_event.get("subject").and_then(|s| s.as_str()) else {
            continue;
        };
        if let Some((t0, t1, created)) = sent.get(subject) {
            matched += 1;
            let received_wall = anchor_wall - anchor.saturating_duration_since(event.received_at);
            let since_created = received_wall.duration_since(*created).unwrap_or_default();
            from_create_time.saturating_record(micros(since_created));
            let id = subject.rsplit('/').next().unwrap_or_default();
            if let Some(committed) = commits.as_ref().and_then(|c| c.get(id)) {
                let since_commit = received_wall.duration_since(*committed).unwrap_or_default();
                from_commit.saturating_record(micros(since_commit));
            }
            from_send.saturating_record(micros(event.received_at.saturating_duration_since(*t0)));
            from_response
                .saturating_record(micros(event.received_at.saturating_duration_since(*t1)));
        }
    }
    if matched < sent.len() {
        return Err(format!("only {matched} of {} creates matched an event", sent.len()).into());
    }
    if commits.is_some() && from_commit.len() < matched as u64 {
        return Err(format!(
            "only {} of {matched} events matched their task's commit time",
            from_commit.len()
        )
        .into());
    }
    Ok(PublishLatency {
        rate: create.per_second(),
        create,
        from_send,
        from_create_time,
        from_response,
        from_commit: commits.map(|_| from_commit),
    })
}

/// The outbox backlog drained after a sidecar outage.
pub struct Drain {
    pub events: usize,
    /// From the first to the last event the double stored after its restart.
    pub first_to_last: Duration,
    /// From the restart to the last event (adds the relay's back-off wait).
    pub restart_to_last: Duration,
}

impl Drain {
    pub fn per_second(&self) -> f64 {
        self.events.saturating_sub(1) as f64 / self.first_to_last.as_secs_f64().max(1e-9)
    }
}

/// Stops the double, creates `count` tasks (their events pile up in the outbox), restarts it
/// and times the relay publishing them all.
pub async fn drain(
    double: &DaprDouble,
    clients: &[Tasks],
    callers: usize,
    count: u64,
    url: &str,
) -> Result<Drain, Error> {
    settle(double, url, Duration::from_secs(120)).await?;
    double.stop().await;
    double.clear();
    rpc::create(clients, callers, Until::Calls(count), false).await?;
    let backlog = usize::try_from(pg::unpublished(url).await?)?;
    let restarted = Instant::now();
    double.restart().await?;
    let published = double
        .wait_for_published(backlog, Duration::from_secs(300))
        .await
        .map_err(|e| format!("{} of {} backlog events published", e.got.len(), e.wanted))?;
    let first = published
        .iter()
        .map(|p| p.received_at)
        .min()
        .ok_or("nothing published")?;
    let last = published
        .iter()
        .map(|p| p.received_at)
        .max()
        .ok_or("nothing published")?;
    Ok(Drain {
        events: published.len(),
        first_to_last: last - first,
        restart_to_last: last.saturating_duration_since(restarted),
    })
}

/// Gives each of `samples` users (`next0`, `next1` …) one daily task, for [`next_instance`];
/// settle the event path afterwards, so that the measurement does not start behind the
/// backlog of their `task.created` events.
pub async fn seed_next_instance(
    clients: &[Tasks],
    samples: usize,
    concurrency: usize,
) -> Result<(), Error> {
    let clients_for_seed = clients.to_vec();
    load::closed_loop(
        concurrency,
        Until::Calls(u64::try_from(samples)?),
        move |caller, n| {
            let mut client = clients_for_seed[caller % clients_for_seed.len()].clone();
            async move {
                let user = format!("next{n}");
                client
                    .create_task(as_user(&user, client::recurring_request(&user, n)))
                    .await?;
                Ok(())
            }
        },
    )
    .await?;
    Ok(())
}

/// For the `samples` users of [`seed_next_instance`]: completes each one's task and polls
/// ListTasks every 2 ms until the next occurrence is listed; the time from sending
/// CompleteTask (µs histogram).
pub async fn next_instance(
    clients: &[Tasks],
    samples: usize,
    concurrency: usize,
) -> Result<Histogram<u64>, Error> {
    let latencies = Arc::new(Mutex::new(histogram()?));
    let (clients, sink) = (clients.to_vec(), latencies.clone());
    load::closed_loop(
        concurrency,
        Until::Calls(u64::try_from(samples)?),
        move |caller, n| {
            let mut client = clients[caller % clients.len()].clone();
            let sink = sink.clone();
            async move {
                let user = format!("next{n}");
                let open = pb::ListTasksRequest {
                    parent: format!("users/{user}"),
                    page_size: 10,
                    filter: "completed = false".into(),
                    ..Default::default()
                };
                let first = client
                    .list_tasks(as_user(&user, open.clone()))
                    .await?
                    .into_inner();
                let task = first
                    .tasks
                    .into_iter()
                    .next()
                    .ok_or_else(|| tonic::Status::internal("no task to complete"))?;
                let t0 = Instant::now();
                client
                    .complete_task(as_user(
                        &user,
                        pb::CompleteTaskRequest {
                            name: task.name.clone(),
                        },
                    ))
                    .await?;
                loop {
                    let page = client
                        .list_tasks(as_user(&user, open.clone()))
                        .await?
                        .into_inner();
                    if page.tasks.iter().any(|t| t.name != task.name) {
                        break;
                    }
                    if t0.elapsed() > Duration::from_secs(30) {
                        return Err(tonic::Status::deadline_exceeded(
                            "no next occurrence after 30 s",
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                if let Ok(mut sink) = sink.lock() {
                    sink.saturating_record(micros(t0.elapsed()));
                }
                Ok(())
            }
        },
    )
    .await?;
    let histogram = latencies.lock().map_err(|_| "poisoned")?.clone();
    Ok(histogram)
}
