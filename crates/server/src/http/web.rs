//! The web client, served by the server itself: `web/index.html` at `/` and the files of
//! `web/assets/` under `/assets/`. The files are embedded into the binary when it is
//! compiled (in debug builds too, so what the tests load is what ships); nothing is read
//! from disk or fetched from elsewhere at run time.
//!
//! The page names its files under the client's version, `/assets/v-VERSION/app.js`
//! (VERSION: a hash of every file of the client, so any change makes a new one; module
//! imports are relative, so they stay under it). A file under the current version never
//! changes: it is served `immutable` for a year, and a repeat visit asks for nothing but
//! the page. The page itself, and a file by its plain name (`/assets/app.js`, which the
//! manifest, the service worker and an older page use) or under another version, carry
//! `Cache-Control: no-cache` and an `ETag` (the file's SHA-256): a browser revalidates
//! them, and a matching `If-None-Match` is answered with 304 and no body. An unknown
//! asset is a 404 problem, like any unknown route. Text is compressed (gzip or brotli,
//! as the browser asks) by the router's compression layer.
//!
//! The page carries the map's tile source (`map_tiles`, `map_attribution`) in two `<meta>`
//! tags, and its Content-Security-Policy lets it load images from that source's origin
//! and no other (`Site`, made once from the configuration).
//!
//! The service worker (`assets/sw.js`) is the one file served changed: the server writes
//! into it the version of the client (a hash of all its files) and the list of files it
//! keeps for offline use, so any change to any file is a new service worker, which
//! replaces the kept files. It may control the whole site (`Service-Worker-Allowed: /`).

use std::sync::{Arc, LazyLock};

use axum::Extension;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

/// The client's files, from the workspace's `web/` folder.
#[derive(RustEmbed)]
#[folder = "../../web/"]
struct Client;

/// What the page may load: only this server, nothing inline, no frames. `blob:` images
/// are the pictures the page fetched itself (with its bearer token) and shows; the map's
/// tiles come from the one origin of the tile source, written in for `{tiles}`.
fn content_security_policy(tiles: Option<&str>) -> String {
    let tiles = tiles.map(|origin| format!(" {origin}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:{tiles}; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The page as this server serves it: the map's tile source written into it, its ETag,
/// and its Content-Security-Policy. Made once, when the router is built.
#[derive(Debug)]
pub(crate) struct Site {
    page: Option<(Vec<u8>, String)>,
    policy: HeaderValue,
}

impl Site {
    /// The page for a server whose tile template is `tiles` (empty: no map), credited
    /// with `attribution`. The configuration was validated, so the template's origin is
    /// known good.
    pub(crate) fn new(tiles: &str, attribution: &str) -> Arc<Site> {
        let origin = crate::tiles::origin(tiles).ok().flatten();
        let tiles = if origin.is_some() { tiles } else { "" };
        let page = PAGE.as_ref().map(|(text, etag)| {
            let text = String::from_utf8_lossy(text)
                .replace(
                    "<meta name=\"haurach-tiles\" content=\"\">",
                    &format!("<meta name=\"haurach-tiles\" content=\"{}\">", attr(tiles)),
                )
                .replace(
                    "<meta name=\"haurach-tiles-attribution\" content=\"\">",
                    &format!(
                        "<meta name=\"haurach-tiles-attribution\" content=\"{}\">",
                        attr(attribution)
                    ),
                );
            // The page changes with the tile setting as well as with the client's files.
            let mut setting = <sha2::Sha256 as sha2::Digest>::new();
            sha2::Digest::update(&mut setting, tiles.as_bytes());
            sha2::Digest::update(&mut setting, [0]);
            sha2::Digest::update(&mut setting, attribution.as_bytes());
            let setting = hex(&sha2::Digest::finalize(setting)[..4]);
            let etag = format!("{}-{setting}\"", &etag[..etag.len() - 1]);
            (text.into_bytes(), etag)
        });
        let policy = HeaderValue::from_str(&content_security_policy(origin.as_deref()))
            .expect("a validated origin is a valid header");
        Arc::new(Site { page, policy })
    }
}

/// Text made safe inside a double-quoted HTML attribute.
fn attr(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `GET /`: the web client's page.
pub(crate) async fn index(Extension(site): Extension<Arc<Site>>, headers: HeaderMap) -> Response {
    let Some((data, etag)) = &site.page else {
        return ApiError::internal("web/index.html was not embedded").into_response();
    };
    let mut res = respond("index.html", data.clone(), etag, &headers, false);
    if res.status() == StatusCode::OK {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, site.policy.clone());
    }
    res
}

/// `GET /assets/PATH`: one of the web client's files, by its plain name or under a
/// version (`v-VERSION/PATH`): immutable under the current one.
pub(crate) async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let (file, immutable) = match path
        .strip_prefix("v-")
        .and_then(|rest| rest.split_once('/'))
    {
        Some((version, file)) => (file, version == VERSION.as_str()),
        None => (path.as_str(), false),
    };
    serve(&format!("assets/{file}"), &headers, immutable).unwrap_or_else(|| {
        ApiError::not_found(
            "no_such_asset",
            format!("the web client has no file assets/{file}"),
        )
        .into_response()
    })
}

/// The client's version: a hash of every file's path and content.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut all = <sha2::Sha256 as sha2::Digest>::new();
    for path in Client::iter() {
        if let Some(f) = Client::get(&path) {
            sha2::Digest::update(&mut all, path.as_bytes());
            sha2::Digest::update(&mut all, f.metadata.sha256_hash());
        }
    }
    hex(&sha2::Digest::finalize(all)[..8])
});

/// Where the page finds the client's files: under the current version.
fn versioned_assets() -> String {
    format!("/assets/v-{}/", *VERSION)
}

/// The page as served: its files named under the version, and its ETag.
static PAGE: LazyLock<Option<(Vec<u8>, String)>> = LazyLock::new(|| {
    let file = Client::get("index.html")?;
    let text = String::from_utf8_lossy(&file.data)
        .replace("\"/assets/", &format!("\"{}", versioned_assets()));
    Some((text.into_bytes(), format!("\"page-{}\"", *VERSION)))
});

/// The service worker as served: its version and shell filled in, and its ETag.
static SERVICE_WORKER: LazyLock<Option<(Vec<u8>, String)>> = LazyLock::new(|| {
    let file = Client::get(SW_PATH)?;
    // The files as the page names them: these are what it asks for, offline too. The
    // vendored libraries are not kept: each is fetched when first needed (the map's when
    // the map first shows, the geodesics when a private bond first reports, the QR
    // encoder when a private invite is shown), and what needs them needs the network
    // anyway (tiles, reports, an invite), so a first visit does not pay for them up front.
    let mut paths: Vec<String> = Client::iter()
        .filter(|p| {
            p.starts_with("assets/")
                && p.as_ref() != SW_PATH
                && !p.ends_with(".md")
                && !p.starts_with("assets/vendor/")
        })
        .map(|p| format!("{}{}", versioned_assets(), &p["assets/".len()..]))
        .collect();
    paths.sort();
    paths.insert(0, "/".into());
    let version = VERSION.as_str();
    let text = String::from_utf8_lossy(&file.data)
        .replace("__HAURACH_VERSION__", version)
        .replace(
            "__HAURACH_SHELL__",
            &serde_json::to_string(&paths).expect("paths serialise"),
        );
    Some((text.into_bytes(), format!("\"sw-{version}\"")))
});

const SW_PATH: &str = "assets/sw.js";

/// The embedded file at `path`, or `None` when there is none; `immutable`: named under
/// the current version, so it never changes.
fn serve(path: &str, request: &HeaderMap, immutable: bool) -> Option<Response> {
    let (data, etag) = if path == SW_PATH {
        let (data, etag) = SERVICE_WORKER.as_ref()?;
        (data.clone(), etag.clone())
    } else if path == "index.html" {
        let (data, etag) = PAGE.as_ref()?;
        (data.clone(), etag.clone())
    } else {
        let file = Client::get(path)?;
        let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
        (file.data.into_owned(), etag)
    };
    Some(respond(path, data, &etag, request, immutable))
}

/// The answer for the file at `path` whose bytes are `data`: 304 when the request
/// already holds `etag`.
fn respond(
    path: &str,
    data: Vec<u8>,
    etag: &str,
    request: &HeaderMap,
    immutable: bool,
) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if immutable {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(etag).expect("a hex etag is a valid header"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    if path == SW_PATH {
        headers.insert(
            header::HeaderName::from_static("service-worker-allowed"),
            HeaderValue::from_static("/"),
        );
    }
    if path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(&content_security_policy(None)).expect("a valid header"),
        );
    }
    (headers, data).into_response()
}

/// The media type of a client file, by its extension.
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "geojson" => "application/geo+json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_embedded_with_its_types() {
        let index = serve("index.html", &HeaderMap::new(), false).expect("index.html is embedded");
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
        let js = serve("assets/app.js", &HeaderMap::new(), false).expect("app.js is embedded");
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(serve("assets/nothing-here.js", &HeaderMap::new(), false).is_none());
    }

    #[test]
    fn the_service_worker_knows_the_version_and_the_shell() {
        let sw = serve(SW_PATH, &HeaderMap::new(), false).expect("sw.js is embedded");
        assert_eq!(sw.headers()["service-worker-allowed"], "/");
        let etag = sw.headers()[header::ETAG].to_str().unwrap().to_owned();
        let (text, _) = SERVICE_WORKER.as_ref().unwrap();
        let text = String::from_utf8_lossy(text);
        assert!(!text.contains("__HAURACH_"), "{text}");
        assert!(text.contains(&format!("const VERSION = \"{}\"", &etag[4..etag.len() - 1])));
        // The files as the page names them, under the version.
        assert!(
            text.contains(&format!("\"/assets/v-{}/app.js\"", *VERSION)),
            "{text}"
        );
        assert!(!text.contains("sw.js\""));
        assert!(text.contains("/map.js\""), "{text}");
        assert!(!text.contains("vendor/leaflet"), "{text}");
        assert!(text.contains("/private.js\""), "{text}");
        assert!(!text.contains("vendor/geographiclib"), "{text}");
    }

    #[test]
    fn the_page_names_the_tile_source_and_the_policy_allows_its_origin_only() {
        let site = Site::new(
            crate::tiles::OPENSTREETMAP,
            "© OpenStreetMap <contributors>",
        );
        let (page, _) = site.page.as_ref().unwrap();
        let page = String::from_utf8_lossy(page);
        assert!(page.contains(
            "<meta name=\"haurach-tiles\" content=\"https://tile.openstreetmap.org/{z}/{x}/{y}.png\">"
        ));
        assert!(page.contains("content=\"© OpenStreetMap &lt;contributors&gt;\""));
        let policy = site.policy.to_str().unwrap();
        assert!(
            policy.contains("img-src 'self' data: blob: https://tile.openstreetmap.org;"),
            "{policy}"
        );
        let off = Site::new("", "");
        assert!(
            off.policy
                .to_str()
                .unwrap()
                .contains("img-src 'self' data: blob:;")
        );
        // Another setting is another page: a browser must not keep the old one.
        assert_ne!(site.page.as_ref().unwrap().1, off.page.as_ref().unwrap().1);
    }

    #[test]
    fn a_matching_etag_is_answered_with_304() {
        let first = serve("assets/app.js", &HeaderMap::new(), false).unwrap();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, first.headers()[header::ETAG].clone());
        let again = serve("assets/app.js", &request, false).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
}
