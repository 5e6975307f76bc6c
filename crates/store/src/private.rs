//! Files and directories only their owner may read: the data directory holds password
//! hashes, positions, messages and photos, so everything the store creates in it is
//! 0700 (directories) or 0600 (files), whatever the process's umask.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::path::Path;

/// The mode of every directory the store creates.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file the store creates.
pub const FILE_MODE: u32 = 0o600;

/// `create_dir_all`, each directory created 0700.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)
}

/// Options that create a file 0600 (an existing file keeps its mode).
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options
}

/// `File::create`, the file created 0600.
pub fn create(path: &Path) -> io::Result<File> {
    options().write(true).create(true).truncate(true).open(path)
}

/// `tokio::fs::create_dir` (one level), created 0700.
pub async fn create_dir_async(dir: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir).await
}

/// `tokio::fs::File::create`, the file created 0600.
pub async fn create_async(path: &Path) -> io::Result<tokio::fs::File> {
    let mut options = tokio::fs::OpenOptions::new();
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await
}

/// What an operator is told when `path`, in the data directory, cannot be created or
/// opened: what is wrong and what to do.
pub fn unusable(path: &Path, e: io::Error) -> crate::StoreError {
    crate::StoreError::Unusable(match e.kind() {
        io::ErrorKind::PermissionDenied => format!(
            "cannot write {}: permission denied: run haurach as the user who owns it, or give \
             it another data directory (--data)",
            path.display()
        ),
        io::ErrorKind::ReadOnlyFilesystem => format!(
            "cannot write {}: the file system is read-only: give haurach a writable data \
             directory (--data)",
            path.display()
        ),
        _ => format!("cannot use {}: {e}", path.display()),
    })
}
