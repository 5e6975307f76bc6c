//! `POST /owntracks`: the OwnTracks phone app in its HTTP mode as a position source.
//!
//! The app posts the same JSON it would publish over MQTT (one message, or an array of
//! them) and shows whatever the answer's JSON array holds. Here:
//!
//! - HTTP Basic auth is the citizen's Haurach name and either a device password made for
//!   the app (`/api/v1/me/devices`: checked in the store at every post, so a revoked one
//!   is refused at once) or the account's password (failures count with the login
//!   form's: ten a minute per name, then 429); `X-Limit-D` names the device (logged; a
//!   citizen's devices all move the same person).
//! - `location` and `transition` are position fixes (Haurach judges places itself, so a
//!   transition counts for the fix it carries, not for the app's verdict); `waypoint`
//!   and `waypoints` become the citizen's places (`desc` is the name, `rad` the radius);
//!   `card`, `lwt`, `status`, `steps` and `beacon` are read and ignored; a zero-length
//!   body is ignored.
//! - `encrypted` is refused (Haurach has no key: turn encryption off in the app), so are
//!   `cmd` and `request` (they go to a device, not from it), unknown types and messages
//!   missing what the OwnTracks schema requires: 422 problem+json.
//! - The answer is always a JSON array: the partner as an OwnTracks friend, a `card` with
//!   their name and a `tid`, and a `location` with the `tid` and a `tst`. The location
//!   obeys the bond's privacy: exact within sight range; beyond it a point placed from
//!   the caller's own position along the coarsened bearing and distance (never the real
//!   one), with an `acc` as wide as the rounding. The meeting point, when both see it,
//!   is a second friend, "the Needle". The partner arriving at or leaving a place since
//!   the last post comes as their `transition`s ([`NewsBox`](crate::runtime::place_cache::NewsBox)).
//!   The friend's `tst` is when the partner's fix was taken, and `batt` their battery,
//!   only while the feelings tier is open; otherwise `tst` is the answer's own time.
//! - When the partner asked "where are you now?" since the last post, the answer ends
//!   with `{"_type":"cmd","action":"reportLocation"}`, once per ask.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use haurach_bond::Fix;
use haurach_proto::{PlaceInput, PositionUpdate};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::access::{AUDIT, typed_name};
use super::account::{check_password, fix_of};
use super::client::ClientAddr;
use super::extract::inside;
use super::state::{AppState, TRUSTED_FOR};
use crate::bus::Bus;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::runtime::owntracks::FriendView;
use haurach_store::{AccountId, Store};

fn unauthorized(detail: &str) -> Response {
    let mut res = ApiError::unauthorized(detail).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"haurach\", charset=\"UTF-8\""),
    );
    res
}

fn invalid(detail: impl Into<String>) -> ApiError {
    ApiError::invalid("owntracks_invalid", detail)
}

fn unsupported(detail: impl Into<String>) -> ApiError {
    ApiError::invalid("owntracks_unsupported", detail)
}

/// The name and password of `Authorization: Basic ...`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = decode_base64(encoded.trim())?;
    // A name or password with U+0000 is no one's (and PostgreSQL cannot look it up).
    let text = String::from_utf8(decoded)
        .ok()
        .filter(|t| !t.contains('\0'))?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_owned(), password.to_owned()))
}

/// Standard base64 with padding (RFC 4648 §4), as HTTP Basic uses it.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes = s.trim_end_matches('=').as_bytes();
    if s.len() % 4 == 1 || bytes.len() + 2 < s.len() {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        out.extend_from_slice(&acc.to_be_bytes()[1..=n]);
    }
    Some(out)
}

/// Whether a `face` is plausibly base64 (the schema's rule): its alphabet only.
fn looks_base64(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=' | b'\n' | b'\r'))
}

async fn authenticate<S: Store, B: Bus>(
    app: &AppState<S, B>,
    from: ClientAddr,
    headers: &HeaderMap,
) -> Result<AccountId, Response> {
    let Some((name, password)) = basic_credentials(headers) else {
        return Err(unauthorized(
            "send your Haurach name and password with HTTP Basic auth (in the app: \
             Settings, Connection, Identification)",
        ));
    };
    // A device password is checked in the store at every post (one indexed lookup, no
    // slow hash: it is 256 random bits), so a revoked one is refused at once.
    if let Some(account) = device_account(app, &name, &password).await? {
        return Ok(account);
    }
    let key: [u8; 32] = Sha256::digest(format!("{}:{password}", name.to_lowercase())).into();
    if let Some((account, at)) = app
        .owntracks
        .verified
        .lock()
        .expect("owntracks lock")
        .get(&key)
        && at.elapsed() < TRUSTED_FOR
    {
        return Ok(*account);
    }
    // After the cache: someone guessing a citizen's password does not lock out their
    // phone, which keeps posting with credentials verified before.
    app.throttles
        .login(from.key(), &name)
        .map_err(IntoResponse::into_response)?;
    let account = app
        .hub
        .store
        .account_by_name(&name)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let ok = check_password(app, password, account.as_ref())
        .await
        .map_err(IntoResponse::into_response)?;
    match account.filter(|_| ok) {
        Some(a) => {
            app.throttles.login_succeeded(from.key(), &name);
            app.owntracks
                .verified
                .lock()
                .expect("owntracks lock")
                .insert(key, (a.id, Instant::now()));
            Ok(a.id)
        }
        None => {
            app.throttles.login_failed(from.key(), &name);
            app.hub.metrics.logins_failed.inc();
            tracing::info!(target: AUDIT, name = %typed_name(&name), from = %from.0, "login failed (OwnTracks)");
            Err(unauthorized("wrong name or password"))
        }
    }
}

/// The account a device password is for, when `password` is one of `name`'s devices'.
async fn device_account<S: Store, B: Bus>(
    app: &AppState<S, B>,
    name: &str,
    password: &str,
) -> Result<Option<AccountId>, Response> {
    if !password.starts_with("hdp_") {
        return Ok(None);
    }
    let fail = |e: haurach_store::StoreError| ApiError::from(e).into_response();
    let Some(device) = app
        .hub
        .store
        .device_by_secret(&crate::auth::token_hash(password))
        .await
        .map_err(fail)?
    else {
        return Ok(None);
    };
    // The name must be the device owner's: a device password is not a name of its own.
    let owner = app.hub.store.account(device.account).await.map_err(fail)?;
    Ok(owner
        .filter(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| a.id))
}

fn number(msg: &Value, field: &str, kind: &str) -> Result<Option<f64>, ApiError> {
    match msg.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(_) => Err(invalid(format!("{kind}: {field} must be a number"))),
    }
}

fn required(msg: &Value, field: &str, kind: &str) -> Result<f64, ApiError> {
    number(msg, field, kind)?.ok_or_else(|| invalid(format!("{kind}: {field} is required")))
}

/// A `location` or `transition` as a fix.
fn fix_of_message(msg: &Value, kind: &str, now_ms: i64) -> Result<Fix, ApiError> {
    let lat = required(msg, "lat", kind)?;
    let lon = required(msg, "lon", kind)?;
    let tst = required(msg, "tst", kind)?;
    // The app sends -1 (or nothing) when it does not know the accuracy.
    let acc = number(msg, "acc", kind)?.filter(|a| *a >= 0.0);
    let at = time::OffsetDateTime::from_unix_timestamp(tst as i64)
        .map_err(|_| invalid(format!("{kind}: tst {tst} is not a time")))?;
    fix_of(
        &PositionUpdate {
            lat,
            lon,
            accuracy_m: acc,
            at: Some(at),
            by_hand: false,
            battery: None,
        },
        now_ms,
    )
}

/// A `location`'s `batt`: the device's battery level, percent (0 to 100).
fn battery(msg: &Value) -> Result<Option<u8>, ApiError> {
    match number(msg, "batt", "location")? {
        None => Ok(None),
        Some(b) if (0.0..=100.0).contains(&b) => Ok(Some(b.round() as u8)),
        Some(b) => Err(invalid(format!("location: batt {b} is not a percentage"))),
    }
}

/// A `waypoint` as a place: its `desc` is the name, `rad` the radius.
fn place_of_waypoint(msg: &Value) -> Result<(String, PlaceInput), ApiError> {
    let desc = msg.get("desc").and_then(Value::as_str).ok_or_else(|| {
        invalid("waypoint: desc (the place's name), lat, lon and rad are required to make a place")
    })?;
    let input = PlaceInput {
        lat: required(msg, "lat", "waypoint")?,
        lon: required(msg, "lon", "waypoint")?,
        radius_m: required(msg, "rad", "waypoint")?,
    };
    Ok((desc.trim().to_owned(), input))
}

/// What one message asks of the hub.
#[derive(Debug)]
pub enum Action {
    /// A position fix (`location`, `transition`), with the device's battery level
    /// (`batt`, percent) when it says.
    Fix(Fix, Option<u8>),
    /// Places to make or move (`waypoint`, `waypoints`), not yet checked.
    Places(Vec<(String, PlaceInput)>),
    /// Nothing (`card`, `lwt`, `steps`, `status`, `beacon`).
    Nothing,
}

/// Reads a posted body (one message, an array of them, or only whitespace) into what it
/// asks of the hub, all of it before anything is done: a bad message in an array leaves
/// nothing half applied. Pure, so the fuzz target `owntracks` runs exactly this.
pub fn read_payload(body: &[u8], now_ms: i64) -> Result<Vec<Action>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not JSON: {e}"))
    })?;
    let messages = match value {
        Value::Array(list) => list,
        other => vec![other],
    };
    messages
        .iter()
        .map(|msg| read_message(msg, now_ms))
        .collect()
}

/// Reads one OwnTracks message.
fn read_message(msg: &Value, now_ms: i64) -> Result<Action, ApiError> {
    let Some(kind) = msg.get("_type").and_then(Value::as_str) else {
        return Err(invalid(
            "every OwnTracks message is a JSON object with a _type",
        ));
    };
    match kind {
        "location" => Ok(Action::Fix(
            fix_of_message(msg, "location", now_ms)?,
            battery(msg)?,
        )),
        "transition" => {
            for field in ["acc", "wtst"] {
                required(msg, field, "transition")?;
            }
            match msg.get("event").and_then(Value::as_str) {
                Some("enter" | "leave") => {}
                _ => return Err(invalid("transition: event must be \"enter\" or \"leave\"")),
            }
            Ok(Action::Fix(
                fix_of_message(msg, "transition", now_ms)?,
                None,
            ))
        }
        "waypoint" => Ok(Action::Places(vec![place_of_waypoint(msg)?])),
        "waypoints" => {
            let list = msg
                .get("waypoints")
                .and_then(Value::as_array)
                .ok_or_else(|| invalid("waypoints: waypoints must be an array of waypoint"))?;
            Ok(Action::Places(
                list.iter()
                    .map(place_of_waypoint)
                    .collect::<Result<_, _>>()?,
            ))
        }
        "card" => {
            if let Some(face) = msg.get("face")
                && !face.as_str().is_some_and(looks_base64)
            {
                return Err(invalid("card: face must be a base64 image"));
            }
            Ok(Action::Nothing)
        }
        "lwt" => {
            required(msg, "tst", "lwt")?;
            Ok(Action::Nothing)
        }
        "steps" => {
            for field in ["from", "to", "steps", "tst"] {
                required(msg, field, "steps")?;
            }
            Ok(Action::Nothing)
        }
        "status" | "beacon" => Ok(Action::Nothing),
        "encrypted" => Err(unsupported(
            "encrypted payloads cannot be read: Haurach has no key; turn off encryption in \
             the app (Settings, Encryption key) and use https",
        )),
        "cmd" | "request" => Err(unsupported(format!(
            "{kind} messages are for a device; Haurach does not take them"
        ))),
        other => Err(unsupported(format!(
            "Haurach does not know OwnTracks messages of _type {other:?}"
        ))),
    }
}

/// An OwnTracks tracker id for a name: its first two letters or digits, upper case.
pub fn tid_of(name: &str) -> String {
    let tid: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(2)
        .collect::<String>()
        .to_uppercase();
    if tid.is_empty() { "HP".into() } else { tid }
}

/// The answer: the partner (and the meeting point) as OwnTracks friends, and the news of
/// the partner's places since the last post as their `transition`s (placed where the
/// friend is shown: a place's own coordinates are not the phone's to know beyond sight).
fn friends(view: Option<FriendView>, news: &[haurach_proto::PlaceNews], now_s: i64) -> Value {
    let Some(view) = view else {
        return json!([]);
    };
    let tid = tid_of(&view.name);
    let mut out = vec![json!({"_type": "card", "tid": tid, "name": view.name})];
    if let Some((lat, lon, acc, tst)) = view.location {
        // The booklet types `acc` as an integer of metres.
        let acc = acc.round() as i64;
        let mut location = json!({
            "_type": "location", "tid": tid, "lat": lat, "lon": lon, "acc": acc, "tst": tst,
            "topic": format!("owntracks/haurach/{tid}"),
        });
        if let Some(batt) = view.batt {
            location["batt"] = json!(batt);
        }
        out.push(location);
        for n in news.iter().filter(|n| n.who == view.name) {
            let at = n.at.unix_timestamp();
            out.push(json!({
                "_type": "transition", "tid": tid, "t": "c",
                "event": match n.event {
                    haurach_proto::PlaceEvent::Arrived => "enter",
                    haurach_proto::PlaceEvent::Left => "leave",
                },
                "desc": n.place, "lat": lat, "lon": lon, "acc": acc, "tst": at, "wtst": at,
                "topic": format!("owntracks/haurach/{tid}/event"),
            }));
        }
    }
    if let Some((lat, lon, name)) = view.needle {
        out.push(json!({"_type": "card", "tid": "ND", "name": name}));
        out.push(json!({
            "_type": "location", "tid": "ND", "lat": lat, "lon": lon, "tst": now_s,
            "topic": "owntracks/haurach/needle",
        }));
    }
    Value::Array(out)
}

/// Asks the app for a fresh fix at once, for a partner who asked where its person is
/// now: OwnTracks' remote command, which the app obeys from an HTTP answer when its
/// remote commands are on (Settings, Advanced, Remote commands).
fn push_report_location(answer: &mut Value) {
    if let Value::Array(list) = answer {
        list.push(json!({"_type": "cmd", "action": "reportLocation"}));
    }
}

/// `POST /owntracks`.
#[utoipa::path(
    post,
    summary = "The OwnTracks app's HTTP mode: its messages in, the partner as a friend out.",
    path = "/owntracks",
    tag = "owntracks",
    security(("basic" = [])),
    request_body(content = inline(haurach_proto::schemas::OwnTracksBody), content_type = "application/json", description = "what the OwnTracks app posts: one message or an array of them; an empty body is ignored"),
    responses(
        (status = 200, description = "the partner (and the meeting point) as OwnTracks friends", body = Vec<Object>, content_type = "application/json"),
        (status = 400, description = "`malformed_json`"),
        (status = 401, description = "`unauthorized`: no Basic credentials, or wrong ones"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`owntracks_invalid`: a message lacks what the OwnTracks schema requires; `owntracks_unsupported`: `encrypted`, `cmd`, `request` or an unknown `_type`; `invalid_position`, `invalid_place_name`, `invalid_radius`"),
        (status = 429, description = "`too_many_attempts`: too many failed logins from this address, or for this name from it (Retry-After says when)"),
    )
)]
pub async fn post<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    from: ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match handle(&app, from, &headers, &body).await {
        Ok(value) => axum::Json(value).into_response(),
        Err(res) => res,
    }
}

async fn handle<S: Store, B: Bus>(
    app: &AppState<S, B>,
    from: ClientAddr,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Value, Response> {
    let account = authenticate(app, from, headers).await?;
    // Like every citizen's route: an applicant or a declined account is not let in
    // (read each time: the tower may answer while a phone keeps posting).
    let standing = app
        .hub
        .store
        .arrival(account)
        .await
        .map_err(|e| ApiError::from(e).into_response())?
        .map(|a| a.standing)
        .ok_or_else(|| unauthorized("this account no longer exists"))?;
    inside(standing).map_err(IntoResponse::into_response)?;
    app.hub.places.owntracks_news.enrol(account);
    let device = headers
        .get("x-limit-d")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::debug!(device, bytes = body.len(), "owntracks post");
    let fail = |e: ApiError| e.into_response();
    let actions = read_payload(body, now_ms()).map_err(fail)?;
    let mut heard = false;
    for action in actions {
        match action {
            Action::Fix(fix, battery) => {
                if let Some(percent) = battery {
                    app.hub.note_battery(account, percent).await.map_err(fail)?;
                }
                app.hub
                    .position(account, fix, false, true)
                    .await
                    .map_err(fail)?;
                heard = true;
            }
            Action::Places(places) => {
                app.hub.put_places(account, places).await.map_err(fail)?;
            }
            Action::Nothing => {}
        }
    }
    if !heard {
        app.hub.heard(account).await.map_err(fail)?;
    }
    let view = app.hub.friend_view(account).await.map_err(fail)?;
    let news = app.hub.places.owntracks_news.take(account);
    let mut answer = friends(view, &news, now_ms() / 1000);
    if app.hub.locate_asked(account).await.map_err(fail)? {
        push_report_location(&mut answer);
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_as_http_basic_sends_it() {
        assert_eq!(
            decode_base64("YW1ldGh5c3Q6czNjcjN0IQ==").unwrap(),
            b"amethyst:s3cr3t!"
        );
        assert_eq!(decode_base64("YWI=").unwrap(), b"ab");
        assert_eq!(decode_base64("YWJj").unwrap(), b"abc");
        assert_eq!(decode_base64("").unwrap(), b"");
        assert!(decode_base64("YW!j").is_none());
        assert!(decode_base64("Y").is_none());
    }

    #[test]
    fn tracker_ids_are_two_characters() {
        assert_eq!(tid_of("amethyst"), "AM");
        assert_eq!(tid_of("s.p-ike"), "SP");
        assert_eq!(tid_of("-"), "HP");
    }

    #[test]
    fn timestamps_are_seconds() {
        use crate::clock::timestamp;
        assert_eq!(timestamp(1_000).unix_timestamp(), 1);
    }
}
