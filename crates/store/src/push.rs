//! Storage of Web Push: the [`PushStore`] trait (a supertrait of [`Store`](crate::Store))
//! and its record. The server's VAPID key (made once, kept, the same for every node),
//! each person's devices' push subscriptions, and the claims that let one node push an
//! event that several nodes see. The backends are in `sqlite/push.rs` and
//! `postgres/push.rs`.

use std::future::Future;

use crate::{AccountId, StoreResult};

/// A device's push subscription, as the browser's `PushSubscription` gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushSubscriptionRecord {
    /// Whose device.
    pub account: AccountId,
    /// The push service's URL for the device (unique: one subscription per endpoint).
    pub endpoint: String,
    /// The device's P-256 public key, base64url.
    pub p256dh: String,
    /// The device's authentication secret, base64url.
    pub auth: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Durable storage of Web Push.
pub trait PushStore {
    /// The kept VAPID private key; when there is none yet, `candidate` is kept and
    /// returned. Two nodes starting at once both get the one that was kept first.
    fn push_key(
        &self,
        candidate: &str,
        now_ms: i64,
    ) -> impl Future<Output = StoreResult<String>> + Send;

    /// Keeps a subscription (replacing one with the same endpoint, whoever had it: a
    /// device belongs to whoever subscribed it last), then keeps only the account's
    /// newest `keep`.
    fn save_push_subscription(
        &self,
        sub: &PushSubscriptionRecord,
        keep: u32,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deletes the account's subscription with this endpoint; whether there was one.
    fn delete_push_subscription(
        &self,
        account: AccountId,
        endpoint: &str,
    ) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Deletes the subscription with this endpoint, whoever's it is (the push service
    /// said it is gone).
    fn forget_push_endpoint(&self, endpoint: &str) -> impl Future<Output = StoreResult<()>> + Send;

    /// The account's subscriptions, oldest first.
    fn push_subscriptions(
        &self,
        account: AccountId,
    ) -> impl Future<Output = StoreResult<Vec<PushSubscriptionRecord>>> + Send;

    /// Whether the push of the event named `key` has been claimed (and not forgotten).
    fn push_claimed(&self, key: &str) -> impl Future<Output = StoreResult<bool>> + Send;

    /// Claims the push of one event, named by `key`: true for the first claim only.
    /// Claims older than `forget_before` are deleted on the way.
    fn claim_push(
        &self,
        key: &str,
        now_ms: i64,
        forget_before: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}
