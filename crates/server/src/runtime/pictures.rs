//! Where pictures and journal photos are kept (`DATA/images/ID/`, through [`Files`]),
//! and what decoding them may cost. Decoding, resizing and encoding run on blocking
//! threads, at most one a core, so a burst of uploads cannot hold more decoded photos in
//! memory than there are cores. Each citizen's uploads go one at a time through their
//! own lane, so one citizen cannot take every core from the others; each has a budget
//! of decoding time ([`BUDGET`] per [`BUDGET_WINDOW`]); and at most [`MAX_WAITING`]
//! uploads wait for a core, the rest are told to come back (hardening finding 8: 1.6 MB
//! of picture bombs cost 40 CPU-seconds and slowed another citizen's upload from 15 ms
//! to 1.9 s).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haurach_picture::{Accepted, Kind, Limits};
use haurach_store::files::Files;
use haurach_store::{AccountId, ImageId, ImageRecord};
use tokio::sync::{OwnedMutexGuard, Semaphore};
use tokio::time::Instant;
use uuid::Uuid;

use crate::error::{ApiError, StatusCode};

/// Decoding time one citizen may spend in a [`BUDGET_WINDOW`]: about thirty of the
/// largest photos accepted, or thousands of ordinary ones.
pub const BUDGET: Duration = Duration::from_secs(30);
/// The window the [`BUDGET`] is counted in.
pub const BUDGET_WINDOW: Duration = Duration::from_secs(300);
/// The most uploads waiting for a core at once; one more is answered 503.
pub const MAX_WAITING: usize = 64;

/// Decoding time spent by one citizen since `since`.
#[derive(Debug, Clone, Copy)]
struct Spent {
    used: Duration,
    since: Instant,
}

/// One citizen's turn at uploading a picture, held from the quota check to the store.
pub type Lane = OwnedMutexGuard<()>;

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
    /// Each citizen's lane: one upload at a time.
    lanes: Mutex<HashMap<AccountId, Arc<tokio::sync::Mutex<()>>>>,
    /// Decoding time spent per citizen in the current window.
    spent: Mutex<HashMap<AccountId, Spent>>,
    /// Uploads waiting for a core.
    waiting: AtomicUsize,
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
            lanes: Mutex::new(HashMap::new()),
            spent: Mutex::new(HashMap::new()),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Drops `account`'s lane and decoding budget (removed from the city).
    pub(crate) fn forget(&self, account: AccountId) {
        self.lanes.lock().expect("lanes lock").remove(&account);
        self.spent.lock().expect("spent lock").remove(&account);
    }

    /// Waits for `account`'s lane: their uploads go one at a time, quota check to store.
    pub async fn lane(&self, account: AccountId) -> Lane {
        let lane = {
            let mut lanes = self.lanes.lock().expect("lanes lock");
            if lanes.len() > 1_024 {
                lanes.retain(|_, lane| Arc::strong_count(lane) > 1);
            }
            lanes.entry(account).or_default().clone()
        };
        lane.lock_owned().await
    }

    /// Checks, decodes and strips an upload of `account`'s, within their decoding budget
    /// and a core's turn; the time it took is charged to them.
    pub async fn accept(
        &self,
        account: AccountId,
        bytes: bytes::Bytes,
    ) -> Result<Accepted, ApiError> {
        self.within_budget(account)?;
        let permit = {
            if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return Err(ApiError::unavailable(
                    "pictures_busy",
                    "the server is decoding as many pictures as it can: send it again in a moment",
                )
                .retry_after(5));
            }
            let permit = self.work.clone().acquire_owned().await;
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            permit.map_err(ApiError::internal)?
        };
        let limits = self.limits;
        let started = Instant::now();
        let accepted = tokio::task::spawn_blocking(move || haurach_picture::accept(&bytes, limits))
            .await
            .map_err(ApiError::internal)?;
        drop(permit);
        self.charge(account, started.elapsed());
        Ok(accepted?)
    }

    fn within_budget(&self, account: AccountId) -> Result<(), ApiError> {
        let now = Instant::now();
        let spent = self.spent.lock().expect("spent lock");
        let Some(s) = spent.get(&account) else {
            return Ok(());
        };
        let ends = s.since + BUDGET_WINDOW;
        if s.used < BUDGET || ends <= now {
            return Ok(());
        }
        let wait = (ends - now).as_secs() + 1;
        Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "picture_budget_spent",
            format!(
                "your pictures took {} s of decoding lately, the most this server gives one \
                 person in {} min: send more in {}",
                s.used.as_secs(),
                BUDGET_WINDOW.as_secs() / 60,
                haurach_proto::human::duration_ms(wait as i64 * 1000)
            ),
        )
        .retry_after(wait))
    }

    fn charge(&self, account: AccountId, took: Duration) {
        let now = Instant::now();
        let mut spent = self.spent.lock().expect("spent lock");
        if spent.len() > 10_000 {
            spent.retain(|_, s| s.since + BUDGET_WINDOW > now);
        }
        let s = spent.entry(account).or_insert(Spent {
            used: Duration::ZERO,
            since: now,
        });
        if s.since + BUDGET_WINDOW <= now {
            *s = Spent {
                used: Duration::ZERO,
                since: now,
            };
        }
        s.used += took;
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

    /// A private bond's picture at `side`, as the sender's device sealed it.
    pub(crate) fn sealed_path(&self, image: &ImageRecord, side: u32) -> PathBuf {
        self.image_dir(image.id).join(format!("s{side}.sealed"))
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
            use std::io::Write as _;
            let dir = path.parent().expect("a rendition has a directory");
            haurach_store::private::create_dir_all(dir)
                .and_then(|()| haurach_store::private::create(&tmp)?.write_all(&bytes))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pictures() -> Pictures {
        let dir = std::env::temp_dir();
        Pictures::new(&dir, 40, Files::Disk(dir.clone()))
    }

    /// Hardening finding 8: another citizen's upload slowed from 15 ms to 1.9 s behind a
    /// flood of picture bombs. One citizen's uploads queue in their own lane; someone
    /// else's do not wait behind them.
    #[tokio::test]
    async fn a_citizens_uploads_go_one_at_a_time_and_others_pass() {
        let p = pictures();
        let (flooder, other) = (AccountId(Uuid::now_v7()), AccountId(Uuid::now_v7()));
        let first = p.lane(flooder).await;
        let second = tokio::time::timeout(Duration::from_millis(50), p.lane(flooder)).await;
        assert!(
            second.is_err(),
            "the flooder's second upload waits for the first"
        );
        let theirs = tokio::time::timeout(Duration::from_millis(50), p.lane(other)).await;
        assert!(theirs.is_ok(), "someone else's upload does not wait");
        drop(first);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), p.lane(flooder))
                .await
                .is_ok()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn decoding_time_is_budgeted_per_citizen_and_comes_back() {
        let p = pictures();
        let (heavy, light) = (AccountId(Uuid::now_v7()), AccountId(Uuid::now_v7()));
        p.charge(heavy, BUDGET);
        let e = p
            .accept(heavy, bytes::Bytes::from_static(b"not even a picture"))
            .await
            .expect_err("budget spent");
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(e.retry_after_s().is_some());
        // Someone else is not held by it.
        let e = p
            .accept(light, bytes::Bytes::from_static(b"not even a picture"))
            .await
            .expect_err("not a picture");
        assert_eq!(e.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        tokio::time::advance(BUDGET_WINDOW).await;
        assert!(p.within_budget(heavy).is_ok());
    }
}
