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
        "steady,voice,idle,push",
        "--voice-pairs",
        "5",
        "--push-events",
        "20",
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
    // Where the server's time went, its own work and the kernel's on its sockets: on one
    // node beside nothing else, the two are all of it.
    let (user, kernel) = (
        value("steady: server µs per update, user"),
        value("steady: server µs per update, kernel"),
    );
    let all = value("steady: CPU µs per update, all");
    assert!((user + kernel - all).abs() < 0.2, "{stdout}");
    assert!(value("voice: acknowledged messages/s") > 0.0, "{stdout}");
    assert_eq!(value("voice: errors"), 0.0, "{stdout}");
    assert!(value("idle: server bytes per connection") > 0.0, "{stdout}");
    // Each of the 20 letters became a push at the local push service.
    assert_eq!(value("push: events"), 20.0, "{stdout}");
    assert!(value("push: event to push p99 ms") > 0.0, "{stdout}");
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

#[test]
fn the_cost_of_several_nodes_is_measured_in_one_run() {
    use haurach_testkit::{NatsServer, PgCluster, or_skip};
    // The bench starts its own; these only check that it can.
    if or_skip(PgCluster::start()).is_none() || or_skip(NatsServer::start()).is_none() {
        return;
    }
    let out = haurach()
        .args([
            "bench",
            "--compare",
            "nodes",
            "--pairs",
            "6",
            "--seconds",
            "1",
            "--phases",
            "steady,voice",
            "--voice-pairs",
            "3",
            "--quiet-wait",
            "0",
        ])
        .output()
        .expect("haurach bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let head = stdout.lines().next().unwrap_or_default();
    let columns: Vec<&str> = head.split("  ").filter(|c| !c.trim().is_empty()).collect();
    assert_eq!(
        columns.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        ["haurach", "postgres", "2 nodes+nats", "4 nodes+nats"],
        "{stdout}"
    );
    for label in [
        "steady: delivered updates/s",
        "steady: CPU µs per update, all",
        "voice: acknowledged messages/s",
        "voice: CPU ms per message, all",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no {label:?} row in\n{stdout}"));
        let values: Vec<f64> = line[label.len()..]
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(values.len(), 4, "{line}");
        // CPU time comes from /proc in clock ticks (10 ms): a node that served a dozen
        // updates for a second may have used less than one (CI saw 0.0 for one node on
        // SQLite); it is a number, never negative, and some set-up used a tick.
        if label.contains("CPU") {
            assert!(
                values.iter().all(|v| v.is_finite() && *v >= 0.0)
                    && values.iter().any(|v| *v > 0.0),
                "{line}"
            );
        } else {
            assert!(values.iter().all(|v| *v > 0.0), "{line}");
        }
    }
    // What NATS sent the nodes is counted only where there is NATS.
    let nats = stdout
        .lines()
        .find(|l| l.starts_with("steady: NATS msgs per node per update"))
        .unwrap_or_else(|| panic!("no NATS row in\n{stdout}"));
    let cells: Vec<&str> = nats.split_whitespace().rev().take(4).collect();
    assert!(cells[2..].iter().all(|c| *c == "-"), "{nats}");
    assert!(
        cells[..2].iter().all(|c| c.parse::<f64>().is_ok()),
        "{nats}"
    );
    let errors = stdout
        .lines()
        .find(|l| l.starts_with("voice: errors"))
        .unwrap();
    assert!(
        errors.split_whitespace().skip(2).all(|v| v == "0"),
        "{errors}"
    );
}

#[test]
fn the_curve_measures_each_size_beside_mosquitto_and_draws_it() {
    if !Path::new("/usr/sbin/mosquitto").exists() {
        assert!(
            std::env::var_os("HAURACH_REQUIRE_SERVERS").is_none(),
            "mosquitto is not installed (scripts/test installs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let svg = dir.path().join("curve.svg");
    let out = haurach()
        .args(["bench", "--curve", "--curve-pairs", "3,6", "--seconds", "1"])
        .args(["--quiet-wait", "0", "--svg"])
        .arg(&svg)
        .output()
        .expect("haurach bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // One row per size, each with both servers' figures.
    for connections in ["6", "12"] {
        let row = stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(connections))
            .unwrap_or_else(|| panic!("no row for {connections} connections in\n{stdout}"));
        assert_eq!(row.matches(" / ").count(), 2, "{row}");
    }
    let drawn = std::fs::read_to_string(&svg).unwrap();
    assert!(drawn.starts_with("<svg"), "{drawn}");
    assert_eq!(drawn.matches("<polyline").count(), 6, "{drawn}");
}
