//! Renditions beside libvips: how long it takes to turn a real photo into each size of the
//! strength curve (`haurach_bond::images::LADDER`), ours against `vipsthumbnail` on the
//! same files in the same run.
//!
//! ```sh
//! HAURACH_PHOTOS=/path/to/jpegs cargo bench -p haurach-picture --bench renditions
//! ```
//!
//! `HAURACH_PHOTOS` is a directory of JPEG photos (at least one of 12 megapixels; see
//! `docs/benchmarks.md` for the ones used and where they come from). Each job is what a
//! first view of a picture costs: read the JPEG, decode it, turn it upright, shrink it so
//! its longest side is the rung, and encode a JPEG at quality 85 without metadata.
//! `vipsthumbnail` does the same (`-s SIDE -o out.jpg[Q=85,strip]`), once as a process
//! per job with its default threads and once with `VIPS_CONCURRENCY=1` (ours is one
//! thread: the server renders each picture on one blocking thread). A process per job
//! includes vips's start-up, so that start-up is measured on an 8 × 8 picture and shown
//! too, and the ratio is given both ways.
//!
//! Each time is the median of `HAURACH_BENCH_RUNS` runs (default 5).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use haurach_bond::images::LADDER;
use haurach_picture::{Kind, Limits, RENDITION_QUALITY, decode, encode, shrink};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(runs: usize, mut job: impl FnMut()) -> Duration {
    job(); // warm the caches (file, allocator) once
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                job();
                start.elapsed()
            })
            .collect(),
    )
}

fn ours(path: &Path, side: u32) -> usize {
    let bytes = std::fs::read(path).expect("read the photo");
    let image = decode(&bytes, Kind::Jpeg, Limits::default()).expect("decode");
    let small = shrink(&image, side).expect("shrink");
    encode(&small, RENDITION_QUALITY).expect("encode").len()
}

fn vips(path: &Path, side: u32, out: &Path, single_thread: bool) {
    let mut cmd = Command::new("vipsthumbnail");
    cmd.arg(path)
        .arg("-s")
        .arg(side.to_string())
        .arg("-o")
        .arg(format!("{}[Q={RENDITION_QUALITY},strip]", out.display()));
    if single_thread {
        cmd.env("VIPS_CONCURRENCY", "1");
    }
    let status = cmd
        .status()
        .expect("run vipsthumbnail (apt-get install libvips-tools)");
    assert!(
        status.success(),
        "vipsthumbnail failed on {}",
        path.display()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = std::env::var_os("HAURACH_PHOTOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            eprintln!("set HAURACH_PHOTOS to a directory of JPEG photos (see docs/benchmarks.md)");
            std::process::exit(2);
        });
    let runs: usize = std::env::var("HAURACH_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut photos: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read HAURACH_PHOTOS")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("jpg") || e.eq_ignore_ascii_case("jpeg"))
        })
        .collect();
    photos.sort();
    assert!(!photos.is_empty(), "no JPEG in {}", dir.display());
    let scratch = tempfile_dir();
    let out = scratch.join("out.jpg");

    // vips's fixed cost per process: start-up and shut-down on a picture of 8 × 8.
    let tiny = scratch.join("tiny.jpg");
    std::fs::write(
        &tiny,
        encode(&image::DynamicImage::new_rgb8(8, 8), 85).expect("tiny"),
    )
    .expect("write tiny");
    let startup = time(runs, || vips(&tiny, 8, &out, true));
    println!(
        "vipsthumbnail start-up (8 × 8 picture, one thread): {:.1} ms",
        ms(startup)
    );
    println!(
        "{:<40} {:>6} {:>10} {:>12} {:>12} {:>8} {:>14}",
        "photo", "side", "ours ms", "vips ms", "vips 1t ms", "ratio", "ratio-startup"
    );
    let (mut log_sum, mut log_sum_net, mut n) = (0.0f64, 0.0f64, 0u32);
    for photo in &photos {
        let (w, h) = image::image_dimensions(photo).expect("dimensions");
        let name = format!(
            "{} ({:.1} MP)",
            photo.file_name().unwrap().to_string_lossy(),
            f64::from(w) * f64::from(h) / 1e6
        );
        for &side in &LADDER {
            let t_ours = time(runs, || {
                std::hint::black_box(ours(photo, side));
            });
            let t_vips = time(runs, || vips(photo, side, &out, false));
            let t_vips1 = time(runs, || vips(photo, side, &out, true));
            let ratio = t_ours.as_secs_f64() / t_vips1.as_secs_f64();
            let net = t_vips1
                .saturating_sub(startup)
                .max(Duration::from_micros(100));
            let ratio_net = t_ours.as_secs_f64() / net.as_secs_f64();
            log_sum += ratio.ln();
            log_sum_net += ratio_net.ln();
            n += 1;
            println!(
                "{:<40} {:>6} {:>10.1} {:>12.1} {:>12.1} {:>8.2} {:>14.2}",
                name,
                side,
                ms(t_ours),
                ms(t_vips),
                ms(t_vips1),
                ratio,
                ratio_net
            );
        }
    }
    println!(
        "ratio ours / vipsthumbnail (one thread each), geometric mean over {n} jobs: {:.2} \
         (vips start-up subtracted: {:.2}); below 1 is faster than vips",
        (log_sum / f64::from(n)).exp(),
        (log_sum_net / f64::from(n)).exp()
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// A scratch directory for vips's output, removed at the end.
fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("haurach-renditions-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}
