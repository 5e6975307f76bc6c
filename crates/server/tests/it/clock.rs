//! The hub's time-based behaviour on a paused clock: contact lost after a silence and
//! restored with its length, tiers that do not flap inside their hysteresis band, and the
//! meeting point's recent speeds. The tests drive the [`Hub`] directly (no HTTP, no
//! socket), call [`Hub::sweep`] by hand instead of running the sweeper task, and read
//! what each partner would see from their bus subscriptions and the hub's views.
//!
//! The server's clock (`haurach_server::clock::now_ms`) runs on tokio's time, so under
//! [`tokio::time::pause`] it stands still until a test advances it. Two things keep the
//! tests off real time:
//!
//! - The clock is paused only once the store has done its slow part: the store is opened,
//!   the bond made and both partners' first positions stored while the clock runs, so the
//!   hub has loaded what it keeps in memory (the bond, each partner's places, the meeting
//!   pin). Had the clock been paused before, tokio would move it on by itself whenever
//!   the test waited on SQLite's threads with nothing else to run.
//! - After the pause, the tests call only what the hub answers from memory (`heard`,
//!   `position` without waiting for the commit, `sweep`, `standing`, `meeting_view`)
//!   and read frames without waiting for them, so nothing waits on another thread. What
//!   waits on the store (the bond's view) is read after `tokio::time::resume()`.
//!   [`Clock::advance_to`] checks after every step that the server's clock shows
//!   exactly the time the test has advanced, no more.
//!
//! The end-to-end tests (`link.rs` for contact and tiers, `places.rs` for the meeting
//! point) keep HTTP, the link and the sweeper task covered on a running clock; the timing
//! itself is tested here.

use std::time::Duration;

use haurach_bond::meeting::REST_SPEED_MPS;
use haurach_bond::{Fix, Profile, Tier, geo};
use haurach_proto::{ContactState, MeetingView, ServerFrame};
use haurach_server::Config;
use haurach_server::bus::{Bus, LocalBus, Subscription};
use haurach_server::clock::now_ms;
use haurach_server::runtime::Hub;
use haurach_store::blobs::{Blobs, FsBlobs};
use haurach_store::files::Files;
use haurach_store::{AccountId, Sqlite, Store};
use tempfile::TempDir;

/// Where Spike stands in every test (in Paris).
const HOME: (f64, f64) = (48.8566, 2.3522);

/// The point `north_m` metres due north of [`HOME`].
fn north(north_m: f64) -> (f64, f64) {
    geo::destination(HOME.0, HOME.1, 0.0, north_m)
}

/// A sharp fix at `at`, taken at `at_ms`.
fn fix((lat, lon): (f64, f64), at_ms: i64) -> Fix {
    Fix {
        lat,
        lon,
        accuracy_m: 0.0,
        at_ms,
    }
}

/// The server's clock, paused: it moves only when the test advances it.
struct Clock {
    /// The server's time when the clock was paused, Unix ms.
    t0: i64,
    /// How far the test has advanced it since, ms.
    elapsed_ms: i64,
}

impl Clock {
    fn pause() -> Clock {
        tokio::time::pause();
        Clock {
            t0: now_ms(),
            elapsed_ms: 0,
        }
    }

    /// Advances the clock to `ms` after the pause, and checks that the server's clock
    /// moved by exactly that much: nothing in the test let tokio move it on by itself.
    async fn advance_to(&mut self, ms: i64) {
        assert!(ms >= self.elapsed_ms, "time runs forward");
        tokio::time::advance(Duration::from_millis((ms - self.elapsed_ms) as u64)).await;
        self.elapsed_ms = ms;
        assert_eq!(
            now_ms() - self.t0,
            ms,
            "the server's clock moved only as the test moved it"
        );
    }
}

/// Spike and Amethyst, bonded in one hub over SQLite and the in-process bus, each with a
/// subscription to what their links would be sent.
struct Pair {
    hub: Hub<Sqlite, LocalBus>,
    spike: AccountId,
    amethyst: AccountId,
    sp: Subscription,
    am: Subscription,
    _dir: TempDir,
}

impl Pair {
    /// Bonds the two in `profile`, and stores a first position for each (Spike at
    /// [`HOME`], Amethyst `apart_m` north of him) while the clock still runs, so the hub
    /// loads what it keeps of them. The fixes were taken ten minutes ago: older than any
    /// recent speed looks back, so no speed starts from them. What this sends is drained.
    async fn bonded(profile: Profile, apart_m: f64) -> Pair {
        let dir = tempfile::tempdir().unwrap();
        let store = Sqlite::open(dir.path()).await.unwrap();
        let bus = LocalBus::new();
        let config = Config {
            data: dir.path().to_owned(),
            ..Config::default()
        };
        let hub = Hub::new(
            store.clone(),
            bus.clone(),
            Blobs::Files(FsBlobs::new(dir.path().join("parcels"))),
            Files::Disk(dir.path().to_owned()),
            config,
        );
        let spike = store.create_account("spike", "-", now_ms()).await.unwrap();
        let amethyst = store
            .create_account("amethyst", "-", now_ms())
            .await
            .unwrap();
        let (code, _) = hub.create_invite(spike.id).await.unwrap();
        hub.accept_invite(amethyst.id, &code, profile)
            .await
            .unwrap();
        let mut pair = Pair {
            sp: bus.subscribe(spike.id),
            am: bus.subscribe(amethyst.id),
            hub,
            spike: spike.id,
            amethyst: amethyst.id,
            _dir: dir,
        };
        let then = now_ms() - 600_000;
        pair.hub
            .position(pair.spike, fix(HOME, then), false, true)
            .await
            .unwrap();
        pair.hub
            .position(pair.amethyst, fix(north(apart_m), then), false, true)
            .await
            .unwrap();
        frames(&mut pair.sp);
        frames(&mut pair.am);
        pair
    }

    /// Spike sends a fix at [`HOME`], taken now by the server's clock (over the link: not
    /// waiting for the commit).
    async fn spike_at_home(&self) {
        let fix = fix(HOME, now_ms());
        self.hub
            .position(self.spike, fix, false, false)
            .await
            .unwrap();
    }

    /// Amethyst sends a fix `north_m` north of [`HOME`], taken now.
    async fn amethyst_at(&self, north_m: f64) {
        let fix = fix(north(north_m), now_ms());
        self.hub
            .position(self.amethyst, fix, false, false)
            .await
            .unwrap();
    }
}

/// The frames waiting for a subscriber, without waiting for more: the hub publishes
/// before its calls return.
fn frames(sub: &mut Subscription) -> Vec<ServerFrame> {
    let mut out = Vec::new();
    while let Some(frame) = sub.try_recv().expect("the test keeps up with its frames") {
        out.push(serde_json::from_str(&frame.json).expect("frames parse"));
    }
    out
}

/// Nothing waits for the subscriber at `t` ms after the pause.
fn assert_quiet(sub: &mut Subscription, t: i64) {
    let waiting = frames(sub);
    assert!(waiting.is_empty(), "at {t} ms: {waiting:?}");
}

fn contact(who: &str, state: ContactState, lost_for_ms: Option<i64>) -> ServerFrame {
    ServerFrame::Contact {
        who: who.into(),
        state,
        lost_for_ms,
        last_heard_ms: None,
    }
}

/// Contact with `who` lost, last heard `heard` ms after the clock's pause.
fn lost(clock: &Clock, who: &str, heard: i64) -> ServerFrame {
    ServerFrame::Contact {
        who: who.into(),
        state: ContactState::Lost,
        lost_for_ms: None,
        last_heard_ms: Some(clock.t0 + heard),
    }
}

#[tokio::test]
async fn a_silent_partner_is_lost_just_after_the_timeout_and_restored_with_the_silence() {
    let mut p = Pair::bonded(Profile::Story, 1_000.0).await;
    let timeout_ms = (p.hub.config.contact_timeout_s * 1000.0) as i64;
    assert_eq!(timeout_ms, 60_000, "the default contact timeout");
    let mut clock = Clock::pause();
    p.hub.heard(p.spike).await.unwrap();
    p.hub.heard(p.amethyst).await.unwrap();

    // Spike's link keeps talking; Amethyst's goes silent. Up to the timeout itself she
    // is not lost: lost is silent for longer than the timeout.
    for t in [1_000, 30_000, timeout_ms - 1, timeout_ms] {
        clock.advance_to(t).await;
        p.hub.heard(p.spike).await.unwrap();
        p.hub.sweep().await;
        assert_quiet(&mut p.sp, t);
        assert_quiet(&mut p.am, t);
    }
    // A millisecond later both are told: Spike that his partner is lost, her own links
    // (were any left) that she was unreachable.
    clock.advance_to(timeout_ms + 1).await;
    p.hub.sweep().await;
    let gone = lost(&clock, "amethyst", 0);
    assert_eq!(frames(&mut p.sp), std::slice::from_ref(&gone));
    assert_eq!(frames(&mut p.am), [gone]);

    // Lost once: later sweeps say nothing more, and Spike, still heard, is never lost.
    for t in [90_000, 150_000, 200_000] {
        clock.advance_to(t).await;
        p.hub.heard(p.spike).await.unwrap();
        p.hub.sweep().await;
        assert_quiet(&mut p.sp, t);
        assert_quiet(&mut p.am, t);
    }

    // Heard again at 200 s: contact is live, lost for the 200 s since she was last heard.
    p.hub.heard(p.amethyst).await.unwrap();
    let live = contact("amethyst", ContactState::Live, Some(200_000));
    assert_eq!(frames(&mut p.sp), std::slice::from_ref(&live));
    assert_eq!(frames(&mut p.am), [live]);

    // Now Spike's link falls silent too: both are lost together, a millisecond past the
    // timeout, and no live contact is left in the bond for the sweep to watch.
    for t in [230_000, 200_000 + timeout_ms] {
        clock.advance_to(t).await;
        p.hub.sweep().await;
        assert_quiet(&mut p.sp, t);
        assert_quiet(&mut p.am, t);
    }
    clock.advance_to(200_001 + timeout_ms).await;
    p.hub.sweep().await;
    let both = [
        lost(&clock, "spike", 200_000),
        lost(&clock, "amethyst", 200_000),
    ];
    assert_eq!(frames(&mut p.sp), both);
    assert_eq!(frames(&mut p.am), both);

    // Amethyst is back at 300 s, lost for the 100 s since she was last heard, then falls
    // silent again: the sweep watches the bond once more, to the millisecond.
    clock.advance_to(300_000).await;
    p.hub.heard(p.amethyst).await.unwrap();
    let live = contact("amethyst", ContactState::Live, Some(100_000));
    assert_eq!(frames(&mut p.sp), std::slice::from_ref(&live));
    assert_eq!(frames(&mut p.am), [live]);
    clock.advance_to(300_000 + timeout_ms).await;
    p.hub.sweep().await;
    assert_quiet(&mut p.sp, 300_000 + timeout_ms);
    clock.advance_to(300_001 + timeout_ms).await;
    p.hub.sweep().await;
    assert_eq!(frames(&mut p.sp), [lost(&clock, "amethyst", 300_000)]);

    // The bond as Spike sees it says so too. Reading the view waits on the store, so the
    // clock runs again first: on a paused clock tokio would jump to the store's timeouts
    // while the test waits for SQLite's threads, and the read would fail.
    tokio::time::resume();
    let view = p.hub.bond_view(p.spike).await.unwrap().unwrap();
    assert_eq!(view.contact, ContactState::Lost);
    p.hub.heard(p.amethyst).await.unwrap();
    let view = p.hub.bond_view(p.spike).await.unwrap().unwrap();
    assert_eq!(view.contact, ContactState::Live);
}

/// The tier frames among `frames`, as (tier, open).
fn tier_changes(frames: &[ServerFrame]) -> Vec<(Tier, bool)> {
    frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Tier { tier, open, .. } => Some((*tier, *open)),
            _ => None,
        })
        .collect()
}

/// Whether the pull frames among `frames` show the partner exactly (`Some`), or `None`
/// when there are none.
fn pulls_exact(frames: &[ServerFrame]) -> Option<bool> {
    let exact: Vec<bool> = frames
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Pull { pull, .. } => Some(pull.exact && pull.position.is_some()),
            _ => None,
        })
        .collect();
    assert!(
        exact.iter().all(|e| Some(e) == exact.first()),
        "mixed pulls: {frames:?}"
    );
    exact.first().copied()
}

#[tokio::test]
async fn a_walker_on_the_edge_of_sight_range_does_not_make_it_flap() {
    // City profile: sight opens within 100 m and, once open, closes only past 110 m.
    let mut p = Pair::bonded(Profile::City, 150.0).await;
    let mut clock = Clock::pause();
    let mut t = 0;
    // Amethyst walks, a step every ten seconds (never faster than 2 m/s, so the bond never
    // stretches); Spike stands at home. Each step: what she walks to, and the tiers Spike
    // is told open or close there.
    let mut walk = async |north_m: f64| {
        t += 10_000;
        clock.advance_to(t).await;
        p.amethyst_at(north_m).await;
        let (sp, am) = (frames(&mut p.sp), frames(&mut p.am));
        assert!(
            !sp.iter()
                .chain(&am)
                .any(|f| matches!(f, ServerFrame::Stretch { .. })),
            "{sp:?}"
        );
        assert_eq!(
            tier_changes(&sp),
            tier_changes(&am),
            "both are told the same"
        );
        let sight = p.hub.standing(p.spike, Tier::Sight).await.unwrap().unwrap();
        (tier_changes(&sp), pulls_exact(&sp), sight.open)
    };

    // Toward him: at 101 m sight is still closed; at 99 m it opens and he sees her exactly.
    assert_eq!(walk(130.0).await, (vec![], Some(false), false));
    assert_eq!(walk(101.0).await, (vec![], Some(false), false));
    assert_eq!(
        walk(99.0).await,
        (vec![(Tier::Sight, true)], Some(true), true)
    );

    // Back and forth across 100 m, out to within the band: sight stays open, no tier frame.
    for north_m in [104.0, 97.0, 108.0, 101.0, 109.5, 95.0, 109.9, 102.0] {
        assert_eq!(
            walk(north_m).await,
            (vec![], Some(true), true),
            "at {north_m} m"
        );
    }

    // Past 1.1 × 100 m it closes, once, and the pull turns coarse.
    assert_eq!(
        walk(111.0).await,
        (vec![(Tier::Sight, false)], Some(false), false)
    );
    // Closed, it opens again only within its range, not within the band.
    for north_m in [105.0, 109.0, 100.5] {
        assert_eq!(
            walk(north_m).await,
            (vec![], Some(false), false),
            "at {north_m} m"
        );
    }
    assert_eq!(
        walk(98.0).await,
        (vec![(Tier::Sight, true)], Some(true), true)
    );
}

/// The meeting point as Amethyst sees it: her way there and Spike's, each as (distance,
/// eta), and whether the speeds placed it.
fn legs(m: &MeetingView) -> ((f64, f64), (f64, f64), bool) {
    let partner = m.partner.as_ref().expect("both positions are known");
    (
        (m.you.distance_m, m.you.eta_s),
        (partner.distance_m, partner.eta_s),
        m.by_speed,
    )
}

fn assert_close(got: ((f64, f64), (f64, f64), bool), want: ((f64, f64), (f64, f64), bool)) {
    let near = |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < 1e-6 && (a.1 - b.1).abs() < 1e-6;
    assert!(
        near(got.0, want.0) && near(got.1, want.1) && got.2 == want.2,
        "got {got:?}, want {want:?}"
    );
}

#[tokio::test]
async fn the_meeting_point_follows_recent_speeds_and_forgets_them() {
    // Story profile, under 2 km apart: sight is open, so the meeting point is exact.
    let mut p = Pair::bonded(Profile::Story, 1_800.0).await;
    let mut clock = Clock::pause();
    // Amethyst rides toward Spike at 5 m/s, 50 m every ten seconds for a minute, from
    // 1,800 m to 1,500 m; his phone, at rest at home, reports every ten seconds too.
    let mut seen = Vec::new();
    for i in 0..=6 {
        clock.advance_to(i * 10_000).await;
        p.spike_at_home().await;
        p.amethyst_at(1_800.0 - 50.0 * i as f64).await;
        seen.extend(frames(&mut p.am).into_iter().filter_map(|f| match f {
            ServerFrame::Meeting { meeting } => Some(*meeting),
            _ => None,
        }));
    }
    // From her second fix on her speed is known, and the point moves toward Spike; every
    // point she was sent gives her the time her way takes at 5 m/s, and him at a walk.
    let by_speed: Vec<_> = seen.iter().filter(|m| m.by_speed).collect();
    assert!(!by_speed.is_empty(), "{seen:?}");
    for m in by_speed {
        let ((mine, my_eta), (his, his_eta), _) = legs(m);
        assert!((my_eta - mine / 5.0).abs() < 1e-6, "{m:?}");
        assert!((his_eta - his / REST_SPEED_MPS).abs() < 1e-6, "{m:?}");
    }
    // Now, 1,500 m apart: she covers 5/6 of the way (1,250 m in 250 s) and he, at rest
    // but able to walk at 1 m/s, the rest (250 m in 250 s): they arrive together.
    let fast = ((1_250.0, 250.0), (250.0, 250.0), true);
    let m = p.hub.meeting_view(p.amethyst).await.unwrap();
    assert!(m.exact, "{m:?}");
    assert_close(legs(&m), fast);

    // Her phone goes quiet (a tunnel); his reports each minute. Her speed holds for the
    // five minutes a recent speed looks back from her last fix, and not a moment longer.
    for t in [120_000, 180_000, 240_000, 300_000, 360_000] {
        clock.advance_to(t).await;
        p.spike_at_home().await;
        assert_close(legs(&p.hub.meeting_view(p.amethyst).await.unwrap()), fast);
    }
    assert!(
        frames(&mut p.am)
            .iter()
            .all(|f| !matches!(f, ServerFrame::Meeting { .. })),
        "nothing she would notice changed"
    );
    clock.advance_to(360_001).await;
    // Her speed unknown, the suggestion is the midpoint, and her way there is timed at a
    // walk: 750 m in 750 s each.
    let halfway = ((750.0, 750.0), (750.0, 750.0), false);
    assert_close(
        legs(&p.hub.meeting_view(p.amethyst).await.unwrap()),
        halfway,
    );
    // His phone's next report brings her the moved point.
    clock.advance_to(420_000).await;
    p.spike_at_home().await;
    let moved: Vec<_> = frames(&mut p.am)
        .into_iter()
        .filter_map(|f| match f {
            ServerFrame::Meeting { meeting } => Some(legs(&meeting)),
            _ => None,
        })
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_close(moved[0], halfway);
}
