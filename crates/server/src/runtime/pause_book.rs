//! Who has paused sharing, as this node knows it: each person's latest pause, read from
//! the store on first use and again when another node changes it. The hub asks it at
//! every fix (a std mutex and a map lookup once loaded), so a paused person's positions
//! are dropped before anything else sees them.

use std::collections::HashMap;
use std::sync::Mutex;

use haurach_store::{AccountId, PauseRecord, Store, StoreError};

/// One person's pause as this node holds it.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Their latest pause, in force or ended; `None` when they never paused.
    pause: Option<PauseRecord>,
    /// Whether its end was already seen here (announced by this node, or it was over
    /// when read), so the sweep announces a pause's end once.
    over: bool,
}

/// Pauses by person, loaded on demand.
#[derive(Default)]
pub(crate) struct PauseBook {
    entries: Mutex<HashMap<AccountId, Entry>>,
}

impl PauseBook {
    /// `account`'s latest pause (in force at `now` or not), read from the store when this
    /// node does not hold it yet.
    pub(crate) async fn latest<S: Store>(
        &self,
        store: &S,
        account: AccountId,
        now: i64,
    ) -> Result<Option<PauseRecord>, StoreError> {
        if let Some(entry) = self.entries.lock().expect("pause lock").get(&account) {
            return Ok(entry.pause);
        }
        let pause = store.pause(account).await?;
        self.remember(account, pause, now);
        Ok(pause)
    }

    /// `account`'s pause if it is in force at `now`.
    pub(crate) async fn in_force<S: Store>(
        &self,
        store: &S,
        account: AccountId,
        now: i64,
    ) -> Result<Option<PauseRecord>, StoreError> {
        let latest = self.latest(store, account, now).await?;
        Ok(latest.filter(|p| p.in_force(now)))
    }

    /// Holds `pause` as `account`'s latest, read or written at `now`.
    pub(crate) fn remember(&self, account: AccountId, pause: Option<PauseRecord>, now: i64) {
        let over = !pause.is_some_and(|p| p.in_force(now));
        self.entries
            .lock()
            .expect("pause lock")
            .insert(account, Entry { pause, over });
    }

    /// The pauses held here that are in force at `now`.
    pub(crate) fn paused(&self, now: i64) -> Vec<PauseRecord> {
        let entries = self.entries.lock().expect("pause lock");
        entries
            .values()
            .filter_map(|e| e.pause.filter(|p| p.in_force(now)))
            .collect()
    }

    /// The pauses held here whose `until` came since the last call: each is returned
    /// once, and then counts as over.
    pub(crate) fn ended(&self, now: i64) -> Vec<PauseRecord> {
        let mut entries = self.entries.lock().expect("pause lock");
        let mut ended = Vec::new();
        for entry in entries.values_mut() {
            if let Some(pause) = entry.pause
                && !entry.over
                && !pause.in_force(now)
            {
                entry.over = true;
                ended.push(pause);
            }
        }
        ended
    }
}
