//! `place`, `meet` and `journey` with the real binary against a real server: naming
//! places, hearing the partner arrive, meeting, and a GPX track walked and exported back.

use std::time::Duration;

use crate::support::{Cli, Server};

/// The (lat, lon) of every track point of a GPX document, as written.
fn points(gpx: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| -> String {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].to_owned()
    };
    gpx.split("<trkpt ")
        .skip(1)
        .map(|chunk| {
            let tag = &chunk[..chunk.find('>').unwrap()];
            (attr(tag, "lat"), attr(tag, "lon"))
        })
        .collect()
}

#[test]
fn places_are_named_listed_heard_and_met_at() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("city");
    let out = cli.ok_as(
        "spike",
        &[
            "place", "add", "home", "45.7681", "14.3605", "--radius", "80",
        ],
    );
    assert!(
        out.contains("home — at 45.76810, 14.36050, radius 80 m; you are not there"),
        "{out}"
    );
    let err = cli.fails(&[
        "--as", "spike", "place", "add", "pond", "45", "14", "--radius", "5",
    ]);
    assert!(
        err.contains("radius_m must be between 10 and 50000 metres"),
        "{err}"
    );

    let mut watch = cli.spawn(&["--as", "amethyst", "watch"]);
    watch.expect("linked as amethyst", Duration::from_secs(10));
    cli.ok_as("amethyst", &["move", "45.78", "14.37"]);
    cli.ok_as("spike", &["move", "45.7700", "14.3605"]);
    cli.ok_as("spike", &["move", "45.7681", "14.3606"]);
    watch.expect("spike arrived at home", Duration::from_secs(10));

    // Amethyst sees spike's place by name; 1.5 km apart in "city" is beyond sight.
    let out = cli.ok_as("amethyst", &["place", "list"]);
    assert!(out.contains("amethyst has no places yet"), "{out}");
    assert!(
        out.contains("home — (where: within sight range), radius 80 m; they are there"),
        "{out}"
    );

    let out = cli.ok_as("amethyst", &["meet"]);
    assert!(out.starts_with("meet halfway: you are 7"), "{out}");
    let out = cli.ok_as("spike", &["meet", "--pin", "home"]);
    assert!(
        out.starts_with("meet at home (pinned by spike) (45.76810, 14.36050): you are there"),
        "{out}"
    );
    cli.ok_as("amethyst", &["move", "45.7682", "14.3605"]);
    // Amethyst's own watch speaks to her.
    watch.expect("you reached the meeting point", Duration::from_secs(10));
    let out = cli.ok_as("spike", &["meet", "--unpin"]);
    assert!(out.starts_with("meet "), "{out}");
    cli.ok_as("spike", &["place", "rm", "HOME"]);
    let err = cli.fails(&["--as", "spike", "place", "rm", "home"]);
    assert!(err.contains("you have no place named \"home\""), "{err}");
}

#[test]
fn a_walked_gpx_track_comes_back_as_the_same_points() {
    let server = Server::start();
    let cli = Cli::new(&server);
    cli.bonded_pair("story");
    // A 13.7 km, two-hour walk around a lake, 296 points (tkrajina/gpxpy).
    let track = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/gpx/gpxpy-cerknicko-jezero.gpx"
    );
    let out = cli.ok_as("spike", &["walk", "--gpx", track, "--speedup", "100000"]);
    assert!(out.contains("walked 14 km"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let exported = dir.path().join("journey.gpx");
    cli.ok_as("spike", &["journey", "--gpx", exported.to_str().unwrap()]);
    let original = points(&std::fs::read_to_string(track).unwrap());
    let back = std::fs::read_to_string(&exported).unwrap();
    let mut walked = points(&back);
    // The walker repeats a point to keep contact while resting: count each place once.
    walked.dedup();
    let parse = |v: &[(String, String)]| -> Vec<(f64, f64)> {
        v.iter()
            .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()))
            .collect()
    };
    let mut original = parse(&original);
    original.dedup();
    assert_eq!(parse(&walked), original);
    // Amethyst's export holds nothing of spike's walk.
    let out = cli.ok_as("amethyst", &["journey", "--gpx", "-"]);
    assert_eq!(points(&out), []);
    assert!(out.starts_with("<?xml"), "{out}");
}

#[test]
fn the_desert_crossing_is_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("desert.svg");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/desert.toml");
    // Without --server, replay starts its own.
    let out = crate::support::haurach()
        .args(["replay", scenario, "--svg", svg_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg "), "{svg}");
    // Every ranged tier of the story profile has its band, and each opened on the way.
    for tier in [
        "feelings", "voice", "thoughts", "images", "glimpse", "sight", "memories",
    ] {
        assert!(svg.contains(&format!(">{tier} ≤ ")), "no band for {tier}");
        assert!(
            svg.contains(&format!(">{tier} opened<")),
            "{tier} not marked"
        );
    }
    assert!(
        svg.contains("day 2 09:00"),
        "the time axis reads as the story's clock"
    );
}
