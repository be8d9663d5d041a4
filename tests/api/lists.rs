//! Lists: every user's inbox, lists created, read, paged, renamed with etags, deleted (refused
//! while they hold tasks unless forced, then their tasks deleted with them); tasks name their
//! list, are listed by it, and move between lists; another user's list is out of reach.

use taskflow::proto::v1::{self as pb, list_service_client::ListServiceClient};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::both_backends;
use crate::helpers::*;

type ListClient = ListServiceClient<InterceptedService<Channel, Metadata>>;

fn lists(app: &TestApp, user: &str) -> ListClient {
    ListServiceClient::with_interceptor(app.channel(), Metadata::new(&[("x-user-id", user)]))
}

async fn new_list(client: &mut ListClient, user: &str, title: &str) -> pb::TaskList {
    client
        .create_list(pb::CreateListRequest {
            parent: format!("users/{user}"),
            list: Some(pb::TaskList {
                title: title.into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("CreateList")
        .into_inner()
}

/// The names of the tasks a filter lists (deleted ones too when `show_deleted`).
async fn listed(client: &mut Client, filter: &str, show_deleted: bool) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_tasks(pb::ListTasksRequest {
            parent: "users/alice".into(),
            filter: filter.into(),
            page_size: 500,
            show_deleted,
            ..Default::default()
        })
        .await
        .expect("ListTasks")
        .into_inner()
        .tasks
        .into_iter()
        .map(|t| t.name)
        .collect();
    names.sort();
    names
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

fn in_list(title: &str, list: &str) -> pb::Task {
    pb::Task {
        list: list.into(),
        ..titled(title)
    }
}

async fn the_inbox_exists_and_lists_are_created_read_paged_and_renamed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = lists(&app, "alice");
    let inbox = alice
        .get_list(pb::GetListRequest {
            name: "users/alice/lists/inbox".into(),
        })
        .await
        .expect("the inbox")
        .into_inner();
    assert!(inbox.inbox);
    assert_eq!(inbox.title, "Inbox");

    let work = new_list(&mut alice, "alice", "  Work  ").await;
    assert_eq!(work.title, "Work");
    assert!(!work.inbox);
    assert!(work.name.starts_with("users/alice/lists/"));
    assert!(work.create_time.is_some());
    let again = alice
        .get_list(pb::GetListRequest {
            name: work.name.clone(),
        })
        .await
        .expect("GetList")
        .into_inner();
    assert_eq!(again, work);

    // The same request id returns the first list.
    let request = pb::CreateListRequest {
        parent: "users/alice".into(),
        list: Some(pb::TaskList {
            title: "Home".into(),
            ..Default::default()
        }),
        request_id: "home-1".into(),
    };
    let home = alice
        .create_list(request.clone())
        .await
        .expect("create")
        .into_inner();
    let retried = alice
        .create_list(request)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(home.name, retried.name);

    // Pages of one: the inbox first, then oldest first.
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = alice
            .list_lists(pb::ListListsRequest {
                parent: "users/alice".into(),
                page_size: 1,
                page_token: token,
            })
            .await
            .expect("ListLists")
            .into_inner();
        assert!(page.lists.len() <= 1);
        names.extend(page.lists.into_iter().map(|l| l.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        names,
        vec![inbox.name.clone(), work.name.clone(), home.name.clone()]
    );

    // Renamed with a current etag; a stale one is ABORTED and changes nothing.
    let renamed = alice
        .update_list(pb::UpdateListRequest {
            list: Some(pb::TaskList {
                name: work.name.clone(),
                title: "Office".into(),
                etag: work.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
        })
        .await
        .expect("UpdateList")
        .into_inner();
    assert_eq!(renamed.title, "Office");
    assert_ne!(renamed.etag, work.etag);
    let stale = alice
        .update_list(pb::UpdateListRequest {
            list: Some(pb::TaskList {
                name: work.name.clone(),
                title: "Elsewhere".into(),
                etag: work.etag.clone(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect_err("a stale etag");
    assert_eq!(stale.code(), Code::Aborted);
    let inbox_renamed = alice
        .update_list(pb::UpdateListRequest {
            list: Some(pb::TaskList {
                name: inbox.name.clone(),
                title: "Mine".into(),
                ..Default::default()
            }),
            update_mask: None,
        })
        .await
        .expect_err("the inbox keeps its name");
    assert_eq!(inbox_renamed.code(), Code::FailedPrecondition);
    let current = alice
        .get_list(pb::GetListRequest {
            name: work.name.clone(),
        })
        .await
        .expect("GetList")
        .into_inner();
    assert_eq!(current.title, "Office");
}

async fn bad_list_requests_are_refused_and_change_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = lists(&app, "alice");
    let mut bob = lists(&app, "bob");
    let work = new_list(&mut alice, "alice", "Work").await;
    let cases: Vec<(pb::CreateListRequest, Code, &str)> = vec![
        (
            pb::CreateListRequest {
                parent: "users/alice".into(),
                list: Some(pb::TaskList::default()),
                request_id: String::new(),
            },
            Code::InvalidArgument,
            "list.title",
        ),
        (
            pb::CreateListRequest {
                parent: "users/alice".into(),
                list: None,
                request_id: String::new(),
            },
            Code::InvalidArgument,
            "list",
        ),
        (
            pb::CreateListRequest {
                parent: "users/alice".into(),
                list: Some(pb::TaskList {
                    title: "x".repeat(201),
                    ..Default::default()
                }),
                request_id: String::new(),
            },
            Code::InvalidArgument,
            "list.title",
        ),
    ];
    for (request, code, field) in cases {
        let err = alice.create_list(request).await.expect_err("refused");
        assert_eq!(err.code(), code, "{err:?}");
        assert_invalid(&err, field);
    }
    let foreign = bob
        .create_list(pb::CreateListRequest {
            parent: "users/alice".into(),
            list: Some(pb::TaskList {
                title: "Mine now".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("another user's parent");
    assert_eq!(foreign.code(), Code::PermissionDenied);
    for name in [work.name.as_str(), "users/alice/lists/inbox"] {
        let err = bob
            .get_list(pb::GetListRequest { name: name.into() })
            .await
            .expect_err("another user's list");
        assert_eq!(err.code(), Code::PermissionDenied, "{name}");
    }
    for (name, code) in [
        ("users/alice/lists/INBOX", Code::InvalidArgument),
        ("users/alice/lists/not-a-uuid", Code::InvalidArgument),
        ("users/alice/tasks/inbox", Code::InvalidArgument),
        (
            "users/alice/lists/0190f1c2-7a3b-7c4d-8e5f-123456789abc",
            Code::NotFound,
        ),
    ] {
        let err = alice
            .get_list(pb::GetListRequest { name: name.into() })
            .await
            .expect_err("refused");
        assert_eq!(err.code(), code, "{name}: {err:?}");
    }
    let all = alice
        .list_lists(pb::ListListsRequest {
            parent: "users/alice".into(),
            ..Default::default()
        })
        .await
        .expect("ListLists")
        .into_inner();
    assert_eq!(all.lists.len(), 2, "the inbox and Work, nothing else");
    let bobs = bob
        .list_lists(pb::ListListsRequest {
            parent: "users/bob".into(),
            ..Default::default()
        })
        .await
        .expect("ListLists")
        .into_inner();
    assert_eq!(bobs.lists.len(), 1, "bob sees only his inbox");
}

async fn tasks_belong_to_a_list_and_are_listed_and_moved_by_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut lists_of_alice = lists(&app, "alice");
    let mut alice = app.user("alice");
    let mut bob = app.user("bob");
    let work = new_list(&mut lists_of_alice, "alice", "Work").await;
    let home = new_list(&mut lists_of_alice, "alice", "Home").await;

    let loose = create(&mut alice, "alice", titled("Loose")).await;
    assert_eq!(loose.list, "users/alice/lists/inbox");
    let report = create(&mut alice, "alice", in_list("Report", &work.name)).await;
    assert_eq!(report.list, work.name);
    let slides = create(&mut alice, "alice", in_list("Slides", &work.name)).await;
    let inboxed = create(
        &mut alice,
        "alice",
        in_list("Filed", "users/alice/lists/inbox"),
    )
    .await;
    assert_eq!(inboxed.list, "users/alice/lists/inbox");

    let work_filter = format!("list = \"{}\"", work.name);
    assert_eq!(
        listed(&mut alice, &work_filter, false).await,
        sorted(vec![report.name.clone(), slides.name.clone()])
    );
    assert_eq!(
        listed(&mut alice, "list = \"users/alice/lists/inbox\"", false).await,
        sorted(vec![loose.name.clone(), inboxed.name.clone()])
    );
    assert_eq!(
        listed(&mut alice, &format!("NOT {work_filter}"), false).await,
        sorted(vec![loose.name.clone(), inboxed.name.clone()])
    );

    // Moved with an update mask, and back to the inbox with an empty list.
    let moved = alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: report.name.clone(),
                list: home.name.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["list".into()],
            }),
        })
        .await
        .expect("moved")
        .into_inner();
    assert_eq!(moved.list, home.name);
    let back = alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: slides.name.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["list".into()],
            }),
        })
        .await
        .expect("to the inbox")
        .into_inner();
    assert_eq!(back.list, "users/alice/lists/inbox");
    assert!(listed(&mut alice, &work_filter, false).await.is_empty());

    // A list that does not exist, or another user's.
    let missing = alice
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(in_list(
                "Nowhere",
                "users/alice/lists/0190f1c2-7a3b-7c4d-8e5f-123456789abc",
            )),
            request_id: String::new(),
        })
        .await
        .expect_err("no such list");
    assert_eq!(missing.code(), Code::NotFound);
    let stolen = bob
        .create_task(pb::CreateTaskRequest {
            parent: "users/bob".into(),
            task: Some(in_list("Sneaky", &work.name)),
            request_id: String::new(),
        })
        .await
        .expect_err("alice's list");
    assert_eq!(stolen.code(), Code::PermissionDenied);
    let peek = bob
        .list_tasks(pb::ListTasksRequest {
            parent: "users/bob".into(),
            filter: work_filter.clone(),
            ..Default::default()
        })
        .await
        .expect_err("alice's list in bob's filter");
    assert_eq!(peek.code(), Code::PermissionDenied);
    let malformed = alice
        .list_tasks(pb::ListTasksRequest {
            parent: "users/alice".into(),
            filter: "list = \"users/alice/lists/x\"".into(),
            ..Default::default()
        })
        .await
        .expect_err("a malformed list name");
    assert_invalid(&malformed, "filter");
    assert_eq!(list_all(&mut alice, "alice").await.len(), 4);
    assert!(list_all(&mut bob, "bob").await.is_empty());
}

async fn a_list_holding_tasks_is_deleted_only_with_force(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut lists_of_alice = lists(&app, "alice");
    let mut alice = app.user("alice");
    let errands = new_list(&mut lists_of_alice, "alice", "Errands").await;
    let milk = create(&mut alice, "alice", in_list("Milk", &errands.name)).await;
    let bread = create(&mut alice, "alice", in_list("Bread", &errands.name)).await;
    let delete = |force: bool| pb::DeleteListRequest {
        name: errands.name.clone(),
        etag: String::new(),
        force,
    };
    let refused = lists_of_alice
        .delete_list(delete(false))
        .await
        .expect_err("it holds tasks");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("2 task"),
        "{}",
        refused.message()
    );
    let inbox = lists_of_alice
        .delete_list(pb::DeleteListRequest {
            name: "users/alice/lists/inbox".into(),
            etag: String::new(),
            force: true,
        })
        .await
        .expect_err("the inbox stays");
    assert_eq!(inbox.code(), Code::FailedPrecondition);

    lists_of_alice
        .delete_list(delete(true))
        .await
        .expect("forced");
    let gone = lists_of_alice
        .get_list(pb::GetListRequest {
            name: errands.name.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);
    // Its tasks are soft deleted, a task.deleted event each, and come back in the inbox.
    for task in [&milk, &bread] {
        let read = alice
            .get_task(pb::GetTaskRequest {
                name: task.name.clone(),
            })
            .await
            .expect("still readable")
            .into_inner();
        assert!(read.delete_time.is_some(), "{} is deleted", read.title);
    }
    let deleted_events = app
        .drained_outbox(None)
        .await
        .into_iter()
        .filter(|r| r.event_type.ends_with("task.deleted"))
        .count();
    assert_eq!(deleted_events, 2);
    let restored = alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: milk.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("undeleted")
        .into_inner();
    assert_eq!(restored.list, "users/alice/lists/inbox");

    // An empty list goes without force.
    let empty = new_list(&mut lists_of_alice, "alice", "Empty").await;
    lists_of_alice
        .delete_list(pb::DeleteListRequest {
            name: empty.name.clone(),
            etag: empty.etag.clone(),
            force: false,
        })
        .await
        .expect("an empty list");
}

/// The README's walkthrough, as written there, with the names filled in.
async fn grpcurl_walks_through_a_list_and_a_subtask_as_the_readme_says(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let addr = app.addr().to_string();
    let call = async |method: &str, body: String| {
        stdout_json(
            &grpcurl(&[
                "-plaintext",
                "-H",
                "x-user-id: alice",
                "-d",
                &body,
                &addr,
                &format!("taskflow.v1.{method}"),
            ])
            .await,
        )
    };
    let trip = call(
        "ListService/CreateList",
        r#"{"parent": "users/alice", "list": {"title": "Trip"}}"#.into(),
    )
    .await;
    let list = trip["name"].as_str().expect("a list name").to_owned();
    let pack = call(
        "TaskService/CreateTask",
        format!(r#"{{"parent": "users/alice", "task": {{"title": "Pack", "list": "{list}"}}}}"#),
    )
    .await;
    let pack_name = pack["name"].as_str().expect("a task name").to_owned();
    assert_eq!(pack["list"], list.as_str());
    let socks = call(
        "TaskService/CreateTask",
        format!(
            r#"{{"parent": "users/alice", "task": {{"title": "Socks", "parent": "{pack_name}"}}}}"#
        ),
    )
    .await;
    assert_eq!(socks["list"], list.as_str(), "{socks}");
    let in_list = call(
        "TaskService/ListTasks",
        format!(r#"{{"parent": "users/alice", "filter": "list = \"{list}\""}}"#),
    )
    .await;
    assert_eq!(
        in_list["tasks"].as_array().map(Vec::len),
        Some(2),
        "{in_list}"
    );
    let under = call(
        "TaskService/ListTasks",
        format!(r#"{{"parent": "users/alice", "filter": "parent = \"{pack_name}\""}}"#),
    )
    .await;
    assert_eq!(under["tasks"][0]["title"], "Socks", "{under}");
    let all = call(
        "ListService/ListLists",
        r#"{"parent": "users/alice"}"#.into(),
    )
    .await;
    assert_eq!(all["lists"][0]["inbox"], true, "{all}");
    assert_eq!(all["lists"][1]["name"], list.as_str());
    call(
        "ListService/DeleteList",
        format!(r#"{{"name": "{list}", "force": true}}"#),
    )
    .await;
    let left = call(
        "TaskService/ListTasks",
        r#"{"parent": "users/alice"}"#.into(),
    )
    .await;
    assert!(
        left.get("tasks").is_none(),
        "both tasks are deleted: {left}"
    );
}

both_backends!(
    grpcurl_walks_through_a_list_and_a_subtask_as_the_readme_says,
    the_inbox_exists_and_lists_are_created_read_paged_and_renamed,
    bad_list_requests_are_refused_and_change_nothing,
    tasks_belong_to_a_list_and_are_listed_and_moved_by_it,
    a_list_holding_tasks_is_deleted_only_with_force,
);
