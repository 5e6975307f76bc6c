//! The vectors the web client's `private.js` is held to (`tests/vectors/web.json`): fixed
//! device and invite secrets with what the library makes of them (public keys, the code,
//! the lookup hash, the bond key and both confirmation tags), how many chart centres each
//! band has, the charts and projections of a few points, and the token reports of fixes
//! near a pole, across the antimeridian, between charts and near an epoch's end, and
//! content sealed under the bond's content key (with fixed nonces, so the page can seal
//! the same bytes) beside sealed strings that must not open. The browser test `private::the_page_makes_what_the_library_makes` loads them in Chromium and
//! checks the page makes exactly the same.
//!
//! A report's padding is random; here it is drawn from a source of zeros, so a list is the
//! zero tokens first and then the real ones, sorted, and the file needs to hold only the
//! real ones. The page, given the same source of zeros, must make the same lists.
//!
//! `HAURACH_WRITE_VECTORS=1 cargo test -p haurach-private --test it vectors` writes the
//! file again after a deliberate change; otherwise the test fails when it is not current.

use haurach_bond::geo;
use haurach_bond::{Fix, Profile, Tier, TierSet, TierState};
use haurach_private::geometry::{self, SHIFTS};
use haurach_private::rounding::{self, Known, PartnerFix, Shared};
use haurach_private::tokens::{self, Token};
use haurach_private::{BondKey, Context, DeviceSecret, InviteSecret, Role, Sealer, invite};
use rand_core::{CryptoRng, RngCore};
use serde_json::{Value, json};

/// A "random" source of zeros, so reports are the same every time.
struct Zeros;

impl RngCore for Zeros {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        dest.fill(0);
        Ok(())
    }
}

impl CryptoRng for Zeros {}

/// A "random" source that gives one fixed nonce, so a sealed content is the same every
/// time and the page, given the same nonce, must seal the same bytes.
struct Fixed([u8; 12]);

impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        unreachable!("sealing asks only for the nonce's bytes")
    }
    fn next_u64(&mut self) -> u64 {
        unreachable!("sealing asks only for the nonce's bytes")
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.copy_from_slice(&self.0[..dest.len()]);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Fixed {}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A list's real tokens: what is left after the zero padding.
fn real(list: &[Token]) -> Vec<String> {
    list.iter()
        .filter(|t| t.0 != [0; tokens::TOKEN_LEN])
        .map(|t| hex(&t.0))
        .collect()
}

/// The fixes whose reports the page must make: each a (what, profile, lat, lon,
/// accuracy, at_ms).
fn fixes() -> Vec<(&'static str, Profile, f64, f64, f64, i64)> {
    // 2024-01-01T00:01:40Z, early in its epoch; and 1 s into the last two minutes of one.
    let early = 1_704_067_300_000;
    let late = 2_840_000 * tokens::EPOCH_MS + tokens::EPOCH_MS - tokens::LOOKAHEAD_MS + 1_000;
    vec![
        (
            "a city street",
            Profile::City,
            46.123457,
            7.654321,
            5.0,
            early,
        ),
        ("the story's desert", Profile::Story, 23.1, 53.7, 8.0, early),
        (
            "near the north pole",
            Profile::Story,
            89.97,
            31.25,
            5.0,
            early,
        ),
        (
            "the south pole itself",
            Profile::City,
            -90.0,
            0.0,
            3.0,
            early,
        ),
        (
            "west of the antimeridian",
            Profile::Story,
            -16.5,
            179.9993,
            5.0,
            early,
        ),
        (
            "east of the antimeridian",
            Profile::Story,
            -16.5,
            -179.9991,
            5.0,
            early,
        ),
        (
            "a corner between bands and charts",
            Profile::City,
            60.0001,
            0.4999,
            4.0,
            early,
        ),
        (
            "the equator at the prime meridian",
            Profile::Open,
            0.0,
            0.0,
            0.0,
            early,
        ),
        ("a blurry fix", Profile::City, 51.5007, -0.1246, 60.0, early),
        (
            "near an epoch's end",
            Profile::City,
            -33.8568,
            151.2153,
            5.0,
            late,
        ),
    ]
}

/// The bond id the sealing vectors are bound to (a UUID, as the server gives it).
const BOND_ID: &str = "0193a1f2-7c4e-7b2d-9a10-5e6f7a8b9c0d";

/// The sealed string of `bytes` sealed as the `counter`-th: base64url without padding of
/// the counter and the sealed bytes (`haurach_proto::sealed`, which this crate cannot use:
/// proto depends on it).
fn sealed_string(counter: u64, bytes: &[u8]) -> String {
    let mut raw = counter.to_be_bytes().to_vec();
    raw.extend_from_slice(bytes);
    data_encoding::BASE64URL_NOPAD.encode(&raw)
}

/// Whether `text` opens under `context` but for its counter, as the clients open it:
/// decoded strictly (no padding, no stray bits), then opened by the library.
fn opens(sealer: &Sealer, context: Context<'_>, text: &str) -> bool {
    let Ok(raw) = data_encoding::BASE64URL_NOPAD.decode(text.as_bytes()) else {
        return false;
    };
    if raw.len() < 8 {
        return false;
    }
    let (counter, bytes) = raw.split_at(8);
    let counter = u64::from_be_bytes(counter.try_into().unwrap());
    sealer.open(&Context { counter, ..context }, bytes).is_ok()
}

/// Content sealed under `key`'s content key with fixed nonces, each as the page must seal
/// it (and open it), and sealed strings that must not open, each with why.
fn sealing(key: &BondKey) -> Value {
    let bond_id: [u8; 16] = std::array::from_fn(|i| {
        let hex = BOND_ID.replace('-', "");
        u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()
    });
    let sealer = Sealer::new(key);
    let cases = [
        (
            "words",
            Role::Inviter,
            "voice",
            1_u64,
            "the quartz lantern hums",
        ),
        (
            "words beyond ASCII",
            Role::Accepter,
            "voice",
            7,
            "été ✓ 🌙 ĉu vi aŭdas",
        ),
        ("a feeling", Role::Accepter, "feeling", 2, "calm"),
        ("an alarm's words", Role::Inviter, "alarm", 300, "come now"),
        (
            "a thought",
            Role::Inviter,
            "thought",
            65_537,
            "I wonder if she's kind",
        ),
        ("an empty thought", Role::Accepter, "thought", 0, ""),
        (
            "a counter in the high bytes",
            Role::Accepter,
            "voice",
            (1 << 53) - 1,
            "far along",
        ),
    ];
    let mut sealed = Vec::new();
    for (idx, &(what, from, kind, counter, content)) in cases.iter().enumerate() {
        let nonce: [u8; 12] = std::array::from_fn(|i| (17 * idx + 3 * i + 1) as u8);
        let context = Context {
            bond_id,
            from,
            kind,
            counter,
        };
        let bytes = sealer
            .seal_with(&mut Fixed(nonce), &context, content.as_bytes())
            .unwrap();
        let text = sealed_string(counter, &bytes);
        assert!(opens(&sealer, context, &text), "{what}");
        sealed.push(json!({"what": what, "from": role_key(from), "kind": kind,
                           "counter": counter, "nonce": hex(&nonce), "content": content,
                           "sealed": text}));
    }
    // Strings that must not open, each against the first case's envelope unless it says
    // otherwise.
    let first = Context {
        bond_id,
        from: Role::Inviter,
        kind: "voice",
        counter: 1,
    };
    let good = sealed[0]["sealed"].as_str().unwrap().to_owned();
    let raw = data_encoding::BASE64URL_NOPAD
        .decode(good.as_bytes())
        .unwrap();
    let changed = |at: usize| {
        let mut bad = raw.clone();
        bad[at] ^= 0x01;
        data_encoding::BASE64URL_NOPAD.encode(&bad)
    };
    let other_key = Sealer::new(&BondKey::from_bytes([7; 32]));
    let under_other_key = sealed_string(
        1,
        &other_key
            .seal_with(&mut Fixed([5; 12]), &first, b"the quartz lantern hums")
            .unwrap(),
    );
    // The last character of a string whose length is not a multiple of 4 has bits that
    // decode to nothing; setting one spells the same bytes in a lax decoder.
    assert_ne!(good.len() % 4, 0, "the first case's string has unused bits");
    let last = good.chars().last().unwrap();
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let stray = ALPHABET
        .chars()
        .nth(ALPHABET.find(last).unwrap() ^ 1)
        .unwrap();
    // A string with a `-` or `_` spelled in the standard alphabet (`+`, `/`): the same
    // bytes to a decoder that takes either.
    let other_alphabet = cases
        .iter()
        .zip(&sealed)
        .find_map(|((_, from, kind, _, _), case)| {
            let text = case["sealed"].as_str().unwrap();
            text.contains(['-', '_'])
                .then(|| (*from, *kind, text.replace('-', "+").replace('_', "/")))
        })
        .expect("a sealed string with - or _");
    let refused: Vec<(&str, Role, &str, [u8; 16], String)> = vec![
        (
            "a byte of the words changed",
            Role::Inviter,
            "voice",
            bond_id,
            changed(8 + 12 + 3),
        ),
        (
            "a byte of the tag changed",
            Role::Inviter,
            "voice",
            bond_id,
            changed(raw.len() - 1),
        ),
        (
            "a byte of the nonce changed",
            Role::Inviter,
            "voice",
            bond_id,
            changed(8),
        ),
        (
            "the counter changed",
            Role::Inviter,
            "voice",
            bond_id,
            changed(7),
        ),
        (
            "opened as a feeling",
            Role::Inviter,
            "feeling",
            bond_id,
            good.clone(),
        ),
        (
            "opened as the other's",
            Role::Accepter,
            "voice",
            bond_id,
            good.clone(),
        ),
        (
            "opened in another bond",
            Role::Inviter,
            "voice",
            [0; 16],
            good.clone(),
        ),
        (
            "sealed under another bond's key",
            Role::Inviter,
            "voice",
            bond_id,
            under_other_key,
        ),
        (
            "cut short",
            Role::Inviter,
            "voice",
            bond_id,
            good[..good.len() - 4].to_owned(),
        ),
        (
            "too short to hold a tag",
            Role::Inviter,
            "voice",
            bond_id,
            good[..40].to_owned(),
        ),
        (
            "padded",
            Role::Inviter,
            "voice",
            bond_id,
            format!("{good}=="),
        ),
        (
            "in the other alphabet",
            other_alphabet.0,
            other_alphabet.1,
            bond_id,
            other_alphabet.2,
        ),
        (
            "with stray bits",
            Role::Inviter,
            "voice",
            bond_id,
            format!("{}{stray}", &good[..good.len() - 1]),
        ),
        ("empty", Role::Inviter, "voice", bond_id, String::new()),
    ];
    let refused: Vec<Value> = refused
        .into_iter()
        .map(|(what, from, kind, bond, text)| {
            let context = Context {
                bond_id: bond,
                from,
                kind,
                counter: 0,
            };
            assert!(!opens(&sealer, context, &text), "{what} opens");
            json!({"what": what, "from": role_key(from), "kind": kind,
                   "bond": uuid_text(&bond), "sealed": text})
        })
        .collect();
    json!({"bond": BOND_ID, "sealed": sealed, "refused": refused})
}

fn role_key(role: Role) -> &'static str {
    match role {
        Role::Inviter => "inviter",
        Role::Accepter => "accepter",
    }
}

/// A UUID's bytes as its text.
fn uuid_text(bytes: &[u8; 16]) -> String {
    let h = hex(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The vectors, as the file holds them.
fn vectors() -> Value {
    let inviter = DeviceSecret::from_bytes(std::array::from_fn(|i| i as u8 + 1));
    let accepter = DeviceSecret::from_bytes(std::array::from_fn(|i| 0xa0 + i as u8));
    let secret = InviteSecret::from_bytes(*b"abcdefghijklmnopqrst");
    let key = BondKey::derive(Role::Inviter, &inviter, &accepter.public(), &secret).unwrap();
    let theirs = BondKey::derive(Role::Accepter, &accepter, &inviter.public(), &secret).unwrap();
    assert_eq!(key, theirs, "both devices derive one key");
    let code = invite::code(&secret);
    let typed = [
        code.clone(),
        code.to_lowercase().replace('-', " "),
        code.trim_start_matches(invite::PREFIX).replace('-', ""),
        code.replace('O', "0").replace('I', "1"),
        format!("  {}  ", code.replace("HP1-", "hpi")),
        code[..code.len() - 5].to_owned(),
        format!("{code}-AAAA"),
        "HP1-!!!!".to_owned(),
        "ABCD-EFGH".to_owned(),
        String::new(),
    ];
    let codes: Vec<Value> = typed
        .iter()
        .map(|t| {
            let parsed = invite::parse_code(t).ok().map(|s| hex(s.as_bytes()));
            json!({"typed": t, "secret": parsed})
        })
        .collect();
    let mut bands = [0_usize; 180];
    for chart in geometry::all_charts() {
        bands[chart.id as usize / 512] += 1;
    }
    let charts: Vec<Value> = [
        (89.97, 31.25, 12_000.0),
        (-90.0, 0.0, 60.0),
        (-16.5, 179.9993, 12_000.0),
        (60.0001, 0.4999, 600.0),
        (0.0, 0.0, 0.0),
    ]
    .into_iter()
    .map(|(lat, lon, g_m)| {
        let near: Vec<Value> = geometry::charts_near(lat, lon, g_m)
            .into_iter()
            .map(|n| {
                let (x, y) = geometry::project(&n.chart, lat, lon);
                let cells: Vec<[i64; 2]> = SHIFTS
                    .iter()
                    .map(|s| {
                        let (cx, cy) = geometry::cell(x, y, 850.0, *s);
                        [cx, cy]
                    })
                    .collect();
                json!({"id": n.chart.id, "lat": n.chart.lat, "lon": n.chart.lon,
                       "distance_m": n.distance_m, "x": x, "y": y, "cells_850": cells})
            })
            .collect();
        json!({"lat": lat, "lon": lon, "g_m": g_m, "near": near})
    })
    .collect();
    let reports: Vec<Value> = fixes()
        .into_iter()
        .map(|(what, profile, lat, lon, accuracy_m, at_ms)| {
            let fix = Fix {
                lat,
                lon,
                accuracy_m,
                at_ms,
            };
            let report = tokens::report_with(&mut Zeros, &key, profile, &fix);
            let epochs: Vec<Value> = report
                .epochs
                .iter()
                .map(|e| {
                    let tiers: Vec<Value> = e
                        .tiers
                        .iter()
                        .map(|t| json!({"tier": t.tier.key(), "open": real(&t.open), "keep": real(&t.keep)}))
                        .collect();
                    json!({"epoch": e.epoch, "tiers": tiers})
                })
                .collect();
            json!({"what": what, "profile": profile.key(), "lat": lat, "lon": lon,
                   "accuracy_m": accuracy_m, "at_ms": at_ms, "epochs": epochs})
        })
        .collect();
    json!({
        "written_by": "crates/private/tests/it/vectors.rs (HAURACH_WRITE_VECTORS=1 writes it again)",
        "inviter": {"secret": hex(&inviter.to_bytes()), "public": hex(&inviter.public())},
        "accepter": {"secret": hex(&accepter.to_bytes()), "public": hex(&accepter.public())},
        "invite": {"secret": hex(secret.as_bytes()), "code": code, "lookup": hex(&secret.lookup())},
        "codes": codes,
        "bond": {
            "key": hex(&key.to_bytes()),
            "inviter_tag": hex(&key.confirmation(Role::Inviter)),
            "accepter_tag": hex(&key.confirmation(Role::Accepter)),
        },
        "bands": bands.to_vec(),
        "charts": charts,
        "reports": reports,
        "sealing": sealing(&key),
        "rounding": rounding(),
        "keeping": keeping(),
    })
}

/// Walks of fixes rounded one after another, each keeping the cell sent before
/// (`rounding::round_keeping`), with what the library sends at each step: a still fix
/// jittering a few metres across a row's line and then walking on past the margin, the
/// same across a column's line at the antimeridian, and the tiers changing under a still
/// fix (coarser, finer, sight).
fn keeping() -> Value {
    let glimpse = open_at(Profile::Story, 5_000.0);
    let voice = open_at(Profile::Story, 16_500.0);
    let sight = open_at(Profile::Story, 1_500.0);
    let row = rounding::Cell::of(46.0, 7.0, 13).lat_span().1;
    let north = |m: f64| row + m / 111_000.0;
    let column = rounding::Cell::of(-17.0, 179.99, 13).lon_span().1;
    assert_eq!(column, 180.0);
    let east = |m: f64| {
        let lon = column + m / 106_000.0;
        if lon >= 180.0 { lon - 360.0 } else { lon }
    };
    // Each walk: what it is, and its steps as the tiers open and the fix.
    type Walk = (&'static str, Vec<(Vec<Tier>, (f64, f64))>);
    let walks: Vec<Walk> = vec![
        (
            "a still fix jittering across a row's line, then walking north past the margin",
            [
                -3.0, 4.0, -2.0, 5.0, -1.0, 3.0, -4.0, 2.0, 600.0, 1_300.0, 1_250.0, 1_300.0,
            ]
            .into_iter()
            .map(|m| (glimpse.clone(), (north(m), 7.0)))
            .collect(),
        ),
        (
            "a still fix jittering across the antimeridian, then walking east past the margin",
            [-3.0, 4.0, -2.0, 5.0, -1.0, 3.0, 900.0, 2_600.0, 5_000.0]
                .into_iter()
                .map(|m| (glimpse.clone(), (-17.0, east(m))))
                .collect(),
        ),
        (
            "the tiers change under a still fix near a line",
            [
                (&glimpse, -3.0),
                (&glimpse, 3.0),
                (&voice, 3.0),
                (&voice, -3.0),
                (&glimpse, 3.0),
                (&sight, 3.0),
                (&glimpse, -3.0),
            ]
            .into_iter()
            .map(|(open, m)| (open.clone(), (north(m), 7.0)))
            .collect(),
        ),
    ];
    let walks: Vec<Value> = walks
        .into_iter()
        .map(|(what, steps)| {
            let mut kept: Option<rounding::Cell> = None;
            let steps: Vec<Value> = steps
                .into_iter()
                .map(|(open, (lat, lon))| {
                    let mut set = TierSet::EMPTY;
                    for tier in &open {
                        set.insert(*tier);
                    }
                    let known = Known {
                        profile: Profile::Story,
                        tiers: TierState::new(set),
                        partner: None,
                    };
                    let fix = Fix {
                        lat,
                        lon,
                        accuracy_m: 5.0,
                        at_ms: 0,
                    };
                    let shared = rounding::round_keeping(&fix, &known, kept.as_ref());
                    kept = shared.cell();
                    let cell = shared.cell().map(|c| {
                        json!({"level": c.level, "row": c.row,
                               "columns_log2": c.columns_log2, "column": c.column})
                    });
                    json!({
                        "open": open.iter().map(|t| t.key()).collect::<Vec<_>>(),
                        "fix": {"lat": lat, "lon": lon, "accuracy_m": 5.0},
                        "exact": shared.is_exact(),
                        "cell": cell,
                        "point": [shared.point().0, shared.point().1],
                        "reach_m": shared.reach_m(),
                    })
                })
                .collect();
            json!({"what": what, "profile": "story", "steps": steps})
        })
        .collect();
    json!(walks)
}

/// What a sealed position holds, as `haurach_proto::sealed::FixContent` writes it: the
/// same fields in the same order through the same serde_json (this crate cannot depend on
/// `haurach-proto`, which depends on it; `haurach_proto::sealed`'s test
/// `the_web_vectors_hold_what_a_sealed_position_is_written_as` checks the two agree).
#[derive(serde::Serialize)]
struct Content {
    lat: f64,
    lon: f64,
    reach_m: f64,
    exact: bool,
}

fn content_json(lat: f64, lon: f64, reach_m: f64, exact: bool) -> String {
    serde_json::to_string(&Content {
        lat,
        lon,
        reach_m,
        exact,
    })
    .unwrap()
}

/// A known case of the rounding: (what, profile, open tiers, the partner as (lat, lon,
/// reach), the fix as (lat, lon, accuracy)).
type Case = (
    String,
    Profile,
    Vec<Tier>,
    Option<(f64, f64, f64)>,
    (f64, f64, f64),
);

/// The tiers open in a bond of `profile` whose partners are `d` metres apart, as the
/// plain bond opens them (those always open, and each ranged tier within its range).
fn open_at(profile: Profile, d: f64) -> Vec<Tier> {
    Tier::ALL
        .into_iter()
        .filter(|t| profile.range_m(*t).is_none_or(|r| d <= r))
        .collect()
}

/// Fixes rounded as a sending device rounds them, each with what it knew: the edge cases
/// by name, then a few hundred drawn from a fixed seed over the whole Earth.
fn rounding_cases() -> Vec<Case> {
    let story_glimpse = open_at(Profile::Story, 5_000.0);
    let mut cases: Vec<Case> = vec![
        (
            "within sight: the fix as it is".into(),
            Profile::Story,
            open_at(Profile::Story, 500.0),
            Some((46.1, 7.6, 20.0)),
            (46.123457, 7.654321, 7.5),
        ),
        (
            "within sight, an accuracy unknown".into(),
            Profile::City,
            open_at(Profile::City, 50.0),
            None,
            (0.000001, -0.0000015, 0.0),
        ),
        (
            "the open profile shows everything".into(),
            Profile::Open,
            open_at(Profile::Open, 1e7),
            None,
            (-33.9, 18.4, 12.0),
        ),
        (
            "nothing known of the partner, every tier closed".into(),
            Profile::Story,
            open_at(Profile::Story, 1e7),
            None,
            (46.123457, 7.654321, 5.0),
        ),
        (
            "nothing known of the partner, glimpse open".into(),
            Profile::Story,
            story_glimpse.clone(),
            None,
            (46.123457, 7.654321, 5.0),
        ),
        (
            "the partner 3 km away, glimpse open".into(),
            Profile::Story,
            story_glimpse.clone(),
            Some((46.15, 7.654321, 500.0)),
            (46.123457, 7.654321, 5.0),
        ),
        (
            "a partner who says 100 m while sight is closed".into(),
            Profile::Story,
            story_glimpse.clone(),
            Some((46.1243, 7.654321, 0.0)),
            (46.123457, 7.654321, 5.0),
        ),
        (
            "every tier closed, the partner 300 km away".into(),
            Profile::Story,
            open_at(Profile::Story, 1e7),
            Some((48.8566, 2.3522, 40_000.0)),
            (46.123457, 7.654321, 5.0),
        ),
        (
            "every tier closed, the partner said near (not believed below 10 km)".into(),
            Profile::Story,
            open_at(Profile::Story, 1e7),
            Some((46.13, 7.66, 10.0)),
            (46.123457, 7.654321, 5.0),
        ),
        (
            "a partner position that is not a place".into(),
            Profile::Story,
            story_glimpse.clone(),
            Some((95.0, 7.0, 10.0)),
            (46.123457, 7.654321, 5.0),
        ),
        (
            "a city street, 300 m apart".into(),
            Profile::City,
            open_at(Profile::City, 300.0),
            Some((46.1262, 7.654321, 25.0)),
            (46.123457, 7.654321, 5.0),
        ),
        (
            "near the north pole".into(),
            Profile::Story,
            story_glimpse.clone(),
            Some((89.99, -135.0, 300.0)),
            (89.9999, 45.0, 5.0),
        ),
        (
            "the north pole itself".into(),
            Profile::Story,
            story_glimpse.clone(),
            None,
            (90.0, 0.0, 5.0),
        ),
        (
            "near the south pole, nothing known".into(),
            Profile::City,
            open_at(Profile::City, 1e7),
            None,
            (-89.95, 10.0, 5.0),
        ),
        (
            "the south pole itself, the partner near".into(),
            Profile::City,
            open_at(Profile::City, 600.0),
            Some((-89.995, 100.0, 20.0)),
            (-90.0, 0.0, 3.0),
        ),
        (
            "west of the antimeridian, the partner east of it".into(),
            Profile::Story,
            story_glimpse.clone(),
            Some((-16.5, -179.99, 100.0)),
            (-16.5, 179.9993, 5.0),
        ),
        (
            "on the antimeridian (180)".into(),
            Profile::Story,
            story_glimpse.clone(),
            Some((10.0, 179.95, 50.0)),
            (10.0, 180.0, 5.0),
        ),
        (
            "on the antimeridian (-180)".into(),
            Profile::Story,
            story_glimpse,
            Some((10.0, 179.95, 50.0)),
            (10.0, -180.0, 5.0),
        ),
        (
            "the equator at the prime meridian".into(),
            Profile::City,
            open_at(Profile::City, 700.0),
            Some((0.004, 0.0, 5.0)),
            (0.0, 0.0, 0.0),
        ),
    ];
    // A fixed seed (splitmix64), so the file is the same every time.
    let mut seed: u64 = 0x2026_1206;
    let mut next = move || {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    for n in 0..300 {
        let profile = Profile::ALL[(next() * 3.0) as usize % 3];
        // Latitudes crowd toward the poles, where the columns thin out.
        let lat = (next() * 2.0 - 1.0).powi(3) * 90.0;
        let lon = next() * 360.0 - 180.0;
        let accuracy = (next() * 60.0 * 1000.0).round() / 1000.0;
        // How far the partner really is: from metres to the far side of the Earth.
        let apart = 10f64.powf(next() * 7.3);
        let (plat, plon) = geo::destination(lat, lon, next() * 360.0, apart);
        // The tiers as they stand at that distance, or (now and then) not at all.
        let open = if next() < 0.15 {
            open_at(profile, f64::INFINITY)
        } else {
            open_at(profile, apart)
        };
        let partner = (next() < 0.8).then(|| (plat, plon, (next() * apart * 0.3).round()));
        cases.push((
            format!("drawn {n}"),
            profile,
            open,
            partner,
            (lat, lon, accuracy),
        ));
    }
    cases
}

/// The rounding's cases with what the library makes of each: the bound, the cell, the
/// point, the reach and the JSON sealed; and a few contents with awkward numbers, for the
/// page to write as serde_json does.
fn rounding() -> Value {
    let cases: Vec<Value> = rounding_cases()
        .into_iter()
        .map(|(what, profile, open, partner, (lat, lon, accuracy_m))| {
            let mut set = TierSet::EMPTY;
            for tier in &open {
                set.insert(*tier);
            }
            let known = Known {
                profile,
                tiers: TierState::new(set),
                partner: partner.map(|(lat, lon, reach_m)| PartnerFix { lat, lon, reach_m }),
            };
            let fix = Fix {
                lat,
                lon,
                accuracy_m,
                at_ms: 0,
            };
            let shared = rounding::round(&fix, &known);
            let (plat, plon) = shared.point();
            let (cell, bound_m) = match shared {
                Shared::Exact(_) => (Value::Null, Value::Null),
                Shared::Rounded { cell, bound_m } => (
                    json!({"level": cell.level, "row": cell.row,
                           "columns_log2": cell.columns_log2, "column": cell.column}),
                    json!(bound_m),
                ),
            };
            json!({
                "what": what,
                "profile": profile.key(),
                "open": open.iter().map(|t| t.key()).collect::<Vec<_>>(),
                "partner": partner.map(|(lat, lon, reach_m)| json!({"lat": lat, "lon": lon, "reach_m": reach_m})),
                "fix": {"lat": lat, "lon": lon, "accuracy_m": accuracy_m},
                "exact": shared.is_exact(),
                "bound_m": bound_m,
                "cell": cell,
                "point": [plat, plon],
                "reach_m": shared.reach_m(),
                "content": content_json(plat, plon, shared.reach_m(), shared.is_exact()),
            })
        })
        .collect();
    let numbers = [
        0.0,
        -0.0,
        5.0,
        -180.0,
        90.0,
        0.1 + 0.2,
        1e-7,
        1.5e-6,
        0.00001,
        -0.000123,
        123_456.789,
        2e7,
        1e15,
        1e16,
        1.2345e17,
        -61.123457,
        20_003_931.5,
    ];
    let contents: Vec<Value> = numbers
        .chunks(3)
        .enumerate()
        .map(|(n, c)| {
            let at = |i: usize| c.get(i).copied().unwrap_or(1.0);
            let (lat, lon, reach_m, exact) = (at(0), at(1), at(2), n % 2 == 0);
            json!({"lat": lat, "lon": lon, "reach_m": reach_m, "exact": exact,
                   "json": content_json(lat, lon, reach_m, exact)})
        })
        .collect();
    json!({"cases": cases, "contents": contents})
}

/// `value` with every object's keys in order. serde_json keeps an object's keys sorted,
/// unless another crate in the build turns on its `preserve_order` feature (a workspace
/// build does), when it keeps them as inserted; sorted here, the text is the same in both.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[test]
fn the_web_clients_vectors_are_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/web.json");
    let made = sorted(vectors());
    let text = serde_json::to_string_pretty(&made).unwrap() + "\n";
    if std::env::var_os("HAURACH_WRITE_VECTORS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    // Compared as text: the file is what the library writes, character for character
    // (serde_json reads some floats back a unit in the last place off).
    let kept = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (HAURACH_WRITE_VECTORS=1 writes it)",
            path.display()
        )
    });
    assert!(
        kept == text,
        "{} is not what the library makes now: if the change is meant, write it again with \
         HAURACH_WRITE_VECTORS=1 and check the web client's private.js against it (the \
         browser test private::the_page_makes_what_the_library_makes)",
        path.display()
    );
    // The vectors cover what they say: real tokens and padding, one list all padding (the
    // blurry fix's sight), two epochs, and more than one chart somewhere.
    let reports = made["reports"].as_array().unwrap();
    let lists = |r: &Value| -> Vec<usize> {
        r["epochs"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| e["tiers"].as_array().unwrap().clone())
            .flat_map(|t| {
                [
                    t["open"].as_array().unwrap().len(),
                    t["keep"].as_array().unwrap().len(),
                ]
            })
            .collect()
    };
    assert!(
        reports
            .iter()
            .all(|r| lists(r).iter().all(|n| *n <= tokens::PER_LIST))
    );
    assert!(reports.iter().any(|r| lists(r).contains(&0)));
    assert!(
        reports
            .iter()
            .any(|r| r["epochs"].as_array().unwrap().len() == 2)
    );
    assert!(reports.iter().any(|r| lists(r).iter().any(|n| *n > 9)));
    // Sealing covers every kind the clients seal, and strings refused for each reason.
    let sealing = &made["sealing"];
    let kinds: std::collections::BTreeSet<_> = sealing["sealed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["alarm", "feeling", "thought", "voice"]
    );
    assert!(sealing["refused"].as_array().unwrap().len() >= 10);
    // The rounding covers both ways a fix goes, a row all round a pole, every level from
    // the whole Earth's quarters to metres, and both sides of the antimeridian.
    let cases = made["rounding"]["cases"].as_array().unwrap();
    assert!(cases.iter().any(|c| c["exact"] == true));
    assert!(cases.iter().any(|c| c["cell"]["columns_log2"] == 0));
    let levels: Vec<u64> = cases
        .iter()
        .filter_map(|c| c["cell"]["level"].as_u64())
        .collect();
    assert!(
        levels.contains(&3) && levels.iter().any(|l| *l >= 17),
        "{levels:?}"
    );
    assert!(
        cases
            .iter()
            .any(|c| c["point"][1].as_f64().unwrap() > 179.0)
    );
    assert!(
        cases
            .iter()
            .any(|c| c["point"][1].as_f64().unwrap() < -179.0)
    );
    // The walks keep one cell while a fix jitters, and change it past the margin.
    let walks = made["keeping"].as_array().unwrap();
    for walk in walks.iter().take(2) {
        let cells: Vec<&Value> = walk["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["cell"])
            .collect();
        assert!(cells[..6].iter().all(|c| *c == cells[0]), "{walk}");
        assert_ne!(cells.last(), cells.first(), "{walk}");
    }
}
