//! Parcels' bytes, stored once by content hash behind [`BlobStore`]. [`FsBlobs`] keeps
//! them as files under the data directory (`DIR/parcels/ab/abcdef…`), for one node;
//! [`PgBlobs`] keeps them in PostgreSQL, where every node of a city reaches them;
//! [`Blobs`] is whichever the server was configured with.
//!
//! A blob is durable before `put` returns: the bytes are written to a temporary file,
//! which is fsynced, renamed to its hash, and the directory fsynced, so an acknowledged
//! upload survives a crash of the process or the machine.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// SHA-256, lowercase hex.
    pub hash: String,
    /// Bytes.
    pub size: u64,
}

/// Why a blob could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The content is longer than allowed; nothing was kept.
    #[error("more than {0} bytes")]
    TooLarge(u64),
    /// The body could not be read from the client.
    #[error("reading the upload: {0}")]
    Body(String),
    /// The disk failed.
    #[error("blob storage: {0}")]
    Io(#[from] io::Error),
}

/// The bytes of a blob, as a stream of chunks.
pub type BlobStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Content-addressed storage of parcels.
pub trait BlobStore: Clone + Send + Sync + 'static {
    /// Stores the stream's bytes (at most `limit`), once per content; durable on return.
    fn put<E: std::fmt::Display + Send>(
        &self,
        body: impl Stream<Item = Result<Bytes, E>> + Send + Unpin,
        limit: u64,
    ) -> impl Future<Output = Result<Blob, BlobError>> + Send;

    /// The bytes of a blob, or `None` when there is no such blob.
    fn get(
        &self,
        hash: &str,
    ) -> impl Future<Output = Result<Option<(u64, BlobStream)>, BlobError>> + Send;
}

/// Blobs as files under a directory.
#[derive(Debug, Clone)]
pub struct FsBlobs {
    root: PathBuf,
}

/// Whether `hash` looks like what [`FsBlobs`] names files by (so a path cannot escape).
pub fn is_hash(hash: &str) -> bool {
    hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl FsBlobs {
    /// Blobs under `root` (created when the first blob is stored).
    pub fn new(root: impl Into<PathBuf>) -> FsBlobs {
        FsBlobs { root: root.into() }
    }

    fn path_of(&self, hash: &str) -> PathBuf {
        self.root.join(&hash[..2]).join(hash)
    }
}

/// fsyncs a directory, so a file created or renamed in it survives a crash.
async fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = dir.to_owned();
    tokio::task::spawn_blocking(move || std::fs::File::open(&dir)?.sync_all())
        .await
        .map_err(io::Error::other)?
}

/// Creates `dir` (and its parents) and fsyncs each parent that gained an entry.
async fn create_dir_durably(dir: &Path) -> io::Result<()> {
    if tokio::fs::try_exists(dir).await? {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        Box::pin(create_dir_durably(parent)).await?;
    }
    match crate::private::create_dir_async(dir).await {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent).await?;
    }
    Ok(())
}

impl BlobStore for FsBlobs {
    async fn put<E: std::fmt::Display + Send>(
        &self,
        mut body: impl Stream<Item = Result<Bytes, E>> + Send + Unpin,
        limit: u64,
    ) -> Result<Blob, BlobError> {
        let tmp_dir = self.root.join("tmp");
        create_dir_durably(&tmp_dir).await?;
        let tmp = tmp_dir.join(uuid::Uuid::now_v7().to_string());
        // The temporary file is removed on every early return.
        struct Cleanup(Option<PathBuf>);
        impl Drop for Cleanup {
            fn drop(&mut self) {
                if let Some(p) = self.0.take() {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        let mut cleanup = Cleanup(Some(tmp.clone()));
        let mut file = crate::private::create_async(&tmp).await?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(BlobError::TooLarge(limit));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let hash = format!("{:x}", hasher.finalize());
        let path = self.path_of(&hash);
        let dir = path.parent().expect("a blob path has a parent");
        create_dir_durably(dir).await?;
        if tokio::fs::try_exists(&path).await? {
            // Stored once: the same content is there already (and was synced then).
            return Ok(Blob { hash, size });
        }
        tokio::fs::rename(&tmp, &path).await?;
        cleanup.0 = None;
        sync_dir(dir).await?;
        Ok(Blob { hash, size })
    }

    async fn get(&self, hash: &str) -> Result<Option<(u64, BlobStream)>, BlobError> {
        if !is_hash(hash) {
            return Ok(None);
        }
        let file = match tokio::fs::File::open(self.path_of(hash)).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let size = file.metadata().await?.len();
        // The state is the file until it ends or fails; a failure is the last item.
        let stream = futures_util::stream::unfold(Some(file), |state| async move {
            let mut file = state?;
            let mut buf = vec![0u8; 64 * 1024];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok(Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        Ok(Some((size, Box::pin(stream) as BlobStream)))
    }
}

/// Blobs in PostgreSQL (`parcel_blobs`), for a city served by several nodes: the bytes
/// are committed before `put` returns. An upload is held in memory until it is complete
/// (parcels are limited to `max_parcel_bytes`, 25 MiB by default), so it is hashed and
/// written in one statement.
#[derive(Debug, Clone)]
pub struct PgBlobs {
    pool: sqlx::PgPool,
}

impl PgBlobs {
    /// Blobs in the database of `pool` (its migrations create the table).
    pub fn new(pool: sqlx::PgPool) -> PgBlobs {
        PgBlobs { pool }
    }

    /// The database's pool (pictures' files share it).
    pub fn pool(&self) -> sqlx::PgPool {
        self.pool.clone()
    }
}

fn db_error(e: sqlx::Error) -> BlobError {
    BlobError::Io(io::Error::other(e))
}

impl BlobStore for PgBlobs {
    async fn put<E: std::fmt::Display + Send>(
        &self,
        mut body: impl Stream<Item = Result<Bytes, E>> + Send + Unpin,
        limit: u64,
    ) -> Result<Blob, BlobError> {
        let mut bytes = Vec::new();
        let mut hasher = Sha256::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| BlobError::Body(e.to_string()))?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Err(BlobError::TooLarge(limit));
            }
            hasher.update(&chunk);
            bytes.extend_from_slice(&chunk);
        }
        let hash = format!("{:x}", hasher.finalize());
        let size = bytes.len() as u64;
        // Stored once: the same content uploaded again changes nothing.
        sqlx::query(
            "INSERT INTO parcel_blobs (hash, size, bytes) VALUES ($1, $2, $3) \
             ON CONFLICT (hash) DO NOTHING",
        )
        .bind(&hash)
        .bind(size as i64)
        .bind(bytes)
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(Blob { hash, size })
    }

    async fn get(&self, hash: &str) -> Result<Option<(u64, BlobStream)>, BlobError> {
        if !is_hash(hash) {
            return Ok(None);
        }
        let bytes: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT bytes FROM parcel_blobs WHERE hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        Ok(bytes.map(|b| {
            let size = b.len() as u64;
            let chunks: Vec<io::Result<Bytes>> = Bytes::from(b)
                .chunks(64 * 1024)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            (
                size,
                Box::pin(futures_util::stream::iter(chunks)) as BlobStream,
            )
        }))
    }
}

/// The blob store a server was configured with: files under the data directory (one
/// node), or PostgreSQL (several nodes, which must all reach every parcel).
#[derive(Debug, Clone)]
pub enum Blobs {
    /// Files under `DATA/parcels`.
    Files(FsBlobs),
    /// The `parcel_blobs` table.
    Postgres(PgBlobs),
}

impl Blobs {
    /// Deletes a parcel's bytes that no letter or upload names any more
    /// ([`crate::Removed::parcels`]). In PostgreSQL they went with the removal's
    /// transaction; on disk the file goes now. A parcel that is not there is no error.
    pub async fn forget(&self, hash: &str) -> io::Result<()> {
        match self {
            Blobs::Files(b) if is_hash(hash) => match tokio::fs::remove_file(b.path_of(hash)).await
            {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            },
            Blobs::Files(_) | Blobs::Postgres(_) => Ok(()),
        }
    }
}

impl BlobStore for Blobs {
    async fn put<E: std::fmt::Display + Send>(
        &self,
        body: impl Stream<Item = Result<Bytes, E>> + Send + Unpin,
        limit: u64,
    ) -> Result<Blob, BlobError> {
        match self {
            Blobs::Files(b) => b.put(body, limit).await,
            Blobs::Postgres(b) => b.put(body, limit).await,
        }
    }

    async fn get(&self, hash: &str) -> Result<Option<(u64, BlobStream)>, BlobError> {
        match self {
            Blobs::Files(b) => b.get(hash).await,
            Blobs::Postgres(b) => b.get(hash).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(chunks: &[&'static [u8]]) -> impl Stream<Item = Result<Bytes, io::Error>> + Unpin {
        futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        )
    }

    async fn read_all(blobs: &FsBlobs, hash: &str) -> Option<Vec<u8>> {
        let (size, mut stream) = blobs.get(hash).await.unwrap()?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk.unwrap());
        }
        assert_eq!(out.len() as u64, size);
        Some(out)
    }

    fn tmp_files(root: &Path) -> usize {
        std::fs::read_dir(root.join("tmp")).map_or(0, |d| d.count())
    }

    #[tokio::test]
    async fn a_blob_is_stored_once_by_its_hash_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsBlobs::new(dir.path());
        let a = blobs
            .put(body(&[b"a box, ", b"breathed on"]), 100)
            .await
            .unwrap();
        // SHA-256 of "a box, breathed on".
        assert_eq!(
            a.hash,
            format!("{:x}", Sha256::digest(b"a box, breathed on"))
        );
        assert_eq!(a.size, 18);
        let b = blobs
            .put(body(&[b"a box, breathed on"]), 100)
            .await
            .unwrap();
        assert_eq!(a, b, "the same content is the same blob");
        let files = std::fs::read_dir(dir.path().join(&a.hash[..2]))
            .unwrap()
            .count();
        assert_eq!(files, 1, "stored once");
        assert_eq!(tmp_files(dir.path()), 0);
        assert_eq!(
            read_all(&blobs, &a.hash).await.unwrap(),
            b"a box, breathed on"
        );
    }

    #[tokio::test]
    async fn too_large_a_blob_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsBlobs::new(dir.path());
        let err = blobs
            .put(body(&[b"0123456789", b"x"]), 10)
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::TooLarge(10)), "{err}");
        assert_eq!(tmp_files(dir.path()), 0);
        let empty = blobs.put(body(&[]), 10).await.unwrap();
        assert_eq!(empty.size, 0);
    }

    #[tokio::test]
    async fn unknown_or_malformed_hashes_are_no_blob() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = FsBlobs::new(dir.path());
        assert!(read_all(&blobs, &"0".repeat(64)).await.is_none());
        assert!(read_all(&blobs, "../../etc/passwd").await.is_none());
        assert!(!is_hash(&"A".repeat(64)));
    }
}
