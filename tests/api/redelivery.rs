//! Duplicated and reordered deliveries end where a clean run does.
//!
//! A scripted workload of several users runs in Dapr mode with nothing delivered; its events
//! are taken from the sidecar double in publish order and the database is copied three times.
//! On each copy a server resumes (same clock time) and gets every event through the
//! AppCallback port, and whatever its handlers publish in turn, until nothing new appears; then
//! the reminder jobs due within a few days are triggered. The clean copy gets everything once
//! in publish order; the others get everything twice, shuffled across users (each user's own
//! events in order, as one Kafka partition per user guarantees), with the second copies
//! interleaved or held back until everything else, the reminders that fired included, is
//! done. All three must end in the same
//! state, and every delivery must be answered SUCCESS.

mod orders;
mod run;
mod state;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use taskflow::clock::ManualClock;
use taskflow::domain::TaskName;
use taskflow::domain::occurrence_id;
use taskflow::proto::v1 as pb;
use taskflow::store::entity::reminder::{FIRED, SCHEDULED};

use self::orders::Order;
use self::run::{Run, quiet_double};
use self::state::EndState;
use crate::both_backends;
use crate::helpers::timestamp;
use crate::helpers::{Backend, Client, TestApp, create, published_outbox, titled, ts, wired_to};

/// The clock time every run starts at; every job falls due later than the real time.
const START: &str = "2031-03-03T09:00:00Z";
const USERS: [&str; 4] = ["ana", "ben", "chloe", "dev"];
/// How far the clock moves before the due jobs are triggered.
const FIRE_WITHIN_HOURS: i64 = 84;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(START)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

fn hours_after(base: DateTime<Utc>, hours: i64) -> Option<prost_types::Timestamp> {
    Some(timestamp(base + Duration::hours(hours)))
}

fn lead(hours: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: hours * 3600,
        nanos: 0,
    })
}

fn recurring(frequency: pb::Frequency) -> pb::Recurrence {
    pb::Recurrence {
        frequency: frequency as i32,
        ..Default::default()
    }
}

async fn complete(client: &mut Client, task: &pb::Task) {
    let name = task.name.clone();
    client
        .complete_task(pb::CompleteTaskRequest { name })
        .await
        .expect("CompleteTask succeeds");
}

async fn reopen(client: &mut Client, task: &pb::Task) {
    let name = task.name.clone();
    client
        .reopen_task(pb::ReopenTaskRequest { name })
        .await
        .expect("ReopenTask succeeds");
}

async fn delete(client: &mut Client, task: &pb::Task) {
    let (name, etag) = (task.name.clone(), String::new());
    client
        .delete_task(pb::DeleteTaskRequest { name, etag })
        .await
        .expect("DeleteTask succeeds");
}

/// One user's day: nine tasks and 21 events. Due times count from `base`.
async fn workload(app: &TestApp, user: &str, base: DateTime<Utc>) {
    let mut client = app.user(user);
    let c = &mut client;
    let task = |title: &str, due_in: Option<i64>| pb::Task {
        due_time: due_in.and_then(|h| hours_after(base, h)),
        ..titled(&format!("{title} ({user})"))
    };

    // Moved out by two days, retitled and retagged: its reminder is a day before the new time.
    let plan = pb::Task {
        tags: vec!["work".into()],
        ..task("Plan the week", Some(48))
    };
    let plan = create(c, user, plan).await;
    c.update_task(pb::UpdateTaskRequest {
        task: Some(pb::Task {
            name: plan.name.clone(),
            title: format!("Plan the quarter ({user})"),
            due_time: hours_after(base, 96),
            tags: vec!["work".into(), "q2".into()],
            priority: pb::Priority::High as i32,
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: ["title", "due_time", "tags", "priority"]
                .map(String::from)
                .to_vec(),
        }),
    })
    .await
    .expect("UpdateTask succeeds");
    // Its own lead: reminded two hours ahead.
    let call = pb::Task {
        remind_before: lead(2),
        priority: pb::Priority::Urgent as i32,
        ..task("Call the bank", Some(30))
    };
    create(c, user, call).await;
    // Completed, then reopened: armed again.
    let draft = create(c, user, task("Draft the letter", Some(120))).await;
    complete(c, &draft).await;
    reopen(c, &draft).await;
    // Deleted: no reminder.
    let old = pb::Task {
        tags: vec!["someday".into()],
        ..task("Clear the attic", Some(144))
    };
    let old = create(c, user, old).await;
    delete(c, &old).await;
    // Completed: no reminder.
    let done = create(c, user, task("Pay the rent", Some(48))).await;
    complete(c, &done).await;
    // Weekly in Berlin, completed once: the next instance a week on.
    let weekly = pb::Task {
        time_zone: "Europe/Berlin".into(),
        recurrence: Some(recurring(pb::Frequency::Weekly)),
        tags: vec!["home".into()],
        ..task("Water the plants", Some(24))
    };
    let weekly = create(c, user, weekly).await;
    complete(c, &weekly).await;
    // Every other day, completed, reopened and completed again: still one next instance.
    let daily = pb::Task {
        remind_before: lead(1),
        recurrence: Some(pb::Recurrence {
            interval: Some(2),
            ..recurring(pb::Frequency::Daily)
        }),
        ..task("Stretch", Some(36))
    };
    let daily = create(c, user, daily).await;
    complete(c, &daily).await;
    reopen(c, &daily).await;
    complete(c, &daily).await;
    // Monthly from completion, without a due time; deleted once done.
    let monthly = pb::Task {
        recurrence: Some(pb::Recurrence {
            anchor: pb::Anchor::Completion as i32,
            ..recurring(pb::Frequency::Monthly)
        }),
        ..task("Check the smoke alarm", None)
    };
    let monthly = create(c, user, monthly).await;
    complete(c, &monthly).await;
    delete(c, &monthly).await;
    // A series of one: completing it ends it.
    let once = pb::Task {
        recurrence: Some(pb::Recurrence {
            count: Some(1),
            ..recurring(pb::Frequency::Weekly)
        }),
        ..task("Renew the passport", Some(48))
    };
    let once = create(c, user, once).await;
    complete(c, &once).await;
}

/// What the clean run must show for the comparison to mean something.
fn assert_the_clean_run_did_the_work(clean: &EndState) {
    assert_eq!(
        clean.tasks.len(),
        40,
        "ten tasks per user: {:#?}",
        clean.tasks
    );
    let next: Vec<&pb::Task> = clean.tasks.iter().filter(|t| t.occurrence > 1).collect();
    assert_eq!(next.len(), 12, "three next instances per user: {next:#?}");
    for t in &next {
        let series = t.series.parse().expect("a series id");
        let id = TaskName::parse(&t.name).expect("a task name").task;
        assert_eq!(id, occurrence_id(series, t.occurrence), "{}", t.name);
        assert!(!t.completed, "{}", t.name);
    }
    let daily = next.iter().find(|t| t.title == "Stretch (ana)");
    assert_eq!(
        daily.and_then(|t| t.due_time),
        Some(ts("2031-03-06T21:00:00Z")),
        "two days after the first due time"
    );
    let states: Vec<i16> = clean.reminders.iter().map(|r| r.state).collect();
    let count = |state| states.iter().filter(|s| **s == state).count();
    assert_eq!((count(FIRED), count(SCHEDULED)), (10, 10), "{states:?}");
    assert_eq!(clean.notifications.len(), 10);
    assert_eq!(clean.notification_rows.len(), 10);
    assert_eq!(clean.jobs.len(), 10, "the later reminders stay scheduled");
    let mut published: BTreeMap<&str, usize> = BTreeMap::new();
    for (kind, _) in &clean.published {
        *published.entry(kind.as_str()).or_default() += 1;
    }
    assert_eq!(
        published,
        BTreeMap::from([
            ("reminder.scheduled", 20),
            ("reminder.triggered", 10),
            ("task.created", 12)
        ])
    );
    let handled: usize = clean.handled.iter().map(|(_, n)| n).sum();
    assert_eq!(handled, 84 + 42, "every event handled once");
}

async fn duplicated_and_reordered_deliveries_end_where_a_clean_run_does(backend: Backend) {
    let source = quiet_double().await;
    let clock = Arc::new(ManualClock::new(start()));
    let app = TestApp::spawn_with_clock(backend, clock, wired_to(&source)).await;
    for (offset, user) in (0..).zip(USERS) {
        workload(&app, user, start() + Duration::hours(offset)).await;
    }
    let db = app.db().await;
    let rows = published_outbox(&db, Some(84)).await;
    let _ = db.close().await;
    let events = source.published();
    let ids: Vec<String> = events
        .iter()
        .map(|e| e.event_id().unwrap_or_default().to_owned())
        .collect();
    let committed: Vec<String> = rows.iter().map(|r| r.event_id.to_string()).collect();
    assert_eq!(ids, committed, "published once each, in commit order");
    assert!(source.deliveries().is_empty(), "nothing delivered yet");
    let url = app.database_url.clone();
    let original = app.stop().await.expect("the database outlives the server");

    let mut runs = Vec::new();
    for (order, seed) in [
        (Order::Clean, 0),
        (Order::Interleaved, 0x5eed_0001),
        (Order::SecondCopiesLast, 0x5eed_0002),
    ] {
        let (copy, copy_url) = original.copy(&url).await;
        let mut run = Run::resume(copy, copy_url, start(), order, seed).await;
        run.settle(&events).await;
        run.fire_due_jobs(Duration::hours(FIRE_WITHIN_HOURS)).await;
        run.deliver_held_back().await;
        let state = EndState::capture(&run, &USERS).await;
        runs.push((order, run.deliveries, state));
        run.stop().await;
    }

    let (_, clean_deliveries, clean) = &runs[0];
    assert_the_clean_run_did_the_work(clean);
    assert_eq!(*clean_deliveries, 84 + 42);
    for (order, deliveries, state) in &runs[1..] {
        clean.assert_same_as(state, &format!("{order:?}"));
        assert_eq!(
            *deliveries,
            2 * clean_deliveries,
            "{order:?}: each event twice"
        );
    }
}

both_backends!(duplicated_and_reordered_deliveries_end_where_a_clean_run_does);
