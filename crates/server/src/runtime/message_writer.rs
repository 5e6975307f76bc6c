//! The message writer: messages reach the store through one task that group-commits
//! them. Every sender waits until the store has made its message durable (a message is
//! acknowledged only once durable: on SQLite, appended to the message journal; on
//! PostgreSQL, committed), but all the messages that arrive while one batch is being
//! written share the next one, so the cost of an `fsync` is paid once per batch, not
//! once per message.
//!
//! Ownership: [`MessageWriter`] handles are the senders of the channel; the task owns the
//! receiver and ends when every handle is dropped.

use tokio::sync::{mpsc, oneshot};

use haurach_store::{Appended, NewMessage, Store, StoreError};

/// Messages in one transaction at most.
const MAX_BATCH: usize = 1024;

type Reply = oneshot::Sender<Result<Appended, String>>;

/// What to do with a message once it is committed, run by the writer in sequence order
/// before the sender is answered (the hub publishes new messages with it).
pub type AfterCommit = Box<dyn FnOnce(&Appended) + Send>;

/// A handle to the writer task.
#[derive(Clone)]
pub struct MessageWriter {
    tx: mpsc::Sender<(NewMessage, AfterCommit, Reply)>,
}

impl MessageWriter {
    /// Starts the writer task over `store`.
    pub fn start<S: Store>(store: S) -> MessageWriter {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 4);
        tokio::spawn(run(store, rx));
        MessageWriter { tx }
    }

    /// Stores a message and returns once it is committed, after `after_commit` has run.
    pub async fn append(
        &self,
        message: NewMessage,
        after_commit: AfterCommit,
    ) -> Result<Appended, StoreError> {
        let (reply, wait) = oneshot::channel();
        let stopped = || StoreError::Corrupt("the message writer has stopped".into());
        self.tx
            .send((message, after_commit, reply))
            .await
            .map_err(|_| stopped())?;
        match wait.await {
            Ok(Ok(appended)) => Ok(appended),
            Ok(Err(e)) => Err(StoreError::Corrupt(format!("storing messages failed: {e}"))),
            Err(_) => Err(stopped()),
        }
    }
}

async fn run<S: Store>(store: S, mut rx: mpsc::Receiver<(NewMessage, AfterCommit, Reply)>) {
    let mut incoming = Vec::with_capacity(MAX_BATCH);
    // Wait for one message, then take every other one already waiting: no lingering, so
    // a lone message is written at once and a crowd shares a commit.
    while rx.recv_many(&mut incoming, MAX_BATCH).await > 0 {
        let mut batch = Vec::with_capacity(incoming.len());
        let mut replies = Vec::with_capacity(incoming.len());
        for (message, after, reply) in incoming.drain(..) {
            batch.push(message);
            replies.push((after, reply));
        }
        match store.append_messages(batch).await {
            Ok(appended) => {
                for ((after, reply), a) in replies.into_iter().zip(appended) {
                    after(&a);
                    let _ = reply.send(Ok(a));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "storing messages failed");
                for (_, reply) in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
    }
}
