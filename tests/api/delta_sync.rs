//! Delta sync: a client keeps a copy of its tasks by asking only for what changed since its
//! last sync (`update_time > "<watermark>"`, `show_deleted`), between random creates, updates,
//! completions, reopenings, deletes and undeletes, and its copy ends equal to the server's.

use std::collections::BTreeMap;

use taskflow::proto::v1 as pb;

use crate::both_backends;
use crate::helpers::*;

/// A small deterministic generator (xorshift64*), so that a failure replays.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % sides
    }
}

/// The client's copy: tasks by name, and the newest `update_time` it has seen.
#[derive(Default)]
struct Mirror {
    tasks: BTreeMap<String, pb::Task>,
    watermark: Option<prost_types::Timestamp>,
}

fn rfc3339(t: &prost_types::Timestamp) -> String {
    chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        .expect("a valid time")
        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn later(a: &prost_types::Timestamp, b: &prost_types::Timestamp) -> bool {
    (a.seconds, a.nanos) > (b.seconds, b.nanos)
}

impl Mirror {
    /// Pulls every task changed since the watermark, page by page, and applies it.
    async fn sync(&mut self, client: &mut Client) -> usize {
        let filter = self
            .watermark
            .as_ref()
            .map(|w| format!("update_time > \"{}\"", rfc3339(w)))
            .unwrap_or_default();
        let mut token = String::new();
        let mut changes = 0;
        loop {
            let page = client
                .list_tasks(pb::ListTasksRequest {
                    parent: "users/alice".into(),
                    page_size: 7,
                    page_token: token,
                    filter: filter.clone(),
                    order_by: "update_time".into(),
                    show_deleted: true,
                })
                .await
                .expect("a page")
                .into_inner();
            for task in page.tasks {
                changes += 1;
                let updated = task.update_time.expect("update_time");
                if self.watermark.as_ref().is_none_or(|w| later(&updated, w)) {
                    self.watermark = Some(updated);
                }
                if task.delete_time.is_some() {
                    self.tasks.remove(&task.name);
                } else {
                    self.tasks.insert(task.name.clone(), task);
                }
            }
            if page.next_page_token.is_empty() {
                return changes;
            }
            token = page.next_page_token;
        }
    }
}

async fn server_view(client: &mut Client) -> BTreeMap<String, pb::Task> {
    list_all(client, "alice")
        .await
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect()
}

async fn a_mirror_kept_by_update_time_ends_equal_to_the_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut alice = app.user("alice");
    let mut mirror = Mirror::default();
    let mut dice = Dice(0x5eed_7a5c_f10e_2026);
    // Every task ever made, deleted or not: (name, deleted).
    let mut made: Vec<(String, bool)> = Vec::new();
    // What the syncs fetched, and what fetching everything each time would have.
    let (mut synced, mut everything) = (0, 0);
    for step in 0..160 {
        let pick = |dice: &mut Dice, made: &[(String, bool)], deleted: bool| {
            let candidates: Vec<usize> =
                (0..made.len()).filter(|i| made[*i].1 == deleted).collect();
            (!candidates.is_empty())
                .then(|| candidates[dice.roll(candidates.len() as u64) as usize])
        };
        match dice.roll(6) {
            0 => {
                let task = create(&mut alice, "alice", titled(&format!("task {step}"))).await;
                made.push((task.name, false));
            }
            1 => {
                if let Some(i) = pick(&mut dice, &made, false) {
                    alice
                        .update_task(pb::UpdateTaskRequest {
                            task: Some(pb::Task {
                                name: made[i].0.clone(),
                                title: format!("renamed at {step}"),
                                priority: (dice.roll(5)) as i32,
                                ..Default::default()
                            }),
                            update_mask: Some(prost_types::FieldMask {
                                paths: vec!["title".into(), "priority".into()],
                            }),
                        })
                        .await
                        .expect("update");
                }
            }
            2 => {
                if let Some(i) = pick(&mut dice, &made, false) {
                    complete(&mut alice, &made[i].0).await;
                }
            }
            3 => {
                if let Some(i) = pick(&mut dice, &made, false) {
                    alice
                        .reopen_task(pb::ReopenTaskRequest {
                            name: made[i].0.clone(),
                        })
                        .await
                        .expect("reopen");
                }
            }
            4 => {
                if let Some(i) = pick(&mut dice, &made, false) {
                    alice
                        .delete_task(pb::DeleteTaskRequest {
                            name: made[i].0.clone(),
                            etag: String::new(),
                        })
                        .await
                        .expect("delete");
                    made[i].1 = true;
                }
            }
            _ => {
                if let Some(i) = pick(&mut dice, &made, true) {
                    alice
                        .undelete_task(pb::UndeleteTaskRequest {
                            name: made[i].0.clone(),
                            etag: String::new(),
                        })
                        .await
                        .expect("undelete");
                    made[i].1 = false;
                }
            }
        }
        if dice.roll(5) == 0 {
            synced += mirror.sync(&mut alice).await;
            everything += made.len();
        }
    }
    synced += mirror.sync(&mut alice).await;
    let server = server_view(&mut alice).await;
    assert_eq!(mirror.tasks, server, "the mirror equals the server");
    assert!(
        made.iter().any(|(_, deleted)| *deleted),
        "the run deleted something"
    );
    assert!(
        synced < everything,
        "syncs fetch only changes: {synced} tasks, against {everything} for full reads"
    );
    // A sync with nothing new fetches nothing.
    assert_eq!(mirror.sync(&mut alice).await, 0);
}

both_backends!(a_mirror_kept_by_update_time_ends_equal_to_the_server);
