//! Storage of a person's pause of sharing: the [`PauseStore`] trait (a supertrait of
//! [`Store`](crate::Store)) and its record. One row per person who ever paused: when
//! their latest pause began and when it ends (none: until they resume; resuming sets it
//! to that moment). A pause whose `until` has passed is over, so every node, and a
//! server after a restart, reads the same answer from the same row. The backends are in
//! `sqlite/pause.rs` and `postgres/pause.rs`.

use std::future::Future;

use crate::{AccountId, StoreResult};

/// A person's pause of sharing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseRecord {
    /// Who paused.
    pub account: AccountId,
    /// When the pause began, Unix milliseconds.
    pub since_ms: i64,
    /// When it ends by itself, Unix milliseconds; `None` until the person resumes.
    pub until_ms: Option<i64>,
}

impl PauseRecord {
    /// Whether the pause is still in force at `now_ms` (it ends at `until_ms` exactly).
    pub fn in_force(&self, now_ms: i64) -> bool {
        self.until_ms.is_none_or(|until| now_ms < until)
    }
}

/// Durable storage of pauses.
pub trait PauseStore {
    /// The account's latest pause, in force or ended (see [`PauseRecord::in_force`]);
    /// `None` when they never paused.
    fn pause(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Option<PauseRecord>>> + Send;

    /// Sets the account's pause, replacing any it had.
    fn set_pause(&self, pause: &PauseRecord) -> impl Future<Output = StoreResult<()>> + Send;

    /// Ends the account's pause now, if one is in force; the pause that was in force
    /// (with `until_ms` as `None`). The row stays, ended at `now_ms`.
    fn end_pause(
        &self,
        account: AccountId,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<Option<PauseRecord>>> + Send;
}
