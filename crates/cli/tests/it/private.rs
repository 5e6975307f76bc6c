//! A private bond through the real CLI and the real server (issue 20): two partners bond
//! with `invite --private` and `accept`, `move` and `walk` send token reports and sealed
//! positions, the tiers open and close as the matcher says, each partner's `where` and
//! `watch` show the pull worked out on their device (coarse beyond sight, exact within
//! it), and words, a feeling, an alarm's words, a thought, a journal entry and a
//! picture (small 5 km apart, sharp together, and said to be changed when the server
//! changed it) pass sealed and are read by the partner; afterwards the server's whole data directory and its log hold none of the
//! coordinates used, none of the words and not the invite's secret. A server that swaps
//! the public keys makes both devices refuse the bond.

use std::io::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use haurach_private::{BondKey, Role, Sealer};
use haurach_proto::private::key_from_hex;
use haurach_proto::sealed::{Envelope, FixContent, POSITION};

use crate::search::{Trace, f32_traces_of, files, first_found, traces_of};
use crate::support::{Cli, Server};

/// Where amethyst stands, and where spike stands near her and far from her (story
/// profile: feelings within 20 km, sight within 2 km). Digits nobody else uses, to look
/// for afterwards; south and west, so each one's text starts with a minus, which no time
/// or duration in the server's debug log does.
pub(crate) const HER: (f64, f64) = (-46.123457, -7.654321);
const NEAR: (f64, f64) = (-46.168463, -7.654321); // 5.0 km south of her
pub(crate) const FAR: (f64, f64) = (-46.483419, -7.654321); // 40.0 km south of her
/// Within sight of her: 800 m south-east (tokens open sight for certain within 1 km).
pub(crate) const SIGHT: (f64, f64) = (-46.128546, -7.647001);
/// Where spike's walk ends: 600 m north-west of her.
const WALKED: (f64, f64) = (-46.119640, -7.659810);

/// What they say, and the alarm's words: words nobody else uses, to look for afterwards.
const WORDS: &str = "the quartz lantern hums";
const ALARM: &str = "the vermilion dune slides";
/// A feeling, to look for as its key.
const FEELING: &str = "longing";
/// A thought, and one typed while thoughts are closed.
const THOUGHT: &str = "I wonder about the saffron gate";
const HELD_BACK: &str = "the cobalt well is far";
/// A journal entry, which opens to the partner when they are together.
const JOURNAL: &str = "the obsidian ferry waits";

/// The caption of his journal photo, sealed with it.
const PHOTO_CAPTION: &str = "the amber kite over the dune";

/// The real photo with GPS in its EXIF (see `crates/picture/tests/picture.rs`).
const GPS_PHOTO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../picture/tests/gps-photo.jpg"
);

/// The longest side of a JPEG, from its header.
fn longest_side(jpeg: &[u8]) -> u32 {
    let (w, h) = haurach_picture::dimensions(jpeg).expect("a picture");
    w.max(h)
}

/// `haurach think` as `who`, typing `lines`; what it said on stderr.
fn think(cli: &Cli, who: &str, lines: &[&str]) -> String {
    let mut child = cli
        .cmd(&["--as", who, "think"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for line in lines {
        writeln!(stdin, "{line}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// The code in `haurach invite --private`'s output.
/// Spike and amethyst registered, and bonded privately on the story profile: she invites,
/// he accepts.
pub(crate) fn bond_privately(cli: &Cli) {
    cli.register("spike", "east-about-20-km");
    cli.register("amethyst", "reaching-west-too");
    let code = private_code(&cli.ok_as("amethyst", &["invite", "--private"]));
    cli.ok_as("spike", &["accept", &code, "--profile", "story"]);
}

pub(crate) fn private_code(out: &str) -> String {
    let code = out.split_whitespace().nth(3).unwrap_or_default().to_owned();
    assert!(code.starts_with("HP1-"), "{out}");
    code
}

pub(crate) fn mv(cli: &Cli, who: &str, at: (f64, f64)) -> String {
    cli.ok_as(who, &["move", &at.0.to_string(), &at.1.to_string()])
}

/// The pull's sentence for `partner` in `out`: its compass point, its distance in metres,
/// and whether it gives a position.
fn pull_in(out: &str, partner: &str) -> (String, f64, bool) {
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{partner} is ")))
        .unwrap_or_else(|| panic!("no pull toward {partner} in {out}"));
    let rest = line.strip_prefix(&format!("{partner} is ")).unwrap();
    let (compass, rest) = rest.split_once(", ").unwrap();
    let (distance, _) = rest.split_once(" away").unwrap();
    let distance_m = match distance.strip_suffix(" km") {
        Some(km) => km.parse::<f64>().unwrap() * 1000.0,
        None => distance.strip_suffix(" m").unwrap().parse::<f64>().unwrap(),
    };
    (compass.to_owned(), distance_m, line.contains(" at "))
}

/// What `who`'s partner last sealed for them, opened with the bond key `who`'s device
/// keeps: what a partner's device learns, whatever it shows.
fn partner_sealed(cli: &Cli, who: &str) -> FixContent {
    let view: serde_json::Value =
        serde_json::from_str(&cli.ok_as(who, &["where", "--json"])).unwrap();
    let keys: toml::Value =
        toml::from_str(&std::fs::read_to_string(cli.home.path().join("private.toml")).unwrap())
            .unwrap();
    let entry = keys["servers"]
        .as_table()
        .unwrap()
        .values()
        .find_map(|people| people.get(who))
        .unwrap();
    let key = BondKey::from_bytes(key_from_hex(entry["bond_key"].as_str().unwrap()).unwrap());
    let from = match entry["role"].as_str() {
        Some("inviter") => Role::Accepter,
        _ => Role::Inviter,
    };
    let envelope = Envelope {
        bond: view["id"].as_str().unwrap().parse().unwrap(),
        from,
        kind: POSITION,
    };
    let sealed = view["partner_sealed_fix"]["sealed"].as_str().unwrap();
    let (_, content) = envelope.open(&Sealer::new(&key), sealed).unwrap();
    FixContent::from_bytes(&content).unwrap()
}

fn tier_line<'a>(out: &'a str, tier: &str) -> &'a str {
    out.lines()
        .find(|l| l.split_whitespace().nth(1) == Some(tier))
        .unwrap_or_else(|| panic!("no {tier} in {out}"))
}

#[test]
fn a_private_bond_opens_its_tiers_and_the_server_keeps_no_coordinate_and_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The server logs everything it would ever log.
    let mut server = Server::start_with(&data, "127.0.0.1:0", &[("HAURACH_LOG", "debug")]);
    let cli = Cli::new(&server);
    cli.register("spike", "east-about-20-km");
    cli.register("amethyst", "reaching-west-too");

    let qr = dir.path().join("invite.svg");
    let out = cli.ok_as(
        "amethyst",
        &["invite", "--private", "--qr", &qr.to_string_lossy()],
    );
    let code = private_code(&out);
    assert!(out.contains(&format!("accept {code}")), "{out}");
    assert!(
        out.contains("the OwnTracks app cannot take part in a private bond"),
        "{out}"
    );
    let drawn = std::fs::read_to_string(&qr).unwrap();
    let secret = haurach_private::invite::parse_code(&code).unwrap();
    assert_eq!(
        drawn,
        haurach_private::invite::qr_svg(&server.url, &secret),
        "the QR code holds the link to the web page with the code"
    );

    // He pastes the link the QR code holds rather than the code.
    let link = haurach_private::invite::link(&server.url, &secret);
    assert!(link.ends_with(&format!("/#accept={code}")), "{link}");
    let out = cli.ok_as("spike", &["accept", &link, "--profile", "story"]);
    assert!(
        out.contains("bonded privately with amethyst (story profile)"),
        "{out}"
    );
    // Nothing leaves spike's device until amethyst's has confirmed the same key.
    let err = cli.fails(&[
        "--as",
        "spike",
        "move",
        &NEAR.0.to_string(),
        &NEAR.1.to_string(),
    ]);
    assert!(err.contains("not confirmed the bond's keys yet"), "{err}");

    // Her first move derives and confirms the key and reports; his confirms hers.
    mv(&cli, "amethyst", HER);
    let out = mv(&cli, "spike", NEAR);
    assert!(out.contains("a private bond"), "{out}");
    for open in ["feelings", "voice", "thoughts", "images", "glimpse"] {
        assert!(tier_line(&out, open).contains("open"), "{open}: {out}");
    }
    for closed in ["sight", "memories"] {
        assert!(
            tier_line(&out, closed).contains("closed"),
            "{closed}: {out}"
        );
    }
    // Each sealed its position for the other, rounded on the device. Once each has seen
    // the other's, 5 km apart with glimpse open (so within 15 km) and sight closed, the
    // pull each works out is coarse, and off the true 5.0 km by no more than the rule
    // allows: a cell's reach is at most 0.3 of the 15 km, and the distance is then
    // rounded to two figures.
    mv(&cli, "amethyst", HER);
    mv(&cli, "spike", NEAR);
    for (who, partner) in [("spike", "amethyst"), ("amethyst", "spike")] {
        let out = cli.ok_as(who, &["where"]);
        let (compass, distance_m, at) = pull_in(&out, partner);
        assert!(!at, "no position beyond sight: {out}");
        assert!(
            (distance_m - 5_003.0).abs() <= 0.3 * 15_000.0 + 0.05 * 5_003.0,
            "{out}"
        );
        assert!(
            compass.contains("north") || compass.contains("south"),
            "{out}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&cli.ok_as(who, &["where", "--json"])).unwrap();
        let pull = &json["pull"];
        assert_eq!(pull["exact"], false, "{json}");
        assert!(pull.get("position").is_none(), "{json}");
        assert_eq!(pull["bearing_deg"].as_f64().unwrap() % 5.0, 0.0, "{json}");
        assert_eq!(pull["distance_m"].as_f64().unwrap(), distance_m, "{json}");
        assert!(json["partner_sealed_fix"]["sealed"].is_string(), "{json}");
        // What the partner's device holds is no finer than what it shows: a point in a
        // cell at least a tenth of the distance across (its reach at least half that
        // cell's diagonal), never the fix.
        let (theirs, true_at) = if who == "spike" {
            (partner_sealed(&cli, who), HER)
        } else {
            (partner_sealed(&cli, who), NEAR)
        };
        assert!(!theirs.exact, "{theirs:?}");
        let off = haurach_bond::geo::inverse(theirs.lat, theirs.lon, true_at.0, true_at.1);
        assert!(
            off.distance_m > 0.0 && off.distance_m <= theirs.reach_m,
            "{theirs:?}"
        );
        assert!(
            theirs.reach_m >= 0.1 * 5_003.0 / std::f64::consts::SQRT_2,
            "{theirs:?}"
        );
    }
    // Words and a feeling pass sealed: each device seals what it sends and opens what
    // its partner sent.
    let out = cli.ok_as("spike", &["say", WORDS]);
    assert!(out.contains(&format!("you: {WORDS}")), "{out}");
    let out = cli.ok_as("amethyst", &["feel", FEELING]);
    assert!(out.contains(&format!("you feel {FEELING}")), "{out}");
    let out = cli.ok_as("amethyst", &["watch", "--count", "2", "--for", "20"]);
    assert!(out.contains(&format!("spike: {WORDS}")), "{out}");
    assert!(out.contains(&format!("you feel {FEELING}")), "{out}");
    let out = cli.ok_as("spike", &["watch", "--count", "2", "--for", "20"]);
    assert!(out.contains(&format!("amethyst feels {FEELING}")), "{out}");
    // A thought, sealed whole, reaches her link as it is typed.
    let wait = Duration::from_secs(20);
    let mut watch = cli.spawn(&["--as", "amethyst", "watch", "--for", "30"]);
    watch.expect("linked as amethyst", wait);
    think(&cli, "spike", &[THOUGHT]);
    watch.expect(&format!("spike is thinking: {THOUGHT}"), wait);
    drop(watch);

    // A journal entry is sealed on his device and read back there; it opens to her only
    // once they are together, and her device opens the words.
    let out = cli.ok_as("spike", &["remember", JOURNAL]);
    assert!(
        out.contains("kept in your journal") && !out.contains("shared already"),
        "{out}"
    );
    let out = cli.ok_as("spike", &["memories"]);
    assert!(out.contains(JOURNAL), "{out}");
    let out = cli.ok_as("amethyst", &["memories", "--partner"]);
    assert!(
        out.contains("nothing in your partner's journal yet"),
        "{out}"
    );
    // A picture is made into its sizes and sealed on his device; 5 km apart (glimpse
    // open) it reaches her at 128 px, opened on her device.
    let out = cli.ok_as("spike", &["send-image", GPS_PHOTO]);
    assert!(
        out.contains("from you, sealed, 800 px on its longest side: full size"),
        "{out}"
    );
    let picture = out["sent: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let out = cli.ok_as("amethyst", &["picture"]);
    assert!(
        out.contains(&format!(
            "{picture}  from spike, sealed, 800 px on its longest side: 128 px of 800"
        )),
        "{out}"
    );
    let small = dir.path().join("small.jpg");
    let out = cli.ok_as(
        "amethyst",
        &["picture", &picture, "--out", &small.to_string_lossy()],
    );
    assert!(out.contains("(128 px on its longest side)"), "{out}");
    let small = std::fs::read(&small).unwrap();
    assert_eq!(longest_side(&small), 128);
    // What the server changed does not open: she is told, and nothing is saved.
    let kept = data.join("images").join(&picture).join("s128.sealed");
    let sealed = std::fs::read(&kept).unwrap();
    let mut changed = sealed.clone();
    *changed.last_mut().unwrap() ^= 1;
    std::fs::write(&kept, &changed).unwrap();
    let err = cli.fails(&["--as", "amethyst", "picture", &picture]);
    assert!(err.contains("changed on the way"), "{err}");
    std::fs::write(&kept, &sealed).unwrap();

    mv(&cli, "amethyst", HER);
    let out = mv(&cli, "spike", HER);
    assert!(tier_line(&out, "memories").contains("open"), "{out}");
    let out = cli.ok_as("amethyst", &["memories", "--partner"]);
    assert!(out.contains(&format!("{JOURNAL} (shared)")), "{out}");
    // Together, the picture sharpens to full size on her device.
    let full = dir.path().join("full.jpg");
    let out = cli.ok_as(
        "amethyst",
        &["picture", &picture, "--out", &full.to_string_lossy()],
    );
    assert!(out.contains("(800 px on its longest side)"), "{out}");
    let full = std::fs::read(&full).unwrap();
    assert_eq!(longest_side(&full), 800);
    assert!(!full.windows(4).any(|w| w == b"Exif"), "EXIF reached her");
    // A journal photo is stripped and sealed with its caption on his device; together,
    // it opens to her, and her device opens it: the caption, and the photo without EXIF.
    let out = cli.ok_as("spike", &["remember", "--photo", GPS_PHOTO, PHOTO_CAPTION]);
    assert!(out.contains("shared already"), "{out}");
    let saved = dir.path().join("her-journal-photos");
    let out = cli.ok_as(
        "amethyst",
        &[
            "memories",
            "--partner",
            "--photos",
            &saved.to_string_lossy(),
        ],
    );
    assert!(out.contains(&format!("[photo] {PHOTO_CAPTION}")), "{out}");
    let journal_photo = std::fs::read_dir(&saved)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .next()
        .expect("her device saved his journal photo");
    assert_eq!(longest_side(&journal_photo), 800);
    assert!(
        !journal_photo.windows(4).any(|w| w == b"Exif"),
        "EXIF reached her"
    );
    // What is not a photo is refused on his device, before anything is sealed.
    let not_a_photo = dir.path().join("photo.png");
    std::fs::write(&not_a_photo, [0x89, b'P', b'N', b'G']).unwrap();
    let err = cli.fails(&[
        "--as",
        "spike",
        "remember",
        "--photo",
        &not_a_photo.to_string_lossy(),
    ]);
    assert!(err.contains("this photo cannot be kept"), "{err}");

    // Within sight his position reaches her exactly, on her link as he moves and in her
    // `where`.
    let mut watch = cli.spawn(&["--as", "amethyst", "watch", "--for", "30"]);
    watch.expect("linked as amethyst", wait);
    let out = mv(&cli, "spike", SIGHT);
    assert!(tier_line(&out, "sight").contains("open"), "{out}");
    let exactly = format!("at {:.5}, {:.5}", SIGHT.0, SIGHT.1);
    let line = watch.expect("spike is ", wait);
    assert!(line.contains(&exactly), "{line}");
    drop(watch);
    let out = cli.ok_as("amethyst", &["where"]);
    let (_, distance_m, at) = pull_in(&out, "spike");
    assert!(at && out.contains(&exactly), "{out}");
    assert!((distance_m - 800.0).abs() <= 1.0, "{out}");
    let his = partner_sealed(&cli, "amethyst");
    assert!(his.exact && (his.lat, his.lon) == SIGHT, "{his:?}");
    // A walk on a private bond reports and seals each step too.
    let (from, to) = (
        format!("{},{}", SIGHT.0, SIGHT.1),
        format!("{},{}", WALKED.0, WALKED.1),
    );
    let out = cli.ok_as(
        "spike",
        &[
            "walk",
            "--from",
            &from,
            "--to",
            &to,
            "--step-m",
            "300",
            "--speedup",
            "3600",
        ],
    );
    assert!(out.contains("walked"), "{out}");
    let out = cli.ok_as("amethyst", &["where"]);
    assert!(
        out.contains(&format!("at {:.5}, {:.5}", WALKED.0, WALKED.1)),
        "{out}"
    );

    let out = mv(&cli, "spike", FAR);
    for closed in ["feelings", "glimpse", "sight"] {
        assert!(
            tier_line(&out, closed).contains("closed"),
            "{closed}: {out}"
        );
    }
    // Sealed words still need the voice tier; a thought typed while thoughts are closed
    // never leaves the device.
    let err = cli.fails(&["--as", "spike", "say", "are you there"]);
    assert!(err.contains("voice is closed"), "{err}");
    let said = think(&cli, "spike", &[HELD_BACK]);
    assert!(
        said.contains("nothing you type leaves this device")
            && said.contains("this one stays on this device"),
        "{said}"
    );
    // The alarm passes at any range, its words sealed (the fourth message: the words,
    // the feeling and the picture's came before).
    let out = cli.ok_as("amethyst", &["alarm", ALARM]);
    assert!(out.starts_with("alarm #4 raised"), "{out}");
    let out = cli.ok_as("spike", &["where"]);
    assert!(
        out.contains(&format!("raised alarm #4 from amethyst: {ALARM:?}")),
        "{out}"
    );

    // Killed, not stopped: whatever the WAL holds stays for the search.
    server.kill();
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/api/v1/me/tokens"),
        "the access log is on: {log}"
    );
    let secret = haurach_private::invite::parse_code(&code).unwrap();
    let mut secrets: Vec<Trace> = vec![
        Trace::Bytes(secret.as_bytes().to_vec()),
        Trace::Bytes(code.clone().into_bytes()),
        Trace::Bytes(code.replace('-', "").into_bytes()),
        Trace::Bytes(
            code.trim_start_matches("HP1-")
                .replace('-', "")
                .into_bytes(),
        ),
    ];
    for value in [
        HER.0, HER.1, NEAR.0, FAR.0, SIGHT.0, SIGHT.1, WALKED.0, WALKED.1,
    ] {
        secrets.extend(traces_of(value));
        secrets.extend(f32_traces_of(value));
    }
    for said in [
        WORDS,
        ALARM,
        FEELING,
        THOUGHT,
        HELD_BACK,
        JOURNAL,
        PHOTO_CAPTION,
        "obsidian",
        "quartz",
        "vermilion",
        "saffron",
        "cobalt",
    ] {
        secrets.push(Trace::Bytes(said.as_bytes().to_vec()));
    }
    // The picture, as sent and as she opened it at each size: a stretch from the middle
    // of each.
    let photo = std::fs::read(GPS_PHOTO).unwrap();
    for picture in [&photo, &small, &full, &journal_photo] {
        let mid = picture.len() / 2;
        secrets.push(Trace::Bytes(picture[mid..mid + 48].to_vec()));
    }
    let mut all = files(&data);
    assert!(
        all.iter().any(|(path, _)| path.ends_with("haurach.db")),
        "{:?}",
        all.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    all.push(("the server's log".into(), log.into_bytes()));
    for (path, bytes) in &all {
        if let Some((found, around)) = first_found(&secrets, bytes) {
            panic!("{path} holds {:?}: {around:?}", found.shown());
        }
    }
}

/// Where amethyst goes in the stretch's test: 5 km north of `HER`, then nearly to the
/// other side of the Earth (about 20,000 km from there). Digits nobody else uses.
const NORTH: (f64, f64) = (-46.078491, -7.654321);
const AWAY: (f64, f64) = (45.987654, 171.234567);

/// The stretch on a private bond (issue 20): the server sees no position, so amethyst's
/// own device judges her jumps (`haurach_bond::StretchDetector` at the city's
/// `max_speed_kmh`, which it reads from the private bond's view) and seals the stretch
/// inside her position; spike's `watch` tells it with the plain bond's words, once.
/// Nothing of where she went reaches the server in the clear. The city allows 700,000
/// km/h, so 5 km in the fraction of a second between two moves is no stretch unless they
/// come within 26 ms (at the default 300 km/h it would be), and 20,000 km is unless they
/// are more than 100 s apart.
#[test]
fn a_jump_on_a_private_bond_is_judged_on_the_device_and_told_to_the_partner_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_with(
        &data,
        "127.0.0.1:0",
        &[
            ("HAURACH_LOG", "debug"),
            ("HAURACH_MAX_SPEED_KMH", "700000"),
        ],
    );
    let cli = Cli::new(&server);
    bond_privately(&cli);
    let out = mv(&cli, "amethyst", HER);
    assert!(!out.contains("stretched"), "{out}");
    mv(&cli, "spike", NEAR);

    let wait = Duration::from_secs(20);
    let mut watch = cli.spawn(&["--as", "spike", "watch", "--for", "60"]);
    watch.expect("linked as spike", wait);
    // Fast, but within the city's top speed: no stretch.
    let out = mv(&cli, "amethyst", NORTH);
    assert!(!out.contains("stretched"), "{out}");
    watch.expect("amethyst is ", wait);
    // Beyond it: her device says so to her, and seals it for him.
    let out = mv(&cli, "amethyst", AWAY);
    assert!(
        out.contains("the bond stretched: you jumped 20,000 km (as fast as "),
        "{out}"
    );
    let line = watch.expect("the bond stretched: ", wait);
    assert!(
        line.starts_with("the bond stretched: amethyst jumped 20,000 km (as fast as "),
        "{line}"
    );
    watch.expect("amethyst is ", wait);
    drop(watch);
    // What was told is not told again: not by `where`, nor by a link opened later, whose
    // bond view holds that position again.
    let out = cli.ok_as("spike", &["where"]);
    assert!(!out.contains("stretched"), "{out}");
    let mut watch = cli.spawn(&["--as", "spike", "watch", "--for", "60"]);
    watch.expect("linked as spike", wait);
    // Staying there is no stretch.
    let out = mv(&cli, "amethyst", AWAY);
    assert!(!out.contains("stretched"), "{out}");
    watch.expect("amethyst is ", wait);
    assert!(
        !watch.seen.iter().any(|l| l.contains("stretched")),
        "{:#?}",
        watch.seen
    );
    drop(watch);
    // With no `watch` running, whichever command of his opens her next jump first tells
    // it, once: here `where`.
    let out = mv(&cli, "amethyst", HER);
    assert!(out.contains("the bond stretched: you jumped"), "{out}");
    let out = cli.ok_as("spike", &["where"]);
    assert!(
        out.contains("the bond stretched: amethyst jumped 20,000 km (as fast as "),
        "{out}"
    );
    let out = cli.ok_as("spike", &["where"]);
    assert!(!out.contains("stretched"), "{out}");

    server.kill();
    let log = server.log.lock().unwrap().clone();
    let mut secrets = Vec::new();
    for value in [HER.0, HER.1, NEAR.0, NORTH.0, NORTH.1, AWAY.0, AWAY.1] {
        secrets.extend(traces_of(value));
        secrets.extend(f32_traces_of(value));
    }
    let mut all = files(&data);
    all.push(("the server's log".into(), log.into_bytes()));
    for (path, bytes) in &all {
        if let Some((found, around)) = first_found(&secrets, bytes) {
            panic!("{path} holds {:?}: {around:?}", found.shown());
        }
    }
}

/// A still person whose phone's fix jitters a few metres back and forth across the line
/// between two cells is seen by the partner in one place throughout, not flipping
/// between two (which would tell the partner that they stand on that line); a real move
/// on, past half a cell beyond the line, is seen (`docs/privacy.md`, "Keeping the cell").
/// Each `move` is a command of its own, so the cell is kept in `private.toml`.
#[test]
fn a_still_partner_jittering_across_a_cell_line_is_seen_in_one_place() {
    use haurach_private::rounding::{Cell, MAX_LEVEL};
    let server = Server::start();
    let cli = Cli::new(&server);
    bond_privately(&cli);
    // 5 km apart (glimpse open, sight closed), each having seen the other's position, so
    // the cells are as narrow as they get.
    for _ in 0..2 {
        mv(&cli, "amethyst", HER);
        mv(&cli, "spike", NEAR);
    }
    let seen = partner_sealed(&cli, "amethyst");
    assert!(!seen.exact, "{seen:?}");
    let level = (0..=MAX_LEVEL)
        .find(|l| Cell::of(NEAR.0, NEAR.1, *l).centre() == (seen.lat, seen.lon))
        .unwrap_or_else(|| panic!("{seen:?} is not the centre of a cell of his fix"));
    // The line is the cell's eastern edge: walking along it east and west barely changes
    // the distance to her (she is due north), so the cells stay the same size.
    let cell = Cell::of(NEAR.0, NEAR.1, level);
    let (west, east) = cell.lon_span();
    let metre = 1.0 / (111_320.0 * NEAR.0.to_radians().cos());
    let column_m = (east - west) / metre;
    assert!(column_m >= 100.0, "a column of {column_m} m");
    // He stands 2 m west of the line, and his fix wanders up to 4 m either side of where
    // he stands.
    let at = |m: f64| (NEAR.0, east + m * metre);
    let mut views = Vec::new();
    for m in [-2.0, 2.0, -4.0, 1.0, -1.0, 2.0] {
        mv(&cli, "spike", at(m));
        let view: serde_json::Value =
            serde_json::from_str(&cli.ok_as("amethyst", &["where", "--json"])).unwrap();
        let pull = &view["pull"];
        assert_eq!(pull["exact"], false, "{view}");
        let sealed = partner_sealed(&cli, "amethyst");
        views.push((
            (sealed.lat, sealed.lon, sealed.reach_m),
            (pull["bearing_deg"].clone(), pull["distance_m"].clone()),
        ));
    }
    assert!(
        views.iter().all(|v| *v == views[0]),
        "his still position was seen in more than one place: {views:#?}"
    );
    // What she sees covers him wherever his fix went.
    let (lat, lon, reach) = views[0].0;
    for m in [-4.0, 2.0] {
        let (flat, flon) = at(m);
        let off = haurach_bond::geo::inverse(lat, lon, flat, flon).distance_m;
        assert!(off <= reach, "{off} m beyond the reach {reach} m");
    }
    // He walks on east, past half a column beyond the line: she sees him move, to the
    // centre of his own cell, as large as before.
    let walked = at(0.75 * column_m);
    mv(&cli, "spike", walked);
    let moved = partner_sealed(&cli, "amethyst");
    assert_eq!(
        (moved.lat, moved.lon),
        Cell::of(walked.0, walked.1, level).centre(),
        "a move past the margin was not seen as his own cell: {moved:?}"
    );
    assert!(moved.lon > lon, "{moved:?}");
}

#[test]
fn a_server_that_swaps_the_public_keys_makes_both_devices_refuse_the_bond() {
    let mut server = Server::start();
    let cli = Cli::new(&server);
    cli.register("spike", "east-about-20-km");
    cli.register("amethyst", "reaching-west-too");
    let code = private_code(&cli.ok_as("amethyst", &["invite", "--private"]));
    // The server hands spike its own key in place of amethyst's, and amethyst its own
    // in place of spike's: it shares a key exchange with each, but not the invite's
    // secret.
    let db = server.data.join("haurach.db");
    let mallory = [
        haurach_private::DeviceSecret::generate().public(),
        haurach_private::DeviceSecret::generate().public(),
    ];
    swap(&db, "private_invites", "public_key", &mallory[0]);
    cli.ok_as("spike", &["accept", &code]);
    swap(&db, "private_bonds", "accepter_key", &mallory[1]);

    let err = cli.fails(&["--as", "amethyst", "move", "46.1", "7.6"]);
    assert!(err.contains("tampered with"), "{err}");
    let err = cli.fails(&["--as", "spike", "move", "46.1", "7.6"]);
    assert!(err.contains("tampered with"), "{err}");
    // Neither sent a report: the bond never opened anything.
    let out = cli.fails(&["--as", "spike", "where"]);
    assert!(out.contains("tampered with"), "{out}");
    server.kill();
}

/// Writes `key` over `column` of every row of `table` in the live SQLite database, as a
/// server (or whoever holds its database) that swaps keys would.
fn swap(db: &Path, table: &str, column: &str, key: &[u8; 32]) {
    let url = format!("sqlite://{}", db.display());
    let statement = format!("UPDATE {table} SET {column} = ?");
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .bind(&key[..])
                .execute(&mut db)
                .await
                .unwrap();
        });
}

/// Regression for issue 20's open question ("neither client refuses a counter it has
/// seen"): the server, playing its own part, stores a copy of amethyst's sealed words
/// again as a new message and hands spike an older sealed position of hers in place of
/// the latest. Spike's device opens both, knows it opened them before elsewhere, and
/// shows neither, saying the server sent them again; the words at their own number,
/// resumed from the start, still show once.
#[test]
fn a_device_refuses_what_the_server_sends_again_and_still_shows_a_resumed_message_once() {
    let mut server = Server::start();
    let cli = Cli::new(&server);
    bond_privately(&cli);
    mv(&cli, "amethyst", HER);
    mv(&cli, "spike", NEAR);
    mv(&cli, "amethyst", HER);
    mv(&cli, "spike", NEAR);
    // Spike's device opens her position once.
    let out = cli.ok_as("spike", &["where"]);
    pull_in(&out, "amethyst");
    let db = server.data.join("haurach.db");
    let older_fix = sql_text(
        &db,
        "SELECT sealed FROM sealed_fixes WHERE account_id = \
         (SELECT id FROM accounts WHERE name = 'amethyst')",
    );

    let out = cli.ok_as("amethyst", &["say", WORDS]);
    assert!(out.contains(&format!("you: {WORDS}")), "{out}");
    let out = cli.ok_as("spike", &["watch", "--count", "1", "--for", "20"]);
    assert!(out.contains(&format!("amethyst: {WORDS}")), "{out}");
    let seq: i64 = sql_text(&db, "SELECT MAX(seq) FROM messages")
        .parse()
        .unwrap();

    // The server stores her sealed words again, as the next message in the bond.
    sql_text(
        &db,
        "INSERT INTO messages (seq, bond_id, sender_id, client_id, kind, body, sent_at) \
         SELECT seq + 1, bond_id, sender_id, client_id || '-again', kind, body, sent_at \
         FROM messages WHERE seq = (SELECT MAX(seq) FROM messages) RETURNING seq",
    );
    let after = (seq - 1).to_string();
    let out = cli.ok_as(
        "spike",
        &["watch", "--after", &after, "--count", "2", "--for", "20"],
    );
    assert_eq!(out.matches(WORDS).count(), 1, "{out}");
    assert!(out.contains(&format!("#{seq} ")), "{out}");
    assert!(
        out.contains(&format!("#{} ", seq + 1))
            && out.contains(
                "the server sent amethyst's earlier sealed words again, so this is not shown"
            ),
        "{out}"
    );
    // Resumed again from the start: the same, the words once at their own number.
    let out = cli.ok_as(
        "spike",
        &["watch", "--after", "0", "--count", "2", "--for", "20"],
    );
    assert_eq!(out.matches(WORDS).count(), 1, "{out}");
    assert!(out.contains("earlier sealed words again"), "{out}");

    // She moves on; the server hands spike her older sealed position in place of it.
    mv(&cli, "amethyst", FAR);
    let out = cli.ok_as("spike", &["where"]);
    assert!(!out.contains("sent again"), "{out}");
    pull_in(&out, "amethyst");
    sql_text(
        &db,
        &format!(
            "UPDATE sealed_fixes SET sealed = '{older_fix}' WHERE account_id = \
             (SELECT id FROM accounts WHERE name = 'amethyst') RETURNING sealed"
        ),
    );
    let out = cli.ok_as("spike", &["where"]);
    assert!(
        out.contains("the server sent an earlier position of amethyst's again, so it is not shown"),
        "{out}"
    );
    assert!(!out.contains("amethyst is "), "no pull from it: {out}");
    server.kill();
}

/// Runs `statement` on the live SQLite database, as a server (or whoever holds its
/// database) would; the first column of its first row, as text.
pub(crate) fn sql_text(db: &Path, statement: &str) -> String {
    let url = format!("sqlite://{}", db.display());
    let statement = statement.to_owned();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut db = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
                .await
                .unwrap();
            let row = sqlx::query(sqlx::AssertSqlSafe(statement))
                .fetch_one(&mut db)
                .await
                .unwrap();
            let value: sqlx::sqlite::SqliteValueRef = sqlx::Row::try_get_raw(&row, 0).unwrap();
            let value = sqlx::ValueRef::to_owned(&value);
            sqlx::Value::try_decode::<String>(&value)
                .or_else(|_| sqlx::Value::try_decode::<i64>(&value).map(|n| n.to_string()))
                .unwrap()
        })
}
