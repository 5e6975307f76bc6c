//! The journey drawn: the distance between the partners over time as an SVG, with the
//! bands of the tiers behind it (each tier's range, shaded closer the more passes) and a
//! mark where each tier opened. `haurach replay --svg FILE` writes it; the web client
//! draws the same picture from the pulls it receives (`web/assets/journey.js`).

use std::fmt::Write as _;

use haurach_bond::{Profile, Tier};

/// One tier opening, to be marked on the line.
#[derive(Debug, Clone, PartialEq)]
pub struct Opening {
    /// Seconds on the chart's clock.
    pub t_s: f64,
    /// The distance then, metres.
    pub distance_m: f64,
    /// Which tier opened.
    pub tier: Tier,
}

/// What the chart shows.
#[derive(Clone, Copy)]
pub struct Chart<'a> {
    /// The title on top.
    pub title: &'a str,
    /// The profile whose ranges make the bands.
    pub profile: Profile,
    /// (seconds, metres), in time order.
    pub samples: &'a [(f64, f64)],
    /// The tiers that opened on the way.
    pub openings: &'a [Opening],
    /// How a time on the chart's clock reads ("day 1 15:00").
    pub time_label: &'a dyn Fn(f64) -> String,
}

const W: f64 = 880.0;
const H: f64 = 460.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 130.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 52.0;
/// At most this many points on the line (the replay can take thousands of steps).
const MAX_POINTS: usize = 1500;

/// A number for an SVG attribute: one decimal is finer than a pixel.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A distance for an axis: "15 km", "500 m".
fn km(m: f64) -> String {
    if m >= 1000.0 {
        let k = m / 1000.0;
        if (k - k.round()).abs() < 1e-9 {
            format!("{k:.0} km")
        } else {
            format!("{k:.1} km")
        }
    } else {
        format!("{m:.0} m")
    }
}

/// A round step for about `n` ticks over `span`.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// The chart as an SVG document.
pub fn svg(chart: &Chart<'_>) -> String {
    let samples = chart.samples;
    let (t0, t1) = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0, b.0),
        (Some(a), _) => (a.0, a.0 + 1.0),
        _ => (0.0, 1.0),
    };
    let d_max = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    // The farthest ranged tier a little above the line, so its band shows.
    let top_range = Tier::ALL
        .iter()
        .filter_map(|t| chart.profile.range_m(*t))
        .fold(0.0, f64::max);
    let y_max = (d_max.max(top_range.min(d_max * 1.5)) * 1.05).max(100.0);
    let plot_w = W - LEFT - RIGHT;
    let plot_h = H - TOP - BOTTOM;
    let x = |t: f64| LEFT + (t - t0) / (t1 - t0) * plot_w;
    let y = |d: f64| TOP + plot_h - d.clamp(0.0, y_max) / y_max * plot_h;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" \
         font-family=\"system-ui, sans-serif\" font-size=\"12\" role=\"img\" aria-labelledby=\"chart-title\">"
    );
    let _ = writeln!(
        out,
        "  <title id=\"chart-title\">{}: the distance between the partners over time, with the tiers' ranges</title>",
        escape(chart.title)
    );
    let _ = writeln!(
        out,
        "  <rect width=\"{W}\" height=\"{H}\" fill=\"#fbf8ff\"/>"
    );
    let _ = writeln!(
        out,
        "  <text x=\"{LEFT}\" y=\"28\" font-size=\"17\" font-weight=\"600\" fill=\"#2a1a3f\">{}</text>",
        escape(chart.title)
    );

    // The bands: each ranged tier from its range down to the next tier's, darker as more
    // passes. Tiers that open at any range have no band.
    let ranged: Vec<(Tier, f64)> = Tier::ALL
        .into_iter()
        .filter_map(|t| chart.profile.range_m(t).map(|r| (t, r)))
        .collect();
    let _ = writeln!(out, "  <g class=\"bands\">");
    // Band labels go down the right margin, each below the one before.
    let mut next_label_y = TOP;
    for (i, (tier, range)) in ranged.iter().enumerate() {
        let below = ranged.get(i + 1).map_or(0.0, |(_, r)| *r);
        let (ya, yb) = (y(*range), y(below));
        if ya >= TOP + plot_h || range <= &below {
            continue;
        }
        let shade = 0.05 + 0.07 * i as f64;
        let _ = writeln!(
            out,
            "    <rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#7b3fb8\" fill-opacity=\"{shade:.2}\"/>",
            px(LEFT),
            px(ya),
            px(plot_w),
            px((yb - ya).max(0.0))
        );
        let _ = writeln!(
            out,
            "    <line x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\" stroke=\"#7b3fb8\" stroke-opacity=\"0.35\"/>",
            px(LEFT),
            px(LEFT + plot_w),
            px(ya),
            px(ya)
        );
        // The label sits at the top of its band, or just below the label before.
        let label_y = (ya + 11.0).max(next_label_y + 13.0).min(TOP + plot_h + 4.0);
        next_label_y = label_y;
        let _ = writeln!(
            out,
            "    <text x=\"{}\" y=\"{}\" fill=\"#4a2a70\">{} ≤ {}</text>",
            px(LEFT + plot_w + 6.0),
            px(label_y),
            tier.key(),
            km(*range)
        );
    }
    let _ = writeln!(out, "  </g>");

    // Axes and ticks.
    let _ = writeln!(
        out,
        "  <g class=\"axes\" stroke=\"#2a1a3f\" fill=\"#2a1a3f\">"
    );
    let _ = writeln!(
        out,
        "    <line x1=\"{l}\" x2=\"{l}\" y1=\"{TOP}\" y2=\"{b}\"/>\n    <line x1=\"{l}\" x2=\"{r}\" y1=\"{b}\" y2=\"{b}\"/>",
        l = px(LEFT),
        r = px(LEFT + plot_w),
        b = px(TOP + plot_h)
    );
    let dy = nice_step(y_max, 6.0);
    let mut v = 0.0;
    while v <= y_max + 1e-9 {
        let _ = writeln!(
            out,
            "    <text x=\"{}\" y=\"{}\" text-anchor=\"end\" stroke=\"none\">{}</text>",
            px(LEFT - 6.0),
            px(y(v) + 4.0),
            km(v)
        );
        v += dy;
    }
    // Ticks on round clock times: the first step that gives at most eight.
    let dt = [
        60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 10_800.0, 21_600.0, 43_200.0, 86_400.0,
    ]
    .into_iter()
    .find(|step| (t1 - t0) / step <= 8.0)
    .unwrap_or(86_400.0 * ((t1 - t0) / 86_400.0 / 8.0).ceil());
    let mut t = (t0 / dt).ceil() * dt;
    while t <= t1 + 1e-9 {
        let _ = writeln!(
            out,
            "    <line x1=\"{x}\" x2=\"{x}\" y1=\"{b}\" y2=\"{b2}\"/>\n    <text x=\"{x}\" y=\"{ty}\" text-anchor=\"middle\" stroke=\"none\">{}</text>",
            escape(&(chart.time_label)(t)),
            x = px(x(t)),
            b = px(TOP + plot_h),
            b2 = px(TOP + plot_h + 5.0),
            ty = px(TOP + plot_h + 19.0)
        );
        t += dt;
    }
    let _ = writeln!(
        out,
        "    <text x=\"{}\" y=\"{}\" text-anchor=\"middle\" stroke=\"none\">time</text>\n    <text x=\"16\" y=\"{}\" transform=\"rotate(-90 16 {})\" text-anchor=\"middle\" stroke=\"none\">distance apart</text>",
        px(LEFT + plot_w / 2.0),
        px(H - 10.0),
        px(TOP + plot_h / 2.0),
        px(TOP + plot_h / 2.0)
    );
    let _ = writeln!(out, "  </g>");

    // The line.
    let stride = samples.len().div_ceil(MAX_POINTS).max(1);
    let mut points: Vec<&(f64, f64)> = samples.iter().step_by(stride).collect();
    if let Some(last) = samples.last()
        && points.last() != Some(&last)
    {
        points.push(last);
    }
    let path: Vec<String> = points
        .iter()
        .map(|(t, d)| format!("{},{}", px(x(*t)), px(y(*d))))
        .collect();
    let _ = writeln!(
        out,
        "  <polyline class=\"distance\" fill=\"none\" stroke=\"#2a1a3f\" stroke-width=\"2.2\" stroke-linejoin=\"round\" points=\"{}\"/>",
        path.join(" ")
    );

    // The openings: a dot on the line and the tier's name beside it (before it near the
    // right edge), moved up past any label it would overlap.
    let _ = writeln!(out, "  <g class=\"openings\">");
    let mut placed: Vec<(f64, f64, f64)> = Vec::new(); // (x from, x to, baseline)
    for o in chart.openings {
        let (cx, cy) = (x(o.t_s), y(o.distance_m));
        let text = format!("{} opened", o.tier.key());
        let width = 7.0 * text.chars().count() as f64;
        let before = cx + 8.0 + width > LEFT + plot_w;
        let (x0, x1) = if before {
            (cx - 8.0 - width, cx - 8.0)
        } else {
            (cx + 8.0, cx + 8.0 + width)
        };
        let mut ly = cy - 8.0;
        while placed
            .iter()
            .any(|(a, b, y)| x0 < *b && *a < x1 && (ly - y).abs() < 14.0)
        {
            ly -= 14.0;
        }
        placed.push((x0, x1, ly));
        let _ = writeln!(
            out,
            "    <circle cx=\"{}\" cy=\"{}\" r=\"4.5\" fill=\"#e0a526\" stroke=\"#2a1a3f\"/>\n    <text x=\"{}\" y=\"{}\" fill=\"#2a1a3f\" font-weight=\"600\">{text}</text>",
            px(cx),
            px(cy),
            px(x0),
            px(ly),
        );
    }
    let _ = writeln!(out, "  </g>\n</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_has_a_band_per_ranged_tier_the_line_and_a_mark_per_opening() {
        let samples: Vec<(f64, f64)> = (0..=100)
            .map(|i| (f64::from(i) * 600.0, 21_000.0 - f64::from(i) * 210.0))
            .collect();
        let openings = [
            Opening {
                t_s: 600.0,
                distance_m: 19_990.0,
                tier: Tier::Feelings,
            },
            Opening {
                t_s: 57_000.0,
                distance_m: 1_950.0,
                tier: Tier::Sight,
            },
        ];
        let label = |t: f64| format!("{:.0} h", t / 3600.0);
        let svg = svg(&Chart {
            title: "A & B",
            profile: Profile::Story,
            samples: &samples,
            openings: &openings,
            time_label: &label,
        });
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("A &amp; B"));
        assert!(svg.contains("feelings ≤ 20 km"), "{svg}");
        assert!(svg.contains("glimpse ≤ 10 km"), "{svg}");
        assert!(svg.contains("feelings opened") && svg.contains("sight opened"));
        assert_eq!(svg.matches("<circle").count(), 2);
        let line = svg
            .split("points=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert_eq!(line.split(' ').count(), 101);
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(21_000.0, 6.0), 5_000.0);
        assert_eq!(nice_step(1_000.0, 6.0), 200.0);
        assert_eq!(nice_step(7.0, 6.0), 2.0);
    }
}
