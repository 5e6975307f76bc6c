//! Fire-mail: parcels uploaded into the blob store, letters sent by name, read, replied
//! to (threaded) or returned to sender, with delivered and read receipts. A letter is in
//! exactly one place (its holder); each move is one conditional update in the store, so
//! of a read and a return racing each other exactly one wins.

use axum::Json;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haurach_proto::{
    Letter, LetterList, LetterState, Parcel, ParcelUpload, PushNote, SendLetter, ServerFrame,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::extract::Caller;
use super::state::AppState;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;
use haurach_store::blobs::{BlobError, BlobStore, is_hash};
use haurach_store::city::{
    LetterBox, LetterId, LetterLimits, LetterMove, LetterRecord, NewLetter, ParcelRecord, Sent,
};
use haurach_store::{AccountId, Conflict, Missing, Store, StoreError};

/// The longest letter, characters.
pub const MAX_LETTER_CHARS: usize = 20_000;
/// The most files in one letter.
pub const MAX_PARCELS: usize = 20;

/// A letter as `viewer` (one of its parties) sees it: the recipient sees the words only
/// once they have read it.
pub fn letter_view(l: &LetterRecord, viewer: AccountId) -> Letter {
    let sealed = viewer == l.recipient && viewer != l.sender && l.state != LetterState::Read;
    Letter {
        id: l.id.0,
        from: l.sender_name.clone(),
        to: l.recipient_name.clone(),
        holder: if l.holder == l.sender {
            l.sender_name.clone()
        } else {
            l.recipient_name.clone()
        },
        state: l.state,
        body: (!sealed).then(|| l.body.clone()),
        parcels: l
            .parcels
            .iter()
            .enumerate()
            .map(|(i, p)| Parcel {
                index: i as u32,
                name: p.name.clone(),
                hash: p.hash.clone(),
                size: p.size,
            })
            .collect(),
        thread: l.thread.0,
        in_reply_to: l.in_reply_to.map(|id| id.0),
        sent_at: timestamp(l.sent_at),
        delivered_at: l.delivered_at.map(timestamp),
        read_at: l.read_at.map(timestamp),
        returned_at: l.returned_at.map(timestamp),
    }
}

fn letter_id(path: Result<Path<Uuid>, PathRejection>) -> Result<LetterId, ApiError> {
    path.map(|Path(id)| LetterId(id))
        .map_err(|_| ApiError::bad_request("invalid_path", "a letter's id is a UUID"))
}

/// `POST /api/v1/parcels`: the request body is the file. Durable (fsynced) before 201.
#[utoipa::path(
    post,
    path = "/api/v1/parcels",
    tag = "letters",
    security(("bearer" = [])),
    request_body(content = inline(haurach_proto::schemas::RawBytes), content_type = "application/octet-stream", description = "the file's bytes, any type"),
    responses(
        (status = 201, description = "stored, synced to disk, ready to attach by its hash", body = ParcelUpload),
        (status = 400, description = "`parcel_required`: an empty body; `unreadable_body`: the body broke off"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 413, description = "`parcel_too_large` (max_parcel_bytes), `parcel_quota_exceeded` (parcel_quota_bytes)"),
    )
)]
pub async fn upload<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    req: Request,
) -> Result<(StatusCode, Json<ParcelUpload>), ApiError> {
    let limit = app.hub.config.max_parcel_bytes;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "parcel_too_large",
            format!(
                "a parcel is at most {} (max_parcel_bytes)",
                haurach_proto::human::bytes(limit)
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Refuse early when the quota is already used up, before reading the body.
    let used = app.hub.store.uploaded_bytes(caller.account).await?;
    if used + declared.unwrap_or(0) > app.hub.config.parcel_quota_bytes {
        return Err(quota_exceeded(used, app.hub.config.parcel_quota_bytes));
    }
    let blob = app
        .hub
        .blobs
        .put(req.into_body().into_data_stream(), limit)
        .await
        .map_err(|e| match e {
            BlobError::TooLarge(_) => too_large(),
            BlobError::Body(why) => ApiError::bad_request("unreadable_body", why),
            BlobError::Io(e) => ApiError::internal(e),
        })?;
    // A parcel with nothing in it is a client that forgot the file (hardening finding 10:
    // it was stored); like a picture, it is refused.
    if blob.size == 0 {
        return Err(ApiError::bad_request(
            "parcel_required",
            "send the file's bytes as the request body",
        ));
    }
    app.hub
        .store
        .record_upload(
            caller.account,
            &blob.hash,
            blob.size,
            app.hub.config.parcel_quota_bytes,
            now_ms(),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::ParcelQuotaExceeded) => {
                quota_exceeded(used, app.hub.config.parcel_quota_bytes)
            }
            e => e.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(ParcelUpload {
            hash: blob.hash,
            size: blob.size,
        }),
    ))
}

fn quota_exceeded(used: u64, quota: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "parcel_quota_exceeded",
        format!(
            "your parcels take {} of your {} quota: this one does not fit",
            haurach_proto::human::bytes(used),
            haurach_proto::human::bytes(quota)
        ),
    )
}

/// `POST /api/v1/letters`: breathe on a letter. 201 once committed (200 for a retry
/// with the same id); the recipient's links are told at once.
#[utoipa::path(
    post,
    path = "/api/v1/letters",
    tag = "letters",
    security(("bearer" = [])),
    request_body = SendLetter,
    responses(
        (status = 201, description = "committed, and in the recipient's hands", body = Letter),
        (status = 200, description = "a retry with the id of a letter sent already: that letter, not sent twice", body = Letter),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_citizen` (to), `no_such_letter` (in_reply_to)"),
        (status = 409, description = "`id_reused`: a different letter was sent under this id"),
        (status = 413, description = "`letter_too_long`, `parcel_too_large`"),
        (status = 422, description = "`unknown_parcel`: a parcel must be uploaded first by the sender; `own_letter`; `too_many_parcels`, `invalid_parcel_name`, `bidi_control`, `empty_letter`, `invalid_id`, `recipient_required`"),
        (status = 429, description = "`letter_quota_exceeded`: letters_per_day in 24 hours"),
    )
)]
pub async fn send<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<SendLetter>, JsonRejection>,
) -> Result<(StatusCode, Json<Letter>), ApiError> {
    let Json(send) = body?;
    ApiError::no_bidi_control("the letter", &send.body)?;
    if send.body.trim().is_empty() {
        return Err(ApiError::invalid(
            "empty_letter",
            "a letter needs some words",
        ));
    }
    if send.body.chars().count() > MAX_LETTER_CHARS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "letter_too_long",
            format!("a letter is at most {MAX_LETTER_CHARS} characters"),
        ));
    }
    if let Some(id) = &send.id
        && !(1..=64).contains(&id.chars().count())
    {
        return Err(ApiError::invalid(
            "invalid_id",
            "a letter's id is 1 to 64 characters",
        ));
    }
    if send.parcels.len() > MAX_PARCELS {
        return Err(ApiError::invalid(
            "too_many_parcels",
            format!("a letter carries at most {MAX_PARCELS} parcels"),
        ));
    }
    let mut parcels = Vec::with_capacity(send.parcels.len());
    for p in &send.parcels {
        let name = p.name.trim();
        ApiError::no_bidi_control("a parcel's name", name)?;
        if !(1..=200).contains(&name.chars().count()) || name.contains(['/', '\\', '\0']) {
            return Err(ApiError::invalid(
                "invalid_parcel_name",
                "a parcel's name is 1 to 200 characters, without / or \\",
            ));
        }
        if !is_hash(&p.hash) {
            return Err(ApiError::invalid(
                "unknown_parcel",
                "a parcel's hash is the SHA-256 hex that POST /api/v1/parcels answered",
            ));
        }
        parcels.push(ParcelRecord {
            name: name.to_owned(),
            hash: p.hash.clone(),
            // The store fills it in from the upload, inside the letter's transaction.
            size: 0,
        });
    }
    let limits = LetterLimits {
        max_parcel_bytes: app.hub.config.max_parcel_bytes,
        letters_per_day: app.hub.config.letters_per_day,
    };
    let sent = app
        .hub
        .store
        .send_letter(
            NewLetter {
                sender: caller.account,
                to: send.to.clone(),
                body: send.body,
                parcels,
                in_reply_to: send.in_reply_to.map(LetterId),
                client_id: send.id,
                now_ms: now_ms(),
            },
            limits,
        )
        .await?;
    let (status, letter) = match sent {
        Sent::New(letter) => {
            // Committed: now it may appear in the recipient's hands.
            app.hub.bus.tell(
                letter.recipient,
                &ServerFrame::Letter {
                    letter: Box::new(letter_view(&letter, letter.recipient)),
                },
            );
            // The recipient's devices hear who wrote, never what.
            app.hub.push.notify(
                &app.hub.store,
                letter.recipient,
                PushNote::Letter {
                    from: letter.sender_name.clone(),
                    id: letter.id.0,
                },
                format!("letter:{}", letter.id.0),
            );
            (StatusCode::CREATED, letter)
        }
        Sent::Existing(letter) => (StatusCode::OK, letter),
    };
    Ok((status, Json(letter_view(&letter, caller.account))))
}

/// Tells senders their letters were delivered.
fn publish_receipts<B: Bus>(bus: &B, letters: &[LetterRecord]) {
    for l in letters {
        bus.tell(
            l.sender,
            &ServerFrame::LetterReceipt {
                letter: Box::new(letter_view(l, l.sender)),
            },
        );
    }
}

/// `?box=inbox|sent&limit=N` of `GET /api/v1/letters`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `inbox` (the default: the letters in your hands; listing them delivers them) or
    /// `sent` (those you wrote).
    #[serde(default, rename = "box")]
    #[param(schema_with = letter_box)]
    which: Option<String>,
    /// At most this many, 1 to 500 (100 by default), newest first.
    #[serde(default)]
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// The next page: letters older than this one.
    #[serde(default)]
    before: Option<Uuid>,
}

/// The schema of `?box=`.
fn letter_box() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["inbox", "sent"]))
        .description(Some(
            "inbox (the default: the letters in your hands; listing them delivers them) or \
             sent (those you wrote)",
        ))
        .build()
}

/// `GET /api/v1/letters?box=inbox|sent`: the letters in your hands (inbox, the default)
/// or those you wrote (sent), newest first, a page at a time (`limit`, then
/// `?before=` the answer's `next`). Listing the inbox is delivery: senders get their
/// delivered receipts for the letters of each page listed.
#[utoipa::path(
    get,
    path = "/api/v1/letters",
    tag = "letters",
    security(("bearer" = [])),
    params(ListQuery),
    responses(
        (status = 200, description = "the letters, newest first", body = LetterList),
        (status = 400, description = "`invalid_query`: an unknown parameter, or a limit that is not a number"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 422, description = "`invalid_box`, `invalid_limit`"),
    )
)]
pub async fn list<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<LetterList>, ApiError> {
    let Query(q) =
        query.map_err(|e| ApiError::bad_request("invalid_query", e.body_text().to_lowercase()))?;
    let which = match q.which.as_deref() {
        None | Some("inbox") => LetterBox::Inbox,
        Some("sent") => LetterBox::Sent,
        Some(_) => return Err(ApiError::invalid("invalid_box", "box is inbox or sent")),
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("invalid_limit", "limit must be 1 to 500"));
    }
    let mut letters = app
        .hub
        .store
        .letters(caller.account, which, limit, q.before.map(LetterId))
        .await?;
    let next = (letters.len() == limit as usize)
        .then(|| letters.last().map(|l| l.id.0))
        .flatten();
    if which == LetterBox::Inbox {
        let fresh: Vec<LetterId> = letters
            .iter()
            .filter(|l| l.recipient == caller.account && l.delivered_at.is_none())
            .map(|l| l.id)
            .collect();
        let marked = app
            .hub
            .store
            .mark_delivered(caller.account, &fresh, now_ms())
            .await?;
        publish_receipts(&app.hub.bus, &marked);
        for m in marked {
            if let Some(l) = letters.iter_mut().find(|l| l.id == m.id) {
                *l = m;
            }
        }
    }
    Ok(Json(LetterList {
        letters: letters
            .iter()
            .map(|l| letter_view(l, caller.account))
            .collect(),
        next,
    }))
}

/// `GET /api/v1/letters/{id}`: one of your letters (sealed until read, for the recipient).
#[utoipa::path(
    get,
    path = "/api/v1/letters/{id}",
    tag = "letters",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the letter's id")),
    responses(
        (status = 200, description = "the letter (its words sealed until read, for its recipient)", body = Letter),
        (status = 400, description = "`invalid_path`: the id is not a UUID"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_letter` among yours"),
    )
)]
pub async fn one<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Letter>, ApiError> {
    let id = letter_id(id)?;
    let mut letter = app
        .hub
        .store
        .letter(id, caller.account)
        .await?
        .ok_or(Missing::Letter)?;
    if letter.recipient == caller.account && letter.delivered_at.is_none() {
        let marked = app
            .hub
            .store
            .mark_delivered(caller.account, &[id], now_ms())
            .await?;
        publish_receipts(&app.hub.bus, &marked);
        if let Some(m) = marked.into_iter().next() {
            letter = m;
        }
    }
    Ok(Json(letter_view(&letter, caller.account)))
}

async fn move_letter<S: Store, B: Bus>(
    app: &AppState<S, B>,
    caller: &Caller,
    id: LetterId,
    how: LetterMove,
) -> Result<Json<Letter>, ApiError> {
    let letter = app
        .hub
        .store
        .move_letter(id, caller.account, how, now_ms())
        .await?;
    let frame = match how {
        // The sender's receipt.
        LetterMove::Read => ServerFrame::LetterReceipt {
            letter: Box::new(letter_view(&letter, letter.sender)),
        },
        // Back in the sender's hands.
        LetterMove::Return => ServerFrame::Letter {
            letter: Box::new(letter_view(&letter, letter.sender)),
        },
    };
    app.hub.bus.tell(letter.sender, &frame);
    Ok(Json(letter_view(&letter, caller.account)))
}

/// `POST /api/v1/letters/{id}/read`: open a letter in your hands; the sender gets a read
/// receipt. 409 `letter_moved` when it was read or returned already.
#[utoipa::path(
    post,
    path = "/api/v1/letters/{id}/read",
    tag = "letters",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the letter's id")),
    responses(
        (status = 200, description = "the letter, read: its sender gets a read receipt", body = Letter),
        (status = 400, description = "`invalid_path`: the id is not a UUID"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_letter` among yours"),
        (status = 409, description = "`letter_moved`: read or returned already"),
    )
)]
pub async fn read<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Letter>, ApiError> {
    move_letter(&app, &caller, letter_id(id)?, LetterMove::Read).await
}

/// `POST /api/v1/letters/{id}/return`: send an unopened letter (and its parcels) back to
/// where it came from. 409 `letter_moved` when it was read or returned already.
#[utoipa::path(
    post,
    path = "/api/v1/letters/{id}/return",
    tag = "letters",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the letter's id")),
    responses(
        (status = 200, description = "the letter, back in its sender's hands", body = Letter),
        (status = 400, description = "`invalid_path`: the id is not a UUID"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_letter` among yours"),
        (status = 409, description = "`letter_moved`: read or returned already"),
    )
)]
pub async fn return_to_sender<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<Letter>, ApiError> {
    move_letter(&app, &caller, letter_id(id)?, LetterMove::Return).await
}

/// `GET /api/v1/letters/threads/{id}`: the letters of a thread you are party to, oldest
/// first.
#[utoipa::path(
    get,
    path = "/api/v1/letters/threads/{id}",
    tag = "letters",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "the letter's id")),
    responses(
        (status = 200, description = "the letters of the thread, oldest first", body = LetterList),
        (status = 400, description = "`invalid_path`: the id is not a UUID"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`no_such_letter` among yours"),
    )
)]
pub async fn thread<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    id: Result<Path<Uuid>, PathRejection>,
) -> Result<Json<LetterList>, ApiError> {
    let id = letter_id(id)?;
    let letters = app.hub.store.thread(id, caller.account).await?;
    if letters.is_empty() {
        return Err(Missing::Letter.into());
    }
    Ok(Json(LetterList {
        letters: letters
            .iter()
            .map(|l| letter_view(l, caller.account))
            .collect(),
        next: None,
    }))
}

/// `GET /api/v1/letters/{id}/parcels/{index}`: a parcel's bytes, for its sender, or for
/// the recipient once they have read the letter.
#[utoipa::path(
    get,
    path = "/api/v1/letters/{id}/parcels/{index}",
    tag = "letters",
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "the letter's id"),
        ("index" = u64, Path, maximum = 4_294_967_295u64, description = "the parcel's place in the letter: 0, 1, ... (a whole number of 32 bits)"),
    ),
    responses(
        (status = 200, description = "the parcel's bytes, as an attachment", body = inline(haurach_proto::schemas::RawBytes), content_type = "application/octet-stream"),
        (status = 400, description = "`invalid_path`: the id is not a UUID, or the index not a whole number"),
        (status = 403, description = "`letter_sealed`: read the letter first; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_letter`, `no_such_parcel`"),
    )
)]
pub async fn parcel<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    path: Result<Path<(Uuid, u32)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((id, index)) = path.map_err(|_| {
        ApiError::bad_request(
            "invalid_path",
            "expected a letter's id and a parcel's index",
        )
    })?;
    let letter = app
        .hub
        .store
        .letter(LetterId(id), caller.account)
        .await?
        .ok_or(Missing::Letter)?;
    if letter.sender != caller.account && letter.state != LetterState::Read {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "letter_sealed",
            "read the letter first (POST /api/v1/letters/{id}/read)",
        ));
    }
    let p = letter.parcels.get(index as usize).ok_or_else(|| {
        ApiError::not_found("no_such_parcel", "this letter has no parcel at that index")
    })?;
    let (size, stream) = app
        .hub
        .blobs
        .get(&p.hash)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::internal(format!("parcel {} is missing from the blob store", p.hash))
        })?;
    let disposition = content_disposition(&p.name);
    let mut res = Body::from_stream(stream).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    // A parcel is whatever its sender put in it: never let a browser run it as a page.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(res)
}

/// `Content-Disposition` for a download named `name` (RFC 6266): a plain ASCII
/// `filename` for old clients, and the name itself as `filename*` in UTF-8 (RFC 8187),
/// so `Grüße.pdf` arrives as `Grüße.pdf` and not as `Gr__e.pdf`.
pub fn content_disposition(name: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    /// RFC 8187's attr-char: letters, digits and these go as they are.
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        utf8_percent_encode(name, ATTR)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardening finding 9: "Content-Disposition lacks filename* for non-ASCII names".
    #[test]
    fn a_download_keeps_its_name_in_utf8_and_gives_old_clients_a_plain_one() {
        assert_eq!(
            content_disposition("Grüße \"daheim\".pdf"),
            "attachment; filename=\"Gr__e _daheim_.pdf\"; \
             filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22daheim%22.pdf"
        );
        assert_eq!(
            content_disposition("map.gpx"),
            "attachment; filename=\"map.gpx\"; filename*=UTF-8''map.gpx"
        );
    }
}
