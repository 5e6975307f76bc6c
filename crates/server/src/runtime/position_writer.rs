//! The position writer: positions (and the open tiers of bonds, the memory of their
//! hysteresis) reach the store through one task that group-commits them. Every position
//! received is written, but many of them share one transaction, and of several fixes from
//! one account only the newest is written; likewise the newest tiers of a bond.
//!
//! A position sent over HTTP is acknowledged (204) only after its transaction commits: the
//! caller waits, and wakes the writer at once. A position sent over the link is not
//! acknowledged at all, so it neither waits nor wakes anyone: it is committed with the
//! next batch, at most [`LINGER`] later (on SQLite with the core saturated by the live
//! links, the batch waits for them up to [`NOBODY_WAITS_FOR`], taking in newer fixes
//! meanwhile: [`Waiting::Nobody`]). A crash within that window loses at most that much
//! of a moving person's track, never a message. Tiers are queued the same way: after a
//! crash they are recomputed from the next fix, and only a tier held open inside its
//! hysteresis band could close a moment early.
//!
//! The same transaction appends to each account's journey every acknowledged fix and, of
//! a live link's stream, one fix per [`JOURNEY_EVERY_MS`]: a journey is for looking back
//! at, and a fix a second would make it five times dearer to keep (see
//! `docs/benchmarks.md`).
//!
//! Ownership: the writer task holds a clone of the shared pending state and ends when
//! it is the last holder (every [`PositionWriter`] dropped), after a last flush.
//!
//! [`NOBODY_WAITS_FOR`]: haurach_store::sqlite::NOBODY_WAITS_FOR

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use haurach_bond::TierSet;

use haurach_store::{AccountId, BondId, PositionRecord, Store, StoreError, Waiting};

/// How long a position that nobody waits for may stay unwritten.
pub const LINGER: Duration = Duration::from_millis(250);

/// Of the fixes a live link sends (not acknowledged, at up to a few a second), the journey
/// keeps one per this many milliseconds of fix time; every acknowledged fix (HTTP) is kept.
pub const JOURNEY_EVERY_MS: i64 = 5_000;

type Waiter = oneshot::Sender<Result<(), String>>;

/// An account's newest position, and whether it goes into the journey.
type Newest = HashMap<AccountId, (PositionRecord, bool)>;

/// What is waiting to be written.
#[derive(Default)]
struct Pending {
    /// The newest position of each account (and whether it goes into the journey), and
    /// who waits for the batch.
    queue: Mutex<(Newest, Vec<Waiter>)>,
    /// When each account's journey last took a fix (fix time).
    journeyed: Mutex<HashMap<AccountId, i64>>,
    tiers: Mutex<HashMap<BondId, TierSet>>,
    /// Wakes the writer for a caller that waits.
    wake: Notify,
}

/// A handle to the writer task.
#[derive(Clone)]
pub struct PositionWriter {
    pending: Arc<Pending>,
}

impl PositionWriter {
    /// Starts the writer task over `store`.
    pub fn start<S: Store>(store: S) -> PositionWriter {
        let pending = Arc::new(Pending::default());
        tokio::spawn(run(store, pending.clone()));
        PositionWriter { pending }
    }

    fn put(&self, account: AccountId, position: PositionRecord, waiter: Option<Waiter>) {
        let at = position.fix.at_ms;
        let journey = {
            let mut journeyed = self.pending.journeyed.lock().expect("positions lock");
            let due = waiter.is_some()
                || journeyed
                    .get(&account)
                    .is_none_or(|last| at >= last + JOURNEY_EVERY_MS || at < *last);
            if due {
                journeyed.insert(account, at);
            }
            due
        };
        let mut queue = self.pending.queue.lock().expect("positions lock");
        match queue.0.get_mut(&account) {
            // A newer fix replaces the one held; if either was due in the journey, the
            // newer one goes there.
            Some(held) if held.0.fix.at_ms <= at => *held = (position, journey || held.1),
            Some(held) => held.1 |= journey,
            None => {
                queue.0.insert(account, (position, journey));
            }
        }
        queue.1.extend(waiter);
    }

    /// Writes a position and waits until it is committed.
    pub async fn write(
        &self,
        account: AccountId,
        position: PositionRecord,
    ) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.put(account, position, Some(done));
        self.pending.wake.notify_one();
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
    pub fn queue(&self, account: AccountId, position: PositionRecord) {
        self.put(account, position, None);
    }

    /// Forgets what is held of `account` (removed): its queued fix and its journey's
    /// last time.
    pub(crate) fn forget(&self, account: AccountId) {
        self.pending
            .journeyed
            .lock()
            .expect("positions lock")
            .remove(&account);
        self.pending
            .queue
            .lock()
            .expect("positions lock")
            .0
            .remove(&account);
    }

    /// Queues a bond's open tiers to be committed within [`LINGER`], without waiting.
    pub fn queue_tiers(&self, bond: BondId, open: TierSet) {
        self.pending
            .tiers
            .lock()
            .expect("positions lock")
            .insert(bond, open);
    }
}

async fn run<S: Store>(store: S, pending: Arc<Pending>) {
    let mut tick = tokio::time::interval(LINGER);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {},
            _ = pending.wake.notified() => {},
        }
        let (batch, waiters) = {
            let mut queue = pending.queue.lock().expect("positions lock");
            (std::mem::take(&mut queue.0), std::mem::take(&mut queue.1))
        };
        let tiers = std::mem::take(&mut *pending.tiers.lock().expect("positions lock"));
        if !tiers.is_empty() {
            let tiers: Vec<_> = tiers.into_iter().collect();
            if let Err(e) = store.set_open_tiers(&tiers).await {
                tracing::error!(error = %e, n = tiers.len(), "writing tiers failed");
            }
        }
        if !batch.is_empty() {
            let batch: Vec<_> = batch
                .into_iter()
                .map(|(account, (position, journey))| (account, position, journey))
                .collect();
            // A live link's fixes alone may wait for the links on a busy CPU; a fix sent
            // over HTTP is answered once committed.
            let waiting = if waiters.is_empty() {
                Waiting::Nobody
            } else {
                Waiting::Someone
            };
            let mut result = store
                .save_positions_and_journey(&batch, waiting)
                .await
                .map_err(|e| e.to_string());
            if result.is_err() {
                // A fix queued the moment its sender was removed (`Hub::remove_person`)
                // has no account to be stored under: the others are stored without it.
                let mut kept = Vec::with_capacity(batch.len());
                for entry in &batch {
                    if !matches!(store.account(entry.0).await, Ok(None)) {
                        kept.push(*entry);
                    }
                }
                if kept.len() < batch.len() {
                    result = store
                        .save_positions_and_journey(&kept, waiting)
                        .await
                        .map_err(|e| e.to_string());
                }
            }
            if let Err(e) = &result {
                tracing::error!(error = %e, n = batch.len(), "writing positions failed");
            }
            for w in waiters {
                let _ = w.send(result.clone());
            }
        } else {
            for w in waiters {
                let _ = w.send(Ok(()));
            }
        }
        // Only this task holds the state: every handle is gone, and so is the server.
        if Arc::strong_count(&pending) == 1 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use haurach_bond::Fix;

    use super::*;
    use haurach_store::{PlaceStore, Sqlite};

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
            writer.queue(a, at(f64::from(i) / 10.0, i64::from(i)));
        }
        // A stale fix arriving late does not overwrite the newest.
        writer.queue(a, at(-1.0, 5));
        writer.write(b, at(7.0, 1)).await.unwrap();
        assert_eq!(store.position(b).await.unwrap().unwrap().fix.lat, 7.0);
        assert_eq!(store.position(a).await.unwrap().unwrap().fix.lat, 10.0);
    }

    #[tokio::test]
    async fn a_link_keeps_a_journey_fix_every_five_seconds_and_http_every_fix() {
        let dir = tempfile::tempdir().unwrap();
        let store = Sqlite::open(dir.path()).await.unwrap();
        let a = store.create_account("a", "h", 0).await.unwrap().id;
        let writer = PositionWriter::start(store.clone());
        // A link sends a fix a second for 12 s; each is committed before the next.
        for i in 0..=12 {
            writer.queue(a, at(f64::from(i), i64::from(i) * 1_000));
            tokio::time::sleep(LINGER * 2).await;
        }
        // An acknowledged fix 1 s after the last is kept all the same.
        writer.write(a, at(13.0, 13_000)).await.unwrap();
        let kept: Vec<f64> = store
            .journey(a, 0, i64::MAX, 100)
            .await
            .unwrap()
            .iter()
            .map(|f| f.lat)
            .collect();
        assert_eq!(kept, [0.0, 5.0, 10.0, 13.0]);
        assert_eq!(store.position(a).await.unwrap().unwrap().fix.lat, 13.0);
    }

    #[tokio::test]
    async fn a_queued_position_is_committed_within_the_linger() {
        let dir = tempfile::tempdir().unwrap();
        let store = Sqlite::open(dir.path()).await.unwrap();
        let a = store.create_account("a", "h", 0).await.unwrap().id;
        let writer = PositionWriter::start(store.clone());
        writer.queue(a, at(3.0, 1));
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
