//! The server as a Python client meets it: stubs generated from the .proto files at run time
//! (grpcio-tools), real calls, and the recurring-task automation seen from outside.

use std::process::Output;

use chrono::{DateTime, Duration, Utc};

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

/// The Python to run: `$TASKFLOW_PYTHON`, or `python3` on the PATH (scripts/test sets it to
/// .tools/venv/bin/python, where it installs grpcio-tools).
fn python_program() -> String {
    std::env::var("TASKFLOW_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

async fn python(args: &[&str]) -> Output {
    let program = python_program();
    tokio::process::Command::new(&program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program:?}: {e}\nFix: run scripts/test, or set TASKFLOW_PYTHON to a \
                 Python with grpcio-tools (pip install grpcio-tools)."
            )
        })
}

fn timestamp(value: &serde_json::Value) -> DateTime<Utc> {
    let text = value.as_str().expect("a timestamp string");
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text:?} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

async fn python_client_creates_lists_and_sees_the_next_occurrence(backend: Backend) {
    let has_grpc_tools = python(&["-c", "import grpc_tools"]).await;
    assert!(
        has_grpc_tools.status.success(),
        "{} has no grpc_tools module: run scripts/test, or pip install grpcio-tools \
         (or set TASKFLOW_PYTHON to a Python that has it)\n{}",
        python_program(),
        String::from_utf8_lossy(&has_grpc_tools.stderr)
    );

    // Embedded mode: events are delivered in-process, so completing a recurring task creates
    // its next occurrence with nothing else running.
    let app = TestApp::spawn(backend).await;
    let addr = app.addr().to_string();
    let stubs = tempfile::tempdir().expect("a temporary directory");
    let out_dir = stubs.path().to_str().expect("a UTF-8 path");

    let output = python(&["tests/python/client.py", &addr, out_dir]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "tests/python/client.py failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("client.py prints JSON ({e}):\n{stdout}"));

    let created = summary["created"]["name"].as_str().expect("a created name");
    assert!(created.starts_with("users/alice/tasks/"), "{summary}");
    assert_eq!(
        summary["created"]["tags"],
        serde_json::json!(["errands", "home"])
    );

    assert_eq!(summary["filter"]["found"], true, "{summary}");
    assert!(
        summary["filter"]["names"]
            .as_array()
            .expect("listed names")
            .iter()
            .any(|n| n == created),
        "{summary}"
    );

    let (first, next) = (&summary["recurring"], &summary["next"]);
    for task in [first, next] {
        let name = task["name"].as_str().expect("a task name");
        assert!(name.starts_with("users/alice/tasks/"), "{summary}");
    }
    assert_ne!(first["name"], next["name"], "{summary}");
    assert_eq!(first["occurrence"], 1, "{summary}");
    assert_eq!(next["occurrence"], 2, "{summary}");
    assert_eq!(next["series"], first["series"], "{summary}");
    assert_eq!(
        timestamp(&next["due_time"]),
        timestamp(&first["due_time"]) + Duration::days(1),
        "{summary}"
    );

    assert_eq!(
        summary["invalid_argument"]["code"], "INVALID_ARGUMENT",
        "{summary}"
    );

    // A 5,000-character time zone: grpcio sees INVALID_ARGUMENT (not RESOURCE_EXHAUSTED from
    // oversized trailers), with a short message.
    let huge = &summary["huge_time_zone"];
    assert_eq!(huge["code"], "INVALID_ARGUMENT", "{summary}");
    let details = huge["details_length"].as_u64().expect("a length");
    assert!(details > 0 && details <= 512, "{summary}");
    let trailers = huge["trailers_length"].as_u64().expect("a length");
    assert!(trailers <= 6 * 1024, "{summary}");
}

both_backends!(python_client_creates_lists_and_sees_the_next_occurrence);
