//! `haurach backup`: a consistent copy of a SQLite city's data directory, taken while a
//! server serves it.
//!
//! The message journal is copied first, then the database with `VACUUM INTO` (one read
//! transaction: a consistent snapshot, the server writing on meanwhile). The indexer
//! stores journalled messages in SQLite in order, so the snapshot holds every message up
//! to some point and the journal's copy every message after an earlier one: together, no
//! message acknowledged before the copy began is missing, and one in both is stored once
//! (rows are keyed by sequence number). A segment the indexer deleted before it was copied
//! is wholly in the snapshot. A record cut off at the end of the last segment copied was
//! being appended: it is dropped when the copy is opened, as after a crash. Then the files
//! (pictures, journals' photos, parcels), which are written to a temporary name and
//! renamed, so every file copied is whole; renditions are a cache and are not copied.

use std::fs;
use std::io;
use std::path::Path;

use sqlx::ConnectOptions as _;
use sqlx::sqlite::SqliteConnectOptions;

use crate::private;
use crate::{StoreError, StoreResult};

/// What a backup copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Copied {
    /// Journal segments.
    pub segments: usize,
    /// Files: pictures, journals' photos, parcels.
    pub files: usize,
}

/// Copies the city in `data` (a server may be serving it) into `dest`, which must not
/// exist or be empty; everything in it is made 0700/0600.
pub async fn backup(data: &Path, dest: &Path) -> StoreResult<Copied> {
    let db = data.join("haurach.db");
    if !db.exists() {
        return Err(StoreError::Unusable(format!(
            "there is no city in {}: give the server's data directory",
            data.display()
        )));
    }
    if fs::read_dir(dest).is_ok_and(|mut d| d.next().is_some()) {
        return Err(StoreError::Unusable(format!(
            "{} is not empty: back up into a new directory",
            dest.display()
        )));
    }
    private::create_dir_all(dest).map_err(|e| private::unusable(dest, e))?;
    let mut copied = Copied::default();

    // The journal first (see the module's comment).
    let journal = data.join("journal");
    if journal.exists() {
        let into = dest.join("journal");
        private::create_dir_all(&into).map_err(|e| private::unusable(&into, e))?;
        let mut segments: Vec<_> = fs::read_dir(&journal)
            .map_err(|e| io_error(&journal, e))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        segments.sort();
        for segment in segments {
            let name = segment.file_name().expect("a segment has a name");
            match copy_file(&segment, &into.join(name)) {
                Ok(()) => copied.segments += 1,
                // Stored in SQLite and deleted meanwhile: the snapshot has it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&segment, e)),
            }
        }
    }

    // The database: one consistent snapshot, while the server writes on (WAL).
    let target = dest.join("haurach.db");
    let mut conn = SqliteConnectOptions::new()
        .filename(&db)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await?;
    sqlx::query("VACUUM INTO ?")
        .bind(target.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await?;
    drop(conn);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&target, fs::Permissions::from_mode(private::FILE_MODE))
            .map_err(|e| io_error(&target, e))?;
    }

    for dir in ["images", "memories", "parcels"] {
        copied.files += copy_tree(&data.join(dir), &dest.join(dir))?;
    }
    Ok(copied)
}

/// Copies the files under `from` into `to`, leaving out temporary files and renditions;
/// how many it copied. (A walk of three directories: no crate needed.)
fn copy_tree(from: &Path, to: &Path) -> StoreResult<usize> {
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(0);
    };
    let mut n = 0;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(from, e))?;
        let (path, name) = (entry.path(), entry.file_name());
        let name = name.to_string_lossy();
        let kind = entry.file_type().map_err(|e| io_error(&path, e))?;
        if kind.is_dir() {
            if name != "tmp" {
                n += copy_tree(&path, &to.join(&*name))?;
            }
        } else if kind.is_file() && !name.ends_with(".tmp") && !is_rendition(&name) {
            private::create_dir_all(to).map_err(|e| private::unusable(to, e))?;
            match copy_file(&path, &to.join(&*name)) {
                Ok(()) => n += 1,
                // Removed meanwhile (a parcel's temporary file renamed, say).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, e)),
            }
        }
    }
    Ok(n)
}

/// A picture's rendition (`r<side>.<ext>`): a cache, made again when asked for.
fn is_rendition(name: &str) -> bool {
    name.strip_prefix('r')
        .and_then(|rest| rest.split_once('.'))
        .is_some_and(|(side, _)| !side.is_empty() && side.bytes().all(|b| b.is_ascii_digit()))
}

/// Copies one file, the copy 0600 and synced.
fn copy_file(from: &Path, to: &Path) -> io::Result<()> {
    let mut source = fs::File::open(from)?;
    let mut target = private::create(to)?;
    io::copy(&mut source, &mut target)?;
    target.sync_all()
}

fn io_error(path: &Path, e: io::Error) -> StoreError {
    StoreError::Corrupt(format!("cannot copy {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renditions_are_told_from_originals() {
        assert!(is_rendition("r480.jpg"));
        assert!(is_rendition("r1080.png"));
        assert!(!is_rendition("original.jpg"));
        assert!(!is_rendition("r.jpg"));
        assert!(!is_rendition("stripped.jpg"));
    }
}
