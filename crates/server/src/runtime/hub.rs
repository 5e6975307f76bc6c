//! The hub: the run-time state of one node, and the bonds' core. It keeps, per live
//! bond, the runtime the rules need (`BondRuntime`: fixes, tiers with their
//! hysteresis, contact, stretch, guards) behind one async mutex per bond, so the two
//! partners' updates are applied one at a time and their events go out in order; and
//! the state of the features beside it (places, summonses, the camera relay, where
//! pictures and parcels are kept).
//!
//! Handlers (HTTP and the link) call the hub; the hub writes to the store first and
//! publishes on the bus after, so nothing is announced that is not committed.
//!
//! This file has what every feature builds on: finding and loading a bond's runtime,
//! publishing, contact, and the journals' opening. The hub's other methods are grouped
//! by feature, one file each, above this one: a fix and what other nodes share
//! (`fixes.rs`), messages and thoughts (`messages.rs`), making and ending a bond
//! (`bonding.rs`), places (`places.rs`), the meeting point (`meeting.rs`), glimpse and
//! sight (`sight.rs`), trace strokes (`trace.rs`), the OwnTracks friend (`owntracks.rs`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use haurach_bond::contact::ContactEvent;
use haurach_bond::{Contact, StretchDetector, Tier, TierChange, TierState};
use haurach_proto::{ContactState, PushNote, ServerFrame};
use haurach_store::blobs::Blobs;
use haurach_store::files::Files;
use haurach_store::{AccountId, BondId, BondRecord, PositionRecord, Store, StoreError};
use tokio::sync::Mutex as AsyncMutex;

use super::bond::BondRuntime;
use super::message_writer::MessageWriter;
use super::needle::Needle;
use super::pause_book::PauseBook;
use super::pictures::Pictures;
use super::place_cache::PlaceCache;
use super::position_writer::PositionWriter;
use super::push::Notifier;
use super::relay::Relay;
use super::summons::Tracker;
use crate::bus::{BondEvent, Bus, Frame, Interest};
use crate::clock::now_ms;
use crate::config::Config;
use crate::error::ApiError;
use crate::metrics::Metrics;

/// Where one partner's bond stands for a tier at a moment ([`Hub::standing`]).
#[derive(Debug, Clone)]
pub struct TierStanding {
    /// The bond.
    pub bond: BondRecord,
    /// Which member the partner asking is (0 or 1).
    pub idx: usize,
    /// Whether the tier is open.
    pub open: bool,
    /// The strength of the bond (0 while a position is missing). In a private bond, which
    /// has no distance, the strength at the edge of the narrowest tier open
    /// (`haurach_private::matcher::strength`).
    pub strength: f64,
    /// Whether the bond is private: its content travels sealed.
    pub private: bool,
    /// The distance as this partner may know it (coarse beyond sight range), if known.
    pub distance_m: Option<f64>,
}

/// The hub: the run-time state of one node. Shared by every handler through the HTTP
/// layer's state.
pub struct Hub<S, B> {
    /// Durable storage.
    pub store: S,
    /// Live events.
    pub bus: B,
    /// The configuration the server was started with.
    pub config: Config,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// The runtime of every bond touched since start, by id. The map's lock is held only
    /// to look up or insert (or, in the sweep, to read each bond's contact deadline); each
    /// runtime has its own async lock.
    bonds: Mutex<HashMap<BondId, BondEntry>>,
    /// Which bond each account is in, filled on demand.
    pub(crate) membership: Mutex<Membership>,
    /// Each account's places and whether they are inside, loaded on first use.
    pub(crate) places: PlaceCache,
    /// Group-commits positions.
    pub(crate) positions: PositionWriter,
    /// Group-commits messages.
    pub(crate) messages: MessageWriter,
    /// When each account was last heard from since start, bonded or not, so a bond made
    /// a moment after its partner was active starts with contact live.
    pub(crate) last_heard: Mutex<HashMap<AccountId, i64>>,
    /// With several nodes: when this node last shared that it heard each account, and
    /// what it heard since ([`Hub::heard`]).
    heard_shared: Mutex<HashMap<AccountId, SharedHeard>>,
    /// Accepted summonses, which follow their parties' positions.
    pub summons: Tracker,
    /// Camera frames (glimpse and sight) between partners' links.
    pub relay: Relay,
    /// Where pictures and journal photos are kept, and the permits to decode them.
    pub pictures: Pictures,
    /// Where parcels' bytes are kept (`DATA/parcels`, or PostgreSQL).
    pub blobs: Blobs,
    /// Pushes news to devices whose page is closed.
    pub push: Notifier,
    /// Who has paused sharing.
    pub(crate) pauses: PauseBook,
    /// When each partner's newest token report expires, by private bond, Unix ms
    /// (`i64::MAX`: none held): the end of the report's last epoch. Written under the
    /// bond's lock with each report, read by the sweep, which forgets what expired
    /// (`Hub::expire_reports`).
    pub(crate) reports_expire: Mutex<HashMap<BondId, [i64; 2]>>,
}

/// When a node last shared that it heard an account, and the word of it held back since.
struct SharedHeard {
    at: i64,
    pending: Option<BondEvent>,
}

/// A bond's runtime in the hub's map, with the moment it next needs the sweep, which
/// the sweep reads without taking the runtime's lock.
#[derive(Clone)]
struct BondEntry {
    runtime: Arc<AsyncMutex<BondRuntime>>,
    /// [`BondRuntime::contact_due`], shared.
    contact_due: Arc<AtomicI64>,
    /// When this node last used it for one of its own links or requests (not for what
    /// other nodes share), Unix milliseconds: with several nodes, an entry unused for
    /// long and with no link here is let go ([`Hub::sweep`]).
    used: Arc<AtomicI64>,
    /// Whether the bond is private ([`BondRuntime::matcher`] is set when it is loaded and
    /// never after), known without taking the runtime's lock.
    private: bool,
    /// Keeps what other nodes share about the bond coming to this node.
    _interest: Interest,
}

impl BondEntry {
    fn new(runtime: BondRuntime, interest: Interest) -> BondEntry {
        BondEntry {
            contact_due: runtime.contact_due.clone(),
            private: runtime.matcher.is_some(),
            runtime: Arc::new(AsyncMutex::new(runtime)),
            used: Arc::new(AtomicI64::new(now_ms())),
            _interest: interest,
        }
    }

    /// Member `idx`'s hold of the bond.
    fn held(&self, idx: usize) -> Held {
        Held {
            runtime: self.runtime.clone(),
            idx,
            private: self.private,
        }
    }
}

/// Which bond each account is in (`None`: known to be unbonded), as far as this node
/// has looked; the index says which member of the bond the account is. It counts what it
/// forgets: what was read from the store before an entry was forgotten must not be
/// remembered after, or a bond formed meanwhile would stay hidden (its partners would
/// look unbonded to this node until it restarts).
#[derive(Default)]
pub(crate) struct Membership {
    bonds: HashMap<AccountId, Option<(BondId, usize)>>,
    forgotten: u64,
}

impl Membership {
    /// What is known of `account`: `None` when it was not looked up.
    pub(crate) fn get(&self, account: AccountId) -> Option<Option<(BondId, usize)>> {
        self.bonds.get(&account).copied()
    }

    /// Forgets what is known of `account`: its bond formed or ended, or it is gone.
    pub(crate) fn forget(&mut self, account: AccountId) {
        self.bonds.remove(&account);
        self.forgotten += 1;
    }

    /// Forgets that `account` is in `bond`, if that is what is known.
    fn forget_in(&mut self, account: AccountId, bond: BondId) {
        if matches!(self.get(account), Some(Some((b, _))) if b == bond) {
            self.forget(account);
        }
    }

    /// Keeps what a lookup begun when [`forgotten`](Membership::forgotten) said `seen`
    /// found, unless something was forgotten since (then the caller looks again).
    fn remember(&mut self, seen: u64, found: &[(AccountId, Option<(BondId, usize)>)]) -> bool {
        if self.forgotten != seen {
            return false;
        }
        for (account, bond) in found {
            self.bonds.insert(*account, *bond);
        }
        true
    }
}

/// A bond runtime and which member the caller is.
pub(crate) struct Held {
    pub(crate) runtime: Arc<AsyncMutex<BondRuntime>>,
    pub(crate) idx: usize,
    /// Whether the bond is private, without taking the lock.
    pub(crate) private: bool,
}

impl Held {
    /// Locks the runtime; a bond that ended meanwhile is no bond.
    pub(crate) async fn lock(&self) -> Result<tokio::sync::MutexGuard<'_, BondRuntime>, ApiError> {
        let rt = self.runtime.lock().await;
        if rt.ended {
            return Err(not_bonded());
        }
        Ok(rt)
    }
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// A hub over a store, a bus, and where parcels' and pictures' bytes are kept.
    pub fn new(store: S, bus: B, blobs: Blobs, files: Files, config: Config) -> Hub<S, B> {
        let metrics = Metrics::new(&config);
        Hub {
            relay: Relay::default(),
            push: Notifier::new(&config, metrics.push.clone()),
            pictures: Pictures::new(&config.data, config.max_image_megapixels, files),
            blobs,
            bus,
            config,
            metrics,
            bonds: Mutex::new(HashMap::new()),
            membership: Mutex::new(Membership::default()),
            last_heard: Mutex::new(HashMap::new()),
            heard_shared: Mutex::new(HashMap::new()),
            places: PlaceCache::default(),
            summons: Tracker::default(),
            pauses: PauseBook::default(),
            reports_expire: Mutex::new(HashMap::new()),
            positions: PositionWriter::start(store.clone()),
            messages: MessageWriter::start(store.clone()),
            store,
        }
    }

    fn timeout_ms(&self) -> i64 {
        (self.config.contact_timeout_s * 1000.0) as i64
    }

    pub(crate) fn publish(&self, to: AccountId, frame: &ServerFrame) {
        self.bus.tell(to, frame);
    }

    /// Tells `to`'s links on this node only (each node tells its own links what follows
    /// from a bond's shared state).
    pub(crate) fn publish_local(&self, to: AccountId, frame: &ServerFrame) {
        self.bus.publish_local(to, Frame::of(frame));
    }

    /// The runtime of `account`'s bond, loading it from the store on first use.
    pub(crate) async fn held(&self, account: AccountId) -> Result<Option<Held>, StoreError> {
        // A bond formed or ended while the store was read makes the read stale: look
        // again (twice at most; a third stale read is answered, and not remembered).
        for attempt in 0..3 {
            let last = attempt == 2;
            let (cached, seen) = {
                let membership = self.membership.lock().expect("hub lock");
                (membership.get(account), membership.forgotten)
            };
            let record = match cached {
                Some(None) => return Ok(None),
                Some(Some((bond_id, idx))) => {
                    if let Some(held) = self.held_used(bond_id, idx) {
                        return Ok(Some(held));
                    }
                    self.store.bond_of(account).await?
                }
                None => self.store.bond_of(account).await?,
            };
            let Some(record) = record else {
                // With several nodes, another node may bond this account at any moment:
                // an unbonded account is looked up each time (it costs only the unbonded).
                if self.bus.several_nodes()
                    || self
                        .membership
                        .lock()
                        .expect("hub lock")
                        .remember(seen, &[(account, None)])
                    || last
                {
                    return Ok(None);
                }
                continue;
            };
            let idx = record
                .index_of(account)
                .expect("bond_of returns the account's bond");
            let (held, loaded) = match self.held_used(record.id, idx) {
                Some(held) => (held, false),
                None => {
                    // What other nodes share about the bond comes here from before it is
                    // read, so nothing shared after the read is missed.
                    let interest = self.bus.follow_bond(record.id.0);
                    interest.ready().await;
                    let entry = BondEntry::new(self.load_runtime(record.clone()).await?, interest);
                    // Another task may have loaded it meanwhile: keep the first.
                    let mut bonds = self.bonds.lock().expect("hub lock");
                    (bonds.entry(record.id).or_insert(entry).held(idx), true)
                }
            };
            let found = record
                .members
                .map(|member| (member, record.index_of(member).map(|i| (record.id, i))));
            if self
                .membership
                .lock()
                .expect("hub lock")
                .remember(seen, &found)
                || last
            {
                return Ok(Some(held));
            }
            // The bond may have ended since it was read: let go of the runtime loaded for
            // it, unless another task uses it.
            if loaded {
                let mut bonds = self.bonds.lock().expect("hub lock");
                if bonds
                    .get(&record.id)
                    .is_some_and(|e| Arc::ptr_eq(&e.runtime, &held.runtime))
                {
                    bonds.remove(&record.id);
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The runtime of `bond` if this node has loaded it.
    pub(crate) fn runtime_loaded(&self, bond: BondId) -> Option<Arc<AsyncMutex<BondRuntime>>> {
        let bonds = self.bonds.lock().expect("hub lock");
        bonds.get(&bond).map(|e| e.runtime.clone())
    }

    /// [`Hub::held_loaded`], for this node's own use (which keeps it loaded).
    fn held_used(&self, bond: BondId, idx: usize) -> Option<Held> {
        let bonds = self.bonds.lock().expect("hub lock");
        bonds.get(&bond).map(|e| {
            e.used.store(now_ms(), Ordering::Relaxed);
            e.held(idx)
        })
    }

    /// Member `idx`'s hold of `bond`, if this node has loaded it.
    pub(crate) fn held_loaded(&self, bond: BondId, idx: usize) -> Option<Held> {
        let bonds = self.bonds.lock().expect("hub lock");
        bonds.get(&bond).map(|e| e.held(idx))
    }

    async fn load_runtime(&self, record: BondRecord) -> Result<BondRuntime, StoreError> {
        let now = now_ms();
        let private = self.store.private_keys(record.id).await?.is_some();
        let mut positions = [None, None];
        for (i, member) in record.members.iter().enumerate() {
            positions[i] = self.store.position(*member).await?;
        }
        let contact = std::array::from_fn(|i| {
            let heard = self
                .last_heard
                .lock()
                .expect("hub lock")
                .get(&record.members[i])
                .copied();
            let stored = positions[i].map(|p: PositionRecord| p.received_at);
            Contact::new(self.timeout_ms(), heard.max(stored), now)
        });
        // A member who paused is hidden from the bond until they send a fix: while the
        // pause is in force, and after it while their stored fix is older than it.
        let mut hidden = [false, false];
        for (i, member) in record.members.iter().enumerate() {
            if let Some(pause) = self.pauses.latest(&self.store, *member, now).await? {
                hidden[i] = pause.in_force(now)
                    || positions[i].is_none_or(|p: PositionRecord| p.received_at < pause.since_ms);
            }
        }
        let fixes = positions.map(|p| p.map(|p| p.fix));
        let stretch = std::array::from_fn(|i| {
            let last = if hidden[i] { None } else { fixes[i] };
            StretchDetector::new(self.config.max_speed_kmh, last)
        });
        let mut runtime = BondRuntime {
            tiers: TierState::new(record.open_tiers),
            record,
            fixes,
            contact,
            stretch,
            guarded: [false, false],
            hidden,
            ended: false,
            needle: Needle::default(),
            told: [None, None],
            by_hand: [false, false],
            battery: [None, None],
            journals_opened: false,
            contact_due: Arc::new(AtomicI64::new(0)),
            matcher: None,
        };
        runtime.note_contact_due();
        if private {
            // No report survives a restart or reaches a node that had not held the bond:
            // the ranged tiers are closed until both partners report here.
            let matcher = haurach_private::Matcher::new(runtime.record.profile);
            runtime.tiers = matcher.state();
            runtime.matcher = Some(matcher);
            if runtime.tiers.open() != runtime.record.open_tiers {
                self.positions
                    .queue_tiers(runtime.record.id, runtime.tiers.open());
            }
            return Ok(runtime);
        }
        // The stored tiers carry the hysteresis; the stored fixes say where the partners
        // are. Tiers are written a moment after they change, so after a crash the two can
        // disagree: the fixes win, and the stored tiers only keep open what the band allows.
        // A hidden member's distance is unknown: what needs one is closed.
        let profile = runtime.record.profile;
        let span = runtime.span();
        let hiding = runtime.hidden.contains(&true);
        if span.is_some() || hiding {
            let changes = match span {
                Some(span) => runtime.tiers.update(profile, span.apart),
                None => runtime.tiers.reset(profile, None),
            };
            if !changes.is_empty() {
                self.positions
                    .queue_tiers(runtime.record.id, runtime.tiers.open());
            }
        }
        // Loaded together (after a restart, or on a node that had not held the bond):
        // the journals may not have been opened yet. Opening is idempotent.
        self.open_journals(&mut runtime).await;
        Ok(runtime)
    }

    pub(crate) fn forget_bond(&self, record: &BondRecord) {
        self.bonds.lock().expect("hub lock").remove(&record.id);
        let mut membership = self.membership.lock().expect("hub lock");
        for member in record.members {
            membership.forget(member);
        }
    }

    pub(crate) fn publish_contact(&self, rt: &BondRuntime, idx: usize, event: ContactEvent) {
        let frame = match event {
            ContactEvent::Lost { since_ms } => ServerFrame::Contact {
                who: rt.record.names[idx].clone(),
                state: ContactState::Lost,
                lost_for_ms: None,
                last_heard_ms: Some(since_ms),
            },
            ContactEvent::Restored { lost_for_ms } => ServerFrame::Contact {
                who: rt.record.names[idx].clone(),
                state: ContactState::Live,
                lost_for_ms: Some(lost_for_ms),
                last_heard_ms: None,
            },
        };
        for member in rt.record.members {
            self.publish_local(member, &frame);
        }
        // The partner of whoever went silent or came back is told on their devices too;
        // every node holding the bond sees this, and the claim lets one of them push.
        let who = rt.record.names[idx].clone();
        let (bond, to) = (rt.record.id.0, rt.record.members[1 - idx]);
        match event {
            ContactEvent::Lost { since_ms } => self.push.notify(
                &self.store,
                to,
                PushNote::ContactLost { who },
                format!("contact:{bond}:{idx}:lost:{since_ms}"),
            ),
            ContactEvent::Restored { lost_for_ms } => {
                // The loss this ends: the last time heard before it.
                let since_ms = rt.contact[idx].last_heard_ms().unwrap_or(0) - lost_for_ms;
                self.push.notify_after(
                    &self.store,
                    to,
                    PushNote::ContactRestored { who },
                    format!("contact:{bond}:{idx}:restored:{since_ms}"),
                    format!("contact:{bond}:{idx}:lost:{since_ms}"),
                )
            }
        }
    }

    /// The caller was heard from (any frame on the link, any write over HTTP).
    pub async fn heard(&self, account: AccountId) -> Result<(), ApiError> {
        let now = now_ms();
        self.last_heard
            .lock()
            .expect("hub lock")
            .insert(account, now);
        if let Some(held) = self.held(account).await? {
            let mut rt = held.lock().await?;
            let restored = rt.heard(held.idx, now);
            let heard = BondEvent::Heard {
                bond: rt.record.id.0,
                idx: held.idx as u8,
                at: now,
            };
            if let Some(event) = restored {
                self.publish_contact(&rt, held.idx, event);
                self.bus.share(heard);
            } else {
                self.share_heard(account, heard, now);
            }
        }
        Ok(())
    }

    /// Shares that `account` was heard, at most once per [`Config::sweep_every`]: a
    /// person talking sends a frame per word, and the other nodes need only know they
    /// are there. What is held back goes at the next sweep ([`Hub::flush_heard`]), so
    /// another node's last word of someone is never older than one sweep, well inside
    /// the contact timeout (a quarter of it at most): no node counts them lost early.
    fn share_heard(&self, account: AccountId, heard: BondEvent, now: i64) {
        if !self.bus.several_nodes() {
            return;
        }
        let every = self.config.sweep_every().as_millis() as i64;
        {
            let mut shared = self.heard_shared.lock().expect("hub lock");
            let last = shared.entry(account).or_insert(SharedHeard {
                at: i64::MIN,
                pending: None,
            });
            if now.saturating_sub(last.at) < every {
                last.pending = Some(heard);
                return;
            }
            *last = SharedHeard {
                at: now,
                pending: None,
            };
        }
        self.bus.share(heard);
    }

    /// Shares what [`Hub::share_heard`] held back, and forgets who has been quiet since.
    fn flush_heard(&self, now: i64) {
        let every = self.config.sweep_every().as_millis() as i64;
        let mut held_back = Vec::new();
        self.heard_shared
            .lock()
            .expect("hub lock")
            .retain(|_, last| match last.pending.take() {
                Some(heard) => {
                    held_back.push(heard);
                    last.at = now;
                    true
                }
                None => now.saturating_sub(last.at) < every,
            });
        for heard in held_back {
            self.bus.share(heard);
        }
    }

    /// Opens both partners' journals to their bond when the memories tier is open and
    /// this node has not opened them since it opened: the moment the partners come
    /// together, whether or not either touches a journal then (see the journals' handlers). Called
    /// under the bond's lock after its tiers moved, before the change is announced.
    ///
    /// Every node holding the bond does this for its own copy; the store only marks
    /// entries not yet opened, so the second time is a no-op. A failure is logged and
    /// tried again at the partners' next fix while they are still together (and the
    /// journals also open whenever either touches them together).
    pub(crate) async fn open_journals(&self, rt: &mut BondRuntime) {
        if !rt.tiers.is_open(Tier::Memories) {
            rt.journals_opened = false;
            return;
        }
        if rt.journals_opened {
            return;
        }
        let now = now_ms();
        for member in rt.record.members {
            if let Err(e) = self.store.open_memories(member, rt.record.id, now).await {
                tracing::warn!(error = %e, "cannot open the journals of partners together");
                return;
            }
        }
        rt.journals_opened = true;
    }

    pub(crate) fn publish_tier_changes(&self, rt: &BondRuntime, changes: &[TierChange]) {
        for change in changes {
            let frame = ServerFrame::Tier {
                tier: change.tier,
                open: change.open,
                range_m: rt.record.profile.range_m(change.tier),
            };
            for member in rt.record.members {
                self.publish_local(member, &frame);
            }
        }
    }

    /// Where `account`'s bond stands for `tier` right now, or `None` when unbonded.
    pub async fn standing(
        &self,
        account: AccountId,
        tier: Tier,
    ) -> Result<Option<TierStanding>, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Ok(None);
        };
        let rt = held.lock().await?;
        let pulled = rt.pull_now(held.idx);
        let private = rt.matcher.is_some();
        let strength = if private {
            haurach_private::matcher::strength(rt.record.profile, rt.tiers.open())
        } else {
            pulled.map_or(0.0, |p| p.1)
        };
        Ok(Some(TierStanding {
            bond: rt.record.clone(),
            idx: held.idx,
            open: rt.tiers.is_open(tier),
            strength,
            private,
            distance_m: pulled.map(|p| p.0.distance_m),
        }))
    }

    /// Declares lost every partner silent for longer than the contact timeout, and
    /// closes a private bond's ranged tiers when a partner's newest token report has
    /// expired. Called periodically by the server.
    ///
    /// With several nodes, it also lets go of the runtimes this node no longer needs: no
    /// link of either partner here, and not used here for twice the contact timeout (so
    /// whoever was last heard here has been declared lost here first, and pushed). The
    /// node stops receiving the bond's events with it; it reads the bond from the store
    /// again if it is needed again.
    pub async fn sweep(&self) {
        let now = now_ms();
        if self.bus.several_nodes() {
            self.flush_heard(now);
            self.let_go(now - 2 * self.timeout_ms());
        }
        // Only bonds whose deadline has passed are locked: with thousands of live bonds,
        // locking each every sweep held the links' thread for milliseconds.
        let due: Vec<_> = self
            .bonds
            .lock()
            .expect("hub lock")
            .values()
            .filter(|e| e.contact_due.load(Ordering::Relaxed) < now)
            .map(|e| e.runtime.clone())
            .collect();
        for runtime in due {
            let mut rt = runtime.lock().await;
            for idx in 0..2 {
                if let Some(event) = rt.contact[idx].tick(now) {
                    self.publish_contact(&rt, idx, event);
                }
            }
            rt.note_contact_due();
        }
        // Every node holding a private bond does the same, from the same reports' epochs.
        let expired: Vec<_> = self
            .reports_expire
            .lock()
            .expect("hub lock")
            .iter()
            .filter(|(_, at)| at.iter().any(|at| *at <= now))
            .map(|(bond, _)| *bond)
            .collect();
        for bond in expired {
            if let Some(runtime) = self.runtime_loaded(bond) {
                self.expire_reports(&mut *runtime.lock().await, now).await;
                continue;
            }
            // Let go or ended: a runtime loaded again holds no report. Checked under the
            // map's lock, since a report comes only to a runtime in it.
            let bonds = self.bonds.lock().expect("hub lock");
            if !bonds.contains_key(&bond) {
                self.reports_expire.lock().expect("hub lock").remove(&bond);
            }
        }
    }
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// Lets go of the runtimes not used here since `unused_since` whose partners have no
    /// link here ([`Hub::sweep`]).
    fn let_go(&self, unused_since: i64) {
        let idle: Vec<(BondId, [AccountId; 2])> = {
            let bonds = self.bonds.lock().expect("hub lock");
            bonds
                .iter()
                .filter(|(_, e)| e.used.load(Ordering::Relaxed) < unused_since)
                .filter_map(|(id, e)| {
                    // A runtime in use right now is not idle.
                    let rt = e.runtime.try_lock().ok()?;
                    Some((*id, rt.record.members))
                })
                .collect()
        };
        for (bond, members) in idle {
            if members.iter().any(|m| self.bus.has_link(*m)) {
                continue;
            }
            self.bonds.lock().expect("hub lock").remove(&bond);
            let mut membership = self.membership.lock().expect("hub lock");
            for member in members {
                membership.forget_in(member, bond);
            }
        }
    }
}

/// The problem for a caller who has no bond.
pub(crate) fn not_bonded() -> ApiError {
    ApiError::not_found(
        "not_bonded",
        "you have no partner yet: make an invite or accept your partner's",
    )
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    /// The race CI met once (a private bond's accept answered 500 "a bond just made
    /// cannot be found"): a request of the accepter's reads "unbonded" from the store, the
    /// bond is formed and the membership forgotten, and then the stale read is kept.
    #[test]
    fn a_lookup_begun_before_a_bond_formed_is_not_remembered_after_it() {
        let account = AccountId(Uuid::now_v7());
        let bond = BondId(Uuid::now_v7());
        let mut membership = Membership::default();
        let seen = membership.forgotten;
        // The bond is formed while the store is read.
        membership.forget(account);
        assert!(!membership.remember(seen, &[(account, None)]));
        assert_eq!(membership.get(account), None, "the stale read is not kept");
        // Read again: kept.
        let seen = membership.forgotten;
        assert!(membership.remember(seen, &[(account, Some((bond, 1)))]));
        assert_eq!(membership.get(account), Some(Some((bond, 1))));
        // Forgetting another bond's membership leaves it.
        membership.forget_in(account, BondId(Uuid::now_v7()));
        assert_eq!(membership.get(account), Some(Some((bond, 1))));
        membership.forget_in(account, bond);
        assert_eq!(membership.get(account), None);
    }
}
