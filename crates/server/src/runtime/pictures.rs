//! Where pictures and journal photos are kept (`DATA/images/ID/`, through [`Files`]),
//! and the permits to decode them: decoding, resizing and encoding run on blocking
//! threads, at most one a core, so a burst of uploads cannot hold more decoded photos in
//! memory than there are cores.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use haurach_picture::{Kind, Limits};
use haurach_store::files::Files;
use haurach_store::{ImageId, ImageRecord};
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::error::ApiError;

/// Where pictures are kept and how many may be decoded at once.
#[derive(Debug)]
pub struct Pictures {
    /// The data directory.
    pub(crate) data: PathBuf,
    /// `DATA/images`.
    dir: PathBuf,
    /// Where the pictures themselves are kept (the data directory, or PostgreSQL for
    /// several nodes).
    pub(crate) files: Files,
    /// Permits to decode, resize or encode a picture. Each job holds up to a few hundred
    /// megabytes for a large photo, so they are capped at the number of cores.
    pub(crate) work: Arc<Semaphore>,
    /// What an upload may be.
    pub(crate) limits: Limits,
}

impl Pictures {
    /// Pictures under `data/images`, with the configured limits.
    pub fn new(data: &Path, max_megapixels: u32, files: Files) -> Pictures {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Pictures {
            data: data.to_owned(),
            dir: data.join("images"),
            files,
            work: Arc::new(Semaphore::new(cores)),
            limits: Limits {
                max_pixels: u64::from(max_megapixels) * 1_000_000,
            },
        }
    }

    /// The permits to decode, resize or encode a picture.
    pub fn work(&self) -> &Arc<Semaphore> {
        &self.work
    }

    /// The data directory the files are named under.
    pub(crate) fn data(&self) -> &Path {
        &self.data
    }

    pub(crate) fn image_dir(&self, id: ImageId) -> PathBuf {
        self.dir.join(id.0.to_string())
    }

    /// The stripped, full-size picture.
    pub(crate) fn full_path(&self, image: &ImageRecord) -> PathBuf {
        self.image_dir(image.id)
            .join(format!("full.{}", extension(&image.stripped_type)))
    }

    pub(crate) fn original_path(&self, image: &ImageRecord) -> PathBuf {
        self.image_dir(image.id)
            .join(format!("original.{}", extension(&image.original_type)))
    }

    pub(crate) fn rendition_path(&self, image: &ImageRecord, side: u32) -> PathBuf {
        self.image_dir(image.id)
            .join(format!("r{side}.{}", extension(&image.stripped_type)))
    }
}

pub(crate) fn extension(mime: &str) -> &'static str {
    Kind::from_mime(mime).map_or("bin", Kind::extension)
}

impl Pictures {
    /// The picture at `side` (its longest side), cut and cached on first request.
    pub(crate) async fn rendition(
        &self,
        image: &ImageRecord,
        side: u32,
    ) -> Result<Vec<u8>, ApiError> {
        let longest = image.width.max(image.height);
        let pictures = self;
        let full = pictures.full_path(image);
        let read_full = || async {
            pictures
                .files
                .get(&pictures.data, &full)
                .await
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError::internal("a stored picture's file is missing"))
        };
        if side >= longest {
            return read_full().await;
        }
        // Renditions are a cache on this node's disk, whichever store keeps the pictures.
        let path = pictures.rendition_path(image, side);
        match tokio::fs::read(&path).await {
            Ok(bytes) => return Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ApiError::internal(e)),
        }
        let stripped = read_full().await?;
        let _permit = pictures.work.acquire().await.map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ApiError> {
            let bytes = haurach_picture::render(&stripped, side).map_err(ApiError::internal)?;
            // A cache: it can be cut again, so it is not synced. The rename makes a
            // half-written file impossible to read.
            let tmp = path.with_extension(format!("{}.tmp", Uuid::now_v7()));
            std::fs::create_dir_all(path.parent().expect("a rendition has a directory"))
                .and_then(|()| std::fs::write(&tmp, &bytes))
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(ApiError::internal)?;
            Ok(bytes)
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// The problem for an image that is not in the caller's bond.
pub(crate) fn no_such_image() -> ApiError {
    ApiError::not_found("no_such_image", "there is no such image in your bond")
}
