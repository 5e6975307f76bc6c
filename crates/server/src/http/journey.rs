//! The caller's own journey as GPX 1.1 (`GET /api/v1/me/journey.gpx`): one track, one
//! segment, a point per fix with its time. A fix's accuracy has no GPX element in metres
//! (`hdop` is a dilution, not a radius), so it travels in Haurach's own extension, which
//! GPX readers skip.

use std::fmt::Write as _;

use haurach_bond::Fix;
use time::format_description::well_known::Rfc3339;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use haurach_store::Store;
use serde::Deserialize;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

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

/// `?from=RFC3339&to=RFC3339` of the journey export.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyQuery {
    #[serde(default, with = "time::serde::rfc3339::option")]
    from: Option<time::OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    to: Option<time::OffsetDateTime>,
}

/// The most fixes one export holds (a week of a fix every 5 s is 121,000).
pub const MAX_EXPORT: u32 = 200_000;

/// `GET /api/v1/me/journey.gpx`: the caller's own journey as GPX 1.1. Only ever the
/// caller's: there is no way to ask for anyone else's.
pub async fn journey_gpx<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<JourneyQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text().to_lowercase()))?;
    let ms = |t: time::OffsetDateTime| (t.unix_timestamp_nanos() / 1_000_000) as i64;
    let from = q.from.map_or(0, ms);
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
}
