//! Where pictures and journal photos are kept: files under the data directory for one
//! node, or the `files` table of PostgreSQL for a city of several nodes (every node must
//! reach every picture). Named by their path under the data directory, so both backends
//! keep the same names. Writes are durable on return.
//!
//! Renditions cut from a picture are a cache, and stay on each node's own disk either way.

use std::io;
use std::path::{Path, PathBuf};

/// The store of pictures' and journals' files.
#[derive(Debug, Clone)]
pub enum Files {
    /// Files under the data directory.
    Disk(PathBuf),
    /// The `files` table, in the city's shared database.
    Postgres(sqlx::PgPool),
}

fn db(e: sqlx::Error) -> io::Error {
    io::Error::other(e)
}

impl Files {
    /// The name `path` (under the data directory) goes by in the database.
    fn key(root: &Path, path: &Path) -> String {
        path.strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    /// Stores files (path under the data directory, bytes) together, durably: on disk each
    /// is written to a temporary file, synced and renamed, and its directory synced; in
    /// PostgreSQL they are one committed transaction.
    pub async fn put(&self, data: &Path, files: Vec<(PathBuf, Vec<u8>)>) -> io::Result<()> {
        match self {
            Files::Disk(_) => tokio::task::spawn_blocking(move || -> io::Result<()> {
                use std::io::Write;
                let mut dirs: Vec<PathBuf> = Vec::new();
                for (path, bytes) in &files {
                    let dir = path.parent().expect("a file has a directory");
                    crate::private::create_dir_all(dir)?;
                    let tmp = path.with_extension("tmp");
                    let mut file = crate::private::create(&tmp)?;
                    file.write_all(bytes)?;
                    file.sync_all()?;
                    std::fs::rename(&tmp, path)?;
                    if !dirs.iter().any(|d| d == dir) {
                        dirs.push(dir.to_owned());
                    }
                }
                for dir in &dirs {
                    std::fs::File::open(dir)?.sync_all()?;
                    if let Some(parent) = dir.parent() {
                        std::fs::File::open(parent)?.sync_all()?;
                    }
                }
                Ok(())
            })
            .await
            .map_err(io::Error::other)?,
            Files::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(db)?;
                for (path, bytes) in files {
                    sqlx::query(
                        "INSERT INTO files (name, bytes) VALUES ($1, $2) \
                         ON CONFLICT (name) DO UPDATE SET bytes = excluded.bytes",
                    )
                    .bind(Files::key(data, &path))
                    .bind(bytes)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                }
                tx.commit().await.map_err(db)
            }
        }
    }

    /// A file's bytes, `None` when there is no such file.
    pub async fn get(&self, data: &Path, path: &Path) -> io::Result<Option<Vec<u8>>> {
        match self {
            Files::Disk(_) => match tokio::fs::read(path).await {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
            Files::Postgres(pool) => sqlx::query_scalar("SELECT bytes FROM files WHERE name = $1")
                .bind(Files::key(data, path))
                .fetch_optional(pool)
                .await
                .map_err(db),
        }
    }

    /// Deletes every file under directory `dir` (a spare copy no record names).
    pub async fn remove_dir(&self, data: &Path, dir: &Path) -> io::Result<()> {
        match self {
            Files::Disk(_) => match tokio::fs::remove_dir_all(dir).await {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            Files::Postgres(pool) => {
                let prefix = format!("{}/", Files::key(data, dir));
                sqlx::query("DELETE FROM files WHERE starts_with(name, $1)")
                    .bind(prefix)
                    .execute(pool)
                    .await
                    .map_err(db)?;
                Ok(())
            }
        }
    }
}
