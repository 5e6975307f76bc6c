//! Storage of "where are you now?": the [`LocateStore`] trait (a supertrait of
//! [`Store`](crate::Store)). A partner's ask is kept in the store rather than in a
//! node's memory because the asked partner's OwnTracks app may post to any node, and
//! it must be told once (`reportLocation`) whichever node that is; the same row limits
//! how often one person may ask, on every node at once. The backends are in
//! `sqlite/locate.rs` and `postgres/locate.rs`.

use std::future::Future;

use crate::{AccountId, StoreResult};

/// Durable storage of partners' asks for a fresh position.
pub trait LocateStore {
    /// `asker` asks `asked` where they are now, at `now_ms`: kept (and pending for the
    /// asked partner's app) unless `asker` asked less than `every_ms` ago. Returns `None`
    /// when kept, or when `asker` may ask again (Unix ms) when refused. One statement, so
    /// two nodes cannot both take an ask within the limit.
    fn ask_locate(
        &self,
        asker: AccountId,
        asked: AccountId,
        now_ms: i64,
        every_ms: i64,
    ) -> impl Future<Output = StoreResult<Option<i64>>> + Send;

    /// Takes the asks made of `asked` at or after `since_ms` and still pending: whether
    /// there was one. Each ask is taken once, so its `reportLocation` is sent once.
    fn take_locate(
        &self,
        asked: AccountId,
        since_ms: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
