//! `haurach bench` runs end to end: a tiny workload against a server it starts (and
//! Mosquitto, when installed), printing the table and the ratio line. No timing is
//! asserted: the figures belong in docs/benchmarks.md, not in a test.

use std::path::Path;

use crate::support::haurach;

#[test]
fn a_small_bench_prints_the_table_and_the_ratio_line() {
    let mosquitto = Path::new("/usr/sbin/mosquitto").exists();
    let mut cmd = haurach();
    cmd.args([
        "bench",
        "--pairs",
        "10",
        "--seconds",
        "1",
        "--phases",
        "steady,voice,idle",
        "--voice-pairs",
        "5",
        "--idle-connections",
        "40",
        "--quiet-wait",
        "0",
    ]);
    if mosquitto {
        cmd.args(["--compare", "mosquitto"]);
    } else {
        eprintln!("mosquitto is not installed (scripts/test installs it): Haurach only");
    }
    let out = cmd.output().expect("haurach bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let value = |label: &str| -> f64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} row in\n{stdout}"));
        line[label.len()..]
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no number in {line:?}"))
    };
    assert!(value("steady: delivered updates/s") > 0.0, "{stdout}");
    assert!(value("voice: acknowledged messages/s") > 0.0, "{stdout}");
    assert_eq!(value("voice: errors"), 0.0, "{stdout}");
    assert!(value("idle: server bytes per connection") > 0.0, "{stdout}");
    if mosquitto {
        let last = stdout.lines().last().unwrap_or_default();
        let parts: Vec<&str> = last.split(' ').collect();
        assert_eq!(parts.len(), 4, "{last:?}");
        assert_eq!(parts[0], "ratio");
        for (part, key) in parts[1..]
            .iter()
            .zip(["throughput=", "p99=", "bytes_per_conn="])
        {
            assert!(part.starts_with(key), "{last:?}");
        }
    }
}
