//! `haurach admin`: make a tower (admin) account straight in a server's data directory,
//! for a city whose first account went to someone else, or a second admin.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use haurach_store::{CityStore as _, Conflict, Sqlite, StoreError};

/// Settings of `haurach admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The tower account's name.
    name: String,
    /// The server's data directory [default: ./haurach-data].
    #[arg(
        long,
        value_name = "DIR",
        env = "HAURACH_DATA",
        default_value = "haurach-data"
    )]
    data: PathBuf,
    #[command(flatten)]
    password: crate::client::PasswordArg,
}

/// Creates the account.
pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let name_ok = (1..=32).contains(&args.name.chars().count())
        && args
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    anyhow::ensure!(
        name_ok,
        "a name is 1 to 32 letters, digits, '-', '_' or '.'"
    );
    let password = crate::client::password_for(&args.name, args.password.password, true)?;
    anyhow::ensure!(
        (8..=1024).contains(&password.chars().count()),
        "a password is 8 to 1,024 characters"
    );
    let phc = haurach_server::auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    // The server may be running: SQLite lets this write wait for its turn (and the
    // messages, which this does not touch, stay the server's).
    let store = Sqlite::open_beside_server(&args.data)
        .await
        .with_context(|| format!("cannot open the data directory {}", args.data.display()))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    match store.create_tower(&args.name, &phc, now).await {
        Ok(a) => {
            outln!(
                "{} is in the tower of {} (log in with haurach login {})",
                a.account.name,
                args.data.display(),
                a.account.name
            );
            Ok(())
        }
        Err(StoreError::Conflict(Conflict::NameTaken)) => {
            anyhow::bail!("the name {:?} is taken", args.name)
        }
        Err(e) => Err(e.into()),
    }
}
