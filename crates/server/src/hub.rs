//! The hub: where the bond's rules meet storage and the bus. It keeps, per live bond, the
//! runtime state the rules need (fixes, tiers with their hysteresis, contact, stretch,
//! guards) behind one async mutex per bond, so the two partners' updates are applied one
//! at a time and their events go out in order.
//!
//! Handlers (HTTP and the link) call the hub; the hub writes to the store first and
//! publishes on the bus after, so nothing is announced that is not committed.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use haurach_bond::contact::ContactEvent;
use haurach_bond::geo::{Geodesic, inverse_both};
use haurach_bond::pull::{coarsen_distance, pull_along};
use haurach_bond::thoughts::Edit;
use haurach_bond::{Contact, Fix, Profile, StretchDetector, Tier, TierChange, TierState};
use haurach_proto::{
    BondView, ContactState, Feeling, LatLon, Message, MessageKind, Mover, NextTier, PullView,
    SendMessage, ServerFrame, TierView,
};
use time::OffsetDateTime;
use tokio::sync::Mutex as AsyncMutex;

use crate::bus::{BondEvent, Bus, Frame};
use crate::config::Config;
use crate::error::ApiError;
use crate::messages::MessageWriter;
use crate::metrics::Metrics;
use crate::positions::PositionWriter;
use haurach_store::{
    AccountId, Appended, BondId, BondRecord, MessageRecord, NewMessage, PositionRecord, Store,
    StoreError,
};

/// The current time, Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Unix milliseconds as a timestamp.
pub fn timestamp(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Where one partner's bond stands for a tier at a moment ([`Hub::standing`]).
#[derive(Debug, Clone)]
pub struct Standing {
    /// The bond.
    pub bond: BondRecord,
    /// Which member the partner asking is (0 or 1).
    pub idx: usize,
    /// Whether the tier is open.
    pub open: bool,
    /// The strength of the bond (0 while a position is missing).
    pub strength: f64,
    /// The distance as this partner may know it (coarse beyond sight range), if known.
    pub distance_m: Option<f64>,
}

/// The live state of one bond.
pub(crate) struct BondRuntime {
    pub(crate) record: BondRecord,
    pub(crate) tiers: TierState,
    pub(crate) fixes: [Option<Fix>; 2],
    contact: [Contact; 2],
    stretch: [StretchDetector; 2],
    guarded: [bool; 2],
    /// Set when the bond ends, for tasks that looked the runtime up just before.
    ended: bool,
    /// The meeting point's state: recent speeds, the pin, who has reached it.
    pub(crate) needle: crate::meeting::Needle,
    /// The pull each member was last told, so a mover is told their own pull again only
    /// when it changed by something they would notice ([`noticeable`]).
    told: [Option<PullFor>; 2],
    /// Whether this node has opened both journals to the bond since the memories tier
    /// last opened ([`Hub::open_journals`]); false while it is closed.
    journals_opened: bool,
    /// When a live contact of the bond turns lost unless heard again, Unix ms (`i64::MAX`
    /// while neither is live), for the sweep to skip the bonds that cannot be due without
    /// locking them. It may be early, never late: hearing a live partner only moves the
    /// true moment later, and the sweep sets it right when it finds it early; a contact
    /// restored sets it at once ([`BondRuntime::heard`]).
    contact_due: Arc<AtomicI64>,
}

/// The geometry between the partners' latest fixes, computed once per move.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// The geodesic from each member toward the other.
    toward: [Geodesic; 2],
    /// Distance plus both accuracies: what tiers and strength are judged by.
    pessimistic_m: f64,
}

/// What one member is told of the pull.
type PullFor = (PullView, f64, Option<NextTier>);

/// Whether a member told `old` would notice `new`: exactness, the partner's position or
/// the next tier changed, the bearing turned by a degree, a distance moved by a metre (or
/// 0.2 % of it, whichever is more), or the strength by half a percent. Coarse values
/// (beyond sight range) change only in steps, so any change of theirs counts.
fn noticeable(old: &PullFor, new: &PullFor) -> bool {
    let ((op, os, ot), (np, ns, nt)) = (old, new);
    let moved = |a: f64, b: f64| (a - b).abs() >= (0.002 * a.abs()).max(1.0);
    let turned = (op.bearing_deg - np.bearing_deg).rem_euclid(360.0);
    op.exact != np.exact
        || op.position != np.position
        || turned.min(360.0 - turned) >= 1.0
        || moved(op.distance_m, np.distance_m)
        || (os - ns).abs() >= 0.005
        || match (ot, nt) {
            (Some(a), Some(b)) => a.tier != b.tier || moved(a.opens_in_m, b.opens_in_m),
            (None, None) => false,
            _ => true,
        }
}

impl BondRuntime {
    /// Member `idx` was heard at `at`: returns `Restored` when contact was lost.
    fn heard(&mut self, idx: usize, at: i64) -> Option<ContactEvent> {
        let event = self.contact[idx].heard(at);
        if event.is_some() {
            self.note_contact_due();
        }
        event
    }

    /// Publishes when a live contact next turns lost ([`BondRuntime::contact_due`]).
    fn note_contact_due(&self) {
        let due = self
            .contact
            .iter()
            .filter_map(Contact::lost_after_ms)
            .min()
            .unwrap_or(i64::MAX);
        self.contact_due.store(due, Ordering::Relaxed);
    }

    /// The geometry between the partners, when both have a fix (one geodesic inverse).
    fn span(&self) -> Option<Span> {
        let [Some(a), Some(b)] = self.fixes else {
            return None;
        };
        let (ab, ba) = inverse_both(a.lat, a.lon, b.lat, b.lon);
        Some(Span {
            toward: [ab, ba],
            pessimistic_m: ab.distance_m + a.accuracy_or_zero() + b.accuracy_or_zero(),
        })
    }

    /// The pull, strength and next tier as member `idx` sees them.
    fn pull_for(&self, idx: usize, span: &Span) -> Option<PullFor> {
        let partner = self.fixes[1 - idx]?;
        let d = span.pessimistic_m;
        let sight = self.tiers.is_open(Tier::Sight);
        let p = pull_along(span.toward[idx], &partner, sight);
        let profile = self.record.profile;
        let next_tier = Tier::ALL.into_iter().find_map(|tier| {
            let range = profile.range_m(tier)?;
            if self.tiers.is_open(tier) {
                return None;
            }
            let gap = (d - range).max(0.0);
            Some(NextTier {
                tier,
                opens_in_m: if sight { gap } else { coarsen_distance(gap) },
            })
        });
        let view = PullView {
            bearing_deg: p.bearing_deg,
            distance_m: p.distance_m,
            exact: p.exact,
            position: p.position.map(|(lat, lon)| LatLon { lat, lon }),
        };
        Some((view, profile.strength(d), next_tier))
    }

    /// [`BondRuntime::pull_for`] computing the geometry itself.
    fn pull_now(&self, idx: usize) -> Option<PullFor> {
        self.pull_for(idx, &self.span()?)
    }
}

/// The hub. Shared by every handler as `Arc<Hub<S, B>>`.
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
    /// Which bond each account is in (`None`: known to be unbonded), filled on demand.
    /// The index says which member of the bond the account is.
    membership: Mutex<HashMap<AccountId, Option<(BondId, usize)>>>,
    /// Each account's places and whether they are inside, loaded on first use.
    pub(crate) places: crate::places::PlaceCache,
    /// Group-commits positions.
    positions: PositionWriter,
    /// Group-commits messages.
    messages: MessageWriter,
    /// When each account was last heard from since start, bonded or not, so a bond made
    /// a moment after its partner was active starts with contact live.
    last_heard: Mutex<HashMap<AccountId, i64>>,
    /// Accepted summonses, which follow their parties' positions.
    pub summons: crate::summons::Tracker,
}

/// A bond's runtime in the hub's map, with the moment it next needs the sweep, which
/// the sweep reads without taking the runtime's lock.
#[derive(Clone)]
struct BondEntry {
    runtime: Arc<AsyncMutex<BondRuntime>>,
    /// [`BondRuntime::contact_due`], shared.
    contact_due: Arc<AtomicI64>,
}

impl BondEntry {
    fn new(runtime: BondRuntime) -> BondEntry {
        BondEntry {
            contact_due: runtime.contact_due.clone(),
            runtime: Arc::new(AsyncMutex::new(runtime)),
        }
    }
}

/// A bond runtime and which member the caller is.
pub(crate) struct Held {
    runtime: Arc<AsyncMutex<BondRuntime>>,
    pub(crate) idx: usize,
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
    /// A hub over a store and a bus.
    pub fn new(store: S, bus: B, config: Config) -> Hub<S, B> {
        Hub {
            bus,
            config,
            metrics: Metrics::default(),
            bonds: Mutex::new(HashMap::new()),
            membership: Mutex::new(HashMap::new()),
            last_heard: Mutex::new(HashMap::new()),
            places: crate::places::PlaceCache::default(),
            summons: crate::summons::Tracker::default(),
            positions: PositionWriter::start(store.clone()),
            messages: MessageWriter::start(store.clone()),
            store,
        }
    }

    fn timeout_ms(&self) -> i64 {
        (self.config.contact_timeout_s * 1000.0) as i64
    }

    pub(crate) fn publish(&self, to: AccountId, frame: &ServerFrame) {
        publish_to(&self.bus, to, frame);
    }

    /// Tells `to`'s links on this node only (each node tells its own links what follows
    /// from a bond's shared state).
    pub(crate) fn publish_local(&self, to: AccountId, frame: &ServerFrame) {
        self.bus.publish_local(to, Frame::of(frame));
    }

    /// The runtime of `account`'s bond, loading it from the store on first use.
    pub(crate) async fn held(&self, account: AccountId) -> Result<Option<Held>, StoreError> {
        let cached = self
            .membership
            .lock()
            .expect("hub lock")
            .get(&account)
            .copied();
        let record = match cached {
            Some(None) => return Ok(None),
            Some(Some((bond_id, idx))) => {
                if let Some(runtime) = self.runtime_loaded(bond_id) {
                    return Ok(Some(Held { runtime, idx }));
                }
                self.store.bond_of(account).await?
            }
            None => self.store.bond_of(account).await?,
        };
        let Some(record) = record else {
            // With several nodes, another node may bond this account at any moment: an
            // unbonded account is looked up each time (it costs only the unbonded).
            if !self.bus.several_nodes() {
                self.membership
                    .lock()
                    .expect("hub lock")
                    .insert(account, None);
            }
            return Ok(None);
        };
        let idx = record
            .index_of(account)
            .expect("bond_of returns the account's bond");
        let runtime = match self.runtime_loaded(record.id) {
            Some(rt) => rt,
            None => {
                let entry = BondEntry::new(self.load_runtime(record.clone()).await?);
                // Another task may have loaded it meanwhile: keep the first.
                self.bonds
                    .lock()
                    .expect("hub lock")
                    .entry(record.id)
                    .or_insert(entry)
                    .runtime
                    .clone()
            }
        };
        {
            let mut membership = self.membership.lock().expect("hub lock");
            for (i, member) in record.members.into_iter().enumerate() {
                membership.insert(member, Some((record.id, i)));
            }
        }
        Ok(Some(Held { runtime, idx }))
    }

    /// The runtime of `bond` if this node has loaded it.
    fn runtime_loaded(&self, bond: BondId) -> Option<Arc<AsyncMutex<BondRuntime>>> {
        let bonds = self.bonds.lock().expect("hub lock");
        bonds.get(&bond).map(|e| e.runtime.clone())
    }

    async fn load_runtime(&self, record: BondRecord) -> Result<BondRuntime, StoreError> {
        let now = now_ms();
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
        let fixes = positions.map(|p| p.map(|p| p.fix));
        let stretch = fixes.map(|f| StretchDetector::new(self.config.max_speed_kmh, f));
        let mut runtime = BondRuntime {
            tiers: TierState::new(record.open_tiers),
            record,
            fixes,
            contact,
            stretch,
            guarded: [false, false],
            ended: false,
            needle: crate::meeting::Needle::default(),
            told: [None, None],
            journals_opened: false,
            contact_due: Arc::new(AtomicI64::new(0)),
        };
        runtime.note_contact_due();
        // The stored tiers carry the hysteresis; the stored fixes say where the partners
        // are. Tiers are written a moment after they change, so after a crash the two can
        // disagree: the fixes win, and the stored tiers only keep open what the band allows.
        if let Some(span) = runtime.span() {
            let profile = runtime.record.profile;
            if !runtime.tiers.update(profile, span.pessimistic_m).is_empty() {
                self.positions
                    .queue_tiers(runtime.record.id, runtime.tiers.open());
            }
        }
        // Loaded together (after a restart, or on a node that had not held the bond):
        // the journals may not have been opened yet. Opening is idempotent.
        self.open_journals(&mut runtime).await;
        Ok(runtime)
    }

    fn forget_bond(&self, record: &BondRecord) {
        self.bonds.lock().expect("hub lock").remove(&record.id);
        let mut membership = self.membership.lock().expect("hub lock");
        for member in record.members {
            membership.remove(&member);
        }
    }

    fn publish_contact(&self, rt: &BondRuntime, idx: usize, event: ContactEvent) {
        let frame = match event {
            ContactEvent::Lost { .. } => ServerFrame::Contact {
                who: rt.record.names[idx].clone(),
                state: ContactState::Lost,
                lost_for_ms: None,
            },
            ContactEvent::Restored { lost_for_ms } => ServerFrame::Contact {
                who: rt.record.names[idx].clone(),
                state: ContactState::Live,
                lost_for_ms: Some(lost_for_ms),
            },
        };
        for member in rt.record.members {
            self.publish_local(member, &frame);
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
            if let Some(event) = rt.heard(held.idx, now) {
                self.publish_contact(&rt, held.idx, event);
            }
            self.bus.share(BondEvent::Heard {
                bond: rt.record.id.0,
                idx: held.idx as u8,
                at: now,
            });
        }
        Ok(())
    }

    /// Takes a new position: stores it, then moves the bond (tiers, pull, stretch, contact)
    /// and tells both partners. With `durable`, returns only once the position is
    /// committed (HTTP acknowledges it); otherwise it is committed within
    /// [`LINGER`](crate::positions::LINGER) (the link does not acknowledge positions).
    pub async fn position(
        &self,
        account: AccountId,
        fix: Fix,
        durable: bool,
    ) -> Result<(), ApiError> {
        let now = now_ms();
        let record = PositionRecord {
            fix,
            received_at: now,
        };
        if durable {
            self.positions.write(account, record).await?;
        } else {
            self.positions.queue(account, record);
        }
        self.metrics.positions.inc();
        self.last_heard
            .lock()
            .expect("hub lock")
            .insert(account, now);
        self.judge_places(account, &fix).await?;
        crate::summons::moved(self, account, fix).await;
        let Some(held) = self.held(account).await? else {
            return Ok(());
        };
        let mut rt = held.lock().await?;
        self.bus.share(BondEvent::Fix {
            bond: rt.record.id.0,
            idx: held.idx as u8,
            lat: fix.lat,
            lon: fix.lon,
            accuracy_m: fix.accuracy_m,
            at_ms: fix.at_ms,
            received_at: now,
        });
        self.moved(&mut rt, held.idx, fix, now, true).await
    }

    /// Member `idx` of the bond sent `fix`, heard at `now`, on this node (`here`) or on
    /// another. Updates contact, stretch, tiers, the pull and the meeting point, and tells
    /// this node's links.
    async fn moved(
        &self,
        rt: &mut BondRuntime,
        idx: usize,
        fix: Fix,
        now: i64,
        here: bool,
    ) -> Result<(), ApiError> {
        if let Some(event) = rt.heard(idx, now) {
            self.publish_contact(rt, idx, event);
        }
        if let Some(stretch) = rt.stretch[idx].observe(&fix) {
            // Both partners everywhere are told, once, by the node that heard the fix.
            if here {
                let frame = ServerFrame::Stretch {
                    who: rt.record.names[idx].clone(),
                    jump_m: stretch.jump_m,
                    speed_kmh: stretch.speed_kmh,
                };
                for member in rt.record.members {
                    self.publish(member, &frame);
                }
            }
        }
        // An older fix than the one held (a delayed retry) is stored nowhere and moves
        // nothing: the store ignores it the same way.
        if rt.fixes[idx].is_some_and(|held| held.at_ms > fix.at_ms) {
            return Ok(());
        }
        rt.fixes[idx] = Some(fix);
        if rt.fixes[1 - idx].is_none() {
            // The partner's fix may have been stored after this bond was loaded (on
            // another node, or a moment before the bond was made).
            let partner = rt.record.members[1 - idx];
            match self.store.position(partner).await {
                Ok(stored) => rt.fixes[1 - idx] = stored.map(|p| p.fix),
                Err(e) => tracing::warn!(error = %e, "cannot read the partner's position"),
            }
        }
        let Some(span) = rt.span() else {
            return Ok(());
        };
        let profile = rt.record.profile;
        let changes = rt.tiers.update(profile, span.pessimistic_m);
        // Before the memories tier is announced, and before a fix sent over HTTP is
        // acknowledged: the partners are together, their journals open to each other.
        self.open_journals(rt).await;
        if !changes.is_empty() {
            self.positions.queue_tiers(rt.record.id, rt.tiers.open());
            self.publish_tier_changes(rt, &changes);
        }
        for i in 0..2 {
            let Some(now_told) = rt.pull_for(i, &span) else {
                continue;
            };
            // The partner is told of every move (that is the update); the mover only when
            // their own pull changed by what they would notice: a phone at rest sending
            // its GPS noise once a second does not redraw its own compass.
            if i == idx
                && rt.told[i]
                    .as_ref()
                    .is_some_and(|old| !noticeable(old, &now_told))
            {
                continue;
            }
            let (pull, strength, next_tier) = now_told;
            rt.told[i] = Some(now_told);
            let frame = ServerFrame::Pull {
                moved: if i == idx { Mover::You } else { Mover::Partner },
                pull,
                strength,
                next_tier,
            };
            self.publish_local(rt.record.members[i], &frame);
        }
        self.meeting_moved(rt, idx, &fix, now, here, span.toward)
            .await
    }

    /// Applies a change another node shared. Bonds this node has not loaded are skipped:
    /// when it loads one, it reads the state from the store.
    pub async fn apply(&self, event: BondEvent) {
        let bond = match &event {
            BondEvent::Formed { members, .. } => {
                // Whatever this node believed about the two is stale.
                let mut membership = self.membership.lock().expect("hub lock");
                for member in members {
                    membership.remove(&AccountId(*member));
                }
                return;
            }
            BondEvent::PlacesChanged { account } => {
                self.places.forget(AccountId(*account));
                return;
            }
            // The relay's, not the hub's (see `launch`).
            BondEvent::GlimpseAsked { .. } => return,
            BondEvent::SummonsChanged { id, party } => {
                let (id, party) = (haurach_store::city::SummonsId(*id), AccountId(*party));
                crate::summons::refresh(self, id, party).await;
                return;
            }
            BondEvent::Fix { bond, .. }
            | BondEvent::Heard { bond, .. }
            | BondEvent::Guard { bond, .. }
            | BondEvent::Ended { bond, .. }
            | BondEvent::PinChanged { bond, .. } => BondId(*bond),
        };
        let Some(runtime) = self.runtime_loaded(bond) else {
            return;
        };
        let mut rt = runtime.lock().await;
        if rt.ended {
            return;
        }
        match event {
            BondEvent::Fix {
                idx,
                lat,
                lon,
                accuracy_m,
                at_ms,
                received_at,
                ..
            } => {
                let idx = usize::from(idx.min(1));
                self.last_heard
                    .lock()
                    .expect("hub lock")
                    .insert(rt.record.members[idx], received_at);
                let fix = Fix {
                    lat,
                    lon,
                    accuracy_m,
                    at_ms,
                };
                if let Err(e) = self.moved(&mut rt, idx, fix, received_at, false).await {
                    tracing::warn!(error = ?e, "cannot apply a fix another node shared");
                }
            }
            BondEvent::Heard { idx, at, .. } => {
                let idx = usize::from(idx.min(1));
                self.last_heard
                    .lock()
                    .expect("hub lock")
                    .insert(rt.record.members[idx], at);
                if let Some(event) = rt.heard(idx, at) {
                    self.publish_contact(&rt, idx, event);
                }
            }
            BondEvent::Guard { idx, on, .. } => rt.guarded[usize::from(idx.min(1))] = on,
            BondEvent::Ended { .. } => {
                rt.ended = true;
                self.forget_bond(&rt.record);
            }
            BondEvent::PinChanged { pinned, .. } => {
                if let Err(e) = self.meeting_changed(&mut rt, pinned).await {
                    tracing::warn!(error = ?e, "cannot read a pin another node changed");
                }
            }
            BondEvent::Formed { .. }
            | BondEvent::PlacesChanged { .. }
            | BondEvent::SummonsChanged { .. }
            | BondEvent::GlimpseAsked { .. } => {}
        }
    }

    /// Opens both partners' journals to their bond when the memories tier is open and
    /// this node has not opened them since it opened: the moment the partners come
    /// together, whether or not either touches a journal then (`crate::memories`). Called
    /// under the bond's lock after its tiers moved, before the change is announced.
    ///
    /// Every node holding the bond does this for its own copy; the store only marks
    /// entries not yet opened, so the second time is a no-op. A failure is logged and
    /// tried again at the partners' next fix while they are still together (and the
    /// journals also open whenever either touches them together).
    async fn open_journals(&self, rt: &mut BondRuntime) {
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

    fn publish_tier_changes(&self, rt: &BondRuntime, changes: &[TierChange]) {
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

    /// The bond as `account` sees it, or `None` when unbonded.
    pub async fn bond_view(&self, account: AccountId) -> Result<Option<BondView>, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Ok(None);
        };
        let (record, view) = {
            let Ok(rt) = held.lock().await else {
                return Ok(None);
            };
            let idx = held.idx;
            let partner = 1 - idx;
            let profile = rt.record.profile;
            let tiers: BTreeMap<Tier, TierView> = Tier::ALL
                .into_iter()
                .map(|t| {
                    (
                        t,
                        TierView {
                            open: rt.tiers.is_open(t),
                            range_m: profile.range_m(t),
                        },
                    )
                })
                .collect();
            let pulled = rt.pull_now(idx);
            let view = BondView {
                id: rt.record.id.0,
                partner: rt.record.names[partner].clone(),
                profile,
                strength: pulled.map_or(0.0, |p| p.1),
                tiers,
                pull: pulled.map(|p| p.0),
                next_tier: pulled.and_then(|p| p.2),
                contact: if rt.contact[partner].is_live() {
                    ContactState::Live
                } else {
                    ContactState::Lost
                },
                partner_guarded: rt.guarded[partner],
                alarms: Vec::new(),
                last_seq: 0,
                since: timestamp(rt.record.created_at),
            };
            (rt.record.clone(), view)
        };
        let alarms = self.store.raised_alarms(record.id).await?;
        let last_seq = self.store.last_seq(record.id).await?;
        Ok(Some(BondView {
            alarms: alarms.iter().map(|m| message_view(&record, m)).collect(),
            last_seq,
            ..view
        }))
    }

    /// Where `account`'s bond stands for `tier` right now, or `None` when unbonded.
    pub async fn standing(
        &self,
        account: AccountId,
        tier: Tier,
    ) -> Result<Option<Standing>, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Ok(None);
        };
        let rt = held.lock().await?;
        let pulled = rt.pull_now(held.idx);
        Ok(Some(Standing {
            bond: rt.record.clone(),
            idx: held.idx,
            open: rt.tiers.is_open(tier),
            strength: pulled.map_or(0.0, |p| p.1),
            distance_m: pulled.map(|p| p.0.distance_m),
        }))
    }

    /// Stores a message if its tier is open and tells both partners. Returns the message
    /// and whether it is new (false: a retry of one already stored).
    pub async fn send_message(
        &self,
        account: AccountId,
        send: SendMessage,
    ) -> Result<(Message, bool), ApiError> {
        validate_message(&send)?;
        self.deliver_message(account, send).await
    }

    /// [`Hub::send_message`] without checking the message's shape: for kinds that only
    /// the server composes (an `image` message, after its picture is stored).
    pub(crate) async fn deliver_message(
        &self,
        account: AccountId,
        send: SendMessage,
    ) -> Result<(Message, bool), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        // The caller has been heard already: the HTTP extractor and the link both say so.
        let rt = held.lock().await?;
        let tier = send.kind.tier();
        if !rt.tiers.is_open(tier) {
            // A retry of a message accepted before the partners drifted apart still gets
            // its answer; a new one is refused without being stored.
            if let Some(stored) = self.store.message_by_client_id(account, &send.id).await? {
                return Ok((message_view(&rt.record, &stored), false));
            }
            let distance = rt.pull_now(held.idx).map(|p| p.0.distance_m);
            return Err(ApiError::tier_closed(
                tier,
                rt.record.profile.range_m(tier),
                distance,
            ));
        }
        let record = rt.record.clone();
        // The bond is free again before the commit: messages of one bond may share a
        // batch. The writer publishes each new message right after the commit, in
        // sequence order, so links (which skip what they have seen by sequence number)
        // never see a later message before an earlier one.
        drop(rt);
        let announce = {
            let (bus, record) = (self.bus.clone(), record.clone());
            Box::new(move |appended: &Appended| {
                if let Appended::New(m) = appended {
                    let frame = ServerFrame::Message {
                        message: message_view(&record, m),
                    };
                    for member in record.members {
                        publish_to(&bus, member, &frame);
                    }
                }
            })
        };
        let appended = self
            .messages
            .append(
                NewMessage {
                    bond: record.id,
                    sender: account,
                    client_id: send.id.clone(),
                    kind: send.kind,
                    body: send.body.clone(),
                    feeling: send.feeling,
                    sent_at: now_ms(),
                },
                announce,
            )
            .await?;
        let (stored, is_new) = match appended {
            Appended::Existing(m) => (m, false),
            Appended::Conflict(_) => {
                return Err(ApiError::conflict(
                    "message_id_reused",
                    format!(
                        "you already sent a different message with id {:?}; use a new id",
                        send.id
                    ),
                ));
            }
            Appended::New(m) => (m, true),
        };
        if is_new {
            self.metrics.messages.inc();
        }
        let message = message_view(&record, &stored);
        Ok((message, is_new))
    }

    /// A page of the bond's messages after `after`.
    pub async fn messages(
        &self,
        account: AccountId,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let record = held.lock().await?.record.clone();
        let mut page = self
            .store
            .messages_after(record.id, after, limit + 1)
            .await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        Ok((
            page.iter().map(|m| message_view(&record, m)).collect(),
            more,
        ))
    }

    /// The receiver acknowledges an alarm; both partners are told.
    pub async fn acknowledge_alarm(
        &self,
        account: AccountId,
        seq: i64,
    ) -> Result<Message, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let rt = held.lock().await?;
        let alarm = match self
            .store
            .acknowledge_alarm(rt.record.id, seq, account, now_ms())
            .await
        {
            Ok(alarm) => alarm,
            Err(StoreError::NotFound(_)) => {
                return Err(ApiError::not_found(
                    "alarm_not_found",
                    format!("there is no alarm {seq} in your bond"),
                ));
            }
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::conflict(
                    "own_alarm",
                    "you raised this alarm: only your partner can acknowledge it",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let frame = ServerFrame::AlarmAcknowledged {
            seq,
            by: rt.record.names[held.idx].clone(),
        };
        for member in rt.record.members {
            self.publish(member, &frame);
        }
        Ok(message_view(&rt.record, &alarm))
    }

    /// The caller has seen every message up to `seq`.
    pub async fn delivered(&self, account: AccountId, seq: i64) -> Result<(), ApiError> {
        Ok(self.store.set_delivered(account, seq).await?)
    }

    /// Passes a batch of thought edits to the partner, if thoughts are open and the
    /// sender is not guarding them. Never stored. Returns whether it passed.
    pub async fn thought(
        &self,
        account: AccountId,
        seq: u64,
        reset: bool,
        edits: Vec<Edit>,
    ) -> Result<bool, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let rt = held.lock().await?;
        if rt.guarded[held.idx] || !rt.tiers.is_open(Tier::Thoughts) {
            return Ok(false);
        }
        self.metrics.thoughts.inc();
        let frame = ServerFrame::Thought { seq, reset, edits };
        self.publish(rt.record.members[1 - held.idx], &frame);
        Ok(true)
    }

    /// Guards or unguards the caller's thoughts; the partner is told.
    pub async fn guard(&self, account: AccountId, on: bool) -> Result<(), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let mut rt = held.lock().await?;
        if rt.guarded[held.idx] != on {
            rt.guarded[held.idx] = on;
            self.bus.share(BondEvent::Guard {
                bond: rt.record.id.0,
                idx: held.idx as u8,
                on,
            });
            let partner = rt.record.members[1 - held.idx];
            self.publish(partner, &ServerFrame::Guard { on });
            if on {
                // Whatever the partner had on screen is withdrawn: an empty reset.
                let clear = ServerFrame::Thought {
                    seq: 0,
                    reset: true,
                    edits: Vec::new(),
                };
                self.publish(partner, &clear);
            }
        }
        Ok(())
    }

    /// Makes an invite code for `account`, who must not be bonded.
    pub async fn create_invite(&self, account: AccountId) -> Result<(String, i64), ApiError> {
        if self.held(account).await?.is_some() {
            return Err(ApiError::conflict(
                "already_bonded",
                "you are bonded already: end the bond before inviting someone else",
            ));
        }
        let now = now_ms();
        let expires = now + (self.config.invite_ttl_h * 3_600_000.0) as i64;
        // A collision among 29^8 codes is unlikely but possible: try a few.
        for _ in 0..5 {
            let code = crate::auth::invite_code();
            match self.store.create_invite(&code, account, now, expires).await {
                Ok(()) => return Ok((crate::auth::display_code(&code), expires)),
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(ApiError::internal("five invite codes in a row collided"))
    }

    /// Accepts an invite and makes the bond; both partners are told.
    pub async fn accept_invite(
        &self,
        account: AccountId,
        code: &str,
        profile: Profile,
    ) -> Result<BondView, ApiError> {
        let code = crate::auth::normalise_code(code).ok_or_else(|| {
            ApiError::invalid(
                "invalid_invite_code",
                "an invite code is eight letters and digits, like K7QF-3MZP",
            )
        })?;
        let initial = TierState::initial(profile).open();
        let record = match self
            .store
            .accept_invite(&code, account, profile, initial, now_ms())
            .await
        {
            Ok(record) => record,
            Err(StoreError::NotFound("invite_expired")) => {
                return Err(ApiError::not_found(
                    "invite_expired",
                    "this invite code has expired: ask your partner for a new one",
                ));
            }
            Err(StoreError::NotFound(_)) => {
                return Err(ApiError::not_found(
                    "invite_not_found",
                    "no invite has this code: check it with your partner",
                ));
            }
            Err(StoreError::Conflict("own_invite")) => {
                return Err(ApiError::invalid(
                    "own_invite",
                    "this is your own invite code: give it to your partner to accept",
                ));
            }
            Err(StoreError::Conflict("already_bonded")) => {
                return Err(ApiError::conflict(
                    "already_bonded",
                    "you are bonded already: end the bond before accepting another",
                ));
            }
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::conflict(
                    "partner_bonded",
                    "whoever made this invite has bonded with someone else since",
                ));
            }
            Err(e) => return Err(e.into()),
        };
        self.forget_bond(&record);
        self.bus.share(BondEvent::Formed {
            bond: record.id.0,
            members: record.members.map(|m| m.0),
        });
        // Positions known before the bond existed count from the start.
        if let Some(held) = self.held(account).await? {
            let mut rt = held.lock().await?;
            if let Some(span) = rt.span() {
                let changes = rt.tiers.update(profile, span.pessimistic_m);
                // Bonded while together: their journals open at once.
                self.open_journals(&mut rt).await;
                if !changes.is_empty() {
                    self.positions.queue_tiers(rt.record.id, rt.tiers.open());
                }
            }
        }
        for member in record.members {
            if let Some(view) = self.bond_view(member).await? {
                let frame = ServerFrame::Bonded {
                    bond: Box::new(view),
                };
                self.publish(member, &frame);
            }
        }
        self.bond_view(account)
            .await?
            .ok_or_else(|| ApiError::internal("a bond just made cannot be found"))
    }

    /// Ends the caller's bond; both partners are told.
    pub async fn end_bond(&self, account: AccountId) -> Result<(), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let mut rt = held.lock().await?;
        self.store.end_bond(rt.record.id, now_ms()).await?;
        rt.ended = true;
        self.forget_bond(&rt.record);
        self.bus.share(BondEvent::Ended {
            bond: rt.record.id.0,
            members: rt.record.members.map(|m| m.0),
        });
        for member in rt.record.members {
            self.publish(member, &ServerFrame::BondEnded);
        }
        Ok(())
    }

    /// Declares lost every partner silent for longer than the contact timeout. Called
    /// periodically by the server.
    pub async fn sweep(&self) {
        let now = now_ms();
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
    }
}

/// Serialises a frame once and puts it on the bus for `to`.
pub(crate) fn publish_to<B: Bus>(bus: &B, to: AccountId, frame: &ServerFrame) {
    bus.publish(to, Frame::of(frame));
}

pub(crate) fn not_bonded() -> ApiError {
    ApiError::not_found(
        "not_bonded",
        "you have no partner yet: make an invite or accept your partner's",
    )
}

fn validate_message(send: &SendMessage) -> Result<(), ApiError> {
    if send.id.is_empty() || send.id.chars().count() > 64 {
        return Err(ApiError::invalid(
            "invalid_message_id",
            "a message id must be 1 to 64 characters",
        ));
    }
    let body_len = send.body.as_ref().map_or(0, |b| b.chars().count());
    if body_len > 4000 {
        return Err(ApiError::invalid(
            "body_too_long",
            format!("a message body is at most 4,000 characters, this one has {body_len}"),
        ));
    }
    match send.kind {
        MessageKind::Voice if send.body.as_deref().is_none_or(|b| b.trim().is_empty()) => Err(
            ApiError::invalid("body_required", "a voice message needs a non-empty body"),
        ),
        MessageKind::Voice if send.feeling.is_some() => Err(ApiError::invalid(
            "unexpected_feeling",
            "a voice message carries no feeling; send a feeling message for that",
        )),
        MessageKind::Feeling if send.feeling.is_none() => Err(ApiError::invalid(
            "feeling_required",
            format!(
                "a feeling message needs a feeling, one of: {}",
                Feeling::ALL.map(Feeling::key).join(", ")
            ),
        )),
        MessageKind::Feeling if send.body.is_some() => Err(ApiError::invalid(
            "unexpected_body",
            "a feeling message carries no body; send a voice message for words",
        )),
        MessageKind::Alarm if send.feeling.is_some() => Err(ApiError::invalid(
            "unexpected_feeling",
            "an alarm carries no feeling",
        )),
        MessageKind::Image => Err(ApiError::invalid(
            "use_images_route",
            "send a picture with POST /api/v1/bond/images; its message follows by itself",
        )),
        _ => Ok(()),
    }
}

/// A stored message as the API shows it.
pub fn message_view(bond: &BondRecord, m: &MessageRecord) -> Message {
    let from = bond
        .index_of(m.sender)
        .map(|i| bond.names[i].clone())
        .unwrap_or_default();
    Message {
        seq: m.seq,
        id: m.client_id.clone(),
        from,
        kind: m.kind,
        body: m.body.clone(),
        feeling: m.feeling,
        sent_at: timestamp(m.sent_at),
        acknowledged_at: m.acknowledged_at.map(timestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(bearing_deg: f64, distance_m: f64, strength: f64) -> PullFor {
        let pull = PullView {
            bearing_deg,
            distance_m,
            exact: true,
            position: Some(LatLon { lat: 1.0, lon: 2.0 }),
        };
        let next = NextTier {
            tier: Tier::Memories,
            opens_in_m: distance_m - 25.0,
        };
        (pull, strength, Some(next))
    }

    #[test]
    fn gps_noise_is_not_noticed_but_a_step_or_a_turn_is() {
        let old = told(90.0, 372.0, 0.8);
        assert!(!noticeable(&old, &told(90.2, 372.4, 0.801)));
        assert!(
            noticeable(&old, &told(90.0, 373.5, 0.8)),
            "a metre and a half closer"
        );
        assert!(noticeable(&old, &told(91.5, 372.0, 0.8)), "turned 1.5°");
        assert!(noticeable(&old, &told(90.0, 372.0, 0.81)), "stronger");
        assert!(!noticeable(
            &told(359.7, 372.0, 0.8),
            &told(0.2, 372.0, 0.8)
        ));
        let mut far = told(90.0, 372.0, 0.8);
        far.0.exact = false;
        far.0.position = None;
        assert!(noticeable(&old, &far), "sight closed");
    }
}
