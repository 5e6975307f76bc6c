//! Content sealed end to end in a private bond, on this device (issue 20,
//! `docs/privacy.md`): words, feelings, an alarm's words, thoughts, journal entries,
//! pictures, positions, places' news and the meeting point are sealed before they leave it, and what the partner sealed is opened here before it is
//! shown. The server carries only the sealed strings (`haurach_proto::sealed`); the pull
//! toward the partner is worked out here, from this device's own fix and the partner's
//! sealed position. What the partner sealed and the server sends again (an earlier
//! message under a new number, an older position or thought) is refused here
//! (`haurach_private::seen`): not shown, and said to be sent again. The stretch of an
//! implausible jump, which the server cannot see, is judged here from this device's own
//! fixes and sealed inside the position (`FixContent::stretch`).

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use haurach_bond::geo::{self, Fix};
use haurach_bond::{Disclosure, StretchDetector, Tier, TierSet, TierState};
use haurach_private::rounding::{self, Cell, Known};
use haurach_private::{BondKey, Place, Role, Sealer, Seen, Verdict};
use haurach_proto::sealed::{Envelope, FixContent, MEMORY, POSITION, StretchContent, THOUGHT};
use haurach_proto::sealed_pictures::{self, PictureContent};
use haurach_proto::{
    BondView, Feeling, LatLon, MemoryList, MemoryView, Message, MessageKind, PrivateBondView,
    PullView, SealedFixUpdate, TokenReport,
};
use reqwest::Method;
use uuid::Uuid;

use super::api::Api;
use super::context::Context;
use super::place_book::PlaceBook;
use super::private::{self, Standing};

/// What this device needs to seal and open in its private bond.
pub struct Sealing {
    key: BondKey,
    sealer: Sealer,
    bond: Uuid,
    me: Role,
    keeping: Keeping,
    /// The city's plausible top speed, km/h, which this device judges its own jumps by:
    /// asked of the server the first time a fix is sent.
    max_speed_kmh: OnceLock<f64>,
    /// The stretch of the partner's latest position, when this command was the first on
    /// this device to open it (the only one that can tell it: [`Sealing::stretch_note`]).
    heard_stretch: Mutex<Option<StretchContent>>,
}

/// Where the counter of what this device sealed, and its latest fix, are kept.
enum Keeping {
    /// In `HOME/private.toml`: the home directory, the server and the person.
    Home(PathBuf, String, String),
    /// In memory, for a device that lives as long as one command (`replay --private`).
    Memory(Box<Mutex<Kept>>),
}

/// What a device that keeps nothing on disk keeps in memory.
#[derive(Default)]
struct Kept {
    /// The counter of the last thing it sealed.
    sealed: u64,
    /// Its latest fix.
    fix: Option<Fix>,
    /// The cell it last sealed its position to.
    cell: Option<Cell>,
    /// The fix the next one's stretch is judged from (none after a pause).
    stretch_from: Option<Fix>,
    /// Which of the partner's counters it opened where.
    seen: Seen,
    /// Its places and what it knows of the meeting point.
    book: PlaceBook,
}

/// What became of a sealed thing of the partner's that arrived.
#[derive(Debug, Clone, PartialEq)]
pub enum Opened<T> {
    /// It opened and may be shown.
    Shown(T),
    /// It does not open: changed on the way, or not of this bond.
    Unopenable,
    /// It opened, and this device opened it before elsewhere: the server sent it again.
    Replayed,
    /// An older position or thought than the newest shown, which overtook it on the way.
    Older,
}

impl<T> Opened<T> {
    /// The content, when it may be shown.
    pub fn shown(self) -> Option<T> {
        match self {
            Opened::Shown(content) => Some(content),
            _ => None,
        }
    }
}

impl Sealing {
    /// The sealing of `name`'s bond on this device: `None` when the bond is plain. Fails
    /// when the partner's device has not confirmed the keys (nothing may be sealed yet)
    /// or the keys do not match.
    pub async fn of(ctx: &Context, name: &str, api: &Api) -> anyhow::Result<Option<Sealing>> {
        let key = match private::standing(ctx, name, api).await? {
            Standing::Plain => return Ok(None),
            Standing::Waiting => anyhow::bail!(
                "your partner's device has not confirmed the bond's keys yet: nothing was sent \
                 (it confirms the next time they use haurach)"
            ),
            Standing::Confirmed(key) => key,
        };
        let view: BondView = api.get("/api/v1/bond").await?;
        Ok(Some(Sealing {
            sealer: Sealer::new(&key),
            key,
            bond: view.id,
            me: private::role(ctx, name)?,
            keeping: Keeping::Home(ctx.home.clone(), ctx.server.clone(), name.to_owned()),
            max_speed_kmh: OnceLock::new(),
            heard_stretch: Mutex::default(),
        }))
    }

    /// The sealing of a device that keeps nothing on disk: `me` in `bond`, with `key`,
    /// judging its jumps at `max_speed_kmh`.
    pub fn in_memory(key: BondKey, bond: Uuid, me: Role, max_speed_kmh: f64) -> Sealing {
        Sealing {
            sealer: Sealer::new(&key),
            key,
            bond,
            me,
            keeping: Keeping::Memory(Box::default()),
            max_speed_kmh: OnceLock::from(max_speed_kmh),
            heard_stretch: Mutex::default(),
        }
    }

    fn envelope<'a>(&self, mine: bool, kind: &'a str) -> Envelope<'a> {
        Envelope {
            bond: self.bond,
            from: if mine { self.me } else { self.me.other() },
            kind,
        }
    }

    /// Seals the renditions of a picture (`haurach_proto::sealed_pictures`), all under
    /// this device's next counter: each `(side, sealed rendition)`, in the order given.
    pub fn seal_picture(
        &self,
        renditions: &[PictureContent],
    ) -> anyhow::Result<Vec<(u32, Vec<u8>)>> {
        let counter = self.next_counter()?;
        renditions
            .iter()
            .map(|r| {
                let sealed = sealed_pictures::seal(&self.sealer, self.bond, self.me, counter, r)?;
                Ok((r.side, sealed))
            })
            .collect()
    }

    /// Opens a sealed rendition of picture `id` (sent by this device's person: `mine`)
    /// that the server said is `side` pixels on its longest side.
    pub fn open_picture(
        &self,
        mine: bool,
        id: &str,
        side: u32,
        sealed: &[u8],
    ) -> Result<PictureContent, sealed_pictures::OpenError> {
        let from = if mine { self.me } else { self.me.other() };
        sealed_pictures::open(&self.sealer, self.bond, from, id, side, sealed)
    }

    fn next_counter(&self) -> anyhow::Result<u64> {
        Ok(match &self.keeping {
            Keeping::Home(home, server, name) => private::next_counter(home, server, name)?,
            Keeping::Memory(kept) => {
                let mut kept = kept.lock().expect("sealing lock");
                kept.sealed += 1;
                kept.sealed
            }
        })
    }

    /// Whether the partner's sealed thing of `counter`, which opened at `place`, may be
    /// shown; remembered on this device when it is new. A device that cannot write down
    /// what it opened shows nothing it cannot vouch for: it says so, as a replay would be.
    pub fn judge(&self, counter: u64, place: Place<'_>) -> Verdict {
        match &self.keeping {
            Keeping::Home(home, server, name) => private::judge(home, server, name, counter, place)
                .unwrap_or_else(|e| {
                    eprintln!("cannot keep track of what was opened here: {e:#}");
                    Verdict::Replayed
                }),
            Keeping::Memory(kept) => {
                kept.lock()
                    .expect("sealing lock")
                    .seen
                    .open(counter, place)
                    .0
            }
        }
    }

    /// Opens the partner's sealed thought and judges it (a latest kind): its counter and
    /// text.
    pub fn open_thought(&self, sealed: &str) -> Opened<(u64, String)> {
        let Some((counter, content)) = self.open(false, THOUGHT, sealed) else {
            return Opened::Unopenable;
        };
        match self.judge(counter, Place::Latest(THOUGHT)) {
            Verdict::Fresh | Verdict::Again => {
                Opened::Shown((counter, String::from_utf8_lossy(&content).into_owned()))
            }
            Verdict::Replayed => Opened::Replayed,
            Verdict::Older => Opened::Older,
        }
    }

    /// Seals `content` as this device's next sealed thing of `kind`.
    pub fn seal(&self, kind: &str, content: &[u8]) -> anyhow::Result<String> {
        let counter = self.next_counter()?;
        Ok(self
            .envelope(true, kind)
            .seal(&self.sealer, counter, content)?)
    }

    /// Seals `content` (bytes, a journal photo's) as this device's next sealed thing of
    /// `kind`: `counter ‖ nonce ‖ ciphertext ‖ tag`, uploaded as they are.
    pub fn seal_bytes(&self, kind: &str, content: &[u8]) -> anyhow::Result<Vec<u8>> {
        let counter = self.next_counter()?;
        Ok(self
            .envelope(true, kind)
            .seal_frame(&self.sealer, counter, content)?)
    }

    /// Opens sealed bytes of this bond (`seal_bytes`'), by this device's person (`mine`)
    /// or the partner: the content, or `None` when they do not open.
    pub fn open_bytes(&self, mine: bool, kind: &str, bytes: &[u8]) -> Option<Vec<u8>> {
        self.envelope(mine, kind)
            .open_frame(&self.sealer, bytes)
            .ok()
            .map(|(_, content)| content)
    }

    /// This person's places and what this device knows of the meeting point and the
    /// partner's places (`super::sealed_places`).
    pub fn place_book(&self) -> anyhow::Result<PlaceBook> {
        match &self.keeping {
            Keeping::Home(home, server, name) => private::place_book(home, server, name),
            Keeping::Memory(kept) => Ok(kept.lock().expect("sealing lock").book.clone()),
        }
    }

    /// Writes down `book`.
    pub fn keep_place_book(&self, book: PlaceBook) -> anyhow::Result<()> {
        match &self.keeping {
            Keeping::Home(home, server, name) => private::keep_place_book(home, server, name, book),
            Keeping::Memory(kept) => {
                kept.lock().expect("sealing lock").book = book;
                Ok(())
            }
        }
    }

    /// This device's latest fix in the bond, if it sent one.
    pub fn last_fix(&self) -> anyhow::Result<Option<Fix>> {
        match &self.keeping {
            Keeping::Home(home, server, name) => private::last_fix(home, server, name),
            Keeping::Memory(kept) => Ok(kept.lock().expect("sealing lock").fix),
        }
    }

    fn remember_fix(&self, fix: &Fix, cell: Option<Cell>) -> anyhow::Result<()> {
        match &self.keeping {
            Keeping::Home(home, server, name) => {
                private::remember_fix(home, server, name, fix, cell)
            }
            Keeping::Memory(kept) => {
                let mut kept = kept.lock().expect("sealing lock");
                kept.fix = Some(*fix);
                kept.stretch_from = Some(*fix);
                kept.cell = cell;
                Ok(())
            }
        }
    }

    /// The cell this device last sealed its position to, kept for the next fix.
    fn kept_cell(&self) -> anyhow::Result<Option<Cell>> {
        match &self.keeping {
            Keeping::Home(home, server, name) => private::kept_cell(home, server, name),
            Keeping::Memory(kept) => Ok(kept.lock().expect("sealing lock").cell),
        }
    }

    /// Starts the stretch afresh: the next fix is judged from nothing, as the plain
    /// bond's server does when a pause starts (a pause is never a stretch).
    pub fn restart_stretch(&self) -> anyhow::Result<()> {
        match &self.keeping {
            Keeping::Home(home, server, name) => private::restart_stretch(home, server, name),
            Keeping::Memory(kept) => {
                kept.lock().expect("sealing lock").stretch_from = None;
                Ok(())
            }
        }
    }

    /// The stretch from this device's previous fix to `fix`, judged here as the plain
    /// bond's server judges it (`haurach_bond::StretchDetector` at the city's
    /// `max_speed_kmh`), sealed to what the partner is told.
    async fn stretch_to(&self, api: &Api, fix: &Fix) -> anyhow::Result<Option<StretchContent>> {
        let max_speed_kmh = match self.max_speed_kmh.get() {
            Some(kmh) => *kmh,
            None => {
                let view: PrivateBondView = api.get("/api/v1/bond/private").await?;
                *self.max_speed_kmh.get_or_init(|| view.max_speed_kmh)
            }
        };
        let from = match &self.keeping {
            Keeping::Home(home, server, name) => private::stretch_from(home, server, name)?,
            Keeping::Memory(kept) => kept.lock().expect("sealing lock").stretch_from,
        };
        Ok(StretchDetector::new(max_speed_kmh, from)
            .observe(fix)
            .map(|stretch| StretchContent::of(&stretch)))
    }

    /// Sends `fix` in the private bond, in place of a position: its token report, then
    /// the same fix rounded at the tiers that report left open, knowing the partner's
    /// latest sealed position and keeping the cell it last sealed while the fix stays
    /// near it (`haurach_private::rounding::round_keeping`), and sealed, with the stretch
    /// from this device's previous fix if it jumped implausibly fast. Remembers the fix on
    /// this device, and judges this person's places and the pinned meeting point by it
    /// (`super::sealed_places`: each arrival and departure sealed for the partner).
    /// Returns the bond as it stands, with the pull worked out here, the stretch sealed,
    /// and the lines that say what the fix arrived at or left.
    pub async fn send_fix(&self, api: &Api, fix: &Fix) -> anyhow::Result<SentFix> {
        let stretch = self.stretch_to(api, fix).await?;
        let before: BondView = api.get("/api/v1/bond").await?;
        let report = TokenReport::of(&haurach_private::tokens::report(
            &self.key,
            before.profile,
            fix,
        ));
        api.empty(Method::PUT, "/api/v1/me/tokens", Some(&report))
            .await?;
        let view: BondView = api.get("/api/v1/bond").await?;
        let known = Known {
            profile: view.profile,
            tiers: tiers_of(&view),
            partner: self.partner_fix(&view).map(|p| p.partner()),
        };
        let shared = rounding::round_keeping(fix, &known, self.kept_cell()?.as_ref());
        let content = FixContent {
            stretch,
            ..FixContent::of(&shared)
        };
        let sealed = self.seal(POSITION, &content.sealed_bytes())?;
        api.empty(
            Method::PUT,
            "/api/v1/me/sealed-fix",
            Some(&SealedFixUpdate { sealed }),
        )
        .await?;
        // Judged before the fix is kept: a point pinned meanwhile is taken as reached
        // without news only from where this device was before (`catch_up`). A device that
        // keeps nothing (`replay --private`) has no places.
        let news = match &self.keeping {
            Keeping::Home(_, _, name) => self.judge_fix(api, name, fix, &view).await?,
            Keeping::Memory(_) => Vec::new(),
        };
        self.remember_fix(fix, shared.cell())?;
        Ok(SentFix {
            view: self.with_pull(view)?,
            stretch,
            news,
        })
    }

    /// The partner's latest sealed position in `view`, opened; `None` when there is none,
    /// it does not open, or it may not be shown (an older one than this device opened).
    pub fn partner_fix(&self, view: &BondView) -> Option<FixContent> {
        let kept = view.partner_sealed_fix.as_ref()?;
        let fix = self.opened_fix(&kept.sealed).shown()?;
        if fix.stretch.is_some() {
            *self.heard_stretch.lock().expect("sealing lock") = fix.stretch;
        }
        Some(fix)
    }

    /// The line telling of the partner's stretch, when this command opened their latest
    /// position first on this device: a stretch is told once, by whichever command opens
    /// it (`watch`, `where`, `move`), as it is kept only the first time.
    pub fn stretch_note(&self, partner: &str) -> Option<String> {
        let s = self.heard_stretch.lock().expect("sealing lock").take()?;
        Some(super::show::stretch(partner, s.jump_m, s.speed_kmh()))
    }

    /// A line to print when the partner's latest sealed position in `view` is one the
    /// server sent again (older than one this device opened): it is not used.
    fn replayed_fix_note(&self, view: &BondView) -> Option<String> {
        let kept = view.partner_sealed_fix.as_ref()?;
        matches!(self.opened_fix(&kept.sealed), Opened::Replayed).then(|| {
            format!(
                "the server sent an earlier position of {}'s again, so it is not shown",
                view.partner
            )
        })
    }

    /// A line to print when the partner's latest sealed position is still rough: it may
    /// be farther from them than the whole distance to it (their device sealed it knowing
    /// little of where this one is, and narrows it as both move; narrowed, a cell claims
    /// up to about 0.8 of the distance, as it claims the reach of the cell grown by half a
    /// side, `docs/privacy.md` "Keeping the cell"), or when it is not
    /// shown because the server sent an earlier one again.
    pub fn rough_note(&self, view: &BondView) -> anyhow::Result<Option<String>> {
        if let Some(note) = self.replayed_fix_note(view) {
            return Ok(Some(note));
        }
        let (Some(me), Some(partner)) = (self.last_fix()?, self.partner_fix(view)) else {
            return Ok(None);
        };
        let toward = geo::inverse(me.lat, me.lon, partner.lat, partner.lon).distance_m;
        Ok((!partner.exact && partner.reach_m > toward).then(|| {
            format!(
                "{}'s device has shared only a rough area so far (within {} of that point); \
                 it narrows as you both move",
                view.partner,
                haurach_proto::human::distance(partner.reach_m)
            )
        }))
    }

    /// A sealed position from the partner, opened and judged (a latest kind). Its stretch
    /// is kept only the first time this device opens it, so a stretch is told once
    /// however often the server sends the position again (as the newest, for a `where`
    /// or a link opened later).
    pub fn opened_fix(&self, sealed: &str) -> Opened<FixContent> {
        let Some((counter, content)) = self.open(false, POSITION, sealed) else {
            return Opened::Unopenable;
        };
        let Some(fix) = FixContent::from_bytes(&content) else {
            return Opened::Unopenable;
        };
        match self.judge(counter, Place::Latest(POSITION)) {
            Verdict::Fresh => Opened::Shown(fix),
            Verdict::Again => Opened::Shown(FixContent {
                stretch: None,
                ..fix
            }),
            Verdict::Replayed => Opened::Replayed,
            Verdict::Older => Opened::Older,
        }
    }

    /// `view` with the pull toward the partner and the strength worked out here, from
    /// this device's latest fix and the partner's latest sealed position (as the server
    /// gives them for a plain bond); left without when either is not known.
    pub fn with_pull(&self, mut view: BondView) -> anyhow::Result<BondView> {
        if let (Some(me), Some(partner)) = (self.last_fix()?, self.partner_fix(&view)) {
            let sight = tiers_of(&view).is_open(Tier::Sight);
            let (mut pull, strength) = pull_toward(&me, &partner, sight, view.profile);
            pull.seen_at = view.partner_sealed_fix.as_ref().and_then(|p| p.at);
            view.pull = Some(pull);
            view.strength = strength;
        }
        Ok(view)
    }

    /// Opens what was sealed in this bond, by this device (`mine`) or the partner's: the
    /// sender's counter and the content; `None` when it does not open (changed on the
    /// way, or not of this bond).
    pub fn open(&self, mine: bool, kind: &str, text: &str) -> Option<(u64, Vec<u8>)> {
        self.envelope(mine, kind).open(&self.sealer, text).ok()
    }

    /// A journal entry with its sealed words opened into `body` (`mine`: one of this
    /// device's person's own), as a plain bond's would read; one that does not open says
    /// so in its words.
    pub fn open_entry(&self, mine: bool, entry: &mut MemoryView) {
        if let Some(text) = entry.sealed.take() {
            entry.body = Some(match self.open(mine, MEMORY, &text) {
                Some((_, content)) => String::from_utf8_lossy(&content).into_owned(),
                None => UNOPENABLE_ENTRY.to_owned(),
            });
        }
    }

    /// A message with its sealed content opened into `body` or `feeling`, as a plain
    /// bond's would be; one that does not open says so in its body, and so does one of
    /// the partner's that this device opened before at another sequence number (the
    /// server sent it again: [`REPLAYED`](super::show::REPLAYED)).
    pub fn open_message(&self, me: &str, message: &Message) -> Message {
        let Some(text) = &message.sealed else {
            return message.clone();
        };
        let mine = message.from.eq_ignore_ascii_case(me);
        let mut opened = message.clone();
        opened.sealed = None;
        match self.open(mine, message.kind.key(), text) {
            Some((counter, _))
                if !mine && !self.judge(counter, Place::Message(message.seq)).shows() =>
            {
                opened.body = Some(super::show::REPLAYED.to_owned());
            }
            Some((_, content)) => {
                let content = String::from_utf8_lossy(&content).into_owned();
                match message.kind {
                    MessageKind::Feeling => opened.feeling = Feeling::from_key(&content),
                    _ => opened.body = Some(content),
                }
            }
            None => opened.body = Some(UNOPENABLE.to_owned()),
        }
        opened
    }
}

/// What sending a fix in a private bond gave: the bond as it stands, with the pull worked
/// out here, and the stretch sealed with the fix, if it jumped implausibly fast.
#[derive(Debug)]
pub struct SentFix {
    /// The bond's view.
    pub view: BondView,
    /// The stretch the partner is told of.
    pub stretch: Option<StretchContent>,
    /// What the fix arrived at or left (this person's places, the meeting point), as
    /// lines to show.
    pub news: Vec<String>,
}

/// The open tiers of a bond's view.
pub fn tiers_of(view: &BondView) -> TierState {
    let mut open = TierSet::EMPTY;
    for (tier, t) in &view.tiers {
        if t.open {
            open.insert(*tier);
        }
    }
    TierState::new(open)
}

/// The pull from `me` toward the partner's sealed position, and the strength, as the
/// plain bond's server would show them: exact only when the position is exact and sight
/// is open (`sight`), otherwise the bearing to 5° and the distance to two figures, and
/// the strength of that coarse distance.
pub fn pull_toward(
    me: &Fix,
    partner: &FixContent,
    sight: bool,
    profile: haurach_bond::Profile,
) -> (PullView, f64) {
    let toward = geo::inverse(me.lat, me.lon, partner.lat, partner.lon);
    let at = Fix {
        lat: partner.lat,
        lon: partner.lon,
        accuracy_m: partner.reach_m,
        at_ms: 0,
    };
    let shown = Disclosure::from_sight(sight && partner.exact).pull(toward, &at);
    let pull = PullView {
        bearing_deg: shown.bearing_deg,
        distance_m: shown.distance_m,
        exact: shown.exact,
        position: shown.position.map(|(lat, lon)| LatLon { lat, lon }),
        by_hand: false,
        seen_at: None,
        battery: None,
    };
    (pull, profile.strength(shown.distance_m))
}

/// What is shown in place of sealed content that does not open.
pub const UNOPENABLE: &str = "(sealed, and it does not open: it was changed on the way)";

/// What a journal entry that does not open says instead of its words: it was changed, or
/// sealed in another private bond, whose key this device does not hold.
pub const UNOPENABLE_ENTRY: &str =
    "(sealed, and it does not open here: it was changed on the way, or sealed in another bond)";

/// A journal's sealed entries, on a device that holds no key of a private bond now: each
/// says so in its words.
pub fn keyless_journal(list: &mut MemoryList) {
    for entry in &mut list.memories {
        if entry.sealed.take().is_some() {
            entry.body =
                Some("(sealed in a private bond, and this device holds no key for it)".to_owned());
        }
    }
}
