//! The event bus: every live event for an account (pull updates, tier changes, contact,
//! messages, thoughts) passes through a [`Bus`], so a second node can carry them between
//! machines without touching the handlers. [`LocalBus`] is the in-process backend, for a
//! city served by one node; [`nats::NatsBus`] carries events between several nodes.
//!
//! Events are JSON text frames, serialised once by the publisher and shared by every
//! link of the account.
//!
//! With several nodes, each node keeps its own copy of a bond's live state (fixes, tiers,
//! contact, guards). The node that hears something shares it with the others as a
//! [`BondEvent`]; every copy applies it, and each node tells *its own* links what follows
//! from it (pull, tiers, contact) with [`Bus::publish_local`], so every link is told once,
//! by the node it is connected to.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use uuid::Uuid;

use haurach_store::AccountId;

pub mod nats;

/// One serialised server frame, with the sequence number of the message it carries (so a
/// link replaying stored messages can skip live copies it has already sent). As small as
/// it can be: every link's queue holds slots of it (up to `LINK_BACKLOG`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// For a `message` frame: the message's sequence number; [`NONE`] otherwise
    /// (sequence numbers start at 1).
    seq: i64,
    /// For a `message` frame, when the store said: the sequence number of the bond's
    /// message before it (0 for the first); [`NONE`] when unknown.
    after: i64,
    /// The JSON text.
    pub json: Arc<str>,
}

/// [`Frame`]'s "no number".
const NONE: i64 = i64::MIN;

/// What [`Frame::of`] sets aside for a frame's JSON: a pull, the frame sent most, is
/// 150 to 250 bytes.
const FRAME_ROOM: usize = 256;

impl Frame {
    /// A server frame serialised once, with the sequence number of the message it carries.
    pub fn of(frame: &haurach_proto::ServerFrame) -> Frame {
        // Room for a pull or a tier at once: a frame written into an empty string grew
        // it five times over.
        let mut json = Vec::with_capacity(FRAME_ROOM);
        serde_json::to_writer(&mut json, frame).expect("server frames always serialise");
        let json = String::from_utf8(json).expect("serde_json writes UTF-8");
        let seq = match frame {
            haurach_proto::ServerFrame::Message { message } => message.seq,
            _ => NONE,
        };
        Frame {
            seq,
            after: NONE,
            json: json.into(),
        }
    }

    /// A frame as it crossed from another node: its numbers and its JSON.
    pub fn with_numbers(seq: Option<i64>, after: Option<i64>, json: Arc<str>) -> Frame {
        Frame {
            seq: seq.unwrap_or(NONE),
            after: after.unwrap_or(NONE),
            json,
        }
    }

    /// The frame, saying which message of its bond came before the one it carries.
    pub fn after(self, previous: Option<i64>) -> Frame {
        Frame {
            after: previous.unwrap_or(NONE),
            ..self
        }
    }

    /// For a `message` frame: the message's sequence number.
    pub fn seq(&self) -> Option<i64> {
        (self.seq != NONE).then_some(self.seq)
    }

    /// For a `message` frame, when the store said: the sequence number of the bond's
    /// message before it (0 for the first). A link that has sent that one can pass this
    /// frame on without reading the store, even when it came from another node.
    pub fn previous(&self) -> Option<i64> {
        (self.after != NONE).then_some(self.after)
    }
}

/// How a [`Frame::session_ended`] begins: no server frame has this type.
const SESSION_ENDED: &str = r#"{"type":"session_ended","session":""#;

impl Frame {
    /// Not for the socket: tells the links of an account that the session whose token
    /// hashes to `token_hash` was logged out, so the links it opened close. (The hash
    /// names the session; it is not a secret.)
    pub fn session_ended(token_hash: &[u8]) -> Frame {
        Frame {
            seq: NONE,
            after: NONE,
            json: format!("{SESSION_ENDED}{}\"}}", hex(token_hash)).into(),
        }
    }

    /// For a [`Frame::session_ended`]: the ended session's token hash, in hex.
    pub fn ended_session(&self) -> Option<&str> {
        self.json
            .strip_prefix(SESSION_ENDED)
            .and_then(|rest| rest.strip_suffix("\"}"))
    }
}

/// Bytes in lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `text` is `bytes` in lowercase hex ([`hex`]), without writing it out.
pub fn is_hex_of(text: &str, bytes: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    text.len() == bytes.len() * 2
        && bytes
            .iter()
            .zip(text.as_bytes().chunks_exact(2))
            .all(|(b, pair)| pair == [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
}

impl From<&str> for Frame {
    fn from(json: &str) -> Frame {
        Frame {
            seq: NONE,
            after: NONE,
            json: json.into(),
        }
    }
}

impl From<String> for Frame {
    fn from(json: String) -> Frame {
        Frame {
            seq: NONE,
            after: NONE,
            json: json.into(),
        }
    }
}

/// How many frames a link may fall behind before it is closed (and resumes from the store
/// when it reconnects), rather than silently skipping frames. The queue's slots are
/// allocated as they fill, so an idle link does not pay for them.
pub const LINK_BACKLOG: usize = 256;

/// A change to a bond's live state, shared between nodes so each node's copy of the bond
/// stays the same as the others'. Member indexes are 0 (who invited) and 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum BondEvent {
    /// A member sent a position.
    Fix {
        /// The bond.
        bond: Uuid,
        /// Which member.
        idx: u8,
        /// Degrees.
        lat: f64,
        /// Degrees.
        lon: f64,
        /// Metres.
        accuracy_m: f64,
        /// When the fix was taken, Unix milliseconds.
        at_ms: i64,
        /// Set by hand rather than measured (older nodes leave it out: false).
        #[serde(default)]
        by_hand: bool,
        /// When the server heard it, Unix milliseconds.
        received_at: i64,
    },
    /// A member was heard from (a frame, a heartbeat, an HTTP call).
    Heard {
        /// The bond.
        bond: Uuid,
        /// Which member.
        idx: u8,
        /// Unix milliseconds.
        at: i64,
    },
    /// A member guarded or unguarded their thoughts.
    Guard {
        /// The bond.
        bond: Uuid,
        /// Which member.
        idx: u8,
        /// Guarded now.
        on: bool,
    },
    /// Two people bonded: whatever a node believed about them is stale.
    Formed {
        /// The bond.
        bond: Uuid,
        /// The two members.
        members: [Uuid; 2],
    },
    /// A bond ended.
    Ended {
        /// The bond.
        bond: Uuid,
        /// The two members.
        members: [Uuid; 2],
    },
    /// The meeting point was pinned, moved or unpinned (read it again from the store).
    PinChanged {
        /// The bond.
        bond: Uuid,
        /// Whether a pin is set now.
        pinned: bool,
    },
    /// A person's places changed: added, deleted, or arrived at or left (read them again
    /// from the store).
    PlacesChanged {
        /// The person.
        account: Uuid,
    },
    /// A person paused sharing or resumed (read their pause again from the store).
    PauseChanged {
        /// The person.
        account: Uuid,
    },
    /// A partner asked for a glimpse of `asked` (or sent a picture, whose return glimpse
    /// is this): whichever node `asked`'s client answers on must know what was asked.
    GlimpseAsked {
        /// Who is asked for a camera frame.
        asked: Uuid,
        /// Who gets the glimpse.
        asker: Uuid,
        /// The longest side the glimpse may have, pixels.
        side: u32,
        /// Until when the answer is taken, Unix milliseconds.
        expires_ms: i64,
        /// The tier that must still be open when the answer comes.
        tier: haurach_bond::Tier,
    },
    /// A member's device said its battery level (with the fix that follows it).
    Battery {
        /// The bond.
        bond: Uuid,
        /// Which member.
        idx: u8,
        /// Percent, 0 to 100.
        percent: u8,
    },
    /// A partner of a private bond sent a token report (`runtime/private.rs`): kept in
    /// memory by every node holding the bond, never stored.
    Report {
        /// The bond.
        bond: Uuid,
        /// Which member.
        idx: u8,
        /// The report, as the client sent it (checked by the node that heard it).
        report: haurach_proto::TokenReport,
        /// When the server heard it, Unix milliseconds.
        received_at: i64,
    },
    /// A summons was accepted, declined, ended or reached (read it again from the store).
    SummonsChanged {
        /// The summons.
        id: Uuid,
        /// Either party (to read it as).
        party: Uuid,
    },
}

/// What a node does with a [`BondEvent`] another node shared ([`Bus::apply_with`]).
pub type Applier =
    Arc<dyn Fn(BondEvent) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// Who, among the nodes, needs a [`BondEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The nodes holding this bond's runtime: the bond's live state.
    Bond(Uuid),
    /// The nodes where this person has a link open.
    Links(Uuid),
    /// Every node: rare changes that any node may have cached (who is bonded, places,
    /// accepted summonses).
    City,
}

impl BondEvent {
    /// Which nodes need it.
    pub fn audience(&self) -> Audience {
        match self {
            BondEvent::Fix { bond, .. }
            | BondEvent::Heard { bond, .. }
            | BondEvent::Guard { bond, .. }
            | BondEvent::Ended { bond, .. }
            | BondEvent::PinChanged { bond, .. }
            | BondEvent::Battery { bond, .. }
            | BondEvent::Report { bond, .. } => Audience::Bond(*bond),
            BondEvent::GlimpseAsked { asked, .. } => Audience::Links(*asked),
            BondEvent::Formed { .. }
            | BondEvent::PlacesChanged { .. }
            | BondEvent::PauseChanged { .. }
            | BondEvent::SummonsChanged { .. } => Audience::City,
        }
    }
}

/// Keeps this node receiving, from the other nodes, what one account's links or one
/// bond's runtime need, for as long as a clone is held; dropping the last one stops it.
/// So a node receives only the traffic of the people it serves. On one node it holds
/// nothing.
#[derive(Clone, Default)]
pub struct Interest(Option<Kept>);

/// What an [`Interest`] holds: the bus's handle of the subscription (which ends it when
/// the last clone drops) and whether the bus server has it yet.
#[derive(Clone)]
struct Kept {
    _handle: Arc<dyn Send + Sync>,
    ready: tokio::sync::watch::Receiver<bool>,
}

/// The longest a new link or runtime waits for its subscription to reach the bus server
/// (one round trip when it is up). Past it, the link goes on, and what it missed comes
/// from the store at the next gap.
const READY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Interest {
    /// An interest kept alive by `handle`, ready once `ready` says true.
    pub fn kept(
        handle: Arc<dyn Send + Sync>,
        ready: tokio::sync::watch::Receiver<bool>,
    ) -> Interest {
        Interest(Some(Kept {
            _handle: handle,
            ready,
        }))
    }

    /// Waits until the other nodes' events for it reach this node (the bus server has
    /// the subscription), or `READY_WAIT` passes: something published before then may
    /// not arrive, which is why a link replays from the store *after* this.
    pub async fn ready(&self) {
        if let Some(kept) = &self.0 {
            let mut ready = kept.ready.clone();
            let _ = tokio::time::timeout(READY_WAIT, ready.wait_for(|r| *r)).await;
        }
    }
}

/// Carries frames to the links of an account, wherever they are connected.
pub trait Bus: Clone + Send + Sync + 'static {
    /// Sends a frame to every link of `account` on every node (none may be connected: then
    /// it is dropped; what must not be lost is in the store).
    fn publish(&self, account: AccountId, frame: Frame);

    /// Serialises `frame` once and sends it to every link of `account` on every node.
    fn tell(&self, account: AccountId, frame: &haurach_proto::ServerFrame) {
        self.publish(account, Frame::of(frame));
    }

    /// Sends a frame to the links of `account` connected to this node only: for what every
    /// node works out for itself from the shared [`BondEvent`]s.
    fn publish_local(&self, account: AccountId, frame: Frame) {
        self.publish(account, frame);
    }

    /// Receives the frames for `account` from now on (from other nodes once
    /// [`Subscription::ready`]). Dropping the [`Subscription`] ends it.
    fn subscribe(&self, account: AccountId) -> Subscription;

    /// Whether a link of `account` is connected to this node.
    fn has_link(&self, account: AccountId) -> bool;

    /// Receives what other nodes share about `bond` while the [`Interest`] is held: a
    /// node holds it with the bond's runtime. Nothing on one node.
    fn follow_bond(&self, bond: Uuid) -> Interest {
        let _ = bond;
        Interest::default()
    }

    /// Whether several nodes serve the city. Then message frames may arrive out of
    /// sequence order or go missing (a link treats one as a notice and reads the messages
    /// from the store), and what a node remembers of an account can be changed by another
    /// node at any moment (the hub caches less).
    fn several_nodes(&self) -> bool {
        false
    }

    /// Shares a change of a bond's live state with the other nodes (none on one node).
    fn share(&self, event: BondEvent) {
        let _ = event;
    }

    /// Shares `event` like [`Bus::share`], but sends it now, with whatever this node has
    /// gathered for its next write ahead of it (`nats_batch_ms`): for a change its sender
    /// was told is done (a position acknowledged over HTTP), which they may act on at
    /// once through another node.
    fn share_at_once(&self, event: BondEvent) {
        self.share(event);
    }

    /// Says what to do with each change another node shares (the hub applies it). The
    /// bus calls `applier` in the task that received the change, so a bond's changes,
    /// which arrive on one subject, are applied one after the other in the order they
    /// were shared, and different bonds' side by side. Changes that arrive before it is
    /// set wait for it. Unused on one node.
    fn apply_with(&self, applier: Applier) {
        let _ = applier;
    }

    /// Sends a camera frame (glimpse or sight, binary) to the links of `to` on the other
    /// nodes; this node's links get it from the [`Relay`](crate::runtime::relay::Relay) directly.
    /// Live and lossy, like the relay: a frame that finds no room is dropped.
    fn publish_camera(&self, to: AccountId, frame: bytes::Bytes) {
        let _ = (to, frame);
    }

    /// The camera frames other nodes publish, for this node's relay; `None` on one node,
    /// and after the first call.
    fn take_camera_frames(&self) -> Option<mpsc::Receiver<(AccountId, bytes::Bytes)>> {
        None
    }

    /// Whether the bus can reach the other nodes now.
    fn healthy(&self) -> bool {
        true
    }

    /// How many live events this node could not hand to the other nodes since it
    /// started (their queue was full); always 0 on one node.
    fn dropped(&self) -> u64 {
        0
    }
}

/// A stream of frames for one account. A receiver that falls more than [`LINK_BACKLOG`]
/// frames behind gets `Err(Lagged)` and should close its link.
pub struct Subscription {
    /// The link's queue ([`crate::mailbox`]): a frame that finds it full marks it, and the
    /// link is told it lagged.
    rx: crate::mailbox::Receiver<Frame>,
    _guard: SubscriptionGuard,
    interest: Interest,
}

/// The receiver fell behind and frames were lost to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lagged;

impl Subscription {
    /// Waits until frames other nodes publish for the account reach it (see
    /// [`Interest::ready`]); at once on one node.
    pub async fn ready(&self) {
        self.interest.ready().await;
    }

    /// The next frame, `Ok(None)` when the bus is gone.
    pub async fn recv(&mut self) -> Result<Option<Frame>, Lagged> {
        if self.rx.overflowed() {
            return Err(Lagged);
        }
        Ok(self.rx.recv().await)
    }

    /// The next frame if one is waiting, without waiting: `Ok(None)` when none is (or the
    /// bus is gone; [`Subscription::recv`] tells which).
    pub fn try_recv(&mut self) -> Result<Option<Frame>, Lagged> {
        if self.rx.overflowed() {
            return Err(Lagged);
        }
        Ok(self.rx.try_recv())
    }

    /// Gives back the memory of the queue's slots if no frame waits: for a link that has
    /// been quiet (the link calls it at its idle timer's ticks), never per frame.
    pub fn shed(&mut self) {
        self.rx.shed();
    }
}

/// One subscriber's end of the channel, as the bus holds it.
struct Subscriber {
    id: u64,
    tx: crate::mailbox::Sender<Frame>,
}

type Channels = Arc<Mutex<HashMap<AccountId, Vec<Subscriber>>>>;

/// Removes a subscriber from the [`LocalBus`] when its [`Subscription`] is dropped.
struct SubscriptionGuard {
    channels: Channels,
    account: AccountId,
    id: u64,
}

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        let mut channels = self.channels.lock().expect("bus lock poisoned");
        if let Some(subs) = channels.get_mut(&self.account) {
            subs.retain(|s| s.id != self.id);
            if subs.is_empty() {
                channels.remove(&self.account);
            }
        }
    }
}

/// The in-process bus: a bounded queue per connected link (`mailbox.rs`), found by
/// account. An idle link's queue costs one allocation of 80 bytes and its entry here 16
/// (issue 21, idle memory).
#[derive(Clone, Default)]
pub struct LocalBus {
    channels: Channels,
    next_id: Arc<AtomicU64>,
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
        if let Some(subs) = channels.get(&account) {
            for sub in subs {
                // A full queue marks itself: the link is told on its next receive and
                // closes; it resumes from the store. Frames are never skipped without a
                // word.
                let _ = sub.tx.try_send(frame.clone());
            }
        }
    }

    fn subscribe(&self, account: AccountId) -> Subscription {
        let (tx, rx) = crate::mailbox::bounded(LINK_BACKLOG as u32);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut channels = self.channels.lock().expect("bus lock poisoned");
        let subs = channels.entry(account).or_default();
        // Most accounts have one link: room for one, not the four a first push makes.
        subs.reserve_exact(1);
        subs.push(Subscriber { id, tx });
        drop(channels);
        Subscription {
            rx,
            _guard: SubscriptionGuard {
                channels: self.channels.clone(),
                account,
                id,
            },
            interest: Interest::default(),
        }
    }

    fn has_link(&self, account: AccountId) -> bool {
        self.channels
            .lock()
            .expect("bus lock poisoned")
            .contains_key(&account)
    }
}

impl Subscription {
    /// The subscription, keeping `interest` while it lasts.
    fn with(self, interest: Interest) -> Subscription {
        Subscription { interest, ..self }
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
    fn hex_is_recognised_without_being_written() {
        let bytes = [0x00, 0x9f, 0xa0, 0xff];
        assert!(is_hex_of(&hex(&bytes), &bytes));
        assert!(!is_hex_of("009fa0fe", &bytes));
        assert!(!is_hex_of("009FA0FF", &bytes));
        assert!(!is_hex_of("009fa0f", &bytes));
        assert!(!is_hex_of("", &bytes));
        assert!(is_hex_of("", &[]));
    }

    #[test]
    fn a_frame_is_four_words() {
        // Every waiting frame of every link's queue is one of these: a bigger frame costs
        // every busy link (issue 21, idle memory).
        assert_eq!(std::mem::size_of::<Frame>(), 32);
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
