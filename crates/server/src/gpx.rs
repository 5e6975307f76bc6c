//! Writing a journey as GPX 1.1: one track, one segment, a point per fix with its time.
//! A fix's accuracy has no GPX element in metres (`hdop` is a dilution, not a radius), so
//! it travels in Haurach's own extension, which GPX readers skip.

use std::fmt::Write as _;

use haurach_bond::Fix;
use time::format_description::well_known::Rfc3339;

use crate::hub::timestamp;

/// The namespace of Haurach's GPX extension.
pub const EXTENSION_NS: &str = "https://haurach.invalid/gpx/1";

/// `fixes` as a GPX 1.1 document whose track is called `name`.
pub fn write(name: &str, fixes: &[Fix]) -> String {
    let mut out = String::with_capacity(200 + fixes.len() * 160);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<gpx version=\"1.1\" creator=\"Haurach\" xmlns=\"http://www.topografix.com/GPX/1/1\" \
         xmlns:haurach=\"{EXTENSION_NS}\">"
    );
    let _ = writeln!(
        out,
        "  <trk>\n    <name>{}</name>\n    <trkseg>",
        escape(name)
    );
    for f in fixes {
        let time = timestamp(f.at_ms)
            .format(&Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into());
        let _ = write!(
            out,
            "      <trkpt lat=\"{}\" lon=\"{}\"><time>{time}</time>",
            f.lat, f.lon
        );
        if f.accuracy_m > 0.0 {
            let _ = write!(
                out,
                "<extensions><haurach:accuracy_m>{}</haurach:accuracy_m></extensions>",
                f.accuracy_m
            );
        }
        out.push_str("</trkpt>\n");
    }
    out.push_str("    </trkseg>\n  </trk>\n</gpx>\n");
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fix_keeps_every_digit_and_its_time() {
        let fix = Fix {
            lat: 45.768_118_3,
            lon: 14.360_537_1,
            accuracy_m: 4.5,
            at_ms: 1_700_000_000_250,
        };
        let gpx = write("a <b> & c", &[fix]);
        assert!(gpx.contains("<name>a &lt;b&gt; &amp; c</name>"), "{gpx}");
        assert!(
            gpx.contains(
                "<trkpt lat=\"45.7681183\" lon=\"14.3605371\"><time>2023-11-14T22:13:20.25Z</time>"
            ),
            "{gpx}"
        );
        assert!(gpx.contains("<haurach:accuracy_m>4.5</haurach:accuracy_m>"));
    }
}
