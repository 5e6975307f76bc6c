//! A track: where someone is at each moment, from timed waypoints, moving at a steady
//! speed along the geodesic between two of them (and resting where two in a row are at
//! the same place). `walk` and `replay` sample tracks; the GPX reader and the scenario
//! file make them. Pure: no clock, no I/O.

use anyhow::bail;
use haurach_bond::geo::{destination, inverse, valid_coordinates};

/// A point of a track, at a time in seconds from the track's clock origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Waypoint {
    /// Seconds since the origin of the track's clock.
    pub t_s: f64,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// What happens here, for the timeline.
    pub note: Option<String>,
}

/// A position at a moment of a track.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Seconds on the track's clock.
    pub t_s: f64,
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// Metres walked since the start of the track.
    pub walked_m: f64,
}

/// The most samples a walk is cut into: a walk longer than this needs longer steps.
pub const MAX_SAMPLES: usize = 500_000;

/// A track: at least one waypoint, times finite and never decreasing.
#[derive(Debug, Clone, PartialEq)]
pub struct Track {
    points: Vec<Waypoint>,
}

impl Track {
    /// Checks and wraps waypoints.
    pub fn new(points: Vec<Waypoint>) -> anyhow::Result<Track> {
        if points.is_empty() {
            bail!("a track needs at least one point");
        }
        for (idx, p) in points.iter().enumerate() {
            if !valid_coordinates(p.lat, p.lon) {
                bail!(
                    "point {} is not a place: lat must be in [-90, 90] and lon in [-180, 180]; got lat {} lon {}",
                    idx + 1,
                    p.lat,
                    p.lon
                );
            }
            if !p.t_s.is_finite() {
                bail!("point {} has no usable time", idx + 1);
            }
            if idx > 0 && p.t_s < points[idx - 1].t_s {
                bail!(
                    "point {} is earlier than the point before it: times must not go back",
                    idx + 1
                );
            }
        }
        Ok(Track { points })
    }

    /// A straight walk from `from` to `to` at `speed_kmh`, starting at time 0.
    pub fn straight(from: (f64, f64), to: (f64, f64), speed_kmh: f64) -> anyhow::Result<Track> {
        if !(speed_kmh.is_finite() && speed_kmh > 0.0) {
            bail!("the speed must be a positive number of km/h, not {speed_kmh}");
        }
        for (lat, lon) in [from, to] {
            if !valid_coordinates(lat, lon) {
                bail!("lat must be in [-90, 90] and lon in [-180, 180]; got lat {lat} lon {lon}");
            }
        }
        let d = inverse(from.0, from.1, to.0, to.1).distance_m;
        let duration_s = d / (speed_kmh / 3.6);
        Track::new(vec![
            Waypoint {
                t_s: 0.0,
                lat: from.0,
                lon: from.1,
                note: None,
            },
            Waypoint {
                t_s: duration_s,
                lat: to.0,
                lon: to.1,
                note: None,
            },
        ])
    }

    /// The waypoints.
    pub fn points(&self) -> &[Waypoint] {
        &self.points
    }

    /// When the track starts.
    pub fn start_s(&self) -> f64 {
        self.points[0].t_s
    }

    /// When the track ends.
    pub fn end_s(&self) -> f64 {
        self.points[self.points.len() - 1].t_s
    }

    /// The length of the track, metres.
    pub fn length_m(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| inverse(w[0].lat, w[0].lon, w[1].lat, w[1].lon).distance_m)
            .sum()
    }

    /// The index of the segment being walked at `t`: the last waypoint at or before it.
    fn segment(&self, t_s: f64) -> usize {
        self.points
            .partition_point(|p| p.t_s <= t_s)
            .saturating_sub(1)
    }

    /// Where the track is at `t` (before the start: the first point; after the end: the
    /// last).
    pub fn position_at(&self, t_s: f64) -> (f64, f64) {
        let idx = self.segment(t_s);
        let a = &self.points[idx];
        let Some(b) = self.points.get(idx + 1) else {
            return (a.lat, a.lon);
        };
        let span = b.t_s - a.t_s;
        if span <= 0.0 || t_s <= a.t_s {
            return (a.lat, a.lon);
        }
        let frac = ((t_s - a.t_s) / span).clamp(0.0, 1.0);
        let g = inverse(a.lat, a.lon, b.lat, b.lon);
        destination(a.lat, a.lon, g.bearing_deg, g.distance_m * frac)
    }

    /// The speed at `t`, metres per second (0 while resting, before the start and after
    /// the end).
    pub fn speed_at(&self, t_s: f64) -> f64 {
        if t_s < self.start_s() {
            return 0.0;
        }
        let idx = self.segment(t_s);
        let (Some(a), Some(b)) = (self.points.get(idx), self.points.get(idx + 1)) else {
            return 0.0;
        };
        let span = b.t_s - a.t_s;
        if span <= 0.0 {
            return 0.0;
        }
        inverse(a.lat, a.lon, b.lat, b.lon).distance_m / span
    }

    /// The first waypoint time after `t`, if any.
    pub fn next_time_after(&self, t_s: f64) -> Option<f64> {
        self.points.iter().map(|p| p.t_s).find(|&t| t > t_s)
    }

    /// The track cut into samples: each moving segment into steps of at most `step_m`
    /// metres (`None`: the waypoints as they are), and each rest into pauses of at most
    /// `idle_s` seconds, so whoever walks it keeps being heard. The first sample is the
    /// start.
    pub fn samples(&self, step_m: Option<f64>, idle_s: f64) -> anyhow::Result<Vec<Sample>> {
        if let Some(step) = step_m
            && !(step.is_finite() && step > 0.0)
        {
            bail!("the step must be a positive number of metres, not {step}");
        }
        let first = &self.points[0];
        let mut out = vec![Sample {
            t_s: first.t_s,
            lat: first.lat,
            lon: first.lon,
            walked_m: 0.0,
        }];
        let mut walked = 0.0;
        for w in self.points.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let g = inverse(a.lat, a.lon, b.lat, b.lon);
            let span = b.t_s - a.t_s;
            let n = if g.distance_m > 0.0 {
                step_m.map_or(1.0, |step| (g.distance_m / step).ceil().max(1.0))
            } else if idle_s.is_finite() && idle_s > 0.0 {
                (span / idle_s).ceil().max(1.0)
            } else {
                1.0
            };
            if out.len() as f64 + n > MAX_SAMPLES as f64 {
                bail!(
                    "this walk would take more than {MAX_SAMPLES} steps: make the steps longer (--step-m)"
                );
            }
            let n = n as usize;
            for k in 1..=n {
                let frac = k as f64 / n as f64;
                let (lat, lon) = if k == n {
                    (b.lat, b.lon)
                } else {
                    destination(a.lat, a.lon, g.bearing_deg, g.distance_m * frac)
                };
                out.push(Sample {
                    t_s: a.t_s + span * frac,
                    lat,
                    lon,
                    walked_m: walked + g.distance_m * frac,
                });
            }
            walked += g.distance_m;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wp(t_s: f64, lat: f64, lon: f64) -> Waypoint {
        Waypoint {
            t_s,
            lat,
            lon,
            note: None,
        }
    }

    #[test]
    fn positions_move_steadily_and_rest_in_place() {
        let track = Track::new(vec![
            wp(0.0, 0.0, 0.0),
            wp(100.0, 0.0, 0.01),
            wp(200.0, 0.0, 0.01),
        ])
        .unwrap();
        let half = track.position_at(50.0);
        let d = inverse(0.0, 0.0, half.0, half.1).distance_m;
        assert!((d - track.length_m() / 2.0).abs() < 1e-6, "{d}");
        assert_eq!(track.position_at(-5.0), (0.0, 0.0));
        assert_eq!(track.position_at(150.0), (0.0, 0.01));
        assert_eq!(track.position_at(1e9), (0.0, 0.01));
        assert!((track.speed_at(10.0) - track.length_m() / 100.0).abs() < 1e-9);
        assert_eq!(track.speed_at(150.0), 0.0);
        assert_eq!(track.speed_at(250.0), 0.0);
        assert_eq!(track.next_time_after(100.0), Some(200.0));
        assert_eq!(track.next_time_after(200.0), None);
    }

    #[test]
    fn samples_are_short_steps_and_pauses() {
        let track = Track::straight((0.0, 0.0), (0.0, 0.01), 3.6).unwrap();
        let len = track.length_m();
        assert!((track.end_s() - len).abs() < 1e-6, "1 m/s");
        let samples = track.samples(Some(100.0), 30.0).unwrap();
        assert_eq!(samples.len(), 1 + (len / 100.0).ceil() as usize);
        for w in samples.windows(2) {
            let d = inverse(w[0].lat, w[0].lon, w[1].lat, w[1].lon).distance_m;
            assert!(d <= 100.0 + 1e-6 && w[1].t_s > w[0].t_s);
        }
        let last = samples.last().unwrap();
        assert_eq!((last.lat, last.lon), (0.0, 0.01));
        assert!((last.walked_m - len).abs() < 1e-6);

        let resting = Track::new(vec![wp(0.0, 1.0, 1.0), wp(100.0, 1.0, 1.0)]).unwrap();
        assert_eq!(resting.samples(Some(10.0), 30.0).unwrap().len(), 1 + 4);
        let as_given = Track::new(vec![wp(0.0, 1.0, 1.0), wp(5.0, 1.0, 1.5)]).unwrap();
        assert_eq!(as_given.samples(None, 30.0).unwrap().len(), 2);
    }

    #[test]
    fn bad_tracks_are_refused() {
        assert!(Track::new(vec![]).is_err());
        assert!(Track::new(vec![wp(0.0, 91.0, 0.0)]).is_err());
        assert!(Track::new(vec![wp(5.0, 0.0, 0.0), wp(1.0, 0.0, 0.0)]).is_err());
        assert!(Track::straight((0.0, 0.0), (1.0, 1.0), 0.0).is_err());
        let huge = Track::straight((0.0, 0.0), (0.0, 90.0), 5.0).unwrap();
        let err = huge.samples(Some(1.0), 30.0).unwrap_err().to_string();
        assert!(err.contains("--step-m"), "{err}");
    }
}
