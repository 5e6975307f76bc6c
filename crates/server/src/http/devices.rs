//! A person's device passwords (`/api/v1/me/devices`): made (the password shown once),
//! listed and revoked. A device password is good for one thing, posting to
//! `POST /owntracks` with the account's name (`http/owntracks.rs`); the login form and
//! every other route refuse it, because they check only the account's password or a
//! session token.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use haurach_proto::{DeviceCreated, DeviceView, NewDevice};
use haurach_store::{DeviceRecord, Store};

use super::access::AUDIT;
use super::extract::Caller;
use super::names::check_name;
use super::state::AppState;
use crate::auth;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

/// How many devices with passwords a person may have.
pub const MAX_DEVICES: u32 = 10;

/// A device password: `hdp_` and 43 characters of base64url (256 random bits), so the
/// store may keep it as a SHA-256 like a session token.
pub fn new_device_password() -> String {
    format!("hdp_{}", &auth::new_token()["hau_".len()..])
}

fn view(d: &DeviceRecord) -> DeviceView {
    DeviceView {
        name: d.name.clone(),
        created_at: timestamp(d.created_at),
    }
}

/// `GET /api/v1/me/devices`.
#[utoipa::path(
    get,
    summary = "My devices with passwords of their own.",
    path = "/api/v1/me/devices",
    tag = "devices",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "my devices, oldest first (never their passwords)", body = Vec<DeviceView>),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
    )
)]
pub async fn list<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let devices = app.hub.store.devices(caller.account).await?;
    Ok(Json(devices.iter().map(view).collect()))
}

/// `POST /api/v1/me/devices`: a device password, shown this once.
#[utoipa::path(
    post,
    summary = "Make a password for a device (the OwnTracks app): it only posts positions.",
    path = "/api/v1/me/devices",
    tag = "devices",
    security(("bearer" = [])),
    request_body = NewDevice,
    responses(
        (status = 201, description = "the device and its password, shown this once", body = DeviceCreated),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 409, description = "`device_exists`: I have a device of that name; `too_many_devices`: I have ten"),
        (status = 422, description = "`invalid_name`"),
    )
)]
pub async fn add<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    body: Result<Json<NewDevice>, JsonRejection>,
) -> Result<(StatusCode, Json<DeviceCreated>), ApiError> {
    let Json(new) = body?;
    check_name(&new.name)?;
    let password = new_device_password();
    let record = DeviceRecord {
        account: caller.account,
        name: new.name,
        created_at: now_ms(),
    };
    let store = &app.hub.store;
    if !store
        .add_device(&record, &auth::token_hash(&password), MAX_DEVICES)
        .await?
    {
        let taken = store
            .devices(caller.account)
            .await?
            .iter()
            .any(|d| d.name == record.name);
        return Err(if taken {
            ApiError::conflict(
                "device_exists",
                format!("you have a device named {:?}: revoke it first", record.name),
            )
        } else {
            ApiError::conflict(
                "too_many_devices",
                format!("you have {MAX_DEVICES} devices: revoke one first"),
            )
        });
    }
    tracing::info!(target: AUDIT, account = %caller.account.0, device = %record.name, "device password made");
    let shown = view(&record);
    Ok((
        StatusCode::CREATED,
        Json(DeviceCreated {
            name: shown.name,
            created_at: shown.created_at,
            password,
        }),
    ))
}

/// `DELETE /api/v1/me/devices/{name}`: the device's password stops working at once.
#[utoipa::path(
    delete,
    summary = "Revoke a device's password.",
    path = "/api/v1/me/devices/{name}",
    tag = "devices",
    security(("bearer" = [])),
    params(("name" = inline(haurach_proto::schemas::AccountName), Path, description = "the device's name")),
    responses(
        (status = 204, description = "revoked: its password is refused from now on"),
        (status = 403, description = "`awaiting_tower`, `application_declined`: not a citizen (yet)"),
        (status = 404, description = "`device_not_found`"),
    )
)]
pub async fn revoke<S: Store, B: Bus>(
    State(app): State<AppState<S, B>>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(name) = name.map_err(|_| {
        ApiError::bad_request(
            "invalid_path",
            "the device's name could not be read from the path",
        )
    })?;
    if !app.hub.store.revoke_device(caller.account, &name).await? {
        return Err(ApiError::not_found(
            "device_not_found",
            format!("you have no device named {name:?}"),
        ));
    }
    tracing::info!(target: AUDIT, account = %caller.account.0, device = %name, "device password revoked");
    Ok(StatusCode::NO_CONTENT)
}
