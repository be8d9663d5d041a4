//! ListTasks and ListNotifications at their edges: negations over tasks without a due time,
//! time literals finer than the stored microseconds, Unicode case folding in text terms,
//! opaque page tokens, and pages that fit a client's default 4 MiB message limit.

use std::collections::{BTreeSet, HashSet};

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use taskflow::config::Secret;
use taskflow::proto::v1::{self as pb, task_service_client::TaskServiceClient};
use tonic::Code;

use crate::both_backends;
use crate::helpers::{Backend, Client, Metadata, TestApp, assert_invalid, create, titled, ts};
use crate::helpers::{notifications, record_all};

fn list_req(filter: &str, order_by: &str, page_size: i32, token: &str) -> pb::ListTasksRequest {
    pb::ListTasksRequest {
        parent: "users/alice".into(),
        page_size,
        page_token: token.into(),
        filter: filter.into(),
        order_by: order_by.into(),
        ..Default::default()
    }
}

/// The titles of every task `filter` selects, over as many pages as it takes.
async fn titles(client: &mut Client, filter: &str) -> BTreeSet<String> {
    let mut all = BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_tasks(list_req(filter, "", 2, &token))
            .await
            .unwrap_or_else(|e| panic!("ListTasks {filter:?}: {e:?}"))
            .into_inner();
        for task in page.tasks {
            assert!(all.insert(task.title), "a task listed twice for {filter:?}");
        }
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

fn set(titles: &[&str]) -> BTreeSet<String> {
    titles.iter().map(|t| (*t).to_owned()).collect()
}

const NEW_YEAR: &str = "2027-01-01T00:00:00Z";

/// Title, priority, due time, tags, description.
type Spec = (
    &'static str,
    pb::Priority,
    Option<&'static str>,
    &'static [&'static str],
    &'static str,
);

/// Four tasks: completed or not, with and without due times, tags and descriptions.
async fn seed(alice: &mut Client) {
    let specs: [Spec; 4] = [
        (
            "Buy milk",
            pb::Priority::Low,
            Some("2026-12-31T00:00:00Z"),
            &["home"],
            "",
        ),
        ("Call mum", pb::Priority::Medium, None, &[], "later"),
        (
            "Ship release",
            pb::Priority::High,
            Some("2027-06-01T00:00:00Z"),
            &["work"],
            "Later today",
        ),
        (
            "Fix bike",
            pb::Priority::Unspecified,
            Some(NEW_YEAR),
            &[],
            "",
        ),
    ];
    for (title, priority, due, tags, description) in specs {
        let task = create(
            alice,
            "alice",
            pb::Task {
                priority: priority as i32,
                due_time: due.map(ts),
                tags: tags.iter().map(|t| (*t).to_owned()).collect(),
                description: description.into(),
                ..titled(title)
            },
        )
        .await;
        if title == "Buy milk" {
            alice
                .complete_task(pb::CompleteTaskRequest { name: task.name })
                .await
                .expect("CompleteTask");
        }
    }
}

/// `NOT f` selects exactly the tasks `f` does not, tasks without a due time included, for
/// every kind of term; `NOT NOT f` is `f` again.
async fn negation_is_the_complement_of_every_term(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    seed(&mut alice).await;
    let everything = titles(&mut alice, "").await;
    assert_eq!(everything.len(), 4);

    let terms = [
        "completed = true".to_owned(),
        "priority >= HIGH".to_owned(),
        "priority = PRIORITY_UNSPECIFIED".to_owned(),
        r#"tags:"home""#.to_owned(),
        "due_time:*".to_owned(),
        r#"title:"MILK""#.to_owned(),
        r#"description:"later""#.to_owned(),
        r#"create_time < "2100-01-01T00:00:00Z""#.to_owned(),
        r#"update_time > "2100-01-01T00:00:00Z""#.to_owned(),
        r#"complete_time < "2100-01-01T00:00:00Z""#.to_owned(),
        r#"complete_time != "2000-01-01T00:00:00Z""#.to_owned(),
    ]
    .into_iter()
    .chain(
        ["=", "!=", "<", "<=", ">", ">="]
            .iter()
            .map(|op| format!(r#"due_time {op} "{NEW_YEAR}""#)),
    );
    for term in terms {
        let selected = titles(&mut alice, &term).await;
        let negated = titles(&mut alice, &format!("NOT {term}")).await;
        assert!(
            selected.is_disjoint(&negated),
            "{term}: {selected:?} and its negation {negated:?} overlap"
        );
        let union: BTreeSet<String> = selected.union(&negated).cloned().collect();
        assert_eq!(
            union, everything,
            "{term} and NOT {term} must cover every task"
        );
        assert_eq!(
            titles(&mut alice, &format!("-{term}")).await,
            negated,
            "-{term}"
        );
        assert_eq!(
            titles(&mut alice, &format!("NOT NOT {term}")).await,
            selected,
            "NOT NOT {term}"
        );
        assert_eq!(
            titles(&mut alice, &format!("- NOT -{term}")).await,
            negated,
            "- NOT -{term}"
        );
        assert!(
            titles(&mut alice, &format!("{term} AND NOT {term}"))
                .await
                .is_empty(),
            "{term} AND NOT {term}"
        );
    }

    // The comparisons themselves hold only for tasks that have a due time.
    let before = format!(r#"due_time < "{NEW_YEAR}""#);
    assert_eq!(titles(&mut alice, &before).await, set(&["Buy milk"]));
    assert_eq!(
        titles(&mut alice, &format!("NOT {before}")).await,
        set(&["Call mum", "Ship release", "Fix bike"])
    );
    assert_eq!(
        titles(&mut alice, &format!("-{before}")).await,
        set(&["Call mum", "Ship release", "Fix bike"])
    );
    assert_eq!(
        titles(&mut alice, &format!(r#"due_time != "{NEW_YEAR}""#)).await,
        set(&["Buy milk", "Ship release"])
    );
    assert_eq!(
        titles(&mut alice, &format!(r#"NOT due_time = "{NEW_YEAR}""#)).await,
        set(&["Buy milk", "Call mum", "Ship release"])
    );
    assert_eq!(
        titles(&mut alice, "NOT due_time:* AND NOT completed = true").await,
        set(&["Call mum"])
    );
    assert_eq!(
        titles(&mut alice, r#"complete_time > "2000-01-01T00:00:00Z""#).await,
        set(&["Buy milk"])
    );
    assert_eq!(
        titles(&mut alice, r#"-complete_time > "2000-01-01T00:00:00Z""#).await,
        set(&["Call mum", "Ship release", "Fix bike"])
    );
}

fn rfc3339_nanos(seconds: i64, nanos: i64) -> String {
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let (seconds, nanos) = (
        total.div_euclid(1_000_000_000),
        total.rem_euclid(1_000_000_000),
    );
    DateTime::<Utc>::from_timestamp(
        i64::try_from(seconds).expect("in range"),
        u32::try_from(nanos).expect("in range"),
    )
    .expect("a representable time")
    .to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A time literal with digits below the microsecond compares exactly with the microsecond
/// values stored: `create_time < "….360646500Z"` finds a task created at `.360646Z`.
async fn sub_microsecond_literals_compare_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let created = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-03-04T05:06:07.123456Z")),
            ..titled("Precise")
        },
    )
    .await;
    create(&mut alice, "alice", titled("No due time")).await;
    let create_time = created.create_time.expect("a create time");
    let due_time = created.due_time.expect("a due time");
    for (field, at) in [("create_time", create_time), ("due_time", due_time)] {
        assert_eq!(at.nanos % 1000, 0, "stored to the microsecond");
        let (seconds, nanos) = (at.seconds, i64::from(at.nanos));
        for (offset, holds) in [
            // A literal 500 ns after the stored time.
            (
                500,
                [
                    ("<", true),
                    ("<=", true),
                    ("=", false),
                    ("!=", true),
                    (">", false),
                    (">=", false),
                ],
            ),
            // 1 ns after.
            (
                1,
                [
                    ("<", true),
                    ("<=", true),
                    ("=", false),
                    ("!=", true),
                    (">", false),
                    (">=", false),
                ],
            ),
            // 500 ns before.
            (
                -500,
                [
                    ("<", false),
                    ("<=", false),
                    ("=", false),
                    ("!=", true),
                    (">", true),
                    (">=", true),
                ],
            ),
            // 999 ns before.
            (
                -999,
                [
                    ("<", false),
                    ("<=", false),
                    ("=", false),
                    ("!=", true),
                    (">", true),
                    (">=", true),
                ],
            ),
            // Exactly the stored time, written with nanosecond digits.
            (
                0,
                [
                    ("<", false),
                    ("<=", true),
                    ("=", true),
                    ("!=", false),
                    (">", false),
                    (">=", true),
                ],
            ),
        ] {
            let literal = rfc3339_nanos(seconds, nanos + offset);
            for (op, expected) in holds {
                let filter = format!(r#"{field} {op} "{literal}" AND title:"Precise""#);
                let found = titles(&mut alice, &filter).await;
                assert_eq!(
                    found.contains("Precise"),
                    expected,
                    "{filter} (stored {})",
                    rfc3339_nanos(seconds, nanos)
                );
                let negated = titles(&mut alice, &format!(r#"NOT {field} {op} "{literal}""#)).await;
                assert_eq!(negated.contains("Precise"), !expected, "NOT {filter}");
            }
        }
    }
}

/// Text terms fold case across Unicode, not only ASCII, the same on both databases.
async fn text_terms_fold_unicode_case(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    for (title, description) in [
        ("ÜBERWEISUNG an Ömer", "Bank"),
        ("ΑΘΉΝΑ ταξίδι", "ΔΙΑΒΑΤΉΡΙΟ"),
        ("Поездка в МОСКВУ", "Позвонить Ивану"),
        ("straße fegen", "Besen"),
        ("plain ascii", "nothing special"),
    ] {
        create(
            &mut alice,
            "alice",
            pb::Task {
                description: description.into(),
                ..titled(title)
            },
        )
        .await;
    }
    let cases: &[(&str, &[&str])] = &[
        (r#"title:"über""#, &["ÜBERWEISUNG an Ömer"]),
        (r#"title:"ÖMER""#, &["ÜBERWEISUNG an Ömer"]),
        (r#"title:"αθήνα""#, &["ΑΘΉΝΑ ταξίδι"]),
        (r#"title:"ΤΑΞΊΔΙ""#, &["ΑΘΉΝΑ ταξίδι"]),
        (r#"description:"διαβατήριο""#, &["ΑΘΉΝΑ ταξίδι"]),
        (r#"title:"москву""#, &["Поездка в МОСКВУ"]),
        (r#"description:"ИВАНУ""#, &["Поездка в МОСКВУ"]),
        (r#"title:"STRAßE""#, &["straße fegen"]),
        (r#"title:"Plain ASCII""#, &["plain ascii"]),
        (r#"title:"über" title:"ömer""#, &["ÜBERWEISUNG an Ömer"]),
        (
            r#"NOT title:"Über""#,
            &[
                "ΑΘΉΝΑ ταξίδι",
                "Поездка в МОСКВУ",
                "straße fegen",
                "plain ascii",
            ],
        ),
        (r#"title:"überx""#, &[]),
    ];
    for (filter, expected) in cases {
        assert_eq!(titles(&mut alice, filter).await, set(expected), "{filter}");
    }
}

/// Every decoding a client might try on a token: the text itself, and the bytes of each
/// base64 alphabet, with or without padding.
fn decodings(token: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut all = vec![token.as_bytes().to_vec()];
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        if let Ok(bytes) = engine.decode(token) {
            all.push(bytes);
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A page token shows nothing of the task it points after: not its title, not its id.
async fn page_tokens_reveal_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let first = create(
        &mut alice,
        "alice",
        titled("Aardvark quarterly zebra report"),
    )
    .await;
    create(&mut alice, "alice", titled("Zoo visit")).await;
    let page = alice
        .list_tasks(list_req("", "title", 1, ""))
        .await
        .expect("ListTasks")
        .into_inner();
    assert_eq!(page.tasks[0].name, first.name);
    let token = page.next_page_token;
    assert!(!token.is_empty());
    assert!(
        token.len() <= 200,
        "{} bytes: tokens go in URLs",
        token.len()
    );
    let id = first.name.rsplit('/').next().expect("an id");
    let simple_id = id.replace('-', "");
    for bytes in decodings(&token) {
        for secret in ["Aardvark", "quarterly zebra", id, &simple_id] {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "the token shows {secret:?}"
            );
        }
        let uuid = uuid::Uuid::parse_str(id).expect("a uuid");
        assert!(
            !contains(&bytes, uuid.as_bytes()),
            "the token holds the task id"
        );
    }
}

/// Changing any one byte of a token, or cutting it short, gives INVALID_ARGUMENT naming
/// `page_token`; so does a token of another request.
async fn changed_tokens_are_invalid_arguments(backend: Backend) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    for title in ["one", "two", "three"] {
        create(&mut alice, "alice", titled(title)).await;
    }
    let token = alice
        .list_tasks(list_req("", "title", 1, ""))
        .await
        .expect("ListTasks")
        .into_inner()
        .next_page_token;
    let bytes = URL_SAFE_NO_PAD.decode(&token).expect("URL-safe base64");
    let mut changed = Vec::new();
    for i in 0..bytes.len() {
        for flip in [0x01, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= flip;
            changed.push(URL_SAFE_NO_PAD.encode(&b));
        }
    }
    for cut in [1, bytes.len() / 2, bytes.len() - 1] {
        changed.push(URL_SAFE_NO_PAD.encode(&bytes[..cut]));
        changed.push(URL_SAFE_NO_PAD.encode(&bytes[bytes.len() - cut..]));
    }
    let mut longer = bytes.clone();
    longer.push(0);
    changed.push(URL_SAFE_NO_PAD.encode(&longer));
    for bad in changed {
        let status = alice
            .list_tasks(list_req("", "title", 1, &bad))
            .await
            .expect_err("a changed token");
        assert_invalid(&status, "page_token");
    }
    // The token itself still works, for its own request only.
    alice
        .list_tasks(list_req("", "title", 1, &token))
        .await
        .expect("the token as issued");
    for (filter, order_by) in [("", "title desc"), ("completed = false", "title"), ("", "")] {
        let status = alice
            .list_tasks(list_req(filter, order_by, 1, &token))
            .await
            .expect_err("another request");
        assert_invalid(&status, "page_token");
    }
    let mut bob = app.user("bob");
    let status = bob
        .list_tasks(pb::ListTasksRequest {
            parent: "users/bob".into(),
            ..list_req("", "title", 1, &token)
        })
        .await
        .expect_err("another user");
    assert_invalid(&status, "page_token");
    let status = notifications(&app, "alice")
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            page_size: 1,
            page_token: token,
            unread_only: false,
        })
        .await
        .expect_err("a ListTasks token in ListNotifications");
    assert_invalid(&status, "page_token");
}

const SHARED_KEY: &str = "a page token key the replicas share, 32+ bytes";

fn keyed(key: Option<&str>) -> impl FnOnce(&mut taskflow::config::ServeConfig) + use<> {
    let key = key.map(Secret::new);
    move |c| c.page_token_key = key
}

/// Replicas configured with the same key read each other's page tokens, for tasks and for
/// notifications; a server with another key, or with none configured, refuses them.
async fn tokens_cross_replicas_that_share_the_key(backend: Backend) {
    let app = TestApp::spawn_with(backend, keyed(Some(SHARED_KEY))).await;
    let twin = app.replica(keyed(Some(SHARED_KEY))).await;
    let stranger = app
        .replica(keyed(Some("another key for page tokens, 32 bytes or more")))
        .await;
    let keyless = app.replica(keyed(None)).await;
    let mut alice = app.user("alice");
    for title in ["a", "b", "c", "d", "e"] {
        create(&mut alice, "alice", titled(title)).await;
    }
    let db = app.db().await;
    let at = taskflow::clock::now();
    let recorded = record_all(
        &db,
        &app.hub(),
        "alice",
        (0..5).map(|n| (format!("Reminder {n}"), at)),
        "Due soon",
    )
    .await;
    assert_eq!(recorded.len(), 5);

    // Tasks: pages alternate between the two replicas and cover every task once.
    let servers = [&app, &twin];
    let mut seen = Vec::new();
    let mut token = String::new();
    for turn in 0.. {
        let page = servers[turn % 2]
            .user("alice")
            .list_tasks(list_req("", "title", 2, &token))
            .await
            .expect("a replica with the same key reads the token")
            .into_inner();
        seen.extend(page.tasks.into_iter().map(|t| t.title));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);
    let token = app
        .user("alice")
        .list_tasks(list_req("", "title", 2, ""))
        .await
        .expect("ListTasks")
        .into_inner()
        .next_page_token;
    for other in [&stranger, &keyless] {
        let status = other
            .user("alice")
            .list_tasks(list_req("", "title", 2, &token))
            .await
            .expect_err("a token of another key");
        assert_invalid(&status, "page_token");
    }

    // Notifications the same way.
    let list = |page_token: String| pb::ListNotificationsRequest {
        parent: "users/alice".into(),
        page_size: 2,
        page_token,
        unread_only: false,
    };
    let mut names = Vec::new();
    let mut token = String::new();
    for turn in 0.. {
        let page = notifications(servers[turn % 2], "alice")
            .list_notifications(list(token))
            .await
            .expect("a replica with the same key reads the token")
            .into_inner();
        names.extend(page.notifications.into_iter().map(|n| n.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: HashSet<String> = recorded.iter().map(|n| n.name()).collect();
    assert_eq!(names.len(), expected.len());
    assert_eq!(names.into_iter().collect::<HashSet<_>>(), expected);
    let token = notifications(&app, "alice")
        .list_notifications(list(String::new()))
        .await
        .expect("ListNotifications")
        .into_inner()
        .next_page_token;
    for bytes in decodings(&token) {
        assert!(!contains(&bytes, b"alice"), "the token shows its user");
    }
    for other in [&stranger, &keyless] {
        let status = notifications(other, "alice")
            .list_notifications(list(token.clone()))
            .await
            .expect_err("a token of another key");
        assert_invalid(&status, "page_token");
    }
    let status = app
        .user("alice")
        .list_tasks(list_req("", "", 2, &token))
        .await
        .expect_err("a ListNotifications token in ListTasks");
    assert_invalid(&status, "page_token");
}

/// A task of `user` as large as the limits allow, in four-byte characters: a 200-character
/// title, a 4000-character description and 20 tags of 50 characters (about 21 kB encoded).
fn largest_task(n: usize) -> pb::Task {
    let wide = |count: usize| "😀".repeat(count);
    pb::Task {
        title: format!("{n:04}{}", wide(196)),
        description: wide(4000),
        tags: (0..20).map(|t| format!("{t:02}{}", wide(48))).collect(),
        ..Default::default()
    }
}

const DEFAULT_CLIENT_LIMIT: usize = 4 * 1024 * 1024;

/// Tasks too large for 500 of them to fit 4 MiB are listed in pages a stock client (4 MiB
/// receive limit) decodes, each task exactly once.
async fn a_page_fits_a_default_client(backend: Backend) {
    const COUNT: usize = 260;
    let app = TestApp::spawn(backend).await;
    let encoded: usize = (0..COUNT)
        .map(|n| prost::Message::encoded_len(&largest_task(n)))
        .sum();
    assert!(encoded > DEFAULT_CLIENT_LIMIT, "only {encoded} bytes");
    let mut writers = tokio::task::JoinSet::new();
    for n in 0..COUNT {
        let mut alice = app.user("alice");
        writers.spawn(async move { create(&mut alice, "alice", largest_task(n)).await.name });
    }
    let mut created = HashSet::new();
    while let Some(name) = writers.join_next().await {
        created.insert(name.expect("a writer"));
    }
    assert_eq!(created.len(), COUNT);

    let mut stock: Client = TaskServiceClient::with_interceptor(
        app.channel(),
        Metadata::new(&[("x-user-id", "alice")]),
    )
    .max_decoding_message_size(DEFAULT_CLIENT_LIMIT);
    for order_by in ["", "title desc"] {
        let mut seen = HashSet::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = stock
                .list_tasks(list_req("", order_by, 500, &token))
                .await
                .unwrap_or_else(|e| panic!("page {pages} must decode: {e:?}"))
                .into_inner();
            pages += 1;
            assert!(!page.tasks.is_empty(), "every page makes progress");
            assert!(prost::Message::encoded_len(&page) <= DEFAULT_CLIENT_LIMIT);
            for task in page.tasks {
                assert!(seen.insert(task.name), "a task listed twice");
            }
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        assert_eq!(seen, created, "every task once, ordered by {order_by:?}");
        assert!(pages >= 2, "{pages} pages");
    }
}

/// The same for notifications with large bodies.
async fn a_notification_page_fits_a_default_client(backend: Backend) {
    const COUNT: usize = 55;
    let app = TestApp::spawn(backend).await;
    let db = app.db().await;
    let body = "😀".repeat(20_000);
    assert!(
        COUNT * body.len() > DEFAULT_CLIENT_LIMIT,
        "too small to need two pages"
    );
    let at = taskflow::clock::now();
    let recorded = record_all(
        &db,
        &app.hub(),
        "alice",
        (0..COUNT).map(|n| {
            (
                format!("Reminder {n}"),
                at - chrono::Duration::seconds(n as i64 % 7),
            )
        }),
        &body,
    )
    .await;
    let created: HashSet<String> = recorded.iter().map(|n| n.name()).collect();
    assert_eq!(created.len(), COUNT);
    let mut stock = notifications(&app, "alice").max_decoding_message_size(DEFAULT_CLIENT_LIMIT);
    let mut seen = HashSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = stock
            .list_notifications(pb::ListNotificationsRequest {
                parent: "users/alice".into(),
                page_size: 500,
                page_token: token,
                unread_only: false,
            })
            .await
            .unwrap_or_else(|e| panic!("page {pages} must decode: {e:?}"))
            .into_inner();
        pages += 1;
        assert!(!page.notifications.is_empty(), "every page makes progress");
        for n in page.notifications {
            assert!(seen.insert(n.name), "a notification listed twice");
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, created);
    assert!(pages >= 2, "{pages} pages");
    let status = notifications(&app, "alice")
        .list_notifications(pb::ListNotificationsRequest {
            parent: "users/alice".into(),
            page_size: 500,
            page_token: "not a token".into(),
            unread_only: false,
        })
        .await
        .expect_err("garbage");
    assert_eq!(status.code(), Code::InvalidArgument);
}

both_backends!(
    negation_is_the_complement_of_every_term,
    sub_microsecond_literals_compare_exactly,
    text_terms_fold_unicode_case,
    page_tokens_reveal_nothing,
    changed_tokens_are_invalid_arguments,
    tokens_cross_replicas_that_share_the_key,
    a_page_fits_a_default_client,
    a_notification_page_fits_a_default_client,
);
