//! `replay` of the story's scenario: the timeline the story tells.

use std::path::PathBuf;

use serde_json::Value;

use crate::support::{Cli, Server, haurach};

fn desert() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/desert.toml")
}

/// The default step of `replay`: the partners come at most this much closer per step.
const STEP_M: f64 = 100.0;

#[test]
fn the_desert_crossing_opens_every_tier_in_the_story_order() {
    let out = haurach()
        .arg("replay")
        .arg(desert())
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let timeline: Value = serde_json::from_slice(&out.stdout).unwrap();
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
    let out = haurach()
        .arg("replay")
        .arg(desert())
        .args(["--private", "--json", "--step-m", "400"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let timeline: Value = serde_json::from_slice(&out.stdout).unwrap();
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
