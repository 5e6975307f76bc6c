//! The camera relay: glimpse and sight frames between the partners' links, with a small
//! queue per link, the glimpses asked and waiting for their answer, and each sender's
//! flow of sight frames. Checking frames against the bond is in
//! [`sight`](super::sight); the wire format is described there.
//!
//! Frames are never queued without bound: each link of the receiver has a queue of
//! [`VIEW_QUEUE`] frames, and a frame that finds it full is dropped.
//!
//! Ownership: the [`Relay`] (one per server, in the hub) holds a sender per live link of
//! each account; a link holds the receiving end in its [`View`], and dropping the view
//! removes the link from the relay.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use haurach_bond::Tier;

use haurach_store::{AccountId, Store};

use crate::clock::now_ms;
use crate::error::ApiError;

/// First byte of a glimpse frame.
pub const GLIMPSE: u8 = 0x01;
/// Bytes of the id between the first byte and the JPEG of a glimpse the server passes on.
pub const GLIMPSE_ID_LEN: usize = 16;
/// First byte of a sight frame.
pub const SIGHT: u8 = 0x02;
/// First byte of a sealed glimpse, in a private bond.
pub const SEALED_GLIMPSE: u8 = haurach_proto::sealed::GLIMPSE_FRAME;
/// First byte of a sealed sight frame, in a private bond.
pub const SEALED_SIGHT: u8 = haurach_proto::sealed::SIGHT_FRAME;
/// Frames waiting for one link's socket; more are dropped.
pub const VIEW_QUEUE: u32 = 2;
/// How long an asked glimpse waits for its answer.
pub(crate) const GLIMPSE_TTL_MS: i64 = 30_000;
/// How often the sender hears how its sight flows.
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(1);
/// A frame may come this much sooner than the allowed rate says (clocks and encoders
/// jitter).
pub(crate) const RATE_SLACK: f64 = 0.8;
/// A frame may be this much larger than the allowed side (rounding of proportions).
pub(crate) const SIDE_SLACK: f64 = 1.05;

#[derive(Default)]
pub(crate) struct Inner {
    /// Account → (view id, the link's queue).
    viewers: HashMap<AccountId, Vec<(u64, crate::mailbox::Sender<Bytes>)>>,
    /// Sender of a sight → how it flows.
    pub(crate) flows: HashMap<AccountId, Flow>,
    /// Asked account → the glimpse waiting for its answer.
    pub(crate) glimpses: HashMap<AccountId, Pending>,
}

pub(crate) struct Flow {
    pub(crate) window_start: Instant,
    pub(crate) sent: u32,
    pub(crate) delivered: u32,
    pub(crate) last_accepted: Option<Instant>,
}

pub(crate) struct Pending {
    pub(crate) asker: AccountId,
    pub(crate) side: u32,
    pub(crate) expires_ms: i64,
    /// The tier that must still be open when the answer comes: glimpse for an asked
    /// glimpse, images for the return glimpse of a picture sent.
    pub(crate) tier: Tier,
}

/// Camera frames between partners.
#[derive(Default)]
pub struct Relay {
    pub(crate) inner: Arc<Mutex<Inner>>,
    next_view: AtomicU64,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay").finish_non_exhaustive()
    }
}

/// One link's end of the relay: the frames for its socket. Dropping it deregisters the
/// link.
pub struct View {
    /// Binary frames to send to the socket. A [`crate::mailbox`] queue, like the bus's:
    /// no slots allocated until a frame comes, where tokio's would hold a block of slots
    /// for every link, camera or not.
    rx: crate::mailbox::Receiver<Bytes>,
    id: u64,
    account: AccountId,
    inner: Arc<Mutex<Inner>>,
}

impl View {
    /// The next frame for the socket (`None` once the relay is gone).
    pub async fn recv(&mut self) -> Option<Bytes> {
        self.rx.recv().await
    }

    /// Gives back the memory of the queue's slots if no frame waits (see
    /// [`Subscription::shed`](crate::bus::Subscription::shed)).
    pub fn shed(&mut self) {
        self.rx.shed();
    }
}

impl Drop for View {
    fn drop(&mut self) {
        let mut inner = self.inner.lock().expect("relay lock");
        if let Some(views) = inner.viewers.get_mut(&self.account) {
            views.retain(|(id, _)| *id != self.id);
            if views.is_empty() {
                inner.viewers.remove(&self.account);
            }
        }
    }
}

impl Relay {
    /// Drops what is held of `account` (removed from the city): how its sight flows and
    /// the glimpses it asked or was asked for. Its links' views go as the links close.
    pub(crate) fn forget(&self, account: AccountId) {
        let mut inner = self.inner.lock().expect("relay lock");
        inner.flows.remove(&account);
        inner.glimpses.remove(&account);
        inner.glimpses.retain(|_, pending| pending.asker != account);
    }

    /// Registers a link of `account` to receive camera frames.
    pub fn attach(&self, account: AccountId) -> View {
        let (tx, rx) = crate::mailbox::bounded(VIEW_QUEUE);
        let id = self.next_view.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.lock().expect("relay lock");
        let views = inner.viewers.entry(account).or_default();
        // Most accounts have one link: room for one, not the four a first push makes.
        views.reserve_exact(1);
        views.push((id, tx));
        drop(inner);
        View {
            rx,
            id,
            account,
            inner: self.inner.clone(),
        }
    }

    /// Puts a frame in the queue of every link of `to` on this node that has room; true
    /// when at least one took it.
    pub(crate) fn deliver(&self, to: AccountId, frame: Bytes) -> bool {
        let inner = self.inner.lock().expect("relay lock");
        let Some(views) = inner.viewers.get(&to) else {
            return false;
        };
        let mut delivered = false;
        for (_, tx) in views {
            delivered |= tx.try_send(frame.clone()).is_ok();
        }
        delivered
    }

    /// Remembers a glimpse another node asked of `asked`, so an answer arriving here is
    /// taken.
    pub(crate) fn expect_glimpse(
        &self,
        asked: AccountId,
        asker: AccountId,
        side: u32,
        expires_ms: i64,
        tier: Tier,
    ) {
        self.inner.lock().expect("relay lock").glimpses.insert(
            asked,
            Pending {
                asker,
                side,
                expires_ms,
                tier,
            },
        );
    }

    /// Whether `account` allows their camera. Read from the store each time (not cached):
    /// with several nodes, a consent withdrawn on one must hold on every other at once.
    pub async fn consent<S: Store>(&self, store: &S, account: AccountId) -> Result<bool, ApiError> {
        Ok(store.camera_allowed(account).await?)
    }

    /// Records whether `account` allows their camera (committed first).
    pub async fn set_consent<S: Store>(
        &self,
        store: &S,
        account: AccountId,
        allow: bool,
    ) -> Result<(), ApiError> {
        store.set_camera_allowed(account, allow, now_ms()).await?;
        let mut inner = self.inner.lock().expect("relay lock");
        if !allow {
            inner.glimpses.remove(&account);
            inner.flows.remove(&account);
        }
        Ok(())
    }
}
