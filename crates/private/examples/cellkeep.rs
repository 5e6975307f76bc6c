//! How often the cell a device seals changes, with and without keeping the cell it last
//! sealed (`rounding::round_keeping`), and how far the point sent is from the fix, on the
//! story's desert crossing, the real GPX tracks and a still sender whose fix jitters.
//!
//! ```text
//! cargo run -p haurach-private --example cellkeep
//! ```
//!
//! Both partners seal at every step, each knowing the other's latest sealed position and
//! the tiers the plain bond opens at their true distance (`haurach_bond::TierState`, 5 m
//! accuracy): the desert crossing every 30 s; each GPX track walked by one partner, at
//! its points' own times, while the other waits where it starts, in the city and the
//! story profile. The still senders stand at random places on Earth, their partner 5 km
//! (story) or 600 m (city) away and still, for a day of fixes every 30 s, each fix off by
//! a normal error of σ metres north and east. A change is a step whose point sent differs
//! from the step before; an error is the distance from the fix to the point sent, also as
//! a fraction of the distance the sender went by (`Known::bound_m`).

use haurach_bond::geo::{destination, inverse};
use haurach_bond::{Fix, Profile, Separation, TierState};
use haurach_private::rounding::{Cell, Known, PartnerFix, Shared, round_keeping};
use serde::Deserialize;

/// The accuracy every fix claims, metres.
const ACCURACY_M: f64 = 5.0;

/// One step: the time (s) and both partners' positions; the first is the one measured.
type Step = (f64, (f64, f64), (f64, f64));

/// A journey: its steps, in a profile.
struct Journey {
    title: String,
    profile: Profile,
    steps: Vec<Step>,
}

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

/// Where a partner is at `t` seconds (as `compare.rs`: straight between waypoints).
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
    let steps = (0..=(end / 30.0) as u32)
        .map(|k| f64::from(k) * 30.0)
        .map(|t| (t, position(&a.waypoints, t), position(&b.waypoints, t)))
        .collect();
    Journey {
        title: scenario.title,
        profile: Profile::Story,
        steps,
    }
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2017-07-29T14:46:35.000Z` as Unix seconds.
fn unix(text: &str) -> f64 {
    let n = |a: usize, b: usize| -> i64 { text[a..b].parse().expect("a number") };
    let days = days_from_civil(n(0, 4), n(5, 7), n(8, 10));
    let secs: f64 = text[17..].trim_end_matches('Z').parse().expect("seconds");
    (days * 86_400 + n(11, 13) * 3600 + n(14, 16) * 60) as f64 + secs
}

/// The track points of a GPX file with their times.
fn track(name: &str) -> Vec<(f64, (f64, f64))> {
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
    // A point without a time (korita-zbevnica's first 358) is taken as walked at 5 km/h
    // from the one before, and the untimed points before the first timed one as walked
    // at that pace up to it.
    let pace = 5_000.0 / 3_600.0;
    let mut points: Vec<(Option<f64>, (f64, f64))> = text
        .split("<trkpt ")
        .skip(1)
        .map(|chunk| {
            let tag = &chunk[..chunk.find('>').expect("a tag")];
            let body = &chunk[..chunk.find("</trkpt>").unwrap_or(chunk.len())];
            let t = body
                .find("<time>")
                .map(|i| unix(&body[i + 6..i + 6 + body[i + 6..].find('<').expect("a time")]));
            (t, (attr(tag, "lat"), attr(tag, "lon")))
        })
        .collect();
    let walked = |a: (f64, f64), b: (f64, f64)| inverse(a.0, a.1, b.0, b.1).distance_m / pace;
    if let Some(first) = points.iter().position(|(t, _)| t.is_some()) {
        for idx in (0..first).rev() {
            let (next_t, next_at) = (points[idx + 1].0.unwrap(), points[idx + 1].1);
            points[idx].0 = Some(next_t - walked(points[idx].1, next_at));
        }
    }
    let mut timed: Vec<(f64, (f64, f64))> = Vec::new();
    for (t, at) in points {
        let t = t.unwrap_or_else(|| timed.last().map_or(0.0, |(t, p)| t + walked(*p, at)));
        timed.push((t, at));
    }
    timed
}

fn walk_from_start(name: &str, profile: Profile) -> Journey {
    let points = track(name);
    let home = points[0].1;
    Journey {
        title: format!("{name}, {}", profile.key()),
        profile,
        steps: points.into_iter().map(|(t, p)| (t, p, home)).collect(),
    }
}

/// What one way of sealing did along a journey, for the first partner, beyond sight
/// (within it the exact fix goes, and changes with every fix either way).
#[derive(Default, Clone, Copy)]
struct Tally {
    /// Steps whose point sent differs from the step before, both rounded.
    changes: u32,
    /// Changes back to the point sent before the last change (A → B → A): a flip.
    flips: u32,
    /// Time between two rounded steps, seconds.
    rounded_s: f64,
    worst_m: f64,
    worst_share: f64,
}

fn fix((lat, lon): (f64, f64), at: f64) -> Fix {
    Fix {
        lat,
        lon,
        accuracy_m: ACCURACY_M,
        at_ms: (at * 1000.0) as i64,
    }
}

fn partner(shared: &Shared) -> PartnerFix {
    let (lat, lon) = shared.point();
    PartnerFix {
        lat,
        lon,
        reach_m: shared.reach_m(),
    }
}

/// Both partners seal at every step, keeping their cells or not; the first partner's
/// tally.
fn run(profile: Profile, steps: &[Step], keep: bool) -> Tally {
    let mut tiers = TierState::initial(profile);
    let (mut mine, mut theirs): (Option<Shared>, Option<Shared>) = (None, None);
    let mut tally = Tally::default();
    // The points sent since the last exact one, and the time of the step before.
    let mut points: Vec<(f64, f64)> = Vec::new();
    let mut before: Option<f64> = None;
    for (idx, (t, a, b)) in steps.iter().enumerate() {
        let (fa, fb) = (fix(*a, *t), fix(*b, *t));
        let distance_m = inverse(a.0, a.1, b.0, b.1).distance_m;
        tiers.update(profile, Separation::of(distance_m, ACCURACY_M, ACCURACY_M));
        let known_a = Known {
            profile,
            tiers,
            partner: theirs.as_ref().map(partner),
        };
        let kept = |s: &Option<Shared>| if keep { s.and_then(|s| s.cell()) } else { None };
        let sa = round_keeping(&fa, &known_a, kept(&mine).as_ref());
        let known_b = Known {
            profile,
            tiers,
            partner: Some(partner(&sa)),
        };
        let sb = round_keeping(&fb, &known_b, kept(&theirs).as_ref());
        if let Shared::Rounded { bound_m, .. } = sa {
            let point = sa.point();
            if let (Some(last), Some(then)) = (points.last(), before) {
                tally.rounded_s += t - then;
                if *last != point {
                    tally.changes += 1;
                    if points.len() >= 2 && points[points.len() - 2] == point {
                        tally.flips += 1;
                    }
                }
            }
            if points.last() != Some(&point) {
                points.push(point);
            }
            let off = inverse(a.0, a.1, point.0, point.1).distance_m;
            tally.worst_share = tally.worst_share.max(off / bound_m);
            // In metres once each has seen the other's first position (both start knowing
            // nothing, with cells of 2,500 km).
            if idx >= 2 {
                tally.worst_m = tally.worst_m.max(off);
            }
            before = Some(*t);
        } else {
            points.clear();
            before = None;
        }
        (mine, theirs) = (Some(sa), Some(sb));
    }
    tally
}

/// A small xorshift, so the still senders are the same every run.
struct Draw(u64);

impl Draw {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal draw (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-300), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

fn row(title: &str, steps: usize, off: Tally, on: Tally) {
    let hours = off.rounded_s / 3_600.0;
    let rate = |n: u32| {
        if hours > 0.0 {
            format!("{:.2}", f64::from(n) / hours)
        } else {
            "–".into()
        }
    };
    println!(
        "| {title} | {steps} fixes, {hours:.1} h beyond sight | {} ({}) | {} ({}) | {:.2}·D ({:.0} m) | {:.2}·D ({:.0} m) |",
        rate(off.changes),
        off.flips,
        rate(on.changes),
        on.flips,
        off.worst_share,
        off.worst_m,
        on.worst_share,
        on.worst_m,
    );
}

fn main() {
    println!(
        "| journey | length | cell changes per hour (flips), without | with | largest error, without | with |"
    );
    println!("|---|---|---|---|---|---|");
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
    for journey in &journeys {
        let off = run(journey.profile, &journey.steps, false);
        let on = run(journey.profile, &journey.steps, true);
        row(&journey.title, journey.steps.len(), off, on);
    }
    // Still senders: 200 places, a day each of fixes every 30 s.
    for (profile, apart_m) in [(Profile::Story, 5_000.0), (Profile::City, 600.0)] {
        for sigma in [3.0, 10.0, 30.0] {
            let mut draw = Draw(0x2545_f491_4f6c_dd1d);
            let (mut off, mut on) = (Tally::default(), Tally::default());
            let mut fixes = 0;
            for _ in 0..200 {
                let lat = draw.unit() * 140.0 - 70.0;
                let lon = draw.unit() * 360.0 - 180.0;
                let (plat, plon) = destination(lat, lon, draw.unit() * 360.0, apart_m);
                let steps: Vec<_> = (0..2880)
                    .map(|k| {
                        let (n, e) = (sigma * draw.normal(), sigma * draw.normal());
                        let (jl, jo) = destination(lat, lon, 0.0, n);
                        let at = destination(jl, jo, 90.0, e);
                        (f64::from(k) * 30.0, at, (plat, plon))
                    })
                    .collect();
                let (a, b) = (run(profile, &steps, false), run(profile, &steps, true));
                off.changes += a.changes;
                off.flips += a.flips;
                off.worst_m = off.worst_m.max(a.worst_m);
                off.worst_share = off.worst_share.max(a.worst_share);
                on.changes += b.changes;
                on.flips += b.flips;
                on.worst_m = on.worst_m.max(b.worst_m);
                on.worst_share = on.worst_share.max(b.worst_share);
                off.rounded_s += a.rounded_s;
                on.rounded_s += b.rounded_s;
                fixes += steps.len();
            }
            row(
                &format!(
                    "still, σ = {sigma} m, {} profile, partner {apart_m} m away (200 places)",
                    profile.key()
                ),
                fixes,
                off,
                on,
            );
        }
    }
    // How far the grown cell reaches, against the bound, over the Earth.
    let mut draw = Draw(0x9e37_79b9_7f4a_7c15);
    let (mut worst, mut worst_mid, mut plain, mut plain_mid) = (0f64, 0f64, 0f64, 0f64);
    for _ in 0..20_000 {
        let lat = draw.unit() * 180.0 - 90.0;
        let lon = draw.unit() * 360.0 - 180.0;
        let bound = 10f64.powf(1.0 + draw.unit() * 6.0);
        let cell = Cell::of(lat, lon, haurach_private::rounding::level_for(0.1 * bound));
        let (kept, own) = (cell.kept_reach_m() / bound, cell.reach_m() / bound);
        worst = worst.max(kept);
        plain = plain.max(own);
        if lat.abs() <= 60.0 && bound <= 200_000.0 {
            worst_mid = worst_mid.max(kept);
            plain_mid = plain_mid.max(own);
        }
    }
    println!(
        "\nreach / bound over 20,000 places: the cell's {plain_mid:.3} within 60° of the equator \
         up to 200 km, {plain:.3} anywhere; the grown cell's {worst_mid:.3} and {worst:.3}"
    );
}
