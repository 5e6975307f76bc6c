//! `haurach admin`: make a tower (admin) account straight in a city's storage, without
//! logging in: for a city whose first account went to someone else, or whose towers have
//! all forgotten their passwords. It finds the storage as `haurach serve` does (its
//! `--config` file, `HAURACH_*` variables, `--data` or `--database-url`): a SQLite data
//! directory, beside a running server, or the PostgreSQL database of a city of several
//! nodes. A tower that can log in makes another with `haurach gate tower NAME`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use haurach_server::Config;
use haurach_store::{CityStore, Conflict, Postgres, Sqlite, StoreError};

/// Settings of `haurach admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The tower account's name.
    name: String,
    /// The server's settings file, to find its storage.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The server's data directory (SQLite) [default: ./haurach-data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The city's PostgreSQL database (env HAURACH_DATABASE_URL).
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    #[command(flatten)]
    password: crate::client::password::PasswordArg,
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
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(data) = args.data {
        config.data = data;
    }
    if let Some(url) = args.database_url {
        config.database_url = Some(url);
    }
    let password = crate::client::password::password_for(&args.name, args.password.password, true)?;
    anyhow::ensure!(
        (8..=1024).contains(&password.chars().count()),
        "a password is 8 to 1,024 characters"
    );
    let phc = haurach_server::auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    match &config.database_url {
        Some(url) => {
            let store = Postgres::connect(url)
                .await
                .context("cannot open the city's PostgreSQL database")?;
            make(
                &store,
                &args.name,
                &phc,
                now,
                "the city's PostgreSQL database",
            )
            .await
        }
        None => {
            let data = &config.data;
            // A directory without a database is no city: opening it would make one, a
            // stray beside the real city (a PostgreSQL one, or another directory).
            anyhow::ensure!(
                data.join("haurach.db").exists(),
                "there is no city in {}: give the server's data directory (--data DIR), its \
                 settings (--config FILE), or for a city on PostgreSQL its --database-url",
                data.display()
            );
            // The server may be running: SQLite lets this write wait for its turn (and the
            // messages, which this does not touch, stay the server's).
            let store = Sqlite::open_beside_server(data)
                .await
                .with_context(|| format!("cannot open the data directory {}", data.display()))?;
            make(&store, &args.name, &phc, now, &data.display().to_string()).await
        }
    }
}

async fn make(
    store: &impl CityStore,
    name: &str,
    phc: &str,
    now: i64,
    city: &str,
) -> anyhow::Result<()> {
    match store.create_tower(name, phc, now).await {
        Ok(a) => {
            outln!(
                "{} is in the tower of {city} (log in with haurach login {})",
                a.account.name,
                a.account.name
            );
            Ok(())
        }
        Err(StoreError::Conflict(Conflict::NameTaken)) => {
            anyhow::bail!("the name {name:?} is taken")
        }
        Err(e) => Err(e.into()),
    }
}
