//! What a device keeps of places and the meeting point in a private bond (issue 20,
//! `docs/privacy.md`, "Sealed places and the meeting point"): this person's places, kept
//! on this device only and judged by the plain bond's rules (`haurach_bond::place`), the
//! meeting point as the bond's sealed `meeting` messages left it, and the partner's places
//! as their device told of them. Pure: kept in `HOME/private.toml` by `super::private`,
//! filled and sent by `super::sealed_places`.

use haurach_bond::geo::{self, Fix};
use haurach_bond::meeting::ARRIVAL_RADIUS_M;
use haurach_bond::place::{Place, Transition, valid_radius};
use haurach_proto::{LatLon, PlaceView};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The most places one person may keep (the plain bond's server's limit).
pub const MAX_PLACES: usize = 100;

/// What this device keeps of places and the meeting point in a private bond.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlaceBook {
    /// This person's places, with whether this device's latest fix is inside each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mine: Vec<OwnPlace>,
    /// The sequence number of the last message of the bond read for places and the
    /// meeting point.
    #[serde(default)]
    pub read_seq: i64,
    /// The meeting point pinned, as the last `meeting` message said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<KeptPin>,
    /// The partner's places as their device told of them, the latest news of each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partner: Vec<HeardPlace>,
}

/// One of this person's places, on this device only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwnPlace {
    /// Its name (unique in any case).
    pub name: String,
    /// Latitude of the centre, degrees.
    pub lat: f64,
    /// Longitude of the centre, degrees.
    pub lon: f64,
    /// Radius, metres.
    pub radius_m: f64,
    /// Whether this device's latest fix is inside (the hysteresis' memory).
    pub inside: bool,
}

impl OwnPlace {
    fn place(&self) -> Place {
        Place {
            lat: self.lat,
            lon: self.lon,
            radius_m: self.radius_m,
        }
    }

    /// As `haurach place list` shows a place.
    pub fn view(&self) -> PlaceView {
        PlaceView {
            name: self.name.clone(),
            radius_m: self.radius_m,
            position: Some(LatLon {
                lat: self.lat,
                lon: self.lon,
            }),
            inside: self.inside,
        }
    }
}

/// The meeting point as this device keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptPin {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// The place's name or the pin's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Who pinned it.
    pub pinned_by: String,
    /// Whether this device's person is there (judged here).
    #[serde(default)]
    pub reached_me: bool,
    /// Whether the partner's device said they reached it.
    #[serde(default)]
    pub reached_partner: bool,
}

/// The latest news of one of the partner's places.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeardPlace {
    /// Its name.
    pub name: String,
    /// Whether they are there.
    pub inside: bool,
    /// When their device judged it.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Its centre, when the news was sealed within sight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<LatLon>,
}

/// Checks a place's name as the plain bond's server does.
pub fn check_name(name: &str) -> anyhow::Result<()> {
    let n = name.chars().count();
    let bidi = name
        .chars()
        .any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'));
    if (1..=64).contains(&n) && !name.chars().any(char::is_control) && name.trim() == name && !bidi
    {
        Ok(())
    } else {
        anyhow::bail!(
            "a place's name is 1 to 64 characters, without control characters or surrounding \
             spaces"
        )
    }
}

impl PlaceBook {
    /// Adds `place` or replaces the one of the same name (any case); whether it is new.
    /// Whether this person is inside is judged from `latest`, without news: making a place
    /// where one stands is not arriving there (the plain bond's rule).
    pub fn put(&mut self, mut place: OwnPlace, latest: Option<&Fix>) -> anyhow::Result<bool> {
        check_name(&place.name)?;
        if !geo::valid_coordinates(place.lat, place.lon) {
            anyhow::bail!(
                "lat must be in [-90, 90] and lon in [-180, 180]; got lat {} lon {}",
                place.lat,
                place.lon
            );
        }
        if !valid_radius(place.radius_m) {
            anyhow::bail!(
                "the radius must be between {} and {} metres; got {}",
                haurach_bond::place::MIN_RADIUS_M,
                haurach_bond::place::MAX_RADIUS_M,
                place.radius_m
            );
        }
        place.inside = latest.is_some_and(|fix| place.place().judge(false, fix));
        let same = |p: &OwnPlace| p.name.to_lowercase() == place.name.to_lowercase();
        if let Some(kept) = self.mine.iter_mut().find(|p| same(p)) {
            *kept = place;
            return Ok(false);
        }
        if self.mine.len() >= MAX_PLACES {
            anyhow::bail!("a person keeps at most {MAX_PLACES} places: delete one first");
        }
        self.mine.push(place);
        Ok(true)
    }

    /// Keeps `place` as it is (its `inside` included), in place of one of the same name:
    /// a place brought from the server as the bond turns private.
    pub fn keep(&mut self, place: OwnPlace) {
        self.remove(&place.name);
        self.mine.push(place);
    }

    /// Forgets the place named `name` (any case); whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.mine.len();
        self.mine
            .retain(|p| p.name.to_lowercase() != name.to_lowercase());
        self.mine.len() != before
    }

    /// One of this person's places, by name (any case).
    pub fn own(&self, name: &str) -> Option<&OwnPlace> {
        self.mine
            .iter()
            .find(|p| p.name.to_lowercase() == name.to_lowercase())
    }

    /// Judges every place by a new fix: each arrival and departure, in order.
    pub fn judge(&mut self, fix: &Fix) -> Vec<(String, Transition)> {
        let mut changes = Vec::new();
        for p in &mut self.mine {
            if let Some(t) = p.place().transition(p.inside, fix) {
                p.inside = t == Transition::Arrived;
                changes.push((p.name.clone(), t));
            }
        }
        changes
    }

    /// Whether this person reached the pinned point with `fix` just now (it was not there
    /// before): the plain bond's rule, `ARRIVAL_RADIUS_M` with the place's hysteresis.
    pub fn judge_pin(&mut self, fix: &Fix) -> bool {
        let Some(pin) = &mut self.pin else {
            return false;
        };
        let target = Place {
            lat: pin.lat,
            lon: pin.lon,
            radius_m: ARRIVAL_RADIUS_M,
        };
        let was = pin.reached_me;
        pin.reached_me = target.judge(was, fix);
        pin.reached_me && !was
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(lat: f64, lon: f64) -> Fix {
        Fix {
            lat,
            lon,
            accuracy_m: 5.0,
            at_ms: 0,
        }
    }

    fn home() -> OwnPlace {
        OwnPlace {
            name: "home".into(),
            lat: -46.0,
            lon: -7.0,
            radius_m: 100.0,
            inside: false,
        }
    }

    #[test]
    fn places_are_judged_by_the_plain_rules_and_made_without_news() {
        let mut book = PlaceBook::default();
        // Made where one stands: inside, and no arrival.
        assert!(book.put(home(), Some(&fix(-46.0, -7.0))).unwrap());
        assert!(book.mine[0].inside);
        assert!(book.judge(&fix(-46.0, -7.0)).is_empty());
        // 150 m away: beyond 1.1 × 100 m and 25 m more, so left.
        let away = fix(-46.00135, -7.0);
        assert_eq!(book.judge(&away), vec![("home".into(), Transition::Left)]);
        assert!(book.judge(&away).is_empty());
        // On the edge band (105 m): still outside, no flapping.
        assert!(book.judge(&fix(-46.000945, -7.0)).is_empty());
        assert_eq!(
            book.judge(&fix(-46.0, -7.0)),
            vec![("home".into(), Transition::Arrived)]
        );
        // Same name in another case replaces it; the limit and the checks hold.
        assert!(
            !book
                .put(
                    OwnPlace {
                        name: "HOME".into(),
                        ..home()
                    },
                    None
                )
                .unwrap()
        );
        assert_eq!(book.mine.len(), 1);
        assert!(
            book.put(
                OwnPlace {
                    name: " x".into(),
                    ..home()
                },
                None
            )
            .is_err()
        );
        assert!(
            book.put(
                OwnPlace {
                    radius_m: 5.0,
                    ..home()
                },
                None
            )
            .is_err()
        );
        assert!(
            book.put(
                OwnPlace {
                    lat: 95.0,
                    ..home()
                },
                None
            )
            .is_err()
        );
        assert!(book.remove("Home"));
        assert!(!book.remove("home"));
    }

    #[test]
    fn the_pinned_point_is_reached_once_within_its_radius() {
        let mut book = PlaceBook {
            pin: Some(KeptPin {
                lat: 10.0,
                lon: 10.0,
                name: None,
                pinned_by: "amethyst".into(),
                reached_me: false,
                reached_partner: false,
            }),
            ..PlaceBook::default()
        };
        assert!(!book.judge_pin(&fix(10.01, 10.0)));
        assert!(book.judge_pin(&fix(10.0002, 10.0)));
        assert!(!book.judge_pin(&fix(10.0, 10.0)), "once");
        assert!(book.pin.as_ref().unwrap().reached_me);
    }
}
