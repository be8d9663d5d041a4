//! Text is data, never code: titles, descriptions and tags full of SQL, LIKE wildcards, control
//! characters and exotic Unicode are stored and returned byte for byte on both backends, the
//! tables survive them, and filters holding them match exactly the tasks they name. NUL, which
//! PostgreSQL cannot store, is refused the same way everywhere.

use std::collections::HashSet;

use prost_types::FieldMask;
use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::{Backend, Client, TestApp, assert_invalid, create, list_all, titled};

/// Valid titles (no control characters, nothing to trim) that would break careless SQL or text
/// handling.
const HOSTILE_TITLES: [&str; 12] = [
    "'; DROP TABLE tasks; --",
    "\" OR 1=1 --",
    "Robert'); DELETE FROM task_tags WHERE ('1'='1",
    "back\\slash \\\\ \\' \\\"",
    "100% _done_ %% __",
    "$1 $$ $tag$ ? :name @p1",
    "rtl \u{202e}desrever\u{202c} text",
    "zero\u{200d}width\u{200b}joiner\u{feff}",
    "emoji 👩\u{200d}💻 🚀 🇩🇪",
    "four-byte 𝄞 𠜎 𝔘𝔫𝔦",
    "Ärger über Öl",
    "/* comment */ UNION SELECT * FROM outbox",
];

/// Descriptions keep everything but NUL, control characters and surrounding blanks included.
const HOSTILE_DESCRIPTIONS: [&str; 6] = [
    "tab\there\nnew line\r\ncarriage\rreturn",
    "  padded on both sides \t\n",
    "ESC \u{1b}[31mred\u{1b}[0m DEL \u{7f} BEL \u{7} VT \u{b} FF \u{c}",
    "'); DROP TABLE tasks; --\n\" OR 1=1 --\n\\ % _ $1",
    "\u{202e}\u{200d}👩\u{200d}💻𝄞\u{1}\u{1f}\u{9f}",
    "",
];

/// Valid tags (lowercase, nothing to trim) of the same kind.
const HOSTILE_TAGS: [&str; 12] = [
    "'; drop table task_tags; --",
    "\" or 1=1 --",
    "%",
    "_",
    "a%b",
    "a_b",
    "\\",
    "$1",
    "🚀",
    "\u{202e}rtl",
    "zw\u{200d}j",
    "𝄞",
];

fn hostile_task(i: usize) -> pb::Task {
    pb::Task {
        title: HOSTILE_TITLES[i].into(),
        description: HOSTILE_DESCRIPTIONS[i % HOSTILE_DESCRIPTIONS.len()].into(),
        tags: vec![
            HOSTILE_TAGS[i].into(),
            HOSTILE_TAGS[(i + 5) % HOSTILE_TAGS.len()].into(),
        ],
        ..Default::default()
    }
}

#[track_caller]
fn assert_verbatim(got: &pb::Task, sent: &pb::Task) {
    assert_eq!(got.title.as_bytes(), sent.title.as_bytes(), "title");
    assert_eq!(
        got.description.as_bytes(),
        sent.description.as_bytes(),
        "description of {:?}",
        sent.title
    );
    let mut tags = sent.tags.clone();
    tags.sort();
    assert_eq!(got.tags, tags, "tags of {:?}", sent.title);
}

async fn get(client: &mut Client, name: &str) -> pb::Task {
    client
        .get_task(pb::GetTaskRequest { name: name.into() })
        .await
        .expect("GetTask")
        .into_inner()
}

async fn hostile_text_is_stored_and_returned_byte_for_byte(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let mut created = Vec::new();
    for i in 0..HOSTILE_TITLES.len() {
        let sent = hostile_task(i);
        let task = create(&mut alice, "alice", sent.clone()).await;
        assert_verbatim(&task, &sent);
        assert_verbatim(&get(&mut alice, &task.name).await, &sent);
        created.push((task, sent));
    }
    let listed = list_all(&mut alice, "alice").await;
    assert_eq!(listed.len(), created.len());
    for (task, sent) in &created {
        let found = listed.iter().find(|t| t.name == task.name).expect("listed");
        assert_verbatim(found, sent);
    }

    // Updating swaps every text field for another hostile one.
    for (i, (task, _)) in created.iter().enumerate() {
        let mut sent = hostile_task((i + 1) % HOSTILE_TITLES.len());
        sent.name = task.name.clone();
        let updated = alice
            .update_task(pb::UpdateTaskRequest {
                task: Some(sent.clone()),
                update_mask: Some(FieldMask {
                    paths: vec!["title".into(), "description".into(), "tags".into()],
                }),
            })
            .await
            .expect("UpdateTask")
            .into_inner();
        assert_verbatim(&updated, &sent);
        assert_verbatim(&get(&mut alice, &task.name).await, &sent);
    }

    // The tables are intact: everything is still there, and ordinary work goes on.
    assert_eq!(
        list_all(&mut alice, "alice").await.len(),
        HOSTILE_TITLES.len()
    );
    let plain = create(&mut alice, "alice", titled("plain")).await;
    assert_eq!(get(&mut alice, &plain.name).await, plain);
    assert_eq!(
        list_all(&mut alice, "alice").await.len(),
        HOSTILE_TITLES.len() + 1
    );
    // Stored as sent, not merely returned so: a fresh read from the database agrees.
    let tasks = crate::helpers::tasks_on(app.db().await);
    let first = taskflow::domain::TaskName::parse(&created[0].0.name).expect("a name");
    let stored = tasks.get(&first).await.expect("stored");
    assert_eq!(stored.fields.title.as_str(), HOSTILE_TITLES[1]);
}

async fn list_titles(client: &mut Client, filter: &str, order_by: &str) -> Vec<String> {
    let mut titles = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_tasks(pb::ListTasksRequest {
                parent: "users/alice".into(),
                page_size: 2,
                page_token,
                filter: filter.into(),
                order_by: order_by.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("filter {filter:?}: {e:?}"))
            .into_inner();
        titles.extend(page.tasks.into_iter().map(|t| t.title));
        if page.next_page_token.is_empty() {
            return titles;
        }
        page_token = page.next_page_token;
    }
}

/// A filter string literal holding `text`, quotes and backslashes escaped.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn filters_with_hostile_text_match_exactly_the_intended_tasks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    // Pairs that a wildcard or a lost escape would confuse.
    let seeds: [(&str, &str, &[&str]); 16] = [
        ("100% done", "", &["a%b"]),
        ("100 percent done", "", &["axb"]),
        ("a_c", "", &["a_b"]),
        ("abc", "", &["acb"]),
        ("back\\slash", "", &["\\"]),
        ("backslash", "", &["/"]),
        ("say \"hi\"", "", &["\""]),
        ("say hi", "", &["'"]),
        ("it's", "line one\nline two", &["_"]),
        ("its", "line one line two", &["%"]),
        (
            "'; DROP TABLE tasks; --",
            "tab\there",
            &["'; drop table tasks; --"],
        ),
        ("costs $1", "tab here", &["$1"]),
        ("rocket 🚀", "\u{1b}[31m", &["🚀"]),
        ("rtl \u{202e}x", "[31m", &["\u{202e}"]),
        ("Ärger", "𝄞", &["𝄞"]),
        ("costs 1", "\u{7f}", &["1"]),
    ];
    for (title, description, tags) in seeds {
        create(
            &mut alice,
            "alice",
            pb::Task {
                title: title.into(),
                description: description.into(),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                ..Default::default()
            },
        )
        .await;
    }
    let cases: Vec<(String, Vec<&str>)> = vec![
        (format!("title:{}", quoted("100%")), vec!["100% done"]),
        (format!("title:{}", quoted("%")), vec!["100% done"]),
        (format!("title:{}", quoted("a_c")), vec!["a_c"]),
        (format!("title:{}", quoted("_")), vec!["a_c"]),
        (format!("title:{}", quoted("\\")), vec!["back\\slash"]),
        (format!("title:{}", quoted("\"hi\"")), vec!["say \"hi\""]),
        (
            format!("title:{}", quoted("'")),
            vec!["it's", "'; DROP TABLE tasks; --"],
        ),
        (
            format!("title:{}", quoted("'; DROP TABLE tasks; --")),
            vec!["'; DROP TABLE tasks; --"],
        ),
        (format!("title:{}", quoted("$1")), vec!["costs $1"]),
        (format!("title:{}", quoted("🚀")), vec!["rocket 🚀"]),
        (
            format!("title:{}", quoted("\u{202e}")),
            vec!["rtl \u{202e}x"],
        ),
        (format!("title:{}", quoted("Ärger")), vec!["Ärger"]),
        (format!("description:{}", quoted("one\nline")), vec!["it's"]),
        (
            format!("description:{}", quoted("\t")),
            vec!["'; DROP TABLE tasks; --"],
        ),
        (
            format!("description:{}", quoted("\u{1b}[")),
            vec!["rocket 🚀"],
        ),
        (format!("description:{}", quoted("\u{7f}")), vec!["costs 1"]),
        (format!("description:{}", quoted("𝄞")), vec!["Ärger"]),
        (format!("tags:{}", quoted("a%b")), vec!["100% done"]),
        (format!("tags:{}", quoted("%")), vec!["its"]),
        (format!("tags:{}", quoted("_")), vec!["it's"]),
        (format!("tags:{}", quoted("\\")), vec!["back\\slash"]),
        (format!("tags:{}", quoted("\"")), vec!["say \"hi\""]),
        (format!("tags:{}", quoted("'")), vec!["say hi"]),
        (
            format!("tags:{}", quoted("'; DROP TABLE tasks; --")),
            vec!["'; DROP TABLE tasks; --"],
        ),
        (format!("tags:{}", quoted("🚀")), vec!["rocket 🚀"]),
        (
            format!("NOT title:{} AND title:{}", quoted("%"), quoted("100")),
            vec!["100 percent done"],
        ),
    ];
    for (filter, expected) in cases {
        let got: HashSet<String> = list_titles(&mut alice, &filter, "")
            .await
            .into_iter()
            .collect();
        let expected: HashSet<String> = expected.into_iter().map(str::to_owned).collect();
        assert_eq!(got, expected, "filter {filter:?}");
    }

    // Ordering by title pages through every hostile title exactly once.
    let by_title = list_titles(&mut alice, "", "title").await;
    assert_eq!(by_title.len(), 16);
    assert_eq!(by_title.iter().collect::<HashSet<_>>().len(), 16);
    assert_eq!(
        list_all(&mut alice, "alice").await.len(),
        16,
        "tables intact"
    );
}

async fn nul_is_refused_on_every_backend_naming_the_field(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let cases = [
        ("task.title", titled("a\u{0}b")),
        (
            "task.description",
            pb::Task {
                description: "before\u{0}after".into(),
                ..titled("t")
            },
        ),
        (
            "task.tags",
            pb::Task {
                tags: vec!["a\u{0}b".into()],
                ..titled("t")
            },
        ),
    ];
    for (field, task) in cases {
        let status = alice
            .create_task(pb::CreateTaskRequest {
                parent: "users/alice".into(),
                task: Some(task),
                request_id: String::new(),
            })
            .await
            .expect_err(field);
        assert_invalid(&status, field);
    }
    let status = alice
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(titled("t")),
            request_id: "id\u{0}".into(),
        })
        .await
        .expect_err("request id");
    assert_invalid(&status, "request_id");

    let task = create(&mut alice, "alice", titled("kept")).await;
    let status = alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: task.name.clone(),
                description: "\u{0}".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["description".into()],
            }),
        })
        .await
        .expect_err("update");
    assert_invalid(&status, "task.description");
    for filter in [
        "title:\"\u{0}\"",
        "description:\"a\u{0}\"",
        "tags:\"\u{0}\"",
    ] {
        let status = alice
            .list_tasks(pb::ListTasksRequest {
                parent: "users/alice".into(),
                filter: filter.into(),
                ..Default::default()
            })
            .await
            .expect_err(filter);
        assert_invalid(&status, "filter");
    }
    assert_eq!(list_all(&mut alice, "alice").await, vec![task]);
}

both_backends!(
    hostile_text_is_stored_and_returned_byte_for_byte,
    filters_with_hostile_text_match_exactly_the_intended_tasks,
    nul_is_refused_on_every_backend_naming_the_field,
);
