//! `haurach bench --curve`: the steady phase at increasing numbers of pairs, against
//! Haurach and Mosquitto in one run, as a table and as an SVG of latency (p50, p99) and
//! CPU per delivered update against connections. Where the lines bend is where a server
//! stops scaling; the table beside the SVG gives the same figures.

use std::fmt::Write as _;

/// One point of one server's curve.
#[derive(Debug, Clone, Copy)]
pub struct Point {
    /// Connections (two per pair).
    pub connections: usize,
    /// Latency, milliseconds.
    pub p50_ms: f64,
    /// Latency, milliseconds.
    pub p99_ms: f64,
    /// Server CPU per delivered update, microseconds.
    pub cpu_us: f64,
    /// Updates sent but not delivered.
    pub lost: u64,
}

/// The figures as a table, one row per number of connections.
pub fn table(names: [&str; 2], curves: [&[Point]; 2]) -> String {
    let mut out = format!(
        "{:>11}  {:>22}  {:>22}\n{:>11}  {:>22}  {:>22}\n",
        "", names[0], names[1], "connections", "p50 / p99 ms, CPU µs", "p50 / p99 ms, CPU µs"
    );
    for (a, b) in curves[0].iter().zip(curves[1]) {
        let cell = |p: &Point| {
            let lost = if p.lost > 0 {
                format!(" ({} lost)", p.lost)
            } else {
                String::new()
            };
            format!("{:.2} / {:.2}, {:.1}{lost}", p.p50_ms, p.p99_ms, p.cpu_us)
        };
        let _ = writeln!(
            out,
            "{:>11}  {:>22}  {:>22}",
            a.connections,
            cell(a),
            cell(b)
        );
    }
    out
}

/// A panel: its label, its top, its axis' top value, and the two lines' values of a
/// point (the second may be absent).
type Panel<'a> = (&'a str, f64, f64, &'a dyn Fn(&Point) -> [Option<f64>; 2]);

const W: f64 = 880.0;
const PANEL_H: f64 = 260.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 64.0;
const GAP: f64 = 70.0;

/// The two panels (latency above, CPU per update below) against connections on a
/// logarithmic axis, both servers in each: Haurach in blue, the other in orange; p99
/// solid, p50 dashed.
pub fn svg(title: &str, names: [&str; 2], curves: [&[Point]; 2]) -> String {
    let all: Vec<&Point> = curves.iter().flat_map(|c| c.iter()).collect();
    let (cmin, cmax) = all.iter().fold((f64::MAX, 0.0f64), |(lo, hi), p| {
        let c = p.connections as f64;
        (lo.min(c), hi.max(c))
    });
    let (cmin, cmax) = (cmin.max(1.0), cmax.max(cmin.max(1.0) * 10.0));
    let x = |c: usize| {
        LEFT + ((c as f64).ln() - cmin.ln()) / (cmax.ln() - cmin.ln()) * (W - LEFT - RIGHT)
    };
    let ms_max = nice(all.iter().map(|p| p.p99_ms).fold(0.0, f64::max));
    let cpu_max = nice(all.iter().map(|p| p.cpu_us).fold(0.0, f64::max));
    let height = TOP + 2.0 * PANEL_H + GAP + 50.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {height}" font-family="sans-serif" font-size="13"><rect width="100%" height="100%" fill="#fff"/><text x="{LEFT}" y="24" font-size="15" font-weight="bold">{}</text>"##,
        escape(title)
    );
    let colours = ["#1f5fbf", "#d9730d"];
    let panels: [Panel; 2] = [
        (
            "latency, ms (p99 solid, p50 dashed)",
            TOP,
            ms_max,
            &|p: &Point| [Some(p.p99_ms), Some(p.p50_ms)],
        ),
        (
            "CPU per delivered update, µs",
            TOP + PANEL_H + GAP,
            cpu_max,
            &|p: &Point| [Some(p.cpu_us), None],
        ),
    ];
    for (label, top, max, values) in panels {
        let bottom = top + PANEL_H;
        let y = |v: f64| bottom - v / max * PANEL_H;
        // Axes, grid and labels.
        for i in 0..=4 {
            let v = max * f64::from(i) / 4.0;
            let _ = write!(
                s,
                r##"<line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
                W - RIGHT,
                y(v),
                y(v),
                LEFT - 6.0,
                y(v) + 4.0,
                short(v)
            );
        }
        for p in curves[0] {
            let _ = write!(
                s,
                r##"<line x1="{0:.1}" x2="{0:.1}" y1="{1:.1}" y2="{2:.1}" stroke="#eee"/><text x="{0:.1}" y="{3:.1}" text-anchor="middle">{4}</text>"##,
                x(p.connections),
                top,
                bottom,
                bottom + 16.0,
                p.connections
            );
        }
        let _ = write!(
            s,
            r##"<text x="{LEFT}" y="{:.1}" font-weight="bold">{}</text>"##,
            top - 8.0,
            escape(label)
        );
        for (curve, colour) in curves.iter().zip(colours) {
            for (line, dash) in [(0, ""), (1, r#" stroke-dasharray="6 4""#)] {
                let points: Vec<String> = curve
                    .iter()
                    .filter_map(|p| {
                        values(p)[line].map(|v| format!("{:.1},{:.1}", x(p.connections), y(v)))
                    })
                    .collect();
                if points.is_empty() {
                    continue;
                }
                let _ = write!(
                    s,
                    r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>"##,
                    points.join(" ")
                );
            }
        }
    }
    let _ = write!(
        s,
        r##"<text x="{:.1}" y="{:.1}" text-anchor="middle">connections (two per pair; logarithmic)</text>"##,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        height - 10.0
    );
    for (i, (name, colour)) in names.iter().zip(colours).enumerate() {
        let yy = TOP + 20.0 + i as f64 * 20.0;
        let _ = write!(
            s,
            r##"<line x1="{0:.1}" x2="{1:.1}" y1="{2:.1}" y2="{2:.1}" stroke="{colour}" stroke-width="3"/><text x="{3:.1}" y="{4:.1}">{5}</text>"##,
            W - RIGHT + 12.0,
            W - RIGHT + 36.0,
            yy,
            W - RIGHT + 42.0,
            yy + 4.0,
            escape(name)
        );
    }
    s.push_str("</svg>\n");
    s
}

/// A round number at or above `v` for the top of an axis.
fn nice(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|top| *top >= v)
        .unwrap_or(10.0 * magnitude)
}

/// An axis label: no more digits than it needs.
fn short(v: f64) -> String {
    if v >= 10.0 || v == 0.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(connections: usize, p99_ms: f64) -> Point {
        Point {
            connections,
            p50_ms: p99_ms / 3.0,
            p99_ms,
            cpu_us: 20.0,
            lost: 0,
        }
    }

    #[test]
    fn the_svg_draws_both_servers_in_both_panels() {
        let a = [point(200, 0.5), point(2_000, 1.5), point(19_800, 3.0)];
        let b = [point(200, 0.4), point(2_000, 1.0), point(19_800, 2.0)];
        let svg = svg("steady phase", ["haurach", "mosquitto"], [&a, &b]);
        // Latency p99 and p50, and CPU, for each server.
        assert_eq!(svg.matches("<polyline").count(), 6);
        assert!(svg.contains(">19800</text>"));
        assert!(svg.contains(">mosquitto</text>"));
        let table = table(["haurach", "mosquitto"], [&a, &b]);
        assert!(table.contains("19800"), "{table}");
    }

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice(3.2), 5.0);
        assert_eq!(nice(0.44), 0.5);
        assert_eq!(nice(21.0), 25.0);
        assert_eq!(nice(0.0), 1.0);
    }
}
