//! `walk`: a simulated walker moves on the server, and the partner sees what opens.

use haurach_proto::BondView;

use crate::support::{Cli, Server};

#[test]
fn walking_toward_the_partner_opens_the_tiers_in_order() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    cli.ok_as("spike", &["move", "23.12036", "53.66059"]);
    // Amethyst walks 19.5 km west, from 21 km away to 1.5 km away, at 5 km/h, a
    // hundred thousand times faster than real time.
    let out = cli.ok_as(
        "amethyst",
        &[
            "walk",
            "--from",
            "23.12036,53.86573",
            "--to",
            "23.12036,53.67524",
            "--speed",
            "5",
            "--speedup",
            "100000",
            "--step-m",
            "250",
        ],
    );
    let opened: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_once(" opened (").map(|(tier, _)| tier))
        .collect();
    assert_eq!(
        opened,
        [
            "feelings", "voice", "thoughts", "images", "glimpse", "sight"
        ],
        "{out}"
    );
    assert!(out.contains("walked 20 km in 3 h 54 min (×100000"), "{out}");
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("spike is west, 1.5"),
        "{out}"
    );

    // The partner reads the same: within sight range the pull is exact.
    let out = cli.ok_as("spike", &["where"]);
    assert!(out.starts_with("amethyst is east, 1.5 km away"), "{out}");
    assert!(out.contains("at 23.12036, 53.67524"), "{out}");
    assert!(out.contains("✓ sight     open"), "{out}");
    assert!(out.contains("· memories  closed"), "{out}");
}

#[test]
fn walking_a_gpx_track_ends_at_its_last_point() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("open");
    cli.ok_as("spike", &["move", "45.0", "14.0"]);
    let dir = tempfile::tempdir().unwrap();
    let gpx = dir.path().join("stroll.gpx");
    std::fs::write(
        &gpx,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
  <trk><name>stroll</name><trkseg>
    <trkpt lat="45.0010" lon="14.0000"><time>2020-05-01T10:00:00Z</time></trkpt>
    <trkpt lat="45.0020" lon="14.0010"><time>2020-05-01T10:01:00Z</time></trkpt>
    <trkpt lat="45.0030" lon="14.0020"><time>2020-05-01T10:02:00Z</time></trkpt>
  </trkseg></trk>
</gpx>"#,
    )
    .unwrap();
    let out = cli.ok_as(
        "amethyst",
        &["walk", "--gpx", gpx.to_str().unwrap(), "--speedup", "1000"],
    );
    assert!(out.contains("along"), "{out}");
    assert!(out.contains("in 2 min (×1000"), "{out}");
    // "open" shares the exact position at any range.
    let view: BondView = serde_json::from_str(&cli.ok_as("spike", &["where", "--json"])).unwrap();
    let position = view.pull.unwrap().position.unwrap();
    assert_eq!((position.lat, position.lon), (45.003, 14.002));

    let err = cli.fails(&["walk", "--gpx", "/nonexistent.gpx"]);
    assert!(err.contains("cannot read /nonexistent.gpx"), "{err}");
    let err = cli.fails(&["walk", "--from", "91,0", "--to", "0,0"]);
    assert!(err.contains("lat must be in [-90, 90]"), "{err}");
}

#[test]
fn walking_one_side_of_a_scenario() {
    let server = Server::start();
    let cli = Cli::new(&server);
    // The scenario's partners, with the scenario's passwords.
    cli.bonded_pair("story");
    cli.ok_as("spike", &["move", "23.12036", "53.66059"]);
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/desert.toml");
    // No --as: the walk acts as the scenario's partner.
    let out = cli.ok(&[
        "walk",
        "--scenario",
        scenario,
        "--who",
        "amethyst",
        "--speedup",
        "1000000",
        "--step-m",
        "500",
    ]);
    assert!(
        out.contains("walked 11 km as amethyst in The desert crossing in 18 h 20 min"),
        "{out}"
    );
    assert!(out.contains("images opened"), "{out}");
    assert!(!out.contains("glimpse opened"), "{out}");
    let out = cli.ok_as("spike", &["where"]);
    assert!(out.starts_with("amethyst is east, 11 km away"), "{out}");

    let err = cli.fails(&["walk", "--scenario", scenario, "--who", "rarity"]);
    assert!(
        err.contains("no partner is named \"rarity\" in this scenario"),
        "{err}"
    );
}
