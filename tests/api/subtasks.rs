//! Subtasks: a task names its parent (same user, same list, at most four levels, no cycles);
//! listed by parent; completing a parent completes its open subtasks, deleting it deletes
//! them and undeleting restores them; moving a parent to another list moves its subtree; a
//! recurring task's next occurrence gets its subtasks again, open.

use taskflow::proto::v1::{self as pb, list_service_client::ListServiceClient};
use tonic::Code;

use crate::both_backends;
use crate::helpers::*;

fn under(title: &str, parent: &pb::Task) -> pb::Task {
    pb::Task {
        parent: parent.name.clone(),
        ..titled(title)
    }
}

async fn get(client: &mut Client, name: &str) -> pb::Task {
    client
        .get_task(pb::GetTaskRequest { name: name.into() })
        .await
        .expect("GetTask")
        .into_inner()
}

async fn filtered(client: &mut Client, filter: &str) -> Vec<String> {
    let mut names: Vec<String> = client
        .list_tasks(pb::ListTasksRequest {
            parent: "users/alice".into(),
            filter: filter.into(),
            page_size: 500,
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

fn sorted(names: &[&pb::Task]) -> Vec<String> {
    let mut names: Vec<String> = names.iter().map(|t| t.name.clone()).collect();
    names.sort();
    names
}

async fn try_create(client: &mut Client, task: pb::Task) -> Result<pb::Task, tonic::Status> {
    client
        .create_task(pb::CreateTaskRequest {
            parent: "users/alice".into(),
            task: Some(task),
            request_id: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn reparent(
    client: &mut Client,
    task: &pb::Task,
    parent: &str,
) -> Result<pb::Task, tonic::Status> {
    client
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: task.name.clone(),
                parent: parent.into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["parent".into()],
            }),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn subtasks_nest_four_levels_without_cycles_and_are_listed_by_parent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let mut bob = app.user("bob");
    let trip = create(&mut alice, "alice", titled("Trip")).await;
    let pack = create(&mut alice, "alice", under("Pack", &trip)).await;
    let book = create(&mut alice, "alice", under("Book", &trip)).await;
    let clothes = create(&mut alice, "alice", under("Clothes", &pack)).await;
    let socks = create(&mut alice, "alice", under("Socks", &clothes)).await;
    assert_eq!(pack.parent, trip.name);
    assert_eq!(socks.parent, clothes.name);
    assert!(trip.parent.is_empty());

    assert_eq!(
        filtered(&mut alice, &format!("parent = \"{}\"", trip.name)).await,
        sorted(&[&pack, &book])
    );
    assert_eq!(
        filtered(&mut alice, "parent:*").await,
        sorted(&[&pack, &book, &clothes, &socks])
    );
    assert_eq!(filtered(&mut alice, "NOT parent:*").await, sorted(&[&trip]));

    // A fifth level, a cycle, itself, another user's or a missing parent: refused.
    let fifth = try_create(&mut alice, under("Left sock", &socks))
        .await
        .expect_err("five levels");
    assert_invalid(&fifth, "task.parent");
    let cycle = reparent(&mut alice, &trip, &clothes.name)
        .await
        .expect_err("a cycle");
    assert_invalid(&cycle, "task.parent");
    let itself = reparent(&mut alice, &book, &book.name)
        .await
        .expect_err("its own parent");
    assert_invalid(&itself, "task.parent");
    // Moving a subtree keeps within four levels: Pack (3 levels) under Book would make 5.
    let deep = reparent(&mut alice, &pack, &book.name)
        .await
        .expect_err("too deep once moved");
    assert_invalid(&deep, "task.parent");
    let bobs = create(&mut bob, "bob", titled("Bob's")).await;
    let foreign = try_create(&mut alice, under("Mine", &bobs))
        .await
        .expect_err("bob's task");
    assert_eq!(foreign.code(), Code::PermissionDenied);
    let missing = try_create(
        &mut alice,
        pb::Task {
            parent: "users/alice/tasks/0190f1c2-7a3b-7c4d-8e5f-123456789abc".into(),
            ..titled("Orphan")
        },
    )
    .await
    .expect_err("no such parent");
    assert_eq!(missing.code(), Code::NotFound);
    let malformed = try_create(
        &mut alice,
        pb::Task {
            parent: "users/alice/tasks/nope".into(),
            ..titled("Bad")
        },
    )
    .await
    .expect_err("a malformed parent");
    assert_invalid(&malformed, "task.parent");
    assert_eq!(
        list_all(&mut alice, "alice").await.len(),
        5,
        "nothing was added"
    );

    // Book moves under Clothes (3 + 1 levels), then back to the top.
    let moved = reparent(&mut alice, &book, &clothes.name)
        .await
        .expect("moved");
    assert_eq!(moved.parent, clothes.name);
    let top = reparent(&mut alice, &book, "").await.expect("to the top");
    assert!(top.parent.is_empty());
}

async fn completing_and_deleting_a_parent_carries_its_subtasks(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let party = create(&mut alice, "alice", titled("Party")).await;
    let invite = create(&mut alice, "alice", under("Invite", &party)).await;
    let cake = create(&mut alice, "alice", under("Cake", &party)).await;
    let candles = create(&mut alice, "alice", under("Candles", &cake)).await;
    let done = complete(&mut alice, &invite.name).await;
    app.drain_events().await;
    let before = outbox_rows(&app.db().await).await.len();

    complete(&mut alice, &party.name).await;
    for task in [&cake, &candles] {
        let read = get(&mut alice, &task.name).await;
        assert!(read.completed, "{} completed with its parent", read.title);
    }
    assert_eq!(
        get(&mut alice, &invite.name).await.complete_time,
        done.complete_time,
        "a completed subtask is left as it was"
    );
    let rows = outbox_rows(&app.db().await).await;
    let completions = rows[before..]
        .iter()
        .filter(|r| r.event_type == "task.completed")
        .count();
    assert_eq!(completions, 3, "the parent and its two open subtasks");

    // Reopening the parent leaves the subtasks completed.
    let reopened = alice
        .reopen_task(pb::ReopenTaskRequest {
            name: party.name.clone(),
        })
        .await
        .expect("reopen")
        .into_inner();
    assert!(!reopened.completed);
    assert!(get(&mut alice, &cake.name).await.completed);

    // A subtask deleted on its own stays deleted when the parent comes back.
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: invite.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete invite");
    alice
        .delete_task(pb::DeleteTaskRequest {
            name: party.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete the party");
    for task in [&cake, &candles] {
        assert!(get(&mut alice, &task.name).await.delete_time.is_some());
    }
    let early = alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: candles.name.clone(),
            etag: String::new(),
        })
        .await
        .expect_err("its parent is deleted");
    assert_eq!(early.code(), Code::FailedPrecondition);
    alice
        .undelete_task(pb::UndeleteTaskRequest {
            name: party.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("undelete the party");
    for task in [&cake, &candles] {
        assert!(get(&mut alice, &task.name).await.delete_time.is_none());
    }
    assert!(
        get(&mut alice, &invite.name).await.delete_time.is_some(),
        "deleted before its parent, so not restored with it"
    );
    let types: Vec<String> = outbox_rows(&app.db().await)
        .await
        .into_iter()
        .map(|r| r.event_type)
        .collect();
    let count = |kind: &str| types.iter().filter(|t| *t == kind).count();
    assert_eq!(count("task.deleted"), 4);
    assert_eq!(count("task.undeleted"), 3);
}

async fn a_subtree_stays_in_one_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let mut lists = ListServiceClient::with_interceptor(
        app.channel(),
        Metadata::new(&[("x-user-id", "alice")]),
    );
    let mut new_list = async |title: &str| {
        lists
            .create_list(pb::CreateListRequest {
                parent: "users/alice".into(),
                list: Some(pb::TaskList {
                    title: title.into(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .expect("CreateList")
            .into_inner()
    };
    let work = new_list("Work").await;
    let home = new_list("Home").await;
    let project = create(
        &mut alice,
        "alice",
        pb::Task {
            list: work.name.clone(),
            ..titled("Project")
        },
    )
    .await;
    let step = create(&mut alice, "alice", under("Step", &project)).await;
    assert_eq!(step.list, work.name, "a subtask takes its parent's list");
    let detail = create(&mut alice, "alice", under("Detail", &step)).await;
    let elsewhere = try_create(
        &mut alice,
        pb::Task {
            list: home.name.clone(),
            ..under("Elsewhere", &project)
        },
    )
    .await
    .expect_err("another list than its parent's");
    assert_invalid(&elsewhere, "task.list");
    let alone = alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: step.name.clone(),
                list: home.name.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["list".into()],
            }),
        })
        .await
        .expect_err("a subtask does not move alone");
    assert_invalid(&alone, "task.list");

    alice
        .update_task(pb::UpdateTaskRequest {
            task: Some(pb::Task {
                name: project.name.clone(),
                list: home.name.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["list".into()],
            }),
        })
        .await
        .expect("the project moves");
    for task in [&project, &step, &detail] {
        assert_eq!(get(&mut alice, &task.name).await.list, home.name);
    }
    // A top-level task put under a parent in another list joins that list.
    let loose = create(&mut alice, "alice", titled("Loose")).await;
    let joined = reparent(&mut alice, &loose, &project.name)
        .await
        .expect("joined");
    assert_eq!(joined.list, home.name);
}

async fn the_next_occurrence_brings_its_subtasks_open(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let review = create(&mut alice, "alice", water_plants(pb::Frequency::Weekly)).await;
    let ferns = create(
        &mut alice,
        "alice",
        pb::Task {
            due_time: Some(ts("2027-06-01T08:00:00Z")),
            ..under("Ferns", &review)
        },
    )
    .await;
    let cactus = create(&mut alice, "alice", under("Cactus", &ferns)).await;
    complete(&mut alice, &review.name).await;
    app.drain_events().await;
    let next = app.occurrence(&mut alice, "alice", &review.series, 2).await;
    let children = filtered(&mut alice, &format!("parent = \"{}\"", next.name)).await;
    assert_eq!(children.len(), 1, "{children:?}");
    let ferns_again = get(&mut alice, &children[0]).await;
    assert_eq!(ferns_again.title, "Ferns");
    assert!(!ferns_again.completed);
    assert_eq!(
        ferns_again.due_time,
        Some(ts("2027-06-08T08:00:00Z")),
        "due as far before its parent as before"
    );
    let grandchildren = filtered(&mut alice, &format!("parent = \"{}\"", ferns_again.name)).await;
    assert_eq!(grandchildren.len(), 1);
    let cactus_again = get(&mut alice, &grandchildren[0]).await;
    assert_eq!(cactus_again.title, "Cactus");
    assert!(!cactus_again.completed);
    assert_ne!(cactus_again.name, cactus.name);
    // Delivered again, the completion makes nothing twice.
    let before = list_all(&mut alice, "alice").await.len();
    app.drain_events().await;
    assert_eq!(list_all(&mut alice, "alice").await.len(), before);
    assert_eq!(before, 6);
}

both_backends!(
    subtasks_nest_four_levels_without_cycles_and_are_listed_by_parent,
    completing_and_deleting_a_parent_carries_its_subtasks,
    a_subtree_stays_in_one_list,
    the_next_occurrence_brings_its_subtasks_open,
);
