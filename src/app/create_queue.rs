//! Group commit for new tasks: creates that arrive while earlier ones are being written share
//! one transaction (one multi-row INSERT per table, one commit), so under load the database
//! does a fraction of the per-transaction work. A lone create is written at once, alone.
//!
//! Each create still commits with its own event or not at all: a batch that fails is written
//! again one create at a time, so one create's fault (a duplicate `request_id`) never fails
//! another; only a database that cannot be reached fails them all.

use sea_orm::DbErr;

use crate::domain::Task;
use crate::outbox::{NewEvent, Outbox};
use crate::store::group_commit::{GroupCommit, Waiting, settle};
use crate::store::task_batch::{self, NewRow};
use crate::store::{Database, entity::outbox as outbox_entity};

/// Batches written at the same time (each on its own connection). Two: at 64 callers on two
/// cores, four writers made batches of about five and two made them twice as large, for 15 %
/// more creates a second and a lower p99; one was no better than two.
const WRITERS: usize = 2;
/// The most creates in one transaction.
const MAX_BATCH: usize = 64;

struct NewTask {
    task: Task,
    request_id: Option<String>,
    event: outbox_entity::ActiveModel,
}

/// The queue in front of the task table's inserts.
#[derive(Debug, Clone)]
pub struct CreateQueue {
    writes: GroupCommit<NewTask>,
    outbox: Outbox,
}

impl CreateQueue {
    /// Starts the queue's dispatcher; it stops when the last handle is dropped.
    pub fn start(db: Database, outbox: Outbox) -> Self {
        let writer = outbox.clone();
        let writes = GroupCommit::start(WRITERS, MAX_BATCH, move |batch| {
            write(db.clone(), writer.clone(), batch)
        });
        Self { writes, outbox }
    }

    /// Writes `task` and its `event` in a committed transaction (perhaps with other creates).
    /// The event's row is built here, in the caller's trace.
    pub async fn insert(
        &self,
        task: Task,
        request_id: Option<&str>,
        event: NewEvent,
    ) -> Result<(), DbErr> {
        self.writes
            .submit(NewTask {
                task,
                request_id: request_id.map(str::to_owned),
                event: self.outbox.row(event),
            })
            .await
    }
}

async fn write(db: Database, outbox: Outbox, batch: Vec<Waiting<NewTask>>) {
    let items: Vec<&NewTask> = batch.iter().map(|w| &w.item).collect();
    let result = commit(&db, &items).await;
    if result.is_ok() {
        outbox.wake();
    }
    settle(batch, result, |item| {
        let (db, outbox) = (db.clone(), outbox.clone());
        async move {
            let result = commit(&db, &[&item]).await;
            if result.is_ok() {
                outbox.wake();
            }
            result
        }
    })
    .await
}

async fn commit(db: &Database, batch: &[&NewTask]) -> Result<(), DbErr> {
    let rows: Vec<NewRow<'_>> = batch
        .iter()
        .map(|n| NewRow {
            task: &n.task,
            request_id: n.request_id.as_deref(),
            event: n.event.clone(),
        })
        .collect();
    task_batch::insert(db, &rows).await
}
