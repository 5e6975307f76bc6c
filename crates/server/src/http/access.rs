//! What each request leaves behind: its time in `haurach_http_request_duration_seconds`
//! (by method, route template and status class), and a `debug` access line (method,
//! route, target, status, time taken), with every secret the target may carry redacted
//! first. Old clients of the link still send their token as `?token=`
//! (`http/extract.rs`); no log line may hold it. A request refused with 429 also leaves
//! an audit line ([`AUDIT`]), with the client's address.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{StatusCode, Uri};
use axum::middleware::Next;
use axum::response::Response;

use super::client::client_addr;
use super::state::AppState;

/// The `target` of audit lines: logins, failed logins, requests refused with 429, the
/// gate's decisions and the tower's actions. They carry names, account ids and
/// addresses, never a token, a password or a hash. `HAURACH_LOG=warn,haurach::audit=info`
/// keeps only them.
pub const AUDIT: &str = "haurach::audit";

/// A name a client typed (at a failed login), as an audit line may show it: as typed
/// when it could be an account's name, otherwise quoted with its control characters
/// escaped and cut to 40 characters, so no line break or terminal escape it holds
/// reaches the log.
pub fn typed_name(name: &str) -> Cow<'_, str> {
    let plain = (1..=32).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if plain {
        return Cow::Borrowed(name);
    }
    let cut: String = name.chars().take(40).collect();
    Cow::Owned(format!("{cut:?}"))
}

/// What stands for the route of a request no route serves.
const UNMATCHED: &str = "unmatched";

/// Query parameters whose values are secrets.
const SECRET_PARAMS: &[&str] = &["token"];

/// What a log line may show of `uri`: its path and query, each secret parameter's value
/// replaced by `REDACTED`.
pub fn redacted(uri: &Uri) -> Cow<'_, str> {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return Cow::Borrowed(path);
    };
    let secret = |kv: &str| {
        let name = kv.split_once('=').map_or(kv, |(name, _)| name);
        SECRET_PARAMS
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s) || percent_decoded(name) == *s)
    };
    let query: Vec<Cow<'_, str>> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((name, _)) if secret(kv) => Cow::Owned(format!("{name}=REDACTED")),
            _ => Cow::Borrowed(kv),
        })
        .collect();
    Cow::Owned(format!("{path}?{}", query.join("&")))
}

/// A parameter's name with its `%XX` escapes decoded, lowercased, so `%74oken` is seen as
/// `token` (the extractor does not decode names, but a log should not depend on that).
fn percent_decoded(name: &str) -> String {
    percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .to_ascii_lowercase()
}

/// Times and counts each request; logs it at `debug`
/// (`HAURACH_LOG=haurach_server::http::access=debug`), and at `info` as an audit line
/// when it was refused with 429.
pub async fn observe<S: Send + Sync, B: Send + Sync>(
    State(app): State<AppState<S, B>>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route = route.as_ref().map_or(UNMATCHED, |r| r.as_str());
    let debug = tracing::enabled!(tracing::Level::DEBUG);
    // The target only when a line may show it: it costs a copy.
    let target = debug.then(|| redacted(req.uri()).into_owned());
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let from = client_addr(peer, req.headers(), &app.proxies);
    let res = next.run(req).await;
    let status = res.status();
    let elapsed = start.elapsed();
    app.hub
        .metrics
        .request(&method, route, status.as_u16(), elapsed.as_secs_f64());
    if let Some(target) = target {
        tracing::debug!(
            %method,
            route,
            target,
            status = status.as_u16(),
            ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        tracing::info!(target: AUDIT, %method, route, %from, "rate limited");
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(target: &str) -> String {
        redacted(&target.parse::<Uri>().unwrap()).into_owned()
    }

    #[test]
    fn a_token_in_the_query_is_never_shown() {
        assert_eq!(
            shown("/api/v1/link?token=hau_secret&after=3"),
            "/api/v1/link?token=REDACTED&after=3"
        );
        assert_eq!(
            shown("/api/v1/link?after=3&TOKEN=hau_secret"),
            "/api/v1/link?after=3&TOKEN=REDACTED"
        );
        assert_eq!(shown("/x?%74oken=hau_secret"), "/x?%74oken=REDACTED");
        assert_eq!(shown("/api/v1/link?after=3"), "/api/v1/link?after=3");
        assert_eq!(shown("/healthz"), "/healthz");
    }

    #[test]
    fn a_typed_name_cannot_break_a_line_or_flood_it() {
        assert_eq!(typed_name("spike"), "spike");
        assert_eq!(
            typed_name("spike\n2026-12-05 INFO haurach::audit: login name=celestia"),
            r#""spike\n2026-12-05 INFO haurach::audit: lo""#
        );
        assert_eq!(typed_name("\u{1b}[31mred"), r#""\u{1b}[31mred""#);
        assert_eq!(typed_name(&"a".repeat(1000)).len(), 42);
    }
}
