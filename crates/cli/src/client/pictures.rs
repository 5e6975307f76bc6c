//! `send-image` and `picture`: pictures to and from the partner (made, sealed and
//! opened here in a private bond); `remember` and `memories`: the journals.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use haurach_proto::sealed::{MEMORY, MEMORY_PHOTO, PhotoContent};
use haurach_proto::sealed_pictures::{MEDIA_TYPE, PictureContent, sides_for, write_upload};
use haurach_proto::{ImageList, ImageView};
use reqwest::Method;

use super::api::Api;
use super::sealed::Sealing;

/// How many times an upload is tried while the network fails (the same id each time, so
/// it is stored once).
const SEND_ATTEMPTS: u32 = 4;

/// The media type of a picture file, from its first bytes (what the server checks too).
fn media_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The most pixels a picture sealed here may have: the server's default for a plain
/// bond's picture (`max_image_megapixels`).
const MAX_PIXELS: u64 = 40_000_000;

/// A picture's renditions for a private bond (`haurach_proto::sealed_pictures`), made
/// here: the picture stripped of its metadata, and re-encoded at every rung of the
/// ladder below its longest side.
pub fn renditions(id: &str, bytes: &[u8]) -> anyhow::Result<Vec<PictureContent>> {
    let accepted = haurach_picture::accept(
        bytes,
        haurach_picture::Limits {
            max_pixels: MAX_PIXELS,
        },
    )
    .context("this picture cannot be sent")?;
    let longest = accepted.longest_side();
    sides_for(longest)
        .into_iter()
        .map(|side| {
            let (bytes, width, height) = if side == longest {
                (accepted.stripped.clone(), accepted.width, accepted.height)
            } else {
                let bytes = haurach_picture::render(&accepted.stripped, side)?;
                let (width, height) = haurach_picture::dimensions(&bytes)
                    .context("a rendition made here cannot be read back")?;
                (bytes, width, height)
            };
            let media_type = media_type(&bytes).unwrap_or("application/octet-stream");
            Ok(PictureContent {
                id: id.to_owned(),
                side,
                width,
                height,
                media_type: media_type.to_owned(),
                bytes,
            })
        })
        .collect()
}

/// Uploads a picture; returns the stored image as the sender sees it. In a private bond
/// (`sealing`) its renditions are made and sealed here, and only they are sent.
pub async fn send(api: &Api, file: &Path, sealing: Option<&Sealing>) -> anyhow::Result<ImageView> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let id = uuid::Uuid::now_v7().to_string();
    let (path, content_type, bytes) = match sealing {
        Some(sealing) => {
            let sealed = sealing.seal_picture(&renditions(&id, &bytes)?)?;
            (
                format!("/api/v1/bond/images/sealed?id={id}"),
                MEDIA_TYPE,
                write_upload(&sealed),
            )
        }
        // The server decides; a wrong guess here only changes the header it ignores.
        None => (
            format!("/api/v1/bond/images?id={id}"),
            media_type(&bytes).unwrap_or("application/octet-stream"),
            bytes,
        ),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match api
            .bytes(Method::POST, &path, Some((content_type, bytes.clone())))
            .await
        {
            Ok((_, _, body)) => {
                return serde_json::from_slice(&body)
                    .context("the server's answer is not an image");
            }
            Err(e) if e.is_transient() && attempt < SEND_ATTEMPTS => {
                let wait = Duration::from_millis(200 << attempt.min(5));
                eprintln!("{e}; sending again in {} ms", wait.as_millis());
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The bond's images as the caller may see them now.
pub async fn list(api: &Api) -> anyhow::Result<ImageList> {
    Ok(api.get("/api/v1/bond/images").await?)
}

/// Saves an image's picture, at the size allowed (or `side` if smaller), to `out` (or
/// `ID.jpg` / `ID.png` in the current directory). Returns where, and the side. A private
/// bond's picture is opened here with `sealing` (`me` is this device's person) before
/// it is saved; one that does not open is not saved.
pub async fn fetch(
    api: &Api,
    me: &str,
    sealing: Option<&Sealing>,
    id: &str,
    side: Option<u32>,
    out: Option<PathBuf>,
) -> anyhow::Result<(PathBuf, u32)> {
    let mut path = format!("/api/v1/bond/images/{id}/picture");
    if let Some(side) = side {
        path.push_str(&format!("?side={side}"));
    }
    let (_, headers, mut bytes) = api.bytes(Method::GET, &path, None).await?;
    let got_side = headers
        .get("haurach-side")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let sealed = headers
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == MEDIA_TYPE.as_bytes());
    if sealed {
        // A private bond's picture: opened here, or nothing is saved.
        let image = list(api)
            .await?
            .images
            .into_iter()
            .find(|i| i.id.to_string() == id)
            .context("the picture is not in your bond's list")?;
        let Some(sealing) = sealing else {
            anyhow::bail!(
                "this picture was sealed in a private bond, and this device holds no key for \
                 it: nothing was saved"
            );
        };
        let mine = image.from.eq_ignore_ascii_case(me);
        match sealing.open_picture(mine, &image.client_id, got_side, &bytes) {
            Ok(content) => bytes = content.bytes,
            Err(e) => anyhow::bail!("the picture {e}: nothing was saved"),
        }
    }
    let extension = match media_type(&bytes) {
        Some("image/png") => "png",
        _ => "jpg",
    };
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{id}.{extension}")));
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    Ok((out, got_side))
}

/// One image as a line: who sent it, its id and how sharp it is.
pub fn line(me: &str, image: &ImageView) -> String {
    let who = if image.from.eq_ignore_ascii_case(me) {
        "you".to_owned()
    } else {
        image.from.clone()
    };
    let full = image.width.max(image.height);
    let sharpness = if image.side >= full {
        "full size".to_owned()
    } else {
        format!("{} px of {full} (sharper as you come closer)", image.side)
    };
    if image.sealed {
        // Its shape is sealed: the server knows only its longest side.
        return format!(
            "{}  from {who}, sealed, {full} px on its longest side: {sharpness}",
            image.id
        );
    }
    format!(
        "{}  from {who}, {} × {}: {sharpness}",
        image.id, image.width, image.height
    )
}

/// Writes words (or a photo, with the words as its caption) in the caller's journal;
/// in a private bond (`sealing`) they are sealed here first: the words, or the photo
/// stripped of its metadata with its caption (`haurach_proto::sealed::PhotoContent`).
pub async fn remember(
    api: &Api,
    text: Option<String>,
    photo: Option<&Path>,
    sealing: Option<&Sealing>,
) -> anyhow::Result<haurach_proto::MemoryView> {
    let id = uuid::Uuid::now_v7().to_string();
    if let (Some(file), Some(sealing)) = (photo, sealing) {
        // Stripped here and sealed with its caption: the server never sees either.
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let accepted = haurach_picture::accept(
            &bytes,
            haurach_picture::Limits {
                max_pixels: MAX_PIXELS,
            },
        )
        .context("this photo cannot be kept")?;
        let content = PhotoContent {
            id: id.clone(),
            caption: text,
            picture: accepted.stripped,
        };
        let sealed = sealing.seal_bytes(MEMORY_PHOTO, &content.encode())?;
        let (_, _, body) = api
            .bytes(
                Method::POST,
                &format!("/api/v1/me/memories/photos/sealed?id={id}"),
                Some(("application/octet-stream", sealed)),
            )
            .await?;
        let mut kept: haurach_proto::MemoryView =
            serde_json::from_slice(&body).context("the server's answer is not a memory")?;
        kept.body = content.caption;
        return Ok(kept);
    }
    match photo {
        Some(file) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let content_type = media_type(&bytes).unwrap_or("application/octet-stream");
            let mut path = format!("/api/v1/me/memories/photos?id={id}");
            if let Some(text) = &text {
                let caption: String = text
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect();
                path.push_str(&format!("&caption={caption}"));
            }
            let (_, _, body) = api
                .bytes(Method::POST, &path, Some((content_type, bytes)))
                .await?;
            serde_json::from_slice(&body).context("the server's answer is not a memory")
        }
        None => {
            let words = text.context("write something, or give --photo FILE")?;
            let entry = match sealing {
                Some(sealing) => haurach_proto::NewMemory {
                    id,
                    body: None,
                    sealed: Some(sealing.seal(MEMORY, words.as_bytes())?),
                },
                None => haurach_proto::NewMemory {
                    id,
                    body: Some(words),
                    sealed: None,
                },
            };
            let mut kept: haurach_proto::MemoryView =
                api.post("/api/v1/me/memories", &entry).await?;
            if let Some(sealing) = sealing {
                sealing.open_entry(true, &mut kept);
            }
            Ok(kept)
        }
    }
}

/// Fetches the photos of `list`'s entries: each sealed one is opened here (`sealing`;
/// `mine`: the caller's own journal), its caption put in `body`; with `save`, every photo
/// is written there as `ID.EXT`. Returns the files written.
pub async fn journal_photos(
    api: &Api,
    list: &mut haurach_proto::MemoryList,
    sealing: Option<&Sealing>,
    mine: bool,
    save: Option<&Path>,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for entry in &mut list.memories {
        let Some(path) = entry.photo.clone() else {
            continue;
        };
        if !entry.photo_sealed && save.is_none() {
            continue;
        }
        let (_, _, bytes) = api.bytes(Method::GET, &path, None).await?;
        let picture = if entry.photo_sealed {
            let opened = sealing
                .and_then(|s| s.open_bytes(mine, MEMORY_PHOTO, &bytes))
                .and_then(|content| PhotoContent::decode(&content))
                // One entry's photo passed off as another's does not open as this one.
                .filter(|content| content.id == entry.client_id);
            match opened {
                Some(content) => {
                    entry.body = content.caption;
                    content.picture
                }
                None => {
                    entry.body = Some(if sealing.is_some() {
                        UNOPENABLE_PHOTO.to_owned()
                    } else {
                        "(a sealed photo, and this device holds no key for it)".to_owned()
                    });
                    continue;
                }
            }
        } else {
            bytes
        };
        if let Some(dir) = save {
            let ext = match media_type(&picture) {
                Some("image/png") => "png",
                Some("image/webp") => "webp",
                _ => "jpg",
            };
            let file = dir.join(format!("{}.{ext}", entry.id));
            std::fs::write(&file, &picture)
                .with_context(|| format!("cannot write {}", file.display()))?;
            written.push(file);
        }
    }
    Ok(written)
}

/// What a sealed photo that does not open says in its entry.
const UNOPENABLE_PHOTO: &str = "(a sealed photo that does not open here: it was changed on the way, or sealed in another bond)";

/// A journal as lines.
pub fn journal(list: &haurach_proto::MemoryList, whose: &str) -> Vec<String> {
    let mut lines = vec![if list.open {
        "you are together: your journals are open to each other".to_owned()
    } else {
        "your journals open to each other when you are together (within 25 m)".to_owned()
    }];
    if list.memories.is_empty() {
        lines.push(format!("nothing in {whose} journal yet"));
    }
    for m in &list.memories {
        let what = match (&m.body, &m.photo) {
            (Some(body), Some(_)) => format!("[photo] {body}"),
            (Some(body), None) => body.clone(),
            (None, Some(_)) => "[photo]".to_owned(),
            (None, None) => String::new(),
        };
        let shared = if m.shared_at.is_some() {
            " (shared)"
        } else {
            ""
        };
        lines.push(format!("{}  {what}{shared}", m.created_at.date()));
    }
    lines
}
