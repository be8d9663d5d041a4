//! Dead letters an operator can work with: kept with where they came from and why they failed,
//! then listed, read, replayed (exactly once) and discarded with `taskflow dead-letters`.

use crate::both_backends;
use crate::helpers::*;
use taskflow::proto::v1 as pb;

use dapr::dapr::proto::runtime::v1::TopicEventRequest;
use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus as Status;

/// `taskflow dead-letters ARGS` against the app's database: (succeeded, stdout, stderr).
async fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["dead-letters"];
    all.extend_from_slice(args);
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_taskflow"))
        .args(&all)
        .env_remove("TASKFLOW_JWT_SECRET")
        .env_remove("DAPR_GRPC_PORT")
        .env("TASKFLOW_DATABASE_URL", &app.database_url)
        .env("TASKFLOW_EVENT_SINK", "dapr")
        .env("DAPR_GRPC_ENDPOINT", NO_SIDECAR)
        .env("TASKFLOW_LOG", "warn")
        .output()
        .await
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `event` as daprd hands it to the dead-letter subscription: the original envelope, whose
/// `topic` attribute still names the topic it failed on.
fn from_dead_letter_topic(mut event: TopicEventRequest, subject: &str) -> TopicEventRequest {
    let original = event.topic.clone();
    event.topic = "tasks-dlq".into();
    let string = |s: &str| prost_types::Value {
        kind: Some(prost_types::value::Kind::StringValue(s.into())),
    };
    event.extensions = Some(prost_types::Struct {
        fields: [
            ("topic".to_owned(), string(&original)),
            ("subject".to_owned(), string(subject)),
            ("time".to_owned(), string("2026-12-04T10:00:00Z")),
        ]
        .into_iter()
        .collect(),
    });
    event
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

async fn open_tasks(app: &TestApp) -> Vec<pb::Task> {
    app.user("alice")
        .list_tasks(pb::ListTasksRequest {
            parent: "users/alice".into(),
            filter: "completed = false".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .tasks
}

async fn a_dead_letter_is_found_read_replayed_once_and_discarded(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut client = callback_client(&app).await;
    let (task, completion) = completed_in_the_outbox(&app, pb::Frequency::Daily).await;
    let counted_before = dead_letters_counted(&app).await;

    // A good completion that ran out of retries, and a malformed event refused (DROP) first.
    let good = from_dead_letter_topic(completion.clone(), &task.name);
    let bad = delivery(
        "tasks",
        "broken-1",
        "task.completed",
        "application/protobuf",
        vec![9, 9],
    );
    let answer = deliver(&mut client, bad.clone(), Some("alice"), None).await;
    assert_eq!(answer.expect("answered"), Status::Drop as i32);
    for event in [good, from_dead_letter_topic(bad, &task.name)] {
        let answer = deliver(&mut client, event, Some("alice"), None).await;
        assert_eq!(answer.expect("answered"), Status::Success as i32);
    }
    assert!(
        open_tasks(&app).await.is_empty(),
        "the completion was never applied"
    );
    // The counter is the process's (tests in parallel add theirs): at least these two.
    assert!(dead_letters_counted(&app).await - counted_before >= 2.0);

    // list: both waiting, with what an operator needs to find them.
    let (ok, out, err) = cli(&app, &["list", "--format", "json"]).await;
    assert!(ok, "{err}");
    let letters = json_lines(&out);
    assert_eq!(letters.len(), 2, "{out}");
    let good = &letters[0];
    let bad = &letters[1];
    assert_eq!(good["type"], "task.completed");
    assert_eq!(good["user"], "alice");
    assert_eq!(good["subject"], task.name.as_str());
    assert_eq!(good["original_topic"], "tasks");
    assert_eq!(good["dead_letter_topic"], "tasks-dlq");
    assert_eq!(good["status"], "stored");
    assert_eq!(bad["event_id"], "broken-1");
    assert_eq!(bad["attempts"], 1, "the DROP before it: {bad}");
    assert!(
        bad["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("decode"),
        "the last failure's reason: {bad}"
    );
    let (good_id, bad_id) = (
        good["id"].as_i64().expect("an id").to_string(),
        bad["id"].as_i64().expect("an id").to_string(),
    );
    let (ok, table, _) = cli(
        &app,
        &["list", "--type", "task.completed", "--user", "alice"],
    )
    .await;
    assert!(
        ok && table.contains(&good_id) && table.starts_with("ID"),
        "{table}"
    );
    let (ok, none, _) = cli(&app, &["list", "--user", "bob", "--format", "json"]).await;
    assert!(ok && none.trim().is_empty(), "{none}");
    let (ok, _, err) = cli(&app, &["list", "--since", "yesterday"]).await;
    assert!(!ok && err.contains("--since"), "{err}");

    // show: the payload decoded, the CloudEvent attributes.
    let (ok, out, err) = cli(&app, &["show", &good_id]).await;
    assert!(ok, "{err}");
    let shown: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        shown["payload"]["task"]["title"],
        task.title.as_str(),
        "{out}"
    );
    assert_eq!(shown["attributes"]["topic"], "tasks");
    assert_eq!(shown["attributes"]["source"], "taskflow");
    let (ok, _, err) = cli(&app, &["show", "999999"]).await;
    assert!(!ok && err.contains("999999"), "{err}");

    // replay: applied once; the series goes on; a second replay and a late redelivery of the
    // original change nothing.
    let (ok, out, err) = cli(&app, &["replay", &good_id]).await;
    assert!(ok, "{err}");
    assert_eq!(out.trim(), format!("{good_id}\tapplied"));
    let open = open_tasks(&app).await;
    assert_eq!(open.len(), 1, "the next occurrence: {open:?}");
    let (ok, out, _) = cli(&app, &["replay", &good_id]).await;
    assert!(ok && out.contains("already replayed"), "{out}");
    let answer = deliver(&mut client, completion, Some("alice"), None).await;
    assert_eq!(answer.expect("answered"), Status::Success as i32);
    assert_eq!(open_tasks(&app).await.len(), 1, "applied exactly once");

    // A letter the handlers still refuse stays, and says so; then it is discarded.
    let (ok, out, _) = cli(&app, &["replay", &bad_id]).await;
    assert!(!ok && out.contains("refused"), "{out}");
    let (ok, out, _) = cli(&app, &["list", "--format", "json"]).await;
    let waiting = json_lines(&out);
    assert!(ok && waiting.len() == 1, "{out}");
    assert_eq!(waiting[0]["replays"], 1);
    assert!(
        waiting[0]["last_replay_outcome"]
            .as_str()
            .unwrap_or_default()
            .starts_with("refused"),
        "{out}"
    );
    let (ok, out, _) = cli(&app, &["discard", &bad_id]).await;
    assert!(ok && out.trim() == "1 of 1 discarded", "{out}");
    let (ok, out, _) = cli(&app, &["list", "--format", "json"]).await;
    assert!(ok && out.trim().is_empty(), "nothing waits: {out}");
    let (ok, out, _) = cli(&app, &["list", "--status", "all", "--format", "json"]).await;
    let statuses: Vec<String> = json_lines(&out)
        .iter()
        .map(|l| l["status"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(ok);
    assert_eq!(statuses, ["replayed", "discarded"]);
}

/// `replay --all --type` replays every stored letter of that type and no other.
async fn replay_all_of_a_type(backend: Backend) {
    let app = TestApp::spawn_dapr(backend, NO_SIDECAR, None).await;
    let mut client = callback_client(&app).await;
    let (task, completion) = completed_in_the_outbox(&app, pb::Frequency::Weekly).await;
    let other = delivery(
        "tasks",
        "other-1",
        "task.deleted",
        "application/protobuf",
        vec![1],
    );
    for event in [
        from_dead_letter_topic(completion, &task.name),
        from_dead_letter_topic(other, &task.name),
    ] {
        let answer = deliver(&mut client, event, Some("alice"), None).await;
        assert_eq!(answer.expect("answered"), Status::Success as i32);
    }
    let (ok, out, err) = cli(&app, &["replay", "--all", "--type", "task.completed"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("applied"), "{out}");
    assert_eq!(open_tasks(&app).await.len(), 1, "the next occurrence");
    let (_, out, _) = cli(&app, &["list", "--format", "json"]).await;
    let left = json_lines(&out);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["type"], "task.deleted");
}

async fn dead_letters_counted(app: &TestApp) -> f64 {
    let text = scrape(app).await;
    text.lines()
        .find_map(|l| l.strip_prefix("taskflow_dead_letters_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

both_backends!(
    a_dead_letter_is_found_read_replayed_once_and_discarded,
    replay_all_of_a_type,
);
