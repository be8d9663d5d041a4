//! Group commit: writes that arrive while earlier ones are being written wait, and are then
//! written together, one batch per transaction (or per statement), so under load the database
//! commits once for many callers. A lone write goes at once, alone. Each caller learns the
//! outcome of its own write.

use std::{future::Future, sync::Arc};

use sea_orm::{DbErr, RuntimeErr};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// One write waiting in a batch, and where its outcome goes.
pub struct Waiting<T> {
    pub item: T,
    done: oneshot::Sender<Result<(), DbErr>>,
}

impl<T> Waiting<T> {
    /// Tells the caller how its write ended.
    pub fn finish(self, result: Result<(), DbErr>) {
        let _ = self.done.send(result);
    }
}

/// The queue in front of one kind of write.
pub struct GroupCommit<T> {
    queue: mpsc::UnboundedSender<Waiting<T>>,
}

impl<T> std::fmt::Debug for GroupCommit<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit").finish_non_exhaustive()
    }
}

impl<T> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        Self {
            queue: self.queue.clone(),
        }
    }
}

impl<T: Send + 'static> GroupCommit<T> {
    /// Starts the dispatcher: at most `writers` batches of at most `max_batch` writes are
    /// written at a time, each by `write`, which must finish every write it is given. The
    /// dispatcher stops when the last handle is dropped.
    pub fn start<W, F>(writers: usize, max_batch: usize, write: W) -> Self
    where
        W: Fn(Vec<Waiting<T>>) -> F + Send + Sync + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let (queue, pending) = mpsc::unbounded_channel();
        tokio::spawn(dispatch(pending, writers.max(1), max_batch.max(1), write));
        Self { queue }
    }

    /// Queues `item` and waits until its batch is written.
    pub async fn submit(&self, item: T) -> Result<(), DbErr> {
        let (done, outcome) = oneshot::channel();
        if self.queue.send(Waiting { item, done }).is_err() {
            return Err(stopped());
        }
        outcome.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> DbErr {
    DbErr::Conn(RuntimeErr::Internal("the batch writer has stopped".into()))
}

/// Takes everything waiting once a writer is free, and hands it over as one batch.
async fn dispatch<T, W, F>(
    mut pending: mpsc::UnboundedReceiver<Waiting<T>>,
    writers: usize,
    max_batch: usize,
    write: W,
) where
    T: Send + 'static,
    W: Fn(Vec<Waiting<T>>) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let free = Arc::new(Semaphore::new(writers));
    while let Some(first) = pending.recv().await {
        let Ok(writer) = free.clone().acquire_owned().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match pending.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let written = write(batch);
        tokio::spawn(async move {
            written.await;
            drop(writer);
        });
    }
}

/// Finishes every write of a batch whose shared write ended with `result`: on success they all
/// succeed; if the database could not be reached they all fail alike; otherwise each is
/// written again on its own by `alone`, so one write's fault (a duplicate key) never fails
/// another.
pub async fn settle<T, A, F>(batch: Vec<Waiting<T>>, result: Result<(), DbErr>, alone: A)
where
    T: Send + 'static,
    A: Fn(T) -> F,
    F: Future<Output = Result<(), DbErr>> + Send + 'static,
{
    let Err(err) = result else {
        batch.into_iter().for_each(|waiting| waiting.finish(Ok(())));
        return;
    };
    if batch.len() == 1 || crate::error::is_transient(&err) {
        let message = err.to_string();
        let mut err = Some(err);
        for waiting in batch {
            let own = err
                .take()
                .unwrap_or_else(|| DbErr::Conn(RuntimeErr::Internal(message.clone())));
            waiting.finish(Err(own));
        }
        return;
    }
    let mut retries = tokio::task::JoinSet::new();
    for Waiting { item, done } in batch {
        let retry = alone(item);
        retries.spawn(async move {
            let _ = done.send(retry.await);
        });
    }
    while retries.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use sea_orm::{DbErr, RuntimeErr};
    use tokio::sync::Notify;

    use super::{GroupCommit, Waiting, settle};

    /// A write that fails any batch holding `bad` (as a duplicate key would), and records the
    /// size of every batch it is given. The first batch waits for `gate`.
    fn writer(bad: u32, sizes: Arc<Mutex<Vec<usize>>>, gate: Arc<Notify>) -> GroupCommit<u32> {
        GroupCommit::start(1, 64, move |batch: Vec<Waiting<u32>>| {
            let (sizes, gate) = (sizes.clone(), gate.clone());
            async move {
                let first = {
                    let mut sizes = sizes.lock().expect("sizes");
                    sizes.push(batch.len());
                    sizes.len() == 1
                };
                if first {
                    gate.notified().await;
                }
                let result = if batch.iter().any(|w| w.item == bad) {
                    Err(DbErr::Custom(format!("{bad} is a duplicate")))
                } else {
                    Ok(())
                };
                settle(batch, result, |item| async move {
                    if item == bad {
                        Err(DbErr::Custom(format!("{item} is a duplicate")))
                    } else {
                        Ok(())
                    }
                })
                .await;
            }
        })
    }

    #[tokio::test]
    async fn writes_queued_behind_a_busy_writer_share_one_batch_and_each_learns_its_outcome() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Notify::new());
        let writes = writer(13, sizes.clone(), gate.clone());
        let first = tokio::spawn({
            let writes = writes.clone();
            async move { writes.submit(0).await }
        });
        tokio::task::yield_now().await;
        let rest: Vec<_> = (10..20)
            .map(|item| {
                let writes = writes.clone();
                tokio::spawn(async move { (item, writes.submit(item).await) })
            })
            .collect();
        tokio::task::yield_now().await;
        gate.notify_one();
        assert!(first.await.expect("joins").is_ok());
        for task in rest {
            let (item, result) = task.await.expect("joins");
            assert_eq!(result.is_err(), item == 13, "item {item}: {result:?}");
        }
        assert_eq!(*sizes.lock().expect("sizes"), vec![1, 10]);
    }

    #[tokio::test]
    async fn an_unreachable_database_fails_every_write_of_the_batch_as_unavailable() {
        let (done_a, a) = tokio::sync::oneshot::channel();
        let (done_b, b) = tokio::sync::oneshot::channel();
        let batch = vec![
            Waiting {
                item: 1,
                done: done_a,
            },
            Waiting {
                item: 2,
                done: done_b,
            },
        ];
        let err = DbErr::Conn(RuntimeErr::Internal("connection refused".into()));
        settle(batch, Err(err), |_| async { Ok(()) }).await;
        for outcome in [a.await, b.await] {
            let err = outcome.expect("finished").expect_err("failed");
            assert!(crate::error::is_transient(&err), "{err}");
        }
    }
}
