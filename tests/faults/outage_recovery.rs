//! A 60-second database outage under load, against a sidecar double configured as taskflow
//! deploys daprd: the Resiliency policy taskflow ships (inbound retry without a count limit)
//! and app health checks on. The sidecar marks the app unhealthy and pauses its deliveries,
//! the process stays up, and once the database is back everything resumes by itself: every
//! acknowledged completion of a recurring task has exactly one next occurrence, every reminder
//! that should be armed is armed (its row and its Dapr job), nothing is dead-lettered or lost,
//! and each user's events are applied in the order they were published.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use dapr_double::{DaprDouble, Outcome, Published};
use prost::Message;
use sea_orm::EntityTrait;
use taskflow::proto::events::v1 as ev;
use taskflow::store::entity::{dead_letter, reminder};
use taskflow::store::outbox::OutboxRow;
use taskflow::store::{Database, entity::task};
use tonic::Code;

use crate::helpers::eventually_within;
use crate::support::events::field;
use crate::support::{
    Acked, ChildServer, Figures, Ledger, Load, LoadConfig, Mix, PrivateCluster, per_key_order,
    settle, shipped_double, tasks_by_name,
};

/// How long the database stays away; `TASKFLOW_OUTAGE_SECONDS` shortens it for local runs.
const OUTAGE: Duration = Duration::from_secs(60);
const WAIT: Duration = Duration::from_secs(60);
/// Three failed probes 250 ms apart (each may wait its 250 ms timeout), on a loaded machine.
const HEALTH_WAIT: Duration = Duration::from_secs(15);
const USERS: usize = 6;
/// The server's default reminder lead (`TASKFLOW_REMINDER_LEAD_SECONDS`, 24 h).
const LEAD_US: i64 = 24 * 3600 * 1_000_000;
const DEAD_LETTER_TOPIC: &str = "tasks-dlq";
const TOPICS: [&str; 2] = ["tasks", "reminders"];

fn outage() -> Duration {
    std::env::var("TASKFLOW_OUTAGE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(OUTAGE, Duration::from_secs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixty_second_database_outage_under_load_is_ridden_out() {
    let outage = outage();
    let cluster = PrivateCluster::start().await;
    let url = cluster.url();
    let double = shipped_double().await;
    let mut server = ChildServer::start(&url, &double).await;
    assert!(
        double.wait_for_health(true, WAIT).await,
        "the sidecar sees the app healthy before the outage"
    );
    let mut config = LoadConfig::new(USERS, Mix::RecurringWithDue);
    config.retry = true;
    config.pace = Duration::from_millis(5);
    let load = Load::start(&server, &config);
    load.wait_more(60, WAIT).await;

    let stopping = Instant::now();
    cluster.stop_immediate().await;
    let down = Instant::now();
    assert!(
        double.wait_for_health(false, HEALTH_WAIT).await,
        "the sidecar marks the app unhealthy without its database"
    );
    eventually_within("calls failing during the outage", WAIT, || async {
        let failed = load
            .calls()
            .iter()
            .filter(|c| c.started >= down && c.error.is_some())
            .count();
        (failed >= USERS).then_some(())
    })
    .await;
    // The outage lasts its full length however the load fares.
    tokio::time::sleep_until((down + outage).into()).await;
    assert!(
        server.exited().is_none(),
        "the server keeps running without its database:\n{}",
        server.log_tail()
    );
    assert!(
        !double.app_healthy(),
        "still unhealthy at the end of the outage"
    );

    let restarting = Instant::now();
    cluster.start_again().await;
    let up = Instant::now();
    let recovery = eventually_within("a successful call after the database returns", WAIT, || {
        let calls = load.calls();
        async move {
            calls
                .iter()
                .filter(|c| c.error.is_none() && c.ended() >= up)
                .map(|c| c.ended() - up)
                .min()
        }
    })
    .await;
    assert!(
        double.wait_for_health(true, WAIT).await,
        "the sidecar sees the app healthy again once the database is back"
    );
    load.wait_more(60, WAIT).await;
    let report = load.finish().await;
    assert!(server.exited().is_none(), "{}", server.log_tail());

    // Calls failed only while the database was away, and as UNAVAILABLE.
    let failures = report.errors();
    assert!(!failures.is_empty(), "the outage hit the load");
    for call in &failures {
        assert_eq!(call.error, Some(Code::Unavailable), "{call:?}");
    }
    let answering_again = up + recovery;
    let late: Vec<_> = failures
        .iter()
        .filter(|c| c.started > answering_again)
        .collect();
    assert!(
        late.is_empty(),
        "calls made once the service answered again failed: {late:?}"
    );

    // Everything settles: the outbox published, every stored message delivered for good, every
    // reminder's job brought in line with its row.
    let db = Database::connect(&url, 2).await.expect("connects");
    let outbox = settle(&db, &double, WAIT).await;
    let reminders = eventually_within("every reminder job synced", WAIT, || async {
        let rows = reminder::Entity::find()
            .all(db.conn())
            .await
            .expect("reads the reminders");
        rows.iter().all(|r| !r.job_pending).then_some(rows)
    })
    .await;
    let tasks = tasks_by_name(&db).await;
    let published = double.published();

    // (c) Nothing was dead-lettered: no copy on the dead-letter topic, no dead-letter row, and
    // every delivery that ended for good was acknowledged.
    let dead_lettered = double.published_on(DEAD_LETTER_TOPIC);
    assert!(
        dead_lettered.is_empty(),
        "{} events went to {DEAD_LETTER_TOPIC}: {dead_lettered:#?}",
        dead_lettered.len()
    );
    let dead_letters = dead_letter::Entity::find()
        .all(db.conn())
        .await
        .expect("reads the dead letters");
    assert!(dead_letters.is_empty(), "dead letters: {dead_letters:#?}");
    let deliveries = double.deliveries();
    let not_acked: Vec<_> = deliveries
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Dropped | Outcome::DeadLettered))
        .collect();
    assert!(not_acked.is_empty(), "{not_acked:#?}");

    // (d) Every outbox event reached the sidecar, and nothing else did.
    let ledger = Ledger::of(&published);
    let lost = ledger.lost(&outbox);
    assert_eq!(lost, 0, "outbox events never published");
    assert_eq!(
        ledger.ids.len(),
        outbox.len(),
        "only outbox events went out"
    );

    // Every acknowledged write is stored, and each user's writes were committed in the order
    // they were acknowledged (one client per user).
    let created = report.created();
    for (_, name, recurring) in &created {
        let row = tasks
            .get(name)
            .unwrap_or_else(|| panic!("acknowledged task {name} is missing"));
        assert_eq!(row.recurrence.is_some(), *recurring, "{name}");
        assert!(row.due_time_us.is_some(), "{name} has its due time");
    }
    let completed = report.completed();
    for name in &completed {
        assert!(tasks[name].completed, "acknowledged completion of {name}");
    }
    let tasks_published = per_key_order(&double.published_on("tasks"));
    for client in &report.clients {
        let expected: Vec<(String, String)> = client
            .acked
            .iter()
            .map(|acked| match acked {
                Acked::Created { name, .. } => ("task.created".to_owned(), name.clone()),
                Acked::Completed { name } => ("task.completed".to_owned(), name.clone()),
            })
            .collect();
        let wanted: HashSet<&(String, String)> = expected.iter().collect();
        let committed: Vec<(String, String)> = outbox
            .iter()
            .filter(|row| row.partition_key == client.user)
            .map(|row| (row.event_type.clone(), row.subject.clone()))
            .filter(|event| wanted.contains(event))
            .collect();
        assert_eq!(
            committed, expected,
            "{}'s writes in the outbox in the order acknowledged",
            client.user
        );
        let published: Vec<(String, String)> = tasks_published
            .get(&client.user)
            .into_iter()
            .flatten()
            .filter(|event| wanted.contains(event))
            .cloned()
            .collect();
        assert_eq!(
            published, expected,
            "{}'s writes published in the order acknowledged",
            client.user
        );
    }

    // (a) Every acknowledged completion of a recurring task has exactly one next occurrence,
    // and no occurrence exists without its completed predecessor.
    let next_occurrences = check_next_occurrences(&tasks, &completed);

    // (b) Every open task due later than the lead has its reminder armed: a scheduled row, a
    // `reminder.scheduled` event and a Dapr job firing at due − lead; nothing else has a job.
    let reminders_armed = check_reminders(&tasks, &reminders, &double, &ledger);

    // (e) Each user's events were applied in the order they were published, and each task's
    // were published in the order they were committed.
    for topic in TOPICS {
        check_order(&double, topic, &outbox);
    }

    // (f) The sidecar saw the app go unhealthy during the outage and healthy again only once
    // the database was back.
    let changes = double.health_changes();
    let went_down = changes
        .iter()
        .find(|c| !c.healthy && c.at >= stopping)
        .expect("a change to unhealthy during the outage");
    let came_back = changes
        .iter()
        .find(|c| c.healthy && c.at > went_down.at)
        .expect("a change back to healthy");
    assert!(
        came_back.at >= restarting,
        "healthy again only once the database is back ({:?} before)",
        restarting - came_back.at
    );
    let unhealthy = came_back.at - went_down.at;

    let delays = delivery_delays(&published, &deliveries);
    let events_delayed = delays
        .iter()
        .filter(|(published_at, acked_at)| *published_at < up && *acked_at >= up)
        .count();
    let max_delay = delays
        .iter()
        .map(|(published_at, acked_at)| acked_at.saturating_duration_since(*published_at))
        .max()
        .unwrap_or_default();
    assert!(
        events_delayed > 0,
        "the outage caught events on their way (published, not yet applied)"
    );
    let retried = deliveries.iter().filter(|d| d.attempts > 1).count();
    let interrupted = deliveries
        .iter()
        .filter(|d| d.outcome == Outcome::Interrupted)
        .count();
    assert_eq!(
        interrupted, 0,
        "under `maxRetries: -1` no delivery's retries ran out during the outage"
    );

    Figures::new("outage_recovery")
        .ms("outage_ms", up - down)
        .ms("detect_ms", went_down.at - stopping)
        .ms("unhealthy_ms", unhealthy)
        .add("acked_writes", created.len() + completed.len())
        .add("failed_calls", failures.len())
        .ms("recovery_ms", recovery)
        .add("events_published", ledger.ids.len())
        .add("duplicates", ledger.duplicates())
        .add("events_delayed", events_delayed)
        .add("retried_deliveries", retried)
        .add("interrupted_deliveries", interrupted)
        .ms("max_delivery_delay_ms", max_delay)
        .add("lost", lost)
        .add("dead_letters", dead_letters.len() + dead_lettered.len())
        .add("next_occurrences", next_occurrences)
        .add("reminders_armed", reminders_armed)
        .print();
}

/// Asserts that every completed occurrence (the acknowledged ones among them) has exactly one
/// next occurrence, an open one none, and every later occurrence its completed predecessor;
/// returns how many next occurrences the acknowledged completions have.
fn check_next_occurrences(
    tasks: &HashMap<String, task::Model>,
    completed: &HashSet<String>,
) -> usize {
    let mut occurrences: HashMap<(uuid::Uuid, i32), Vec<&task::Model>> = HashMap::new();
    for row in tasks.values() {
        occurrences
            .entry((row.series_id, row.occurrence))
            .or_default()
            .push(row);
    }
    let count = |series, occurrence| occurrences.get(&(series, occurrence)).map_or(0, Vec::len);
    let mut next_occurrences = 0;
    for name in completed {
        let row = &tasks[name];
        if row.recurrence.is_some() {
            assert_eq!(
                count(row.series_id, row.occurrence + 1),
                1,
                "one next occurrence of the acknowledged completion of {name}"
            );
            next_occurrences += 1;
        }
    }
    assert!(next_occurrences > 0, "recurring tasks were completed");
    for (name, row) in tasks.iter().filter(|(_, r)| r.recurrence.is_some()) {
        assert_eq!(
            count(row.series_id, row.occurrence + 1),
            usize::from(row.completed),
            "next occurrences of {name}"
        );
        if row.occurrence > 1 {
            let previous = occurrences.get(&(row.series_id, row.occurrence - 1));
            assert!(
                previous.is_some_and(|p| p.len() == 1 && p[0].completed),
                "{name} follows one completed occurrence"
            );
        }
    }
    next_occurrences
}

/// Asserts that exactly the open tasks due later than the lead have an armed reminder (row,
/// event and Dapr job); returns how many.
fn check_reminders(
    tasks: &HashMap<String, task::Model>,
    reminders: &[reminder::Model],
    double: &DaprDouble,
    ledger: &Ledger,
) -> usize {
    let now_us = chrono::Utc::now().timestamp_micros();
    let rows: HashMap<uuid::Uuid, &reminder::Model> =
        reminders.iter().map(|r| (r.task_id, r)).collect();
    let jobs: HashMap<String, dapr_double::proto::Job> = double
        .jobs()
        .into_iter()
        .map(|job| (job.name.clone(), job))
        .collect();
    let mut armed = 0;
    for (name, task) in tasks {
        let job_name = format!("reminder-{}", task.id);
        let row = rows.get(&task.id);
        let due = task.due_time_us.filter(|due| {
            !task.completed && task.remind_before_us.is_none() && due - now_us > LEAD_US
        });
        let Some(due) = due else {
            assert!(
                row.is_none_or(|r| r.state != reminder::SCHEDULED),
                "{name} (completed or without a due time) has no armed reminder: {row:?}"
            );
            assert!(
                !jobs.contains_key(&job_name),
                "{name} (completed or without a due time) has no job"
            );
            continue;
        };
        let fire_at = due - LEAD_US;
        let row = row.unwrap_or_else(|| panic!("{name} has a reminder row"));
        assert_eq!(row.state, reminder::SCHEDULED, "{name}'s reminder is armed");
        assert_eq!(
            (row.fire_at_us, row.due_at_us),
            (fire_at, Some(due)),
            "{name}'s reminder fires a lead before its due time"
        );
        assert!(
            ledger.count(name, "reminder.scheduled") >= 1,
            "{name}'s reminder.scheduled event"
        );
        let job = jobs
            .get(&job_name)
            .unwrap_or_else(|| panic!("{name}'s reminder has its job {job_name}"));
        let fire_time = chrono::DateTime::from_timestamp_micros(fire_at)
            .expect("a valid time")
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(
            job.due_time.as_deref(),
            Some(fire_time.as_str()),
            "{job_name}"
        );
        let data = job.data.as_ref().expect("the job carries the reminder");
        let scheduled =
            ev::ReminderScheduled::decode(data.value.as_slice()).expect("the job's data decodes");
        assert_eq!(&scheduled.task, name, "{job_name} is {name}'s");
        armed += 1;
    }
    assert!(armed > 0, "reminders were armed");
    assert_eq!(jobs.len(), armed, "no job without an armed reminder");
    armed
}

/// Asserts that on `topic` each key's events were first acknowledged in the order they were
/// first published, and each task's events published in the order they were committed.
/// (Across tasks, the outbox's `seq` is not commit order: an API write and a delivery's
/// automation for the same user commit concurrently, and either may come first.)
fn check_order(double: &DaprDouble, topic: &str, outbox: &[OutboxRow]) {
    let published = double.published_on(topic);
    let by_id: HashMap<&str, (String, String)> = published
        .iter()
        .filter_map(|p| Some((p.event_id()?, (field(p, "type"), field(p, "subject")))))
        .collect();
    let mut seen = HashSet::new();
    let mut applied: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for delivery in double.deliveries() {
        if delivery.topic != topic
            || delivery.outcome != Outcome::Acked
            || !seen.insert(delivery.event_id.clone())
        {
            continue;
        }
        let event = by_id
            .get(delivery.event_id.as_str())
            .unwrap_or_else(|| panic!("{} was delivered but never published", delivery.event_id));
        applied
            .entry(delivery.key.clone().unwrap_or_default())
            .or_default()
            .push(event.clone());
    }
    let order = per_key_order(&published);
    assert!(!order.is_empty(), "events were published on {topic}");
    let keys: HashSet<&String> = order.keys().chain(applied.keys()).collect();
    for key in keys {
        let published = order.get(key).cloned().unwrap_or_default();
        assert_eq!(
            applied.get(key).cloned().unwrap_or_default(),
            published,
            "{key}'s events on {topic} applied in the order published"
        );
        let mut by_task: HashMap<&str, Vec<&str>> = HashMap::new();
        for (event_type, subject) in &published {
            by_task.entry(subject).or_default().push(event_type);
        }
        for (subject, types) in by_task {
            let committed: Vec<&str> = outbox
                .iter()
                .filter(|row| row.topic == topic && row.subject == subject)
                .map(|row| row.event_type.as_str())
                .collect();
            assert_eq!(
                types, committed,
                "{subject}'s events on {topic} published in commit order"
            );
        }
    }
}

/// For each event id, when it was first published and first acknowledged.
fn delivery_delays(
    published: &[Published],
    deliveries: &[dapr_double::Delivery],
) -> Vec<(Instant, Instant)> {
    let mut first_published: HashMap<(&str, &str), Instant> = HashMap::new();
    for message in published {
        if let Some(id) = message.event_id() {
            first_published
                .entry((message.topic.as_str(), id))
                .or_insert(message.received_at);
        }
    }
    let mut delays = Vec::new();
    let mut seen = HashSet::new();
    for delivery in deliveries.iter().filter(|d| d.outcome == Outcome::Acked) {
        let key = (delivery.topic.as_str(), delivery.event_id.as_str());
        if seen.insert(key)
            && let Some(at) = first_published.get(&key)
        {
            delays.push((*at, delivery.finished_at));
        }
    }
    delays
}
