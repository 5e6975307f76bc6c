//! Where a private bond's tiers open and close, beside the plain bond's, on the story's
//! desert crossing and on real GPX tracks.
//!
//! ```text
//! cargo run -p haurach-private --example compare
//! ```
//!
//! Each journey is a pair of fixes every step (both partners at the same moment, 5 m
//! accuracy). The plain rule is `haurach_bond::TierState` on the fixes' separation; the
//! token rule is each partner's token report, decided by `haurach_private::Matcher`. For
//! every tier the table lists the distance between the partners at each opening (↑) and
//! closing (↓), for both rules. The GPX tracks are walked by one partner while the other
//! waits where the track starts, in the city profile and in the story profile.

use std::time::{Duration, Instant};

use haurach_bond::geo::inverse;
use haurach_bond::{Fix, Profile, Separation, Tier, TierState};
use haurach_private::tokens::{EPOCH_MS, report};
use haurach_private::{BondKey, Matcher, Role};
use serde::Deserialize;

/// The accuracy every fix claims, metres.
const ACCURACY_M: f64 = 5.0;

/// A journey: both partners' positions at each step.
struct Journey {
    title: String,
    profile: Profile,
    steps: Vec<((f64, f64), (f64, f64))>,
}

/// A tier opening or closing, and the partners' distance when it did.
#[derive(Clone, Copy)]
struct Change {
    open: bool,
    distance_m: f64,
}

/// The desert scenario's file, as far as this needs it.
#[derive(Deserialize)]
struct Scenario {
    title: String,
    partners: Vec<Partner>,
}

#[derive(Deserialize)]
struct Partner {
    waypoints: Vec<Waypoint>,
}

#[derive(Deserialize)]
struct Waypoint {
    at: String,
    lat: f64,
    lon: f64,
}

/// `day N HH:MM` as seconds from the start of day 1.
fn seconds(at: &str) -> f64 {
    let words: Vec<&str> = at.split_whitespace().collect();
    let day: f64 = words[1].parse().expect("a day number");
    let clock: Vec<f64> = words[2]
        .split(':')
        .map(|p| p.parse().expect("a time"))
        .collect();
    (day - 1.0) * 86_400.0 + clock[0] * 3600.0 + clock[1] * 60.0
}

/// Where a partner is at `t` seconds: waiting at the first waypoint before it, walking
/// straight between waypoints (in latitude and longitude: the legs are a few kilometres),
/// staying at the last.
fn position(waypoints: &[Waypoint], t: f64) -> (f64, f64) {
    let times: Vec<f64> = waypoints.iter().map(|w| seconds(&w.at)).collect();
    if t <= times[0] {
        return (waypoints[0].lat, waypoints[0].lon);
    }
    for idx in 1..waypoints.len() {
        if t <= times[idx] {
            let (a, b) = (&waypoints[idx - 1], &waypoints[idx]);
            let f = (t - times[idx - 1]) / (times[idx] - times[idx - 1]).max(1.0);
            return (a.lat + f * (b.lat - a.lat), a.lon + f * (b.lon - a.lon));
        }
    }
    let last = waypoints.last().expect("a waypoint");
    (last.lat, last.lon)
}

fn desert() -> Journey {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios/desert.toml");
    let scenario: Scenario =
        toml::from_str(&std::fs::read_to_string(path).expect("scenarios/desert.toml"))
            .expect("the desert scenario");
    let [a, b] = &scenario.partners[..] else {
        panic!("two partners");
    };
    let end =
        seconds(&a.waypoints.last().unwrap().at).max(seconds(&b.waypoints.last().unwrap().at));
    // A step of 30 s: at walking pace, 15 m each.
    let steps = (0..=(end / 30.0) as u32)
        .map(|k| f64::from(k) * 30.0)
        .map(|t| (position(&a.waypoints, t), position(&b.waypoints, t)))
        .collect();
    Journey {
        title: scenario.title,
        profile: Profile::Story,
        steps,
    }
}

/// The track points of a GPX file.
fn track(name: &str) -> Vec<(f64, f64)> {
    let path = format!(
        "{}/../../../shared/data/gpx/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let attr = |tag: &str, name: &str| -> f64 {
        let start = tag.find(&format!("{name}=\"")).expect("an attribute") + name.len() + 2;
        let len = tag[start..].find('"').expect("a closing quote");
        tag[start..start + len].parse().expect("a number")
    };
    text.split("<trkpt ")
        .skip(1)
        .map(|chunk| {
            let tag = &chunk[..chunk.find('>').expect("a tag")];
            (attr(tag, "lat"), attr(tag, "lon"))
        })
        .collect()
}

/// One partner walks `name`'s track while the other waits at its start.
fn walk_from_start(name: &str, profile: Profile) -> Journey {
    let points = track(name);
    let home = points[0];
    Journey {
        title: format!("{name}, {} profile", profile.key()),
        profile,
        steps: points.into_iter().map(|p| (home, p)).collect(),
    }
}

/// Both rules along a journey: each tier's changes under the plain rule and the token
/// rule, and the time the tokens took (reports made, reports decided).
struct Outcome {
    plain: Vec<(Tier, Change)>,
    tokens: Vec<(Tier, Change)>,
    reporting: Duration,
    deciding: Duration,
    reports: u32,
    report_bytes: usize,
}

fn run(journey: &Journey) -> Outcome {
    let key = BondKey::from_bytes([42; 32]);
    let profile = journey.profile;
    let mut plain_state = TierState::initial(profile);
    let mut matcher = Matcher::new(profile);
    let mut out = Outcome {
        plain: Vec::new(),
        tokens: Vec::new(),
        reporting: Duration::ZERO,
        deciding: Duration::ZERO,
        reports: 0,
        report_bytes: 0,
    };
    // Far from an epoch's end, so each report holds one epoch; both partners report at
    // the same moment, so they always share it.
    let at_ms = 5_000 * EPOCH_MS;
    for (a, b) in &journey.steps {
        let distance_m = inverse(a.0, a.1, b.0, b.1).distance_m;
        for change in
            plain_state.update(profile, Separation::of(distance_m, ACCURACY_M, ACCURACY_M))
        {
            out.plain.push((
                change.tier,
                Change {
                    open: change.open,
                    distance_m,
                },
            ));
        }
        let fix = |(lat, lon): (f64, f64)| Fix {
            lat,
            lon,
            accuracy_m: ACCURACY_M,
            at_ms,
        };
        let started = Instant::now();
        let (ra, rb) = (
            report(&key, profile, &fix(*a)),
            report(&key, profile, &fix(*b)),
        );
        out.reporting += started.elapsed();
        out.reports += 2;
        out.report_bytes = ra.token_bytes();
        let started = Instant::now();
        let mut changes = matcher.report(Role::Inviter, ra);
        changes.extend(matcher.report(Role::Accepter, rb));
        out.deciding += started.elapsed();
        for change in changes {
            out.tokens.push((
                change.tier,
                Change {
                    open: change.open,
                    distance_m,
                },
            ));
        }
    }
    out
}

/// A tier's changes as `↑15.0 ↓16.4` (kilometres from 1 km, metres below).
fn list(changes: &[(Tier, Change)], tier: Tier) -> String {
    let shown: Vec<String> = changes
        .iter()
        .filter(|(t, _)| *t == tier)
        .map(|(_, c)| {
            let arrow = if c.open { '↑' } else { '↓' };
            if c.distance_m >= 1_000.0 {
                format!("{arrow}{:.2} km", c.distance_m / 1_000.0)
            } else {
                format!("{arrow}{:.0} m", c.distance_m)
            }
        })
        .collect();
    if shown.is_empty() {
        "–".to_owned()
    } else {
        shown.join(" ")
    }
}

fn main() {
    let mut journeys = vec![desert()];
    for name in [
        "gpxpy-cerknicko-jezero.gpx",
        "gpxpy-korita-zbevnica.gpx",
        "gpxpy-around-visnjan-with-car.gpx",
        "gpx-garmin-activity.gpx",
    ] {
        for profile in [Profile::City, Profile::Story] {
            journeys.push(walk_from_start(name, profile));
        }
    }
    let (mut reporting, mut deciding, mut reports, mut bytes) =
        (Duration::ZERO, Duration::ZERO, 0, 0);
    let (mut plain_changes, mut token_changes) = (0, 0);
    // Each opening and closing as a fraction of its tier's range, after the first step
    // (where everything opens at once).
    let mut ratios: [[Vec<f64>; 2]; 2] = Default::default();
    for journey in &journeys {
        let outcome = run(journey);
        println!("\n### {} ({} steps)\n", journey.title, journey.steps.len());
        println!("| tier | range | plain bond | tokens |");
        println!("|---|---|---|---|");
        for tier in Tier::ALL {
            let Some(range) = journey.profile.range_m(tier) else {
                continue;
            };
            let (plain, tokens) = (list(&outcome.plain, tier), list(&outcome.tokens, tier));
            if plain == "–" && tokens == "–" {
                continue;
            }
            println!("| {} | {range} m | {plain} | {tokens} |", tier.key());
        }
        reporting += outcome.reporting;
        deciding += outcome.deciding;
        reports += outcome.reports;
        bytes = bytes.max(outcome.report_bytes);
        for (rule, changes) in [&outcome.plain, &outcome.tokens].into_iter().enumerate() {
            for (tier, change) in changes {
                if change.distance_m > 0.0 {
                    let range = journey.profile.range_m(*tier).expect("a ranged tier");
                    ratios[rule][usize::from(change.open)].push(change.distance_m / range);
                }
            }
        }
        plain_changes += outcome.plain.len();
        token_changes += outcome.tokens.len();
    }
    println!("\n{plain_changes} tier changes under the plain rule, {token_changes} under tokens.");
    println!("\nEvery opening and closing after the start, as a fraction of the tier's range:\n");
    println!("| rule | change | count | least | median | most |");
    println!("|---|---|---|---|---|---|");
    for (rule, name) in [(0, "plain bond"), (1, "tokens")] {
        for (open, what) in [(1, "opened"), (0, "closed")] {
            let mut r = ratios[rule][open].clone();
            r.sort_by(f64::total_cmp);
            println!(
                "| {name} | {what} | {} | {:.2} | {:.2} | {:.2} |",
                r.len(),
                r[0],
                r[r.len() / 2],
                r[r.len() - 1]
            );
        }
    }
    println!();
    println!(
        "Cost per position update ({} profile build): making a report {:.0} µs on the client; \
         deciding the tiers {:.1} µs on the server; {bytes} bytes of tokens in a story report.",
        if cfg!(debug_assertions) {
            "dev"
        } else {
            "release"
        },
        reporting.as_secs_f64() * 1e6 / f64::from(reports),
        deciding.as_secs_f64() * 1e6 / f64::from(reports),
    );
}
