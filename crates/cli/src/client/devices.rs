//! `haurach device ...`: passwords of a person's own devices (the OwnTracks app), so the
//! account's password is not sent with every position. A device password only posts
//! positions to `POST /owntracks`; it cannot log in.

use clap::Subcommand;
use haurach_proto::{DeviceCreated, DeviceView, NewDevice};
use reqwest::Method;

use super::Context;
use super::show::date;

/// `haurach device ...`.
#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Make a password for a device, printed this once
    ///
    /// The device (the OwnTracks app) sends it with your name in HTTP Basic; it only
    /// posts positions, and stops working when you revoke it. The OwnTracks app cannot
    /// take part in a private bond: the server refuses its positions there.
    ///
    /// Example:
    ///   haurach device add phone
    #[command(verbatim_doc_comment)]
    Add {
        /// The device's name: 1 to 32 letters, digits, '-', '_' or '.'.
        name: String,
    },
    /// Your devices with passwords (never the passwords)
    ///
    /// Example:
    ///   haurach device list
    #[command(verbatim_doc_comment)]
    List,
    /// Revoke a device's password: the device is refused from its next post
    ///
    /// Example:
    ///   haurach device revoke phone
    #[command(verbatim_doc_comment)]
    Revoke {
        /// The device's name.
        name: String,
    },
}

/// Runs `haurach device ...`.
pub async fn device(ctx: Context, command: DeviceCommand) -> anyhow::Result<()> {
    let (_, api) = ctx.session(None)?;
    match command {
        DeviceCommand::Add { name } => {
            let made: DeviceCreated = api.post("/api/v1/me/devices", &NewDevice { name }).await?;
            outln!("{}", made.password);
            eprintln!(
                "the password of {} (shown this once): in OwnTracks, Settings, Connection, \
                 Identification, give your name and this password",
                made.name
            );
            if private_bond(&api).await? {
                eprintln!("but {}", super::private::NO_OWNTRACKS);
            }
        }
        DeviceCommand::List => {
            let devices: Vec<DeviceView> = api.get("/api/v1/me/devices").await?;
            if devices.is_empty() {
                outln!("no device has a password of its own");
            }
            for d in devices {
                outln!("{}  (since {})", d.name, date(d.created_at));
            }
        }
        DeviceCommand::Revoke { name } => {
            api.empty(Method::DELETE, &format!("/api/v1/me/devices/{name}"), None)
                .await?;
            outln!("{name}'s password is revoked: the device is refused from now on");
        }
    }
    Ok(())
}

/// Whether the caller's bond is private (false without a bond).
async fn private_bond(api: &super::api::Api) -> anyhow::Result<bool> {
    match api
        .get::<haurach_proto::PrivateBondView>("/api/v1/bond/private")
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if matches!(e.code(), Some("plain_bond" | "not_bonded")) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
