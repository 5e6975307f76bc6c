//! The access line: one `debug` line per request (method, target, status, time taken),
//! with every secret the target may carry redacted first. Old clients of the link still
//! send their token as `?token=` (`http/extract.rs`); no log line may hold it.

use std::borrow::Cow;
use std::time::Instant;

use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::Next;
use axum::response::Response;

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

/// Logs each request at `debug` (`HAURACH_LOG=haurach_server::http::access=debug`).
pub async fn log(req: Request, next: Next) -> Response {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return next.run(req).await;
    }
    let (method, target) = (req.method().clone(), redacted(req.uri()).into_owned());
    let start = Instant::now();
    let res = next.run(req).await;
    tracing::debug!(
        %method,
        target,
        status = res.status().as_u16(),
        ms = start.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
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
}
