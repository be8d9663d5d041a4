//! SIGKILL mid-load, three times: every acknowledged write survives, every committed change
//! is published exactly once by id (re-sends of the same id are counted as duplicates), and
//! every completed occurrence of a recurring task gets exactly one next instance.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use taskflow::store::Database;

use crate::helpers::{Backend, TestDb};
use crate::support::{
    ChildServer, Figures, Ledger, Load, LoadConfig, Mix, drain, patient_double, tasks_by_name,
    unacked_deliveries,
};

const KILLS: usize = 3;
const WAIT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_server_mid_load_loses_no_acknowledged_write_or_event() {
    let (_db, url) = TestDb::create(Backend::Postgres).await;
    let double = patient_double().await;
    let mut server = ChildServer::start(&url, &double).await;
    let mut config = LoadConfig::new(3, Mix::Recurring);
    config.clients_per_user = 2;
    config.retry = true;
    config.pace = Duration::from_millis(2);
    let load = Load::start(&server, &config);

    let mut outages = Vec::new();
    for _ in 0..KILLS {
        load.wait_more(40, WAIT).await;
        let killed = Instant::now();
        server.kill9().await;
        server.restart().await;
        outages.push(killed.elapsed());
    }
    load.wait_more(40, WAIT).await;
    let report = load.finish().await;
    assert!(
        !report.errors().is_empty(),
        "the kills hit calls in flight (else they proved nothing)"
    );

    let db = Database::connect(&url, 2).await.expect("connects");
    let outbox = drain(&db, &double, WAIT).await;
    let tasks = tasks_by_name(&db).await;
    let published = double.published();
    let ledger = Ledger::of(&published);

    // Every acknowledged write is there.
    let created = report.created();
    for (_, name, recurring) in &created {
        let row = tasks
            .get(name)
            .unwrap_or_else(|| panic!("acknowledged task {name} is missing"));
        assert_eq!(row.recurrence.is_some(), *recurring, "{name}");
    }
    let completed = report.completed();
    for name in &completed {
        assert!(tasks[name].completed, "acknowledged completion of {name}");
    }

    // Every committed task has exactly one event id of each kind it should have, and every
    // event is about a committed task.
    for (name, row) in &tasks {
        assert_eq!(ledger.count(name, "task.created"), 1, "created: {name}");
        assert_eq!(
            ledger.count(name, "task.completed"),
            usize::from(row.completed),
            "completed: {name}"
        );
    }
    for (subject, event_type) in ledger.by_subject.keys() {
        assert!(
            tasks.contains_key(subject),
            "{event_type} about {subject}, which was never committed"
        );
    }

    // Exactly one next instance per completed occurrence, and none without one.
    let mut occurrences: HashMap<(uuid::Uuid, i32), usize> = HashMap::new();
    for row in tasks.values() {
        *occurrences
            .entry((row.series_id, row.occurrence))
            .or_default() += 1;
    }
    let mut next_instances = 0;
    for row in tasks.values().filter(|r| r.recurrence.is_some()) {
        let next = occurrences
            .get(&(row.series_id, row.occurrence + 1))
            .copied()
            .unwrap_or(0);
        assert_eq!(next, usize::from(row.completed), "next of {}", row.id);
        if row.occurrence > 1 {
            next_instances += 1;
            let previous = occurrences.get(&(row.series_id, row.occurrence - 1));
            assert_eq!(
                previous,
                Some(&1),
                "instance {} has its predecessor",
                row.id
            );
        }
    }
    assert!(next_instances > 0, "recurring tasks were completed");

    // Nothing produced was lost; every delivery was acknowledged in the end.
    let lost = ledger.lost(&outbox);
    assert_eq!(lost, 0, "outbox events never published");
    assert_eq!(
        ledger.ids.len(),
        outbox.len(),
        "only outbox events went out"
    );
    assert!(unacked_deliveries(&double).is_empty());

    Figures::new("crash")
        .add("kills", KILLS)
        .add("acked_writes", created.len() + completed.len())
        .add("committed_tasks", tasks.len())
        .add("next_instances", next_instances)
        .add("produced", outbox.len())
        .add("published", ledger.ids.len())
        .add("lost", lost)
        .add("duplicates", ledger.duplicates())
        .add("failed_calls", report.errors().len())
        .ms(
            "recovery_ms_max",
            outages.iter().max().copied().unwrap_or_default(),
        )
        .ms("p99_ok_ms", report.ok_percentile(99.0))
        .print();
}
