//! The gate and the tower: registration in the gate's three modes, the gatekeeper's book,
//! the tower's queue and answers, the register (JSON and CSV), gate invites, and the
//! extractors that keep an applicant out of everything else ([`Visitor`], [`Tower`]).

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use haurach_proto::{
    Account, Arrival, ArrivalList, DecisionBody, GateBook, GateInfo, GateInvite, GateMode,
    Registration, Standing,
};

use super::access::AUDIT;
use super::account::account_view;
use super::client::ClientAddr;
use super::extract::{Caller, Tower, Visitor};
use super::names::{check_name, name_taken};
use super::state::AppState;
use crate::auth;
use crate::bus::{Bus, Frame};
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;
use haurach_store::city::{ArrivalRecord, NewArrival};
use haurach_store::{Conflict, Store, StoreError};

/// A page of the book as the API shows it.
pub fn arrival_view(a: &ArrivalRecord) -> Arrival {
    Arrival {
        account: account_view(&a.account),
        standing: a.standing,
        way: a.way.clone(),
        book: a.book.clone(),
        invited_by: a.invited_by.clone(),
        arrived_at: timestamp(a.arrived_at),
        decision: a.decision,
        answer: a.answer.clone(),
        decided_by: a.decided_by.clone(),
        decided_at: a.decided_at.map(timestamp),
    }
}

/// Trims every text of the book (an empty one is no answer) and checks lengths.
fn clean_book(book: GateBook) -> Result<GateBook, ApiError> {
    fn text(field: &str, v: Option<String>, max: usize) -> Result<Option<String>, ApiError> {
        let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        if let Some(s) = &v {
            ApiError::no_bidi_control(&format!("book.{field}"), s)?;
        }
        if let Some(s) = &v
            && s.chars().count() > max
        {
            return Err(ApiError::invalid(
                "invalid_book",
                format!("book.{field} is at most {max} characters"),
            ));
        }
        Ok(v)
    }
    if book.age.is_some_and(|a| a > 10_000) {
        return Err(ApiError::invalid(
            "invalid_book",
            "book.age is in years, at most 10,000 (dragons live long)",
        ));
    }
    Ok(GateBook {
        name: text("name", book.name, 200)?,
        family_name: text("family_name", book.family_name, 200)?,
        from: text("from", book.from, 200)?,
        age: book.age,
        calling: text("calling", book.calling, 200)?,
        note: text("note", book.note, 2000)?,
    })
}

/// `POST /api/v1/accounts`: through the gate. 201 with the account for a citizen (or the
/// tower, for the first account); 202 with the page of the book for an applicant.
#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "gate",
    request_body = Registration,
    responses(
        (status = 201, description = "a citizen (open gate, an invite code, or the first account, which is the tower's)", body = Account),
        (status = 202, description = "an application, gone to the tower: the newcomer's page of the book", body = Arrival),
        (status = 403, description = "`invite_required`: this gate lets people in by invitation only"),
        (status = 404, description = "`no_such_invite`, `invite_expired`"),
        (status = 409, description = "`name_taken`"),
        (status = 422, description = "`book_required`: an application gate needs `book.name`; `invalid_name`, `invalid_password`, `invalid_book`, `invalid_code`, `bidi_control`"),
        (status = 429, description = "`too_many_registrations`: registrations_per_hour from this address (Retry-After says when)"),
    )
)]
pub async fn register<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    from: ClientAddr,
    body: Result<Json<Registration>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(reg) = body?;
    // Every attempt counts, a wrong invite code included: codes cannot be guessed by
    // registering.
    app.throttles.register(from.key())?;
    check_name(&reg.name)?;
    let n = reg.password.chars().count();
    if !(8..=1024).contains(&n) {
        return Err(ApiError::invalid(
            "invalid_password",
            "a password is 8 to 1,024 characters",
        ));
    }
    let book = clean_book(reg.book.unwrap_or_default())?;
    let invite = match reg.invite.as_deref() {
        None => None,
        Some(typed) => Some(auth::normalise_code(typed).ok_or_else(|| {
            ApiError::invalid("invalid_code", "an invite code is eight letters and digits")
        })?),
    };
    let mode = app.hub.config.gate;
    let first = app.hub.store.is_empty_city().await?;
    if !first && mode == GateMode::Application && book.name.is_none() {
        return Err(ApiError::invalid(
            "book_required",
            "this city's gate takes applications: write at least your name in the \
             gatekeeper's book (book.name), and where you come from, your age, your calling \
             and a note if you like",
        ));
    }
    if !first && mode == GateMode::Invite && invite.is_none() {
        return Err(Conflict::InviteRequired.into());
    }
    if app.hub.store.account_by_name(&reg.name).await?.is_some() {
        return Err(name_taken(&reg.name));
    }
    let password = reg.password;
    let phc = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let arrival = app
        .hub
        .store
        .arrive(NewArrival {
            name: reg.name.clone(),
            password_hash: phc,
            book,
            invite,
            mode,
            now_ms: now_ms(),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(Conflict::NameTaken) => name_taken(&reg.name),
            e => e.into(),
        })?;
    tracing::info!(
        target: AUDIT,
        name = %arrival.account.name,
        account = %arrival.account.id.0,
        standing = %arrival.standing.key(),
        way = %arrival.way,
        from = %from.0,
        "registered"
    );
    Ok(if arrival.standing == Standing::Applicant {
        // The book goes to the tower: every tower account's links are told.
        let view = arrival_view(&arrival);
        let frame = haurach_proto::ServerFrame::Application {
            arrival: Box::new(view.clone()),
        };
        for tower in app.hub.store.towers().await? {
            app.hub.bus.tell(tower, &frame);
        }
        (StatusCode::ACCEPTED, Json(view)).into_response()
    } else {
        (StatusCode::CREATED, Json(account_view(&arrival.account))).into_response()
    })
}

/// `GET /api/v1/gate`: the gate's mode, for a client choosing what form to show.
#[utoipa::path(
    get,
    path = "/api/v1/gate",
    tag = "gate",
    responses((status = 200, description = "the gate", body = GateInfo))
)]
pub async fn info<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
) -> Result<Json<GateInfo>, ApiError> {
    Ok(Json(GateInfo {
        mode: app.hub.config.gate,
        first: app.hub.store.is_empty_city().await?,
    }))
}

/// `GET /api/v1/gate/me`: the caller's page of the book, with the tower's answer once
/// given. Open to applicants.
#[utoipa::path(
    get,
    path = "/api/v1/gate/me",
    tag = "gate",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller's page of the book", body = Arrival),
        (status = 404, description = "`no_arrival`: an account older than the book"),
    )
)]
pub async fn my_arrival<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    visitor: Visitor,
) -> Result<Json<Arrival>, ApiError> {
    let arrival = app
        .hub
        .store
        .arrival(visitor.account)
        .await?
        .ok_or_else(|| {
            // Accounts made before the gate existed (or by a bulk load) have no page.
            ApiError::not_found(
                "no_arrival",
                "you came in before the gate kept its book: there is no page for you",
            )
        })?;
    Ok(Json(arrival_view(&arrival)))
}

/// `DELETE /api/v1/sessions/current` for anyone, applicants included.
#[utoipa::path(
    delete,
    summary = "Log out: revoke this token (applicants too).",
    path = "/api/v1/sessions/current",
    tag = "accounts",
    security(("bearer" = [])),
    responses((status = 204, description = "logged out: the token, and the links opened with it, are closed"))
)]
pub async fn logout<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    visitor: Visitor,
) -> Result<StatusCode, ApiError> {
    app.hub
        .store
        .revoke_session(&visitor.token_hash, now_ms())
        .await?;
    tracing::info!(target: AUDIT, account = %visitor.account.0, "logout");
    // Links opened with this token close too, on every node (committed first).
    app.hub
        .bus
        .publish(visitor.account, Frame::session_ended(&visitor.token_hash));
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/gate/queue`: applications waiting for the tower.
#[utoipa::path(
    get,
    path = "/api/v1/gate/queue",
    tag = "gate",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "the applications waiting, oldest first", body = ArrivalList),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
    )
)]
pub async fn queue<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    _tower: Tower,
) -> Result<Json<ArrivalList>, ApiError> {
    let arrivals = app.hub.store.register(true).await?;
    Ok(Json(ArrivalList {
        arrivals: arrivals.iter().map(arrival_view).collect(),
    }))
}

/// `POST /api/v1/gate/applications/{name}/decision`: approve or decline, with a written
/// answer the applicant reads in their book.
#[utoipa::path(
    post,
    path = "/api/v1/gate/applications/{name}/decision",
    tag = "gate",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the applicant's account name")),
    request_body = DecisionBody,
    responses(
        (status = 200, description = "the page of the book, answered", body = Arrival),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
        (status = 404, description = "`no_such_application`"),
        (status = 409, description = "`already_decided`"),
        (status = 422, description = "`invalid_answer`"),
    )
)]
pub async fn decide<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    Tower(tower): Tower,
    name: Result<Path<String>, PathRejection>,
    body: Result<Json<DecisionBody>, JsonRejection>,
) -> Result<Json<Arrival>, ApiError> {
    let Path(name) =
        name.map_err(|_| ApiError::bad_request("invalid_path", "a name is expected"))?;
    let Json(body) = body?;
    let answer = body.answer.trim();
    ApiError::no_bidi_control("the answer", answer)?;
    if !(1..=2000).contains(&answer.chars().count()) {
        return Err(ApiError::invalid(
            "invalid_answer",
            "write an answer in the book: 1 to 2,000 characters",
        ));
    }
    let arrival = app
        .hub
        .store
        .decide(&name, body.decision, answer, tower.account, now_ms())
        .await?;
    tracing::info!(
        target: AUDIT,
        tower = %tower.account.0,
        name = %arrival.account.name,
        account = %arrival.account.id.0,
        decision = %body.decision.key(),
        "the tower answered an application"
    );
    Ok(Json(arrival_view(&arrival)))
}

/// `GET /api/v1/gate/register`: every arrival, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/gate/register",
    tag = "gate",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "every arrival, oldest first", body = ArrivalList),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
    )
)]
pub async fn register_json<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    _tower: Tower,
) -> Result<Json<ArrivalList>, ApiError> {
    let arrivals = app.hub.store.register(false).await?;
    Ok(Json(ArrivalList {
        arrivals: arrivals.iter().map(arrival_view).collect(),
    }))
}

/// `GET /api/v1/gate/register.csv`: the register as CSV (RFC 4180), for a spreadsheet.
#[utoipa::path(
    get,
    path = "/api/v1/gate/register.csv",
    tag = "gate",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "every arrival, oldest first, as RFC 4180 CSV with a header line", body = String, content_type = "text/csv"),
        (status = 403, description = "`tower_only`; `awaiting_tower`, `application_declined`"),
    )
)]
pub async fn register_csv<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    _tower: Tower,
) -> Result<Response, ApiError> {
    let arrivals = app.hub.store.register(false).await?;
    let csv = register_to_csv(&arrivals);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"register.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

/// The register's columns, the CSV's header line.
const REGISTER_COLUMNS: [&str; 15] = [
    "account",
    "name",
    "family_name",
    "from",
    "age",
    "calling",
    "note",
    "way",
    "invited_by",
    "arrived_at",
    "standing",
    "decision",
    "answer",
    "decided_by",
    "decided_at",
];

/// The register as CSV: one header line, one line per arrival, CRLF line ends.
pub fn register_to_csv(arrivals: &[ArrivalRecord]) -> String {
    // Writing into memory cannot fail, and every record has the header's 15 fields.
    const IN_MEMORY: &str = "CSV is written into memory, a record of 15 fields at a time";
    let time = |ms: i64| {
        timestamp(ms)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let mut csv = csv_writer();
    csv.write_record(REGISTER_COLUMNS).expect(IN_MEMORY);
    for a in arrivals {
        let cells = [
            a.account.name.clone(),
            a.book.name.clone().unwrap_or_default(),
            a.book.family_name.clone().unwrap_or_default(),
            a.book.from.clone().unwrap_or_default(),
            a.book.age.map(|n| n.to_string()).unwrap_or_default(),
            a.book.calling.clone().unwrap_or_default(),
            a.book.note.clone().unwrap_or_default(),
            a.way.clone(),
            a.invited_by.clone().unwrap_or_default(),
            time(a.arrived_at),
            a.standing.key().to_owned(),
            a.decision.map(|d| d.key().to_owned()).unwrap_or_default(),
            a.answer.clone().unwrap_or_default(),
            a.decided_by.clone().unwrap_or_default(),
            a.decided_at.map(time).unwrap_or_default(),
        ]
        .map(defuse_formula);
        csv.write_record(&cells).expect(IN_MEMORY);
    }
    let bytes = csv.into_inner().expect(IN_MEMORY);
    String::from_utf8(bytes).expect("CSV written from UTF-8 cells is UTF-8")
}

/// The register's CSV writer (RFC 4180): CRLF line ends, and a cell quoted only when it
/// holds a comma, a quote or a line break.
fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new())
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, a tab or a carriage
/// return first) is prefixed with `'`, since what newcomers write in the book is not
/// trusted. The CSV writer then quotes it like any other cell.
fn defuse_formula(mut text: String) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        text.insert(0, '\'');
    }
    text
}

/// `POST /api/v1/gate/invites`: a code that lets one person through an invite-only gate.
#[utoipa::path(
    post,
    path = "/api/v1/gate/invites",
    tag = "gate",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "the code", body = GateInvite),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn create_gate_invite<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<(StatusCode, Json<GateInvite>), ApiError> {
    let now = now_ms();
    let expires = now + (app.hub.config.invite_ttl_h * 3_600_000.0) as i64;
    // A clash of random codes is rare; try a few.
    for _ in 0..5 {
        let code = auth::invite_code();
        match app
            .hub
            .store
            .create_gate_invite(&code, caller.account, now, expires)
            .await
        {
            Ok(()) => {
                return Ok((
                    StatusCode::CREATED,
                    Json(GateInvite {
                        code: auth::display_code(&code),
                        expires_at: timestamp(expires),
                    }),
                ));
            }
            Err(StoreError::Conflict(Conflict::InviteCodeTaken)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("five invite codes in a row were taken"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cell as the register writes it.
    fn csv_cell(text: &str) -> String {
        let mut csv = csv_writer();
        csv.write_record([defuse_formula(text.to_owned())]).unwrap();
        let line = String::from_utf8(csv.into_inner().unwrap()).unwrap();
        line.strip_suffix("\r\n").unwrap().to_owned()
    }

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
    }
}
