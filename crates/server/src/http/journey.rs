//! The caller's own journey as GPX 1.1 (`GET /api/v1/me/journey.gpx`): one track, one
//! segment, a point per fix with its time. A fix's accuracy has no GPX element in metres
//! (`hdop` is a dilution, not a radius), so it travels in Haurach's own extension, which
//! GPX readers skip. The document is written through quick-xml's writer, not the `gpx`
//! crate, which has no way to write `extensions`.

use std::io;

use haurach_bond::Fix;
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesText, Event};
use time::format_description::well_known::Rfc3339;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use haurach_store::Store;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

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

/// `?from=RFC3339&to=RFC3339` of the journey export.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JourneyQuery {
    /// From this time (RFC 3339; the first fix kept when absent). Not after `to`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<time::OffsetDateTime>,
    /// Up to this time (RFC 3339; now when absent).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<time::OffsetDateTime>,
}

/// The most fixes one export holds (a week of a fix every 5 s is 121,000).
pub const MAX_EXPORT: u32 = 200_000;

/// `GET /api/v1/me/journey.gpx`: the caller's own journey as GPX 1.1. Only ever the
/// caller's: there is no way to ask for anyone else's.
#[utoipa::path(
    get,
    path = "/api/v1/me/journey.gpx",
    tag = "places",
    security(("bearer" = [])),
    params(JourneyQuery),
    responses(
        (status = 200, description = "my journey as GPX 1.1, an attachment", body = String, content_type = "application/gpx+xml"),
        (status = 400, description = "`invalid_query`: an unknown parameter, or a time that is not RFC 3339"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`invalid_range`: from is after to"),
    )
)]
pub async fn journey_gpx<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<JourneyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text().to_lowercase()))?;
    let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
    // Without `from`, from the first fix, whenever that was (hardening finding 10: a `to`
    // before 1970 alone was refused as a range from 1970 back to it).
    let from = q.from.map_or(i64::MIN, ms);
    let to = q.to.map_or_else(now_ms, ms);
    if from > to {
        return Err(ApiError::invalid(
            "invalid_range",
            "from must not be after to",
        ));
    }
    let name = app
        .hub
        .store
        .account(caller.account)
        .await?
        .map(|a| a.name)
        .unwrap_or_default();
    let fixes = app
        .hub
        .store
        .journey(caller.account, from, to, MAX_EXPORT)
        .await?;
    let body = write(&format!("{name}'s journey"), &fixes);
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gpx+xml"),
    );
    res.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"journey.gpx\""),
    );
    Ok(res)
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
