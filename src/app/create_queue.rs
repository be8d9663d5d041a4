//! Group commit for new tasks: creates that arrive while earlier ones are being written share
//! one transaction (one multi-row INSERT per table, one commit), so under load the database
//! does a fraction of the per-transaction work. A lone create is written at once, alone.
//!
//! Each create still commits with its own event or not at all: a batch that fails is written
//! again one create at a time, so one create's fault (a duplicate `request_id`) never fails
//! another; only a database that cannot be reached fails them all.

use std::sync::Arc;

use sea_orm::{DbErr, RuntimeErr};
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::domain::Task;
use crate::error::{AppError, is_transient};
use crate::events::{NewEvent, Outbox, outbox};
use crate::store::{Database, entity::outbox as outbox_entity, tasks};

/// Batches written at the same time (each on its own connection).
const WRITERS: usize = 4;
/// The most creates in one transaction.
const MAX_BATCH: usize = 64;

struct Pending {
    task: Task,
    request_id: Option<String>,
    event: outbox_entity::ActiveModel,
    done: oneshot::Sender<Result<(), DbErr>>,
}

/// The queue in front of the task table's inserts.
#[derive(Debug, Clone)]
pub struct CreateQueue {
    queue: mpsc::UnboundedSender<Pending>,
    outbox: Outbox,
}

impl CreateQueue {
    /// Starts the queue's dispatcher; it stops when the last handle is dropped.
    pub fn start(db: Database, outbox: Outbox) -> Self {
        let (queue, pending) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(pending, db, outbox.clone()));
        Self { queue, outbox }
    }

    /// Writes `task` and its `event` in a committed transaction (perhaps with other creates).
    /// The event's row is built here, in the caller's trace.
    pub async fn insert(
        &self,
        task: Task,
        request_id: Option<&str>,
        event: NewEvent,
    ) -> Result<(), DbErr> {
        let (done, result) = oneshot::channel();
        let pending = Pending {
            task,
            request_id: request_id.map(str::to_owned),
            event: self.outbox.row(event),
            done,
        };
        if self.queue.send(pending).is_err() {
            return Err(stopped());
        }
        result.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal("the task writer has stopped".into()))
}

/// Takes everything waiting once a writer is free, and writes it as one batch.
async fn dispatch(mut pending: mpsc::UnboundedReceiver<Pending>, db: Database, outbox: Outbox) {
    let writers = Arc::new(Semaphore::new(WRITERS));
    while let Some(first) = pending.recv().await {
        let Ok(writer) = writers.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (db, outbox) = (db.clone(), outbox.clone());
        tokio::spawn(async move {
            write(&db, &outbox, batch).await;
            drop(writer);
        });
    }
}

async fn write(db: &Database, outbox: &Outbox, batch: Vec<Pending>) {
    match commit(db, &batch).await {
        Ok(()) => {
            outbox.wake();
            for pending in batch {
                let _ = pending.done.send(Ok(()));
            }
        }
        Err(err) if batch.len() == 1 => {
            if let Some(pending) = batch.into_iter().next() {
                let _ = pending.done.send(Err(err));
            }
        }
        Err(err) if is_transient(&err) => {
            // The database cannot be reached: every create in the batch fails the same way.
            let message = err.to_string();
            for pending in batch {
                let copy = DbErr::Conn(RuntimeErr::Internal(message.clone()));
                let _ = pending.done.send(Err(copy));
            }
        }
        Err(_) => {
            // Someone's create cannot be written: find whose, without failing the rest.
            let mut alone = tokio::task::JoinSet::new();
            for pending in batch {
                let (db, outbox) = (db.clone(), outbox.clone());
                alone.spawn(async move {
                    let result = commit(&db, std::slice::from_ref(&pending)).await;
                    if result.is_ok() {
                        outbox.wake();
                    }
                    let _ = pending.done.send(result);
                });
            }
            while alone.join_next().await.is_some() {}
        }
    }
}

async fn commit(db: &Database, batch: &[Pending]) -> Result<(), DbErr> {
    let txn = db.begin_write().await.map_err(|err| match err {
        AppError::Unavailable(err) | AppError::Database(err) => err,
        other => DbErr::Custom(other.to_string()),
    })?;
    let rows: Vec<(&Task, Option<&str>)> = batch
        .iter()
        .map(|p| (&p.task, p.request_id.as_deref()))
        .collect();
    tasks::insert_many(&txn, &rows).await?;
    outbox::insert_rows(&txn, batch.iter().map(|p| p.event.clone()).collect()).await?;
    txn.commit().await
}
