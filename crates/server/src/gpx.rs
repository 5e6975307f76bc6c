//! A journey as GPX 1.1: one track, one segment, a point per fix with its time. A fix's
//! accuracy has no GPX element in metres (`hdop` is a dilution, not a radius), so it
//! travels in Haurach's own extension, which GPX readers skip. The document is written
//! through quick-xml's writer, not the `gpx` crate, which has no way to write
//! `extensions`. Used by the journey export (`http/journey.rs`) and a person's whole
//! export (`runtime/export.rs`).

use std::io;

use haurach_bond::Fix;
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesText, Event};
use time::format_description::well_known::Rfc3339;

use crate::clock::timestamp;

/// The namespace of GPX 1.1.
const GPX_NS: &str = "http://www.topografix.com/GPX/1/1";

/// The namespace of Haurach's GPX extension.
pub const EXTENSION_NS: &str = "https://haurach.invalid/gpx/1";

/// `fixes` as a GPX 1.1 document whose track is called `name`.
pub fn write(name: &str, fixes: &[Fix]) -> String {
    let mut xml = Writer::new(Vec::with_capacity(200 + fixes.len() * 160));
    document(&mut xml, name, fixes).expect("writing XML into memory cannot fail");
    String::from_utf8(xml.into_inner()).expect("XML written from UTF-8 text is UTF-8")
}

/// The document, a point to a line. The line breaks are written here: quick-xml's own
/// indentation would put each element of a point on a line of its own, several times the
/// bytes of a week's journey.
fn document(xml: &mut Writer<Vec<u8>>, name: &str, fixes: &[Fix]) -> io::Result<()> {
    xml.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    line(xml, 0)?;
    xml.create_element("gpx")
        .with_attributes([
            ("version", "1.1"),
            ("creator", "Haurach"),
            ("xmlns", GPX_NS),
            ("xmlns:haurach", EXTENSION_NS),
        ])
        .write_inner_content(|xml| {
            line(xml, 1)?;
            xml.create_element("trk").write_inner_content(|xml| {
                line(xml, 2)?;
                // Text needs only `<`, `>` and `&` escaped, so "Ana's journey" keeps its
                // apostrophe.
                xml.create_element("name")
                    .write_text_content(BytesText::from_escaped(partial_escape(name)))?;
                line(xml, 2)?;
                xml.create_element("trkseg").write_inner_content(|xml| {
                    for fix in fixes {
                        line(xml, 3)?;
                        point(xml, fix)?;
                    }
                    line(xml, 2)
                })?;
                line(xml, 1)
            })?;
            line(xml, 0)
        })?;
    line(xml, 0)
}

/// One fix as a track point: where, when, and how accurate in Haurach's extension.
fn point(xml: &mut Writer<Vec<u8>>, fix: &Fix) -> io::Result<()> {
    let (lat, lon) = (fix.lat.to_string(), fix.lon.to_string());
    let time = timestamp(fix.at_ms)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into());
    xml.create_element("trkpt")
        .with_attributes([("lat", lat.as_str()), ("lon", lon.as_str())])
        .write_inner_content(|xml| {
            xml.create_element("time")
                .write_text_content(BytesText::new(&time))?;
            if fix.accuracy_m > 0.0 {
                xml.create_element("extensions")
                    .write_inner_content(|xml| {
                        xml.create_element("haurach:accuracy_m")
                            .write_text_content(BytesText::new(&fix.accuracy_m.to_string()))?;
                        Ok(())
                    })?;
            }
            Ok(())
        })?;
    Ok(())
}

/// A line break and `depth` levels of two-space indentation.
fn line(xml: &mut Writer<Vec<u8>>, depth: usize) -> io::Result<()> {
    const LINE: &str = "\n        ";
    xml.write_event(Event::Text(BytesText::from_escaped(&LINE[..1 + 2 * depth])))
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

    #[test]
    fn the_document_is_one_track_of_one_segment_with_a_point_to_a_line() {
        let fixes = [
            Fix {
                lat: 1.5,
                lon: -2.25,
                accuracy_m: 3.0,
                at_ms: 1_700_000_000_250,
            },
            // A fix without an accuracy has no extension.
            Fix {
                lat: 1.0,
                lon: 2.0,
                accuracy_m: 0.0,
                at_ms: 0,
            },
        ];
        assert_eq!(
            write("spike's journey", &fixes),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <gpx version=\"1.1\" creator=\"Haurach\" xmlns=\"http://www.topografix.com/GPX/1/1\" \
             xmlns:haurach=\"https://haurach.invalid/gpx/1\">\n  \
             <trk>\n    \
             <name>spike's journey</name>\n    \
             <trkseg>\n      \
             <trkpt lat=\"1.5\" lon=\"-2.25\"><time>2023-11-14T22:13:20.25Z</time><extensions>\
             <haurach:accuracy_m>3</haurach:accuracy_m></extensions></trkpt>\n      \
             <trkpt lat=\"1\" lon=\"2\"><time>1970-01-01T00:00:00Z</time></trkpt>\n    \
             </trkseg>\n  \
             </trk>\n\
             </gpx>\n"
        );
    }
}
