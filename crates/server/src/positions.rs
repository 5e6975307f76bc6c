//! The position writer: positions reach the store through one task that group-commits
//! them. Every position received is written, but a burst of them costs one transaction,
//! and of several fixes from one account only the newest is written.
//!
//! A position sent over HTTP is acknowledged (204) only after its transaction commits: the
//! caller waits for it. A position sent over the link is not acknowledged at all, so it
//! does not wait: it is committed with the next batch, at most [`LINGER`] later. A crash
//! within that window loses at most that much of a moving person's track, never a message.
//!
//! Ownership: [`PositionWriter`] is the only sender of the channel; the task owns the
//! receiver and ends when every sender is dropped, after a last flush.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::{AccountId, PositionRecord, Store, StoreError};

/// How long a position that nobody waits for may stay unwritten.
pub const LINGER: Duration = Duration::from_millis(250);

/// Positions queued before senders wait for room.
const QUEUE: usize = 16_384;

type Waiter = oneshot::Sender<Result<(), String>>;

/// A handle to the writer task.
#[derive(Clone)]
pub struct PositionWriter {
    tx: mpsc::Sender<(AccountId, PositionRecord, Option<Waiter>)>,
}

impl PositionWriter {
    /// Starts the writer task over `store`.
    pub fn start<S: Store>(store: S) -> PositionWriter {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(run(store, rx));
        PositionWriter { tx }
    }

    /// Writes a position and waits until it is committed.
    pub async fn write(
        &self,
        account: AccountId,
        position: PositionRecord,
    ) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send((account, position, Some(done)))
            .await
            .map_err(|_| StoreError::Corrupt("the position writer has stopped".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Corrupt(format!(
                "writing positions failed: {e}"
            ))),
            Err(_) => Err(StoreError::Corrupt(
                "the position writer has stopped".into(),
            )),
        }
    }

    /// Queues a position to be committed within [`LINGER`], without waiting.
    pub async fn queue(&self, account: AccountId, position: PositionRecord) {
        // Only fails when the server is shutting down, when there is nothing to do.
        let _ = self.tx.send((account, position, None)).await;
    }
}

async fn run<S: Store>(
    store: S,
    mut rx: mpsc::Receiver<(AccountId, PositionRecord, Option<Waiter>)>,
) {
    let mut pending: HashMap<AccountId, PositionRecord> = HashMap::new();
    let mut waiters: Vec<Waiter> = Vec::new();
    let mut open = true;
    while open {
        // The first position of a batch...
        let Some(item) = rx.recv().await else { break };
        take(&mut pending, &mut waiters, item);
        // ...then more until someone waits or the first has lingered long enough.
        let deadline = tokio::time::Instant::now() + LINGER;
        while waiters.is_empty() {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(item)) => take(&mut pending, &mut waiters, item),
                Ok(None) => {
                    open = false;
                    break;
                }
                Err(_elapsed) => break,
            }
        }
        // Whatever else is already queued joins: that is the group in group commit.
        while let Ok(item) = rx.try_recv() {
            take(&mut pending, &mut waiters, item);
        }
        let batch: Vec<_> = pending.drain().collect();
        let result = store
            .save_positions(&batch)
            .await
            .map_err(|e| e.to_string());
        if let Err(e) = &result {
            tracing::error!(error = %e, n = batch.len(), "writing positions failed");
        }
        for w in waiters.drain(..) {
            let _ = w.send(result.clone());
        }
    }
}

fn take(
    pending: &mut HashMap<AccountId, PositionRecord>,
    waiters: &mut Vec<Waiter>,
    (account, position, waiter): (AccountId, PositionRecord, Option<Waiter>),
) {
    let newer = pending
        .get(&account)
        .is_none_or(|held| held.fix.at_ms <= position.fix.at_ms);
    if newer {
        pending.insert(account, position);
    }
    waiters.extend(waiter);
}

#[cfg(test)]
mod tests {
    use haurach_bond::Fix;

    use super::*;
    use crate::store::Sqlite;

    fn at(lat: f64, at_ms: i64) -> PositionRecord {
        PositionRecord {
            fix: Fix {
                lat,
                lon: 0.0,
                accuracy_m: 0.0,
                at_ms,
            },
            received_at: at_ms,
        }
    }

    #[tokio::test]
    async fn a_waiting_write_commits_everything_queued_before_it_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = Sqlite::open(dir.path()).await.unwrap();
        let a = store.create_account("a", "h", 0).await.unwrap().id;
        let b = store.create_account("b", "h", 0).await.unwrap().id;
        let writer = PositionWriter::start(store.clone());
        for i in 1..=100 {
            writer.queue(a, at(f64::from(i) / 10.0, i64::from(i))).await;
        }
        // A stale fix arriving late does not overwrite the newest.
        writer.queue(a, at(-1.0, 5)).await;
        writer.write(b, at(7.0, 1)).await.unwrap();
        assert_eq!(store.position(b).await.unwrap().unwrap().fix.lat, 7.0);
        assert_eq!(store.position(a).await.unwrap().unwrap().fix.lat, 10.0);
    }

    #[tokio::test]
    async fn a_queued_position_is_committed_within_the_linger() {
        let dir = tempfile::tempdir().unwrap();
        let store = Sqlite::open(dir.path()).await.unwrap();
        let a = store.create_account("a", "h", 0).await.unwrap().id;
        let writer = PositionWriter::start(store.clone());
        writer.queue(a, at(3.0, 1)).await;
        let deadline = tokio::time::Instant::now() + LINGER * 8;
        while store.position(a).await.unwrap().is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not written within the linger"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
