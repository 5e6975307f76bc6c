//! The event bus: every live event for an account (pull updates, tier changes, contact,
//! messages, thoughts) passes through a [`Bus`], so a second node can carry them between
//! machines without touching the handlers. [`LocalBus`] is the in-process backend.
//!
//! Events are JSON text frames, serialised once by the publisher and shared by every
//! link of the account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

use crate::store::AccountId;

/// One serialised server frame, with the sequence number of the message it carries (so a
/// link replaying stored messages can skip live copies it has already sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// For a `message` frame: the message's sequence number.
    pub seq: Option<i64>,
    /// The JSON text.
    pub json: Arc<str>,
}

impl From<&str> for Frame {
    fn from(json: &str) -> Frame {
        Frame {
            seq: None,
            json: json.into(),
        }
    }
}

impl From<String> for Frame {
    fn from(json: String) -> Frame {
        Frame {
            seq: None,
            json: json.into(),
        }
    }
}

/// How many frames a link may fall behind before it is closed (and resumes from the store
/// when it reconnects), rather than silently skipping frames.
pub const LINK_BACKLOG: usize = 256;

/// Carries frames to the links of an account, wherever they are connected.
pub trait Bus: Clone + Send + Sync + 'static {
    /// Sends a frame to every link of `account` (none may be connected: then it is dropped;
    /// what must not be lost is in the store).
    fn publish(&self, account: AccountId, frame: Frame);

    /// Receives the frames for `account` from now on. Dropping the [`Subscription`] ends it.
    fn subscribe(&self, account: AccountId) -> Subscription;
}

/// A stream of frames for one account. A receiver that falls more than [`LINK_BACKLOG`]
/// frames behind gets `Err(Lagged)` and should close its link.
pub struct Subscription {
    rx: broadcast::Receiver<Frame>,
    _guard: Option<SubscriptionGuard>,
}

/// The receiver fell behind and frames were lost to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

impl Subscription {
    /// The next frame, `Ok(None)` when the bus is gone.
    pub async fn recv(&mut self) -> Result<Option<Frame>, Lagged> {
        match self.rx.recv().await {
            Ok(frame) => Ok(Some(frame)),
            Err(broadcast::error::RecvError::Closed) => Ok(None),
            Err(broadcast::error::RecvError::Lagged(_)) => Err(Lagged),
        }
    }
}

/// Removes an account's channel from the [`LocalBus`] when its last subscriber leaves.
struct SubscriptionGuard {
    channels: Arc<Mutex<HashMap<AccountId, broadcast::Sender<Frame>>>>,
    account: AccountId,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        let mut channels = self.channels.lock().expect("bus lock poisoned");
        // The subscription's receiver is declared before this guard, so it is already
        // dropped: no receiver left means this was the last subscriber.
        if let Some(tx) = channels.get(&self.account)
            && tx.receiver_count() == 0
        {
            channels.remove(&self.account);
        }
    }
}

/// The in-process bus: one broadcast channel per account with at least one link.
#[derive(Clone, Default)]
pub struct LocalBus {
    channels: Arc<Mutex<HashMap<AccountId, broadcast::Sender<Frame>>>>,
}

impl LocalBus {
    /// An empty bus.
    pub fn new() -> LocalBus {
        LocalBus::default()
    }
}

impl Bus for LocalBus {
    fn publish(&self, account: AccountId, frame: Frame) {
        let channels = self.channels.lock().expect("bus lock poisoned");
        if let Some(tx) = channels.get(&account) {
            // An error only means nobody is listening right now.
            let _ = tx.send(frame);
        }
    }

    fn subscribe(&self, account: AccountId) -> Subscription {
        let mut channels = self.channels.lock().expect("bus lock poisoned");
        let rx = channels
            .entry(account)
            .or_insert_with(|| broadcast::channel(LINK_BACKLOG).0)
            .subscribe();
        Subscription {
            rx,
            _guard: Some(SubscriptionGuard {
                channels: self.channels.clone(),
                account,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_reach_every_link_of_the_account_and_no_other() {
        let bus = LocalBus::new();
        let (a, b) = (AccountId::new(), AccountId::new());
        let mut a1 = bus.subscribe(a);
        let mut a2 = bus.subscribe(a);
        let mut b1 = bus.subscribe(b);
        bus.publish(a, "hello".into());
        assert_eq!(a1.recv().await.unwrap(), Some("hello".into()));
        assert_eq!(a2.recv().await.unwrap(), Some("hello".into()));
        bus.publish(b, "other".into());
        assert_eq!(b1.recv().await.unwrap(), Some("other".into()));
    }

    #[tokio::test]
    async fn a_lagging_link_is_told_not_skipped() {
        let bus = LocalBus::new();
        let a = AccountId::new();
        let mut sub = bus.subscribe(a);
        for i in 0..LINK_BACKLOG + 1 {
            bus.publish(a, format!("{i}").into());
        }
        assert!(matches!(sub.recv().await, Err(Lagged)));
    }

    #[test]
    fn the_last_subscriber_leaving_frees_the_channel() {
        let bus = LocalBus::new();
        let a = AccountId::new();
        let s1 = bus.subscribe(a);
        let s2 = bus.subscribe(a);
        drop(s1);
        assert_eq!(bus.channels.lock().unwrap().len(), 1);
        drop(s2);
        assert!(bus.channels.lock().unwrap().is_empty());
    }
}
