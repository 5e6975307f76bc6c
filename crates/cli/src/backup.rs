//! `haurach backup DIR`: a consistent copy of a SQLite city while its server serves it
//! (`haurach_store::sqlite::backup`). A city on PostgreSQL is backed up with `pg_dump`:
//! everything of it, parcels and pictures included, is in the database.

use std::path::PathBuf;

use clap::Args;
use haurach_server::Config;

/// Settings of `haurach backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where the copy goes: a new or empty directory. Start a server on it with
    /// `haurach serve --data DIR` to restore.
    dir: PathBuf,
    /// The server's settings file, to find its data.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The server's data directory [default: ./haurach-data].
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// Copies the city.
pub async fn run(args: BackupArgs) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(data) = args.data {
        config.data = data;
    }
    if config.database_url.is_some() {
        anyhow::bail!(
            "this city is on PostgreSQL, which backs it up whole (parcels and pictures are in \
             the database too): pg_dump --format=custom --file=city.dump DATABASE_URL"
        );
    }
    let copied = haurach_store::sqlite::backup::backup(&config.data, &args.dir).await?;
    outln!(
        "{} is copied into {} (the database, {} journal segments, {} files); to restore, \
         haurach serve --data {}",
        config.data.display(),
        args.dir.display(),
        copied.segments,
        copied.files,
        args.dir.display()
    );
    Ok(())
}
