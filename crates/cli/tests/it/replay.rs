//! `replay` of the story's scenario: the timeline the story tells.

use std::path::PathBuf;

use serde_json::Value;

use crate::search::{Trace, f32_traces_of, files, first_found, traces_of};
use crate::support::{Cli, Server, haurach};

fn desert() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/desert.toml")
}

/// `haurach replay` of the desert crossing with `--json` and `args`: its timeline, once
/// it has succeeded.
fn replay_json(args: &[&str]) -> Value {
    let out = haurach()
        .arg("replay")
        .arg(desert())
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The default step of `replay`: the partners come at most this much closer per step.
const STEP_M: f64 = 100.0;

#[test]
fn the_desert_crossing_opens_every_tier_in_the_story_order() {
    let timeline = replay_json(&[]);
    assert_eq!(timeline["profile"], "story");
    assert_eq!(timeline["server"], "in-process");
    let events = timeline["events"].as_array().unwrap();

    let start = &events[0];
    assert_eq!(start["kind"], "start");
    assert_eq!(start["open"], serde_json::json!(["pull", "alarm"]));
    assert!(start["distance_m"].as_f64().unwrap() > 20_000.0, "{start}");

    let tiers: Vec<&Value> = events.iter().filter(|e| e["kind"] == "tier").collect();
    let names: Vec<&str> = tiers.iter().map(|e| e["tier"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "feelings", "voice", "thoughts", "images", "glimpse", "sight", "memories"
        ]
    );
    let mut last_t = 0.0;
    for e in &tiers {
        assert_eq!(e["open"], true, "nothing closes on the way: {e}");
        let range = e["range_m"].as_f64().unwrap();
        let d = e["distance_m"].as_f64().unwrap();
        let before = e["prev_distance_m"].as_f64().unwrap();
        // It opened at the first step within its range, not before and not later.
        assert!(d <= range, "{e}");
        assert!(before > range, "{e}");
        assert!(before - d <= STEP_M + 1e-6, "{e}");
        let t = e["t_s"].as_f64().unwrap();
        assert!(t > last_t, "{e}");
        last_t = t;
    }
    // Voice comes on day 1, the glimpse on day 2, and memories only at the Needle.
    assert!(tiers[1]["at"].as_str().unwrap().starts_with("day 1 "));
    assert!(tiers[4]["at"].as_str().unwrap().starts_with("day 2 "));
    let end = events.last().unwrap();
    assert_eq!(end["kind"], "end");
    assert_eq!(end["together"], true);
    assert_eq!(end["place"], "the Glass Needle");
    assert!(end["distance_m"].as_f64().unwrap() <= 25.0, "{end}");
    // They rest at night: nobody walks between the camps and dawn.
    let notes: Vec<String> = events
        .iter()
        .filter(|e| e["kind"] == "note")
        .map(|e| {
            format!(
                "{} {} {}",
                e["at"].as_str().unwrap(),
                e["who"].as_str().unwrap(),
                e["note"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("day 1 19:10 spike camps")),
        "{notes:#?}"
    );
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("day 2 09:40 amethyst reaches the Glass Needle")),
        "{notes:#?}"
    );
}

#[test]
fn the_timeline_reads_as_lines() {
    let out = haurach().arg("replay").arg(desert()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "The desert crossing: spike and amethyst, story profile, on a server started for the replay"
    );
    let feelings = lines
        .iter()
        .find(|l| l.ends_with("feelings opened (within 20 km)"))
        .unwrap_or_else(|| panic!("{text}"));
    // "day 1 15:54   20.0 km  feelings opened (within 20 km)"
    assert!(feelings.starts_with("day 1 "), "{feelings}");
    assert!(
        feelings.contains(" 20.0 km  ") || feelings.contains(" 19.9 km  "),
        "{feelings}"
    );
    assert!(text.contains("memories opened (within 25 m)"), "{text}");
    assert!(
        lines[lines.len() - 2].ends_with("spike and amethyst are together at the Glass Needle"),
        "{text}"
    );
    assert!(lines[lines.len() - 1].ends_with(" steps"), "{text}");
}

#[test]
fn replay_on_a_running_server_leaves_the_partners_there() {
    let server = Server::start();
    let cli = Cli::new(&server);
    let run = || {
        haurach()
            .arg("replay")
            .arg(desert())
            .args(["--server", &server.url, "--step-m", "1000"])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("story profile, on {}", server.url)),
        "{text}"
    );
    assert!(text.contains("memories opened"), "{text}");
    // Again: the partners log in with the scenario's passwords and bond afresh.
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ended the earlier bond of spike and amethyst"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    cli.ok(&["login", "spike", "--password", "east-about-20-km"]);
    let out = cli.ok(&["where"]);
    assert!(out.starts_with("amethyst is "), "{out}");
    assert!(out.contains("✓ memories  open"), "{out}");

    let bad = haurach()
        .args(["replay", "/nonexistent.toml"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("cannot read /nonexistent.toml"));
}

/// `replay --private`: the two are bonded privately, each step is a token report and a
/// sealed position from each one's device, and the tiers open in the story's order from
/// the tokens, each within 1.5 times its range (the token rule), and never close on the
/// way; the two end together.
#[test]
fn the_desert_crossing_on_a_private_bond_opens_every_tier_from_tokens() {
    let timeline = replay_json(&["--private", "--step-m", "400"]);
    let events = timeline["events"].as_array().unwrap();
    assert_eq!(events[0]["open"], serde_json::json!(["pull", "alarm"]));
    let tiers: Vec<&Value> = events.iter().filter(|e| e["kind"] == "tier").collect();
    let names: Vec<&str> = tiers.iter().map(|e| e["tier"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "feelings", "voice", "thoughts", "images", "glimpse", "sight", "memories"
        ]
    );
    for e in &tiers {
        assert_eq!(e["open"], true, "nothing closes on the way: {e}");
        let range = e["range_m"].as_f64().unwrap();
        assert!(e["distance_m"].as_f64().unwrap() <= 1.5 * range, "{e}");
    }
    let end = events.last().unwrap();
    assert_eq!(end["together"], true, "{end}");
}

/// Issue 20's search, on the whole story: the desert crossing walked on a private bond
/// against a real server, each walker's device sending only token reports, sealed
/// positions and sealed words; then the server's whole data directory (the SQLite
/// database, its WAL and every other file) and its debug log are searched for every
/// coordinate either walker sent (as text at several precisions and as the bytes of an
/// `f64` both ways; the scenario's waypoints as an `f32` too) and every word they said,
/// and none is there.
#[test]
fn the_story_walked_privately_leaves_no_coordinate_and_no_word_on_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut server = Server::start_with(&data, "127.0.0.1:0", &[("HAURACH_LOG", "debug")]);
    let timeline = replay_json(&["--server", &server.url, "--private"]);
    let events = timeline["events"].as_array().unwrap();
    // Every tier opened from the tokens, and the story's words were said, sealed.
    let opened = events
        .iter()
        .filter(|e| e["kind"] == "tier" && e["open"] == true)
        .count();
    assert_eq!(opened, 7, "{events:#?}");
    let said: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "said" && e["sent"] == true)
        .map(|e| e["words"].as_str().unwrap())
        .collect();
    assert_eq!(said.len(), 3, "{events:#?}");
    // Every position sent: where the two stood at the start and after each step.
    let mut coordinates: Vec<f64> = Vec::new();
    for step in timeline["walked"].as_array().unwrap() {
        for at in step.as_array().unwrap() {
            for value in at.as_array().unwrap() {
                coordinates.push(value.as_f64().unwrap());
            }
        }
    }
    coordinates.sort_by(f64::total_cmp);
    coordinates.dedup();
    assert!(coordinates.len() > 300, "{}", coordinates.len());

    // Killed, not stopped: whatever the WAL holds stays for the search.
    server.kill();
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/api/v1/me/sealed-fix"),
        "the access log is on: {log}"
    );
    let mut secrets: Vec<Trace> = Vec::new();
    for value in &coordinates {
        secrets.extend(traces_of(*value));
    }
    let scenario: toml::Value =
        toml::from_str(&std::fs::read_to_string(desert()).unwrap()).unwrap();
    for partner in scenario["partners"].as_array().unwrap() {
        for w in partner["waypoints"].as_array().unwrap() {
            for value in [&w["lat"], &w["lon"]] {
                let value = value.as_float().unwrap();
                assert!(coordinates.contains(&value), "{value} was sent");
                secrets.extend(f32_traces_of(value));
            }
        }
    }
    for words in &said {
        secrets.push(Trace::Bytes(words.as_bytes().to_vec()));
    }
    for word in ["western", "HEARD", "eastern gate", "Needle, I wait"] {
        secrets.push(Trace::Bytes(word.as_bytes().to_vec()));
    }
    let mut all = files(&data);
    assert!(
        all.iter().any(|(path, _)| path.ends_with("haurach.db-wal")),
        "{:?}",
        all.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    all.push(("the server's log".into(), without_clock_readings(&log)));
    for (path, bytes) in &all {
        if let Some((found, around)) = first_found(&secrets, bytes) {
            panic!("{path} holds {:?}: {around:?}", found.shown());
        }
    }
}

/// The server's log without its own clock readings: each line's timestamp, each
/// request's duration (`ms=…`) and each query's (`elapsed=…`, `elapsed_secs=…`). The
/// story's coordinates are positive numbers of two digits and its walkers stood all over
/// 23.12-23.15 and 53.66-53.87, so `23.125` or `53.685` would be found in a timestamp's
/// seconds (`12:01:23.125871Z`) or a query that took 53.685 µs, which are not
/// coordinates.
fn without_clock_readings(log: &str) -> Vec<u8> {
    let mut out = String::new();
    for line in log.lines() {
        let mut words = line.split(' ').peekable();
        if words
            .peek()
            .is_some_and(|w| w.len() > 20 && w.as_bytes()[0].is_ascii_digit() && w.contains('T'))
        {
            words.next();
        }
        let clock = |w: &&str| {
            ["ms=", "elapsed=", "elapsed_secs="]
                .iter()
                .any(|k| w.starts_with(k))
        };
        for word in words.filter(|w| !clock(w)) {
            out.push_str(word);
            out.push(' ');
        }
        out.push('\n');
    }
    out.into_bytes()
}
