//! Messages are made durable in the [journal](super::journal) and stored in SQLite
//! behind it.
//!
//! - **Appending** (one batch at a time, from the message writer): each message's
//!   (sender, client id) is looked up among those journalled but not yet in SQLite
//!   (`pending`), then in SQLite; the new ones are numbered, appended to the journal (one
//!   write, one `fdatasync`), remembered in `pending` and handed to the indexer. Only
//!   then is the sender answered.
//! - **The indexer** (a task) commits what was journalled to SQLite in large
//!   transactions, [`STORE_EVERY`] or at once when a reader waits, then forgets it from
//!   `pending` and deletes the journal segments wholly stored. Batches of thousands
//!   share index leaves that batches of a hundred each dirtied on their own.
//! - **Reading** messages first waits until SQLite holds everything journalled when the
//!   read began ([`MessageLog::caught_up`]), so a read sees every message acknowledged
//!   before it.
//!
//! The lookups stay exact across the hand-over: the indexer commits to SQLite *before*
//! it forgets a message from `pending`, and an append looks in `pending` *before* it
//! looks in SQLite, so a message is always found in one of the two.
//!
//! Ownership: [`MessageLog`], in every clone of the store, holds the sender of the
//! indexer's channel. When the last clone is dropped, the indexer stores what remains
//! and ends, and the journal (with its lock) is closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::{Notify, mpsc, watch};

use super::journal::Journal;
use super::messages::{self, PairKey};
use super::scheduling::Scheduling;
use crate::places::Waiting;
use crate::{Appended, MessageRecord, NewMessage, StoreError, StoreResult};

/// How long the indexer lets journalled messages gather before storing them, unless a
/// reader is waiting for them.
pub(super) const STORE_EVERY: Duration = Duration::from_millis(100);
/// Journalled messages not yet in SQLite at most; appending waits beyond it (the indexer
/// is starved or failing), so `pending` stays bounded.
const MAX_BEHIND: i64 = 100_000;
/// How long a read waits for the indexer before it gives up with an error.
const CATCH_UP_WAIT: Duration = Duration::from_secs(30);
/// How long the indexer waits before trying a failed transaction again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The message path of one SQLite store.
pub(super) struct MessageLog {
    shared: Arc<Shared>,
    /// The next sequence number; held for a whole append, so appends take turns.
    next: tokio::sync::Mutex<i64>,
    to_index: mpsc::UnboundedSender<Vec<MessageRecord>>,
}

impl std::fmt::Debug for MessageLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageLog")
            .field(
                "journalled",
                &self.shared.journalled.load(Ordering::Relaxed),
            )
            .field("stored", &*self.shared.stored.borrow())
            .finish_non_exhaustive()
    }
}

/// What the indexer shares with the appenders.
struct Shared {
    journal: Journal,
    /// Journalled messages not yet committed to SQLite, by (sender, client id).
    pending: Mutex<HashMap<PairKey, MessageRecord>>,
    /// The last sequence number journalled.
    journalled: AtomicI64,
    /// The last sequence number committed to SQLite (everything before it is too).
    stored: watch::Sender<i64>,
    /// Store now: a reader is waiting.
    hurry: Notify,
}

impl MessageLog {
    /// Starts the indexer over `writer`; everything before `next` is in SQLite already.
    pub(super) fn start(
        journal: Journal,
        next: i64,
        writer: SqlitePool,
        scheduling: Arc<Scheduling>,
    ) -> MessageLog {
        let shared = Arc::new(Shared {
            journal,
            pending: Mutex::new(HashMap::new()),
            journalled: AtomicI64::new(next - 1),
            stored: watch::Sender::new(next - 1),
            hurry: Notify::new(),
        });
        let (to_index, rx) = mpsc::unbounded_channel();
        tokio::spawn(index(shared.clone(), writer, scheduling, rx));
        MessageLog {
            shared,
            next: tokio::sync::Mutex::new(next),
            to_index,
        }
    }

    /// Makes `batch` durable, each message once per (sender, client id); one result per
    /// message ([`crate::Store::append_messages`]).
    pub(super) async fn append(
        &self,
        reader: &SqlitePool,
        batch: Vec<NewMessage>,
    ) -> StoreResult<Vec<Appended>> {
        let mut next = self.next.lock().await;
        self.wait_stored(*next - 1 - MAX_BEHIND).await?;
        let mut stored = HashMap::new();
        let mut unseen = Vec::with_capacity(batch.len());
        {
            let pending = self.shared.pending.lock().expect("pending lock");
            for m in &batch {
                let pair = (m.sender, m.client_id.clone());
                match pending.get(&pair) {
                    Some(record) => {
                        stored.insert(pair, record.clone());
                    }
                    None => unseen.push(m),
                }
            }
        }
        if !unseen.is_empty() {
            let mut conn = reader.acquire().await?;
            stored.extend(messages::stored_under(&mut conn, &unseen).await?);
        }
        let (results, new) = messages::number(batch, stored, *next);
        let Some(last) = new.last().map(|m| m.seq) else {
            return Ok(results);
        };
        // Numbers are never given twice, even when the append fails.
        *next = last + 1;
        let shared = self.shared.clone();
        let new = tokio::task::spawn_blocking(move || shared.journal.append(&new).map(|()| new))
            .await
            .map_err(|e| StoreError::Corrupt(format!("the journal's writer failed: {e}")))??;
        {
            let mut pending = self.shared.pending.lock().expect("pending lock");
            for record in &new {
                pending.insert((record.sender, record.client_id.clone()), record.clone());
            }
        }
        self.shared.journalled.store(last, Ordering::Release);
        // The indexer ends only once every sender is dropped, and this is one.
        let _ = self.to_index.send(new);
        Ok(results)
    }

    /// How many messages are journalled but not yet in SQLite.
    pub(super) fn lag(&self) -> i64 {
        let stored = *self.shared.stored.borrow();
        (self.shared.journalled.load(Ordering::Acquire) - stored).max(0)
    }

    /// Waits until SQLite holds every message journalled so far.
    pub(super) async fn caught_up(&self) -> StoreResult<()> {
        self.wait_stored(self.shared.journalled.load(Ordering::Acquire))
            .await
    }

    /// Waits until SQLite holds every message up to `seq`.
    async fn wait_stored(&self, seq: i64) -> StoreResult<()> {
        let mut stored = self.shared.stored.subscribe();
        if *stored.borrow_and_update() >= seq {
            return Ok(());
        }
        self.shared.hurry.notify_one();
        match tokio::time::timeout(CATCH_UP_WAIT, stored.wait_for(|s| *s >= seq)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(StoreError::Unavailable(
                "messages acknowledged lately are not in the database yet (see the server's \
                 log); try again in a moment"
                    .into(),
            )),
        }
    }
}

/// The indexer: commits journalled messages to SQLite, oldest first, until every
/// [`MessageLog`] is dropped and nothing remains.
async fn index(
    shared: Arc<Shared>,
    writer: SqlitePool,
    scheduling: Arc<Scheduling>,
    mut rx: mpsc::UnboundedReceiver<Vec<MessageRecord>>,
) {
    let mut records = Vec::new();
    while let Some(first) = rx.recv().await {
        records.extend(first);
        tokio::select! {
            () = tokio::time::sleep(STORE_EVERY) => {}
            () = shared.hurry.notified() => {}
        }
        while let Ok(more) = rx.try_recv() {
            records.extend(more);
        }
        let last = records.last().expect("at least one record").seq;
        // Every clone of the store is gone: these are the last writes before the
        // journal's lock is released, and nothing live is left to yield to.
        if rx.is_closed() {
            scheduling.closing();
        }
        loop {
            let started = scheduling.write_started();
            match store(&writer, &records).await {
                Ok(()) => {
                    scheduling.after_write(started, Waiting::Someone);
                    break;
                }
                Err(e) => {
                    // A message sent the moment its bond was removed (`remove_account`)
                    // has no bond to be stored under: it goes, and the rest are stored.
                    if let Ok(gone) = without_removed_bonds(&writer, &mut records).await
                        && !gone.is_empty()
                    {
                        tracing::info!(
                            messages = gone.len(),
                            "dropped journalled messages of removed bonds"
                        );
                        let mut pending = shared.pending.lock().expect("pending lock");
                        for record in gone {
                            pending.remove(&(record.sender, record.client_id));
                        }
                        continue;
                    }
                    tracing::error!(error = %e, messages = records.len(),
                        "storing journalled messages in the database failed; trying again");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
        {
            let mut pending = shared.pending.lock().expect("pending lock");
            for record in records.drain(..) {
                pending.remove(&(record.sender, record.client_id));
            }
        }
        shared.stored.send_replace(last);
        let journal = shared.clone();
        match tokio::task::spawn_blocking(move || journal.journal.stored_through(last)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot delete a stored journal segment"),
            Err(e) => tracing::warn!(error = %e, "deleting journal segments failed"),
        }
    }
}

/// Takes out of `records` those whose bond is no longer in the database, and returns them.
async fn without_removed_bonds(
    writer: &SqlitePool,
    records: &mut Vec<MessageRecord>,
) -> StoreResult<Vec<MessageRecord>> {
    let bonds: std::collections::HashSet<String> = sqlx::query_scalar("SELECT id FROM bonds")
        .fetch_all(writer)
        .await?
        .into_iter()
        .collect();
    let (kept, gone) = std::mem::take(records)
        .into_iter()
        .partition(|r| bonds.contains(&r.bond.0.to_string()));
    *records = kept;
    Ok(gone)
}

/// Commits `records` to SQLite in one transaction (storing one already there is
/// harmless: rows are keyed by sequence number). The indexer's write, and the start's
/// for what the journal still held.
pub(super) async fn store(writer: &SqlitePool, records: &[MessageRecord]) -> StoreResult<()> {
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    messages::insert(&mut tx, records).await?;
    tx.commit().await?;
    Ok(())
}
