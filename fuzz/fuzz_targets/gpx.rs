//! A GPX file given to `haurach walk --gpx`, read as the CLI reads it: UTF-8 text, the
//! points (`gpx::parse`), the track on the file's own clock or at the default speed
//! (`gpx::track`), then cut into the samples the walk sends (`Track::samples`).
//!
//! The CLI is a binary crate, so its two files are compiled here as they are.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/cli/src/track.rs"]
mod track;

#[allow(dead_code)]
#[path = "../../crates/cli/src/gpx.rs"]
mod gpx;

/// `haurach walk`'s defaults: `--speed 5` km/h, no `--step-m`, a sample at least every
/// 20 s while resting (`KEEPALIVE_S` at `--speedup 1`).
const SPEED_KMH: f64 = 5.0;
const KEEPALIVE_S: f64 = 20.0;

fuzz_target!(|data: &[u8]| {
    // The CLI reads the file with `read_to_string`, which refuses what is not UTF-8.
    let Ok(xml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(points) = gpx::parse(xml) else {
        return;
    };
    let Ok(track) = gpx::track(&points, SPEED_KMH) else {
        return;
    };
    let _ = track.samples(None, KEEPALIVE_S);
});
