//! The README runs as written: every `sh`, `python` and `js` block in it is executed here
//! against a real server (its address put in for `127.0.0.1:50051`, and each `<…>` placeholder in a
//! resource name filled with one the earlier commands made), or it carries a
//! `<!-- not run by tests: why -->` line just above it.

use std::collections::HashMap;
use std::process::Stdio;

use chrono::Utc;
use regex::Regex;
use tokio::io::AsyncBufReadExt;

use crate::helpers::*;

/// A fenced block of the README.
struct Block {
    lang: String,
    body: String,
    /// Why it is not run, from the line above it.
    skipped: Option<String>,
    line: usize,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let lines: Vec<&str> = readme.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        if let Some(lang) = lines[i].strip_prefix("```") {
            let start = i;
            let mut body = String::new();
            i += 1;
            while i < lines.len() && !lines[i].starts_with("```") {
                body.push_str(lines[i]);
                body.push('\n');
                i += 1;
            }
            let above = lines[..start]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty())
                .copied()
                .unwrap_or_default();
            let skipped = above
                .trim()
                .strip_prefix("<!-- not run by tests:")
                .and_then(|r| r.strip_suffix("-->"))
                .map(|r| r.trim().to_owned());
            found.push(Block {
                lang: lang.trim().to_owned(),
                body,
                skipped,
                line: start + 1,
            });
        }
        i += 1;
    }
    found
}

/// The commands of a shell block: comments dropped, continued lines joined.
fn commands(body: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in body.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if !current.is_empty() && trimmed.starts_with("grpcurl ") && !current.ends_with('\\') {
            commands.push(std::mem::take(&mut current));
        }
        if trimmed.is_empty() {
            if !current.is_empty() {
                commands.push(std::mem::take(&mut current));
            }
            continue;
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        commands.push(current);
    }
    commands
}

/// What the commands so far made, by collection (`tasks`, `lists`, `notifications`): ids, the
/// first one first.
#[derive(Default)]
struct Made {
    ids: HashMap<String, Vec<String>>,
}

impl Made {
    fn add(&mut self, name: &str) {
        let parts: Vec<&str> = name.split('/').collect();
        if let [_, _, collection, id] = parts.as_slice() {
            self.ids
                .entry((*collection).to_owned())
                .or_default()
                .push((*id).to_owned());
        }
    }

    /// `users/alice/<collection>/<placeholder>` with the first id made in `block_start..` of
    /// that collection, else the first made before.
    fn fill(&self, command: &str, block_start: &HashMap<String, usize>) -> String {
        let placeholder = Regex::new(r"users/alice/([a-z]+)/<[a-z]+>").expect("a pattern");
        placeholder
            .replace_all(command, |c: &regex::Captures<'_>| {
                let collection = &c[1];
                let ids = self.ids.get(collection).cloned().unwrap_or_default();
                let from = block_start.get(collection).copied().unwrap_or(0);
                let id = ids
                    .get(from)
                    .or(ids.first())
                    .unwrap_or_else(|| panic!("nothing made yet for {}", &c[0]));
                format!("users/alice/{collection}/{id}")
            })
            .into_owned()
    }
}

fn path_with_grpcurl() -> String {
    let grpcurl = grpcurl_program();
    let dir = std::path::Path::new(&grpcurl)
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    format!("{dir}:{}", std::env::var("PATH").unwrap_or_default())
}

/// Runs one grpcurl command of the README; its JSON output, if any.
async fn run_grpcurl(command: &str, watch_for: &str) -> String {
    let mut child = tokio::process::Command::new("bash")
        .args(["-c", command])
        .env("PATH", path_with_grpcurl())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bash runs");
    if command.contains("WatchNotifications") {
        // A watch stays open: it passes once the backlog it asked for has arrived.
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut seen = String::new();
        let found = tokio::time::timeout(std::time::Duration::from_secs(20), async {
            while let Ok(Some(line)) = lines.next_line().await {
                seen.push_str(&line);
                if seen.contains(watch_for) {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(matches!(found, Ok(true)), "the watch printed {seen}");
        let _ = child.kill().await;
        return seen;
    }
    let output = child.wait_with_output().await.expect("the command ends");
    assert!(
        output.status.success(),
        "README command failed:\n{command}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn run_python(blocks: &[&Block], addr: &str, event: &serde_json::Value) {
    let python = std::env::var("TASKFLOW_PYTHON").unwrap_or_else(|_| "python3".into());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let copied = std::process::Command::new("cp")
        .args(["-r", &format!("{}/proto", env!("CARGO_MANIFEST_DIR"))])
        .arg(dir.path())
        .status()
        .expect("cp runs");
    assert!(copied.success(), "proto/ copied");
    std::fs::write(dir.path().join("event.json"), event.to_string()).expect("event.json");
    let (generate, code): (Vec<&&Block>, Vec<&&Block>) =
        blocks.iter().partition(|b| b.lang == "sh");
    for block in generate {
        for command in commands(&block.body) {
            let command = command.replacen("python ", &format!("{python} "), 1);
            let output = tokio::process::Command::new("bash")
                .args(["-c", &command])
                .current_dir(dir.path())
                .output()
                .await
                .expect("bash runs");
            assert!(
                output.status.success(),
                "{command}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let program: String = code
        .iter()
        .map(|b| b.body.replace("127.0.0.1:50051", addr))
        .collect::<Vec<_>>()
        .join("\n");
    let output = tokio::process::Command::new(&python)
        .args(["-c", &program])
        .current_dir(dir.path())
        .output()
        .await
        .expect("python runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{program}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("'Buy milk'"), "{printed}");
    assert!(
        printed.contains("INVALID_ARGUMENT") && printed.contains("task.title"),
        "{printed}"
    );
    let decoded = format!(
        "{} {}",
        event["type"].as_str().unwrap_or_default(),
        event["subject"].as_str().unwrap_or_default()
    );
    assert!(printed.contains(&decoded), "the event decoded: {printed}");
}

/// Runs the README's Node.js client from the repository root (for `proto/`), with the
/// packages `tests/js` pins.
async fn run_js(block: &Block, addr: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let output = tokio::process::Command::new("node")
        .args(["-e", &block.body.replace("127.0.0.1:50051", addr)])
        .current_dir(root)
        .env("NODE_PATH", format!("{root}/tests/js/node_modules"))
        .output()
        .await
        .expect("node runs (scripts/test installs Node.js)");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains("users/alice/tasks/"), "{printed}");
    assert!(
        printed.contains("INVALID_ARGUMENT [ 'task.title' ]"),
        "{printed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_readme_block_runs_as_written() {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README.md");
    let all = blocks(&readme);
    for block in &all {
        assert!(
            block.skipped.is_some() || matches!(block.lang.as_str(), "sh" | "python" | "js"),
            "README.md line {}: a ```{} block is neither run nor marked \
             `<!-- not run by tests: why -->`",
            block.line,
            block.lang
        );
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let addr = app.addr().to_string();
    // A notification for the notification examples.
    let seeded = record(
        &app.db().await,
        &app.hub(),
        "alice",
        "Water plants",
        Utc::now(),
    )
    .await;
    let mut made = Made::default();
    made.add(&seeded.name());
    let mut python = Vec::new();
    let mut ran = 0;
    for block in all.iter().filter(|b| b.skipped.is_none()) {
        if block.lang == "js" {
            run_js(block, &addr).await;
            ran += 1;
            continue;
        }
        let python_recipe = block.lang == "python" || block.body.contains("grpc_tools.protoc");
        if python_recipe {
            python.push(block);
            continue;
        }
        let start: HashMap<String, usize> =
            made.ids.iter().map(|(k, v)| (k.clone(), v.len())).collect();
        for command in commands(&block.body) {
            assert!(
                command.trim_start().starts_with("grpcurl "),
                "README.md line {}: only grpcurl commands run here; mark the block: {command}",
                block.line
            );
            let command = made.fill(&command.replace("127.0.0.1:50051", &addr), &start);
            let out = run_grpcurl(&command, &seeded.name()).await;
            ran += 1;
            if command.contains("/CreateTask") || command.contains("/CreateList") {
                let created: serde_json::Value =
                    serde_json::from_str(&out).expect("a created resource");
                made.add(created["name"].as_str().expect("a name"));
            }
        }
    }
    assert!(ran >= 20, "only {ran} README commands ran");
    // A published event, as the tasks topic holds it, for the example that decodes one.
    let rows = app.drained_outbox(None).await;
    let created = rows
        .iter()
        .find(|r| r.event_type == "task.created")
        .expect("a published task.created");
    let event = taskflow::outbox::structured(created, &taskflow::config::EventsConfig::default());
    run_python(&python, &addr, &event).await;
}
