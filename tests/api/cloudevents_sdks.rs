//! The events taskflow publishes are valid CloudEvents for the official SDKs, not only for
//! taskflow's own decoder: every event the sidecar receives is read by the Rust SDK
//! (`cloudevents-sdk`) and validated by the JavaScript SDK (`cloudevents` on npm, strict).

use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use cloudevents::{AttributesReader, Data, Event};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, create, double, full_lifecycle, timestamp, titled};

const WAIT: Duration = Duration::from_secs(20);

/// What the JavaScript SDK said of each line of `events` (JSON lines on stdin, one answer per
/// line on stdout; see tests/js/validate_cloudevents.cjs).
async fn javascript_sdk(events: &[Vec<u8>]) -> Vec<Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js");
    assert!(
        std::path::Path::new(dir)
            .join("node_modules/cloudevents")
            .is_dir(),
        "the CloudEvents JavaScript SDK is not installed: run scripts/test, or \
         `npm ci --prefix tests/js`"
    );
    let mut child = tokio::process::Command::new("node")
        .arg("validate_cloudevents.cjs")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node: {e} (install Node.js 18 or later)"));
    let mut stdin = child.stdin.take().expect("stdin");
    for event in events {
        let line = serde_json::to_vec(&serde_json::from_slice::<Value>(event).expect("JSON"))
            .expect("one line");
        stdin.write_all(&line).await.expect("writes");
        stdin.write_all(b"\n").await.expect("writes");
    }
    drop(stdin);
    let output = child.wait_with_output().await.expect("node runs");
    assert!(
        output.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn published_events_are_valid_for_the_official_sdks(backend: Backend) {
    let double = double().await;
    let app = TestApp::spawn_with_double(backend, &double).await;
    let mut alice = app.user("alice");
    full_lifecycle(&mut alice, "alice").await;
    let mut rent = titled("Pay the rent");
    rent.due_time = Some(timestamp(Utc::now() + chrono::Duration::days(3)));
    create(&mut alice, "alice", rent).await;
    // Five lifecycle events, the rent's creation, and its reminder armed by that delivery.
    let published = double
        .wait_for_published(7, WAIT)
        .await
        .expect("seven events published");
    let bodies: Vec<Vec<u8>> = published.iter().map(|p| p.data.clone()).collect();

    let mut types = Vec::new();
    for body in &bodies {
        let event: Event = serde_json::from_slice(body).unwrap_or_else(|e| {
            panic!(
                "the Rust SDK cannot read {}: {e}",
                String::from_utf8_lossy(body)
            )
        });
        let schema = event.dataschema().expect("a dataschema");
        let message = schema
            .path_segments()
            .and_then(|mut s| s.next_back())
            .expect("a last path segment");
        assert!(
            message.starts_with("taskflow.events.v1."),
            "{schema}: its last segment names the message"
        );
        assert_eq!(event.datacontenttype(), Some("application/protobuf"));
        assert!(
            matches!(event.data(), Some(Data::Binary(bytes)) if !bytes.is_empty()),
            "the payload bytes: {:?}",
            event.data()
        );
        types.push(event.ty().to_owned());
    }
    types.sort();
    types.dedup();
    assert_eq!(
        types,
        [
            "reminder.scheduled",
            "task.completed",
            "task.created",
            "task.deleted",
            "task.reopened",
            "task.updated",
        ]
    );

    let answers = javascript_sdk(&bodies).await;
    assert_eq!(answers.len(), bodies.len());
    for (answer, body) in answers.iter().zip(&bodies) {
        assert_eq!(
            answer["valid"],
            true,
            "the JavaScript SDK refuses {}: {answer}",
            String::from_utf8_lossy(body)
        );
        let sent: Value = serde_json::from_slice(body).expect("JSON");
        assert_eq!(answer["dataschema"], sent["dataschema"]);
        let event: Event = serde_json::from_slice(body).expect("read above");
        let Some(Data::Binary(bytes)) = event.data() else {
            panic!("binary data");
        };
        assert_eq!(
            answer["data_hex"],
            hex(bytes),
            "both SDKs read the same bytes"
        );
    }
}

both_backends!(published_events_are_valid_for_the_official_sdks);

/// The check has teeth: the event as taskflow used to publish it (a bare message name as
/// `dataschema`) is refused by both SDKs.
#[tokio::test]
async fn a_relative_dataschema_is_refused_by_both_sdks() {
    let old = serde_json::json!({
        "specversion": "1.0",
        "id": "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "source": "taskflow",
        "type": "task.created",
        "subject": "users/alice/tasks/0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
        "datacontenttype": "application/protobuf",
        "dataschema": "taskflow.events.v1.TaskCreated",
        "data_base64": "CgVhbGljZQ==",
        "partitionkey": "alice",
    });
    let body = serde_json::to_vec(&old).expect("JSON");
    assert!(serde_json::from_slice::<Event>(&body).is_err());
    let answers = javascript_sdk(&[body]).await;
    assert_eq!(answers[0]["valid"], false, "{}", answers[0]);
    assert!(answers[0]["errors"].to_string().contains("dataschema"));
}
