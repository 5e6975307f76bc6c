//! Reading a GPX file into a [`Track`]: the track points (`trkpt`) of every track and
//! segment in order, or the route points (`rtept`) or waypoints (`wpt`) when there are
//! none, with the file's own timing.

use anyhow::{Context as _, bail};
use haurach_bond::geo::inverse;
use quick_xml::events::{BytesStart, Event};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::track::{Track, Waypoint};

/// A point as the file gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct GpxPoint {
    /// Latitude.
    pub lat: f64,
    /// Longitude.
    pub lon: f64,
    /// When, if the file says.
    pub time: Option<OffsetDateTime>,
}

/// The points of a GPX document: track points, else route points, else waypoints.
pub fn parse(xml: &str) -> anyhow::Result<Vec<GpxPoint>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut trk, mut rte, mut wpt) = (Vec::new(), Vec::new(), Vec::new());
    // The point being read and which list it goes to; whether we are inside its <time>.
    let mut current: Option<(GpxPoint, u8)> = None;
    let mut in_time = false;
    let mut time_text = String::new();
    loop {
        let event = reader
            .read_event()
            .with_context(|| format!("not valid XML near byte {}", reader.buffer_position()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e)
                if matches!(e.local_name().as_ref(), "trkpt" | "rtept" | "wpt") =>
            {
                let kind = match e.local_name().as_ref() {
                    "trkpt" => 0,
                    "rtept" => 1,
                    _ => 2,
                };
                let point = point_of(e)?;
                // An empty element (`<trkpt .../>`) has no children and no end tag.
                if matches!(event, Event::Empty(_)) {
                    push(&mut trk, &mut rte, &mut wpt, point, kind);
                } else {
                    current = Some((point, kind));
                }
            }
            Event::Start(e) if e.local_name().as_ref() == "time" && current.is_some() => {
                in_time = true;
                time_text.clear();
            }
            Event::Text(t) if in_time => time_text.push_str(&t.xml10_content()),
            Event::End(e) if e.local_name().as_ref() == "time" && in_time => {
                in_time = false;
                let text = time_text.trim();
                let time = OffsetDateTime::parse(text, &Rfc3339)
                    .with_context(|| format!("{text:?} is not an RFC 3339 time"))?;
                if let Some((point, _)) = current.as_mut() {
                    point.time = Some(time);
                }
            }
            Event::End(e) if matches!(e.local_name().as_ref(), "trkpt" | "rtept" | "wpt") => {
                if let Some((point, kind)) = current.take() {
                    push(&mut trk, &mut rte, &mut wpt, point, kind);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let points = [trk, rte, wpt]
        .into_iter()
        .find(|list| !list.is_empty())
        .unwrap_or_default();
    if points.is_empty() {
        bail!("this GPX file has no track points, route points or waypoints");
    }
    Ok(points)
}

fn push(
    trk: &mut Vec<GpxPoint>,
    rte: &mut Vec<GpxPoint>,
    wpt: &mut Vec<GpxPoint>,
    point: GpxPoint,
    kind: u8,
) {
    match kind {
        0 => trk.push(point),
        1 => rte.push(point),
        _ => wpt.push(point),
    }
}

fn point_of(e: &BytesStart<'_>) -> anyhow::Result<GpxPoint> {
    let (mut lat, mut lon) = (None, None);
    for attr in e.attributes() {
        let attr = attr.context("a point has a malformed attribute")?;
        let value = attr.value.trim();
        match attr.key.as_ref() {
            "lat" => {
                lat = Some(
                    value
                        .parse::<f64>()
                        .with_context(|| format!("lat {value:?} is not a number"))?,
                )
            }
            "lon" => {
                lon = Some(
                    value
                        .parse::<f64>()
                        .with_context(|| format!("lon {value:?} is not a number"))?,
                )
            }
            _ => {}
        }
    }
    match (lat, lon) {
        (Some(lat), Some(lon)) => Ok(GpxPoint {
            lat,
            lon,
            time: None,
        }),
        _ => bail!("a point lacks its lat or lon attribute"),
    }
}

/// The points as a track on the file's own clock (seconds from the first point). When a
/// point has no time, the whole track is timed at `speed_kmh` instead.
pub fn track(points: &[GpxPoint], speed_kmh: f64) -> anyhow::Result<Track> {
    let timed = points.iter().all(|p| p.time.is_some());
    let mut waypoints = Vec::with_capacity(points.len());
    if timed {
        let t0 = points[0].time.expect("checked");
        for (idx, p) in points.iter().enumerate() {
            let t_s = (p.time.expect("checked") - t0).as_seconds_f64();
            if let Some(prev) = waypoints.last().map(|w: &Waypoint| w.t_s)
                && t_s < prev
            {
                bail!(
                    "point {} of the GPX track is timed before the point before it",
                    idx + 1
                );
            }
            waypoints.push(Waypoint {
                t_s,
                lat: p.lat,
                lon: p.lon,
                note: None,
            });
        }
    } else {
        if !(speed_kmh.is_finite() && speed_kmh > 0.0) {
            bail!("the GPX points have no times: give a positive --speed in km/h");
        }
        let mut t_s = 0.0;
        for (idx, p) in points.iter().enumerate() {
            if idx > 0 {
                let prev = &points[idx - 1];
                t_s += inverse(prev.lat, prev.lon, p.lat, p.lon).distance_m / (speed_kmh / 3.6);
            }
            waypoints.push(Waypoint {
                t_s,
                lat: p.lat,
                lon: p.lon,
                note: None,
            });
        }
    }
    Track::new(waypoints)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">
  <wpt lat="1" lon="1"><name>ignored while there is a track</name></wpt>
  <trk><name>stroll</name>
    <trkseg>
      <trkpt lat="45.0" lon="14.0"><ele>10</ele><time>2020-01-01T10:00:00Z</time></trkpt>
      <trkpt lat="45.001" lon="14.0"><time>2020-01-01T10:01:00Z</time></trkpt>
    </trkseg>
    <trkseg>
      <trkpt lat="45.002" lon="14.0"><time>2020-01-01T10:03:30.5Z</time></trkpt>
    </trkseg>
  </trk>
</gpx>"#;

    #[test]
    fn track_points_with_their_timing() {
        let points = parse(SAMPLE).unwrap();
        assert_eq!(points.len(), 3);
        assert_eq!((points[1].lat, points[1].lon), (45.001, 14.0));
        let track = track(&points, 5.0).unwrap();
        let times: Vec<f64> = track.points().iter().map(|w| w.t_s).collect();
        assert_eq!(times, [0.0, 60.0, 210.5]);
    }

    #[test]
    fn untimed_routes_are_walked_at_the_given_speed() {
        let xml = r#"<gpx><rte><rtept lat="0" lon="0"/><rtept lat="0" lon="0.01"/></rte></gpx>"#;
        let points = parse(xml).unwrap();
        assert_eq!(points.len(), 2);
        let track = track(&points, 3.6).unwrap();
        assert!((track.end_s() - track.length_m()).abs() < 1e-6);
        assert!(self::track(&points, 0.0).is_err());
    }

    #[test]
    fn files_without_points_or_with_bad_ones_are_refused() {
        assert!(parse("<gpx></gpx>").is_err());
        assert!(
            parse(r#"<gpx><trk><trkseg><trkpt lat="x" lon="1"/></trkseg></trk></gpx>"#).is_err()
        );
        assert!(parse("<gpx><trk").is_err());
    }

    #[test]
    fn the_shared_sample_files_parse() {
        // shared/ sits beside the repository.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/gpx");
        let Ok(entries) = std::fs::read_dir(dir) else {
            return; // Not on every machine.
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let xml = std::fs::read_to_string(&path).unwrap();
            let points = parse(&xml).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            let track = track(&points, 5.0).unwrap();
            assert!(track.points().len() > 10, "{}", path.display());
        }
    }
}
