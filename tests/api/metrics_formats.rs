//! `/metrics` in both formats: the classic Prometheus text (0.0.4) unless the scraper asks for
//! OpenMetrics, and it passes `promtool check metrics`; process, build and pool metrics; a
//! stream counted by how it ended, not by its first message.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use crate::helpers::*;

/// The body of an HTTP response.
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn content_type(response: &str) -> String {
    response
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

/// promtool: `PROMTOOL`, or the copy `scripts/test` fetches into `.tools/bin`.
fn promtool() -> String {
    std::env::var("PROMTOOL")
        .unwrap_or_else(|_| format!("{}/.tools/bin/promtool", env!("CARGO_MANIFEST_DIR")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_classic_text_passes_promtool_and_openmetrics_is_served_on_request() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let mut alice = app.user("alice");
    create(&mut alice, "alice", titled("counted")).await;

    let classic = scrape_accepting(&app, None).await;
    assert!(
        content_type(&classic).starts_with("text/plain; version=0.0.4"),
        "{classic}"
    );
    let text = body(&classic);
    assert!(
        !text.contains("# EOF") && !text.contains("# UNIT"),
        "{text}"
    );
    assert!(
        text.contains("# HELP taskflow_rpc_requests_total ")
            && text.contains("# TYPE taskflow_rpc_requests_total counter"),
        "{text}"
    );
    let program = promtool();
    let mut child = tokio::process::Command::new(&program)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {program}: {e}; run scripts/test (it fetches promtool) or set PROMTOOL"
            )
        });
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).await.expect("written");
    drop(stdin);
    let checked = child.wait_with_output().await.expect("promtool ran");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
    assert!(
        checked.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );

    let prometheus_accept = "application/openmetrics-text;version=1.0.0,\
        application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let open = scrape_accepting(&app, Some(prometheus_accept)).await;
    assert!(
        content_type(&open).starts_with("application/openmetrics-text; version=1.0.0"),
        "{open}"
    );
    let open = body(&open);
    assert!(open.trim_end().ends_with("# EOF"), "{open}");
    assert!(open.contains("# TYPE taskflow_rpc_requests counter"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_build_and_pool_metrics_are_there() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let text = scrape(&app).await;
    for series in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_virtual_memory_bytes ",
        "process_start_time_seconds ",
        "process_open_fds ",
        "process_max_fds ",
        "taskflow_db_pool_max_connections ",
        "taskflow_db_pool_connections{state=\"idle\"} ",
        "taskflow_db_pool_connections{state=\"in_use\"} ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(series)),
            "{series} missing:\n{text}"
        );
    }
    let version = format!(
        "taskflow_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.lines().any(|l| l == version), "{version} missing");
    assert!(sample(&text, "process_resident_memory_bytes") > 1_000_000.0);
    assert!(sample(&text, "taskflow_db_pool_max_connections") >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_is_counted_by_how_it_ended() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let cancelled = r#"taskflow_rpc_requests_total{method="taskflow.v1.NotificationService/WatchNotifications",code="CANCELLED"}"#;
    let before = sample(&scrape(&app).await, cancelled);
    let mut client = notifications(&app, "alice");
    let stream = watch(&mut client, "users/alice", None)
        .await
        .expect("a stream");
    drop(stream);
    drop(client);
    // The client went away: the server counts the stream once it sees the reset.
    eventually("the abandoned stream to be counted CANCELLED", || {
        let app = &app;
        async move {
            let now = sample(&scrape(app).await, cancelled);
            (now >= before + 1.0).then_some(())
        }
    })
    .await;
}
