//! Scenario files: a journey of two partners as data (TOML), for `walk --scenario` and
//! `replay`. See `scenarios/desert.toml` for a full example.
//!
//! ```toml
//! title = "The desert crossing"
//! profile = "story"                      # story, city or open; story when absent
//! meeting_place = "the Glass Needle"     # where they end up together (optional)
//!
//! [[partners]]
//! name = "spike"
//! password = "a password of 8+ characters"
//! waypoints = [
//!   { at = "day 1 15:00", lat = 23.1100, lon = 53.6450, note = "sets out east" },
//!   { at = "day 1 19:00", lat = 23.1150, lon = 53.7000, note = "camps for the night",
//!     says = "goodnight" },                # words said here (`replay`, voice open)
//!   { at = "day 2 05:30", lat = 23.1150, lon = 53.7000 },   # the same place: resting
//! ]
//!
//! [[partners]]
//! name = "amethyst"
//! ...
//! ```
//!
//! Times are `day N HH:MM` (or `day N HH:MM:SS`) from the start of day 1. Between two
//! waypoints a partner walks the geodesic at a steady speed; two waypoints in a row at the
//! same place are a rest. Before the first waypoint a partner waits at it; after the last
//! one, stays there.

use std::path::Path;

use anyhow::{Context as _, bail};
use haurach_bond::Profile;
use serde::Deserialize;

use crate::track::{Track, Waypoint};

/// A scenario as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the journey is called.
    pub title: String,
    /// The bond's profile.
    #[serde(default)]
    pub profile: Profile,
    /// Where the partners meet, for the last line of the timeline.
    #[serde(default)]
    pub meeting_place: Option<String>,
    /// Exactly two.
    pub partners: Vec<Partner>,
}

/// One of the two partners.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// Their name on the server.
    pub name: String,
    /// Their password (the scenario registers them).
    pub password: String,
    /// Where they are when.
    pub waypoints: Vec<WaypointSpec>,
}

impl std::fmt::Debug for Partner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Partner")
            .field("name", &self.name)
            .field("password", &"<hidden>")
            .field("waypoints", &self.waypoints)
            .finish()
    }
}

/// A waypoint as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaypointSpec {
    /// `day N HH:MM`.
    pub at: String,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// What happens here.
    #[serde(default)]
    pub note: Option<String>,
    /// What they say here: `replay` sends it as words (a voice message, sealed on a
    /// private bond) when the voice tier is open.
    #[serde(default)]
    pub says: Option<String>,
}

impl Scenario {
    /// Reads and checks a scenario file.
    pub fn load(path: &Path) -> anyhow::Result<Scenario> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Scenario::parse(&text)
            .with_context(|| format!("{} is not a usable scenario", path.display()))
    }

    /// Parses and checks a scenario.
    pub fn parse(text: &str) -> anyhow::Result<Scenario> {
        let scenario: Scenario = toml::from_str(text)?;
        if scenario.partners.len() != 2 {
            bail!(
                "a scenario has exactly two partners, this one has {}",
                scenario.partners.len()
            );
        }
        if scenario.partners[0]
            .name
            .eq_ignore_ascii_case(&scenario.partners[1].name)
        {
            bail!("the two partners need different names");
        }
        for partner in &scenario.partners {
            partner
                .track()
                .with_context(|| format!("the waypoints of {}", partner.name))?;
        }
        Ok(scenario)
    }

    /// The partner named `name` (case-insensitive).
    pub fn partner(&self, name: &str) -> anyhow::Result<&Partner> {
        self.partners
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .with_context(|| {
                format!(
                    "no partner is named {name:?} in this scenario: it has {} and {}",
                    self.partners[0].name, self.partners[1].name
                )
            })
    }
}

impl Partner {
    /// The partner's waypoints as a track on the scenario's clock.
    pub fn track(&self) -> anyhow::Result<Track> {
        let mut points = Vec::with_capacity(self.waypoints.len());
        for w in &self.waypoints {
            points.push(Waypoint {
                t_s: parse_time(&w.at)?,
                lat: w.lat,
                lon: w.lon,
                note: w.note.clone(),
            });
        }
        Track::new(points)
    }
}

/// `day N HH:MM[:SS]` as seconds from the start of day 1.
pub fn parse_time(at: &str) -> anyhow::Result<f64> {
    let bad = || anyhow::anyhow!("{at:?} is not a time like \"day 1 14:20\"");
    let mut words = at.split_whitespace();
    if words.next() != Some("day") {
        return Err(bad());
    }
    let day: u32 = words.next().and_then(|d| d.parse().ok()).ok_or_else(bad)?;
    let clock = words.next().ok_or_else(bad)?;
    if day == 0 || words.next().is_some() {
        return Err(bad());
    }
    let parts: Vec<u32> = clock
        .split(':')
        .map(|p| p.parse().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let (h, m, s) = match parts[..] {
        [h, m] => (h, m, 0),
        [h, m, s] => (h, m, s),
        _ => return Err(bad()),
    };
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    Ok(f64::from((day - 1) * 86_400 + h * 3600 + m * 60 + s))
}

/// Seconds from the start of day 1 as `day N HH:MM`.
pub fn format_time(t_s: f64) -> String {
    let s = t_s.max(0.0).round() as u64;
    let day = s / 86_400 + 1;
    let h = (s % 86_400) / 3600;
    let m = (s % 3600) / 60;
    format!("day {day} {h:02}:{m:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_both_ways() {
        assert_eq!(parse_time("day 1 00:00").unwrap(), 0.0);
        assert_eq!(
            parse_time("day 2 14:20").unwrap(),
            86_400.0 + 14.0 * 3600.0 + 1200.0
        );
        assert_eq!(parse_time("day 1 06:00:30").unwrap(), 6.0 * 3600.0 + 30.0);
        for bad in [
            "14:20",
            "day 0 10:00",
            "day 1 24:00",
            "day 1 10:60",
            "day x 10:00",
            "day 1 10",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format_time(86_400.0 + 14.0 * 3600.0 + 1200.0),
            "day 2 14:20"
        );
    }

    #[test]
    fn a_small_scenario_parses_and_bad_ones_say_why() {
        let text = r#"
            title = "test"
            profile = "city"
            [[partners]]
            name = "a"
            password = "password-a"
            waypoints = [{ at = "day 1 10:00", lat = 0.0, lon = 0.0 }]
            [[partners]]
            name = "b"
            password = "password-b"
            waypoints = [
              { at = "day 1 10:00", lat = 0.0, lon = 0.01, note = "sets out" },
              { at = "day 1 11:00", lat = 0.0, lon = 0.0 },
            ]
        "#;
        let s = Scenario::parse(text).unwrap();
        assert_eq!(s.profile, Profile::City);
        assert_eq!(
            s.partner("B").unwrap().track().unwrap().end_s(),
            11.0 * 3600.0
        );
        assert!(s.partner("c").is_err());
        assert!(!format!("{s:?}").contains("password-a"));

        let one = text
            .split("[[partners]]")
            .take(2)
            .collect::<Vec<_>>()
            .join("[[partners]]");
        assert!(
            Scenario::parse(&one)
                .unwrap_err()
                .to_string()
                .contains("exactly two")
        );
        let backwards = text.replace("day 1 11:00", "day 1 09:00");
        let err = format!("{:#}", Scenario::parse(&backwards).unwrap_err());
        assert!(err.contains("earlier"), "{err}");
        let profile = text.replace("\"city\"", "\"town\"");
        assert!(Scenario::parse(&profile).is_err());
    }

    #[test]
    fn the_desert_scenario_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/desert.toml");
        let s = Scenario::load(&path).unwrap();
        assert_eq!(s.profile, Profile::Story);
    }
}
