//! Pictures sealed end to end in a private bond (issue 20, `docs/privacy.md`): what one
//! sealed rendition holds, how it travels, and the one request that carries all of a
//! picture's renditions to the server.
//!
//! The sender's device strips the picture of its metadata and makes a rendition at every
//! rung of [`LADDER`] below the picture's longest side, and the picture itself at its
//! longest side ([`sides_for`]); it seals each under kind [`PICTURE`]. What is sealed
//! ([`PictureContent`]) says which picture it is (the sender's id for it, the `?id=` of
//! the upload), the rendition's longest side, its width, height and media type, then the
//! encoded picture. So a server that hands out a small rung as a large one, or one
//! picture's rendition as another's, is caught when it is opened: the side or the id
//! inside is not the one the server claimed (`haurach-side`, the image's `client_id`).
//! The bond, the sender and the kind are bound in the associated data as for every sealed
//! thing (`haurach_private::seal`); all renditions of one picture share the sender's
//! counter, which travels in the clear in front of each.
//!
//! One sealed rendition, as stored and served: `counter (8 bytes, big-endian) ‖ nonce ‖
//! ciphertext ‖ tag`, raw bytes (the sealed string of `crate::sealed` without its
//! base64).
//!
//! The upload (`POST /api/v1/bond/images/sealed?id=CLIENT_ID`, media type
//! [`MEDIA_TYPE`]) is the renditions one after the other, smallest first, each as `side
//! (4 bytes, big-endian) ‖ length (4 bytes, big-endian) ‖ the sealed rendition`
//! ([`write_upload`], [`read_upload`]). The sides are exactly [`sides_for`] the last one;
//! the server checks only that shape, it cannot open them.

use haurach_bond::images::LADDER;
use haurach_private::seal::OVERHEAD;
use haurach_private::{Context, Role, Sealer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The kind bound into a sealed picture's renditions.
pub const PICTURE: &str = "picture";

/// The media type of a sealed upload's body and of a sealed rendition served.
pub const MEDIA_TYPE: &str = "application/vnd.haurach.sealed-picture";

/// The most renditions one upload carries: every rung of the ladder and the full size.
pub const MAX_RENDITIONS: usize = LADDER.len() + 1;

/// The counter's length in front of a sealed rendition.
const COUNTER_LEN: usize = 8;

/// The fewest bytes a sealed rendition has: its counter and an empty content sealed.
pub const MIN_SEALED: usize = COUNTER_LEN + OVERHEAD;

/// The longest a content's header may be, bytes (it is a few dozen).
const MAX_HEADER: usize = 1024;

/// The longest sides of the renditions a picture whose longest side is `longest` travels
/// as in a private bond, smallest first: each rung of [`LADDER`] below it, and `longest`
/// itself (the picture as sent). The server serves the largest of them that the bond's
/// strength allows (`haurach_bond::images::rendition_side`), as it would cut them for a
/// plain bond.
pub fn sides_for(longest: u32) -> Vec<u32> {
    let mut sides: Vec<u32> = LADDER.iter().copied().filter(|&r| r < longest).collect();
    sides.push(longest);
    sides
}

/// What a sealed rendition holds once opened (kind [`PICTURE`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PictureContent {
    /// Which picture: the sender's id for it (the upload's `?id=`).
    pub id: String,
    /// The rendition's longest side, pixels: a rung of the ladder, or the picture's own.
    pub side: u32,
    /// The rendition's width, pixels.
    pub width: u32,
    /// The rendition's height, pixels.
    pub height: u32,
    /// Its media type: `image/jpeg`, `image/png` or `image/webp`.
    pub media_type: String,
    /// The encoded picture, without metadata.
    pub bytes: Vec<u8>,
}

/// A content's header, as JSON.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    id: String,
    side: u32,
    width: u32,
    height: u32,
    #[serde(rename = "type")]
    media_type: String,
}

impl PictureContent {
    /// The bytes sealed: the header's length (2 bytes, big-endian), the header as JSON
    /// (`{"id":…,"side":…,"width":…,"height":…,"type":…}`), then the picture.
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&Header {
            id: self.id.clone(),
            side: self.side,
            width: self.width,
            height: self.height,
            media_type: self.media_type.clone(),
        })
        .expect("a header is plain JSON");
        let len = u16::try_from(header.len()).expect("an id is at most 64 characters");
        let mut out = Vec::with_capacity(2 + header.len() + self.bytes.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.bytes);
        out
    }

    /// A sealed rendition's content read back; `None` when it is not one.
    pub fn from_bytes(content: &[u8]) -> Option<PictureContent> {
        let len = usize::from(u16::from_be_bytes(content.get(..2)?.try_into().ok()?));
        if len > MAX_HEADER {
            return None;
        }
        let header: Header = serde_json::from_slice(content.get(2..2 + len)?).ok()?;
        Some(PictureContent {
            id: header.id,
            side: header.side,
            width: header.width,
            height: header.height,
            media_type: header.media_type,
            bytes: content[2 + len..].to_vec(),
        })
    }
}

/// Seals `content` as one rendition of the sender's `counter`-th sealed thing, in `bond`,
/// from `from`: the bytes to upload and store.
pub fn seal(
    sealer: &Sealer,
    bond: Uuid,
    from: Role,
    counter: u64,
    content: &PictureContent,
) -> Result<Vec<u8>, haurach_private::Error> {
    let context = Context {
        bond_id: *bond.as_bytes(),
        from,
        kind: PICTURE,
        counter,
    };
    let sealed = sealer.seal(&context, &content.to_bytes())?;
    let mut out = Vec::with_capacity(COUNTER_LEN + sealed.len());
    out.extend_from_slice(&counter.to_be_bytes());
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Why a sealed rendition was not opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// It does not open under the bond's key for this sender, or is not a rendition: it
    /// was changed on the way, or sealed in another bond.
    Unopenable,
    /// It opens, but is another picture's, or smaller than the server said: the server
    /// passed something else off as it.
    NotThisPicture,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OpenError::Unopenable => "it does not open: it was changed on the way",
            OpenError::NotThisPicture => {
                "it opens, but is not the picture asked for: it was changed on the way"
            }
        })
    }
}

impl std::error::Error for OpenError {}

/// Opens a sealed rendition of picture `id` that the server said is `side` pixels on its
/// longest side, sealed in `bond` by `from`.
pub fn open(
    sealer: &Sealer,
    bond: Uuid,
    from: Role,
    id: &str,
    side: u32,
    sealed: &[u8],
) -> Result<PictureContent, OpenError> {
    if sealed.len() < MIN_SEALED {
        return Err(OpenError::Unopenable);
    }
    let (counter, bytes) = sealed.split_at(COUNTER_LEN);
    let context = Context {
        bond_id: *bond.as_bytes(),
        from,
        kind: PICTURE,
        counter: u64::from_be_bytes(counter.try_into().expect("split at 8")),
    };
    let content = sealer
        .open(&context, bytes)
        .map_err(|_| OpenError::Unopenable)?;
    let content = PictureContent::from_bytes(&content).ok_or(OpenError::Unopenable)?;
    if content.id != id || content.side != side {
        return Err(OpenError::NotThisPicture);
    }
    Ok(content)
}

/// The body of a sealed upload: each `(side, sealed rendition)`, smallest first.
pub fn write_upload(renditions: &[(u32, Vec<u8>)]) -> Vec<u8> {
    let total = renditions.iter().map(|(_, r)| 8 + r.len()).sum();
    let mut out = Vec::with_capacity(total);
    for (side, sealed) in renditions {
        let len = u32::try_from(sealed.len()).expect("a rendition is under 4 GiB");
        out.extend_from_slice(&side.to_be_bytes());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(sealed);
    }
    out
}

/// Why a sealed upload's body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadUpload {
    /// It ends inside a rendition's side, length or bytes.
    Truncated,
    /// More than [`MAX_RENDITIONS`].
    TooMany,
    /// A rendition shorter than a counter, a nonce and a tag.
    TooShort,
    /// The sides are not [`sides_for`] the largest of them.
    WrongSides,
    /// The picture's own rendition is larger than a picture may be.
    TooLarge,
}

impl std::fmt::Display for BadUpload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BadUpload::Truncated => "the body ends inside a rendition",
            BadUpload::TooMany => "a sealed picture has at most 13 renditions",
            BadUpload::TooShort => {
                "a sealed rendition is too short to hold a counter, a nonce and a tag"
            }
            BadUpload::WrongSides => {
                "the sides must be every rung of the ladder (64, 96, 128, 192, 256, 384, 512, \
                 768, 1024, 1536, 2048, 3072) below the picture's longest side, then that \
                 side, smallest first"
            }
            BadUpload::TooLarge => "the picture's own rendition is larger than a picture may be",
        })
    }
}

impl std::error::Error for BadUpload {}

/// Reads a sealed upload's body (the server's check: it cannot open the renditions): each
/// `(side, sealed rendition)`, smallest first, the full size's at most `max_full` bytes.
pub fn read_upload(mut body: &[u8], max_full: usize) -> Result<Vec<(u32, Vec<u8>)>, BadUpload> {
    let mut out: Vec<(u32, Vec<u8>)> = Vec::new();
    while !body.is_empty() {
        if out.len() == MAX_RENDITIONS {
            return Err(BadUpload::TooMany);
        }
        let side = u32::from_be_bytes(
            body.get(..4)
                .ok_or(BadUpload::Truncated)?
                .try_into()
                .expect("4 bytes"),
        );
        let len = u32::from_be_bytes(
            body.get(4..8)
                .ok_or(BadUpload::Truncated)?
                .try_into()
                .expect("4 bytes"),
        ) as usize;
        let sealed = body.get(8..8 + len).ok_or(BadUpload::Truncated)?;
        if len < MIN_SEALED {
            return Err(BadUpload::TooShort);
        }
        out.push((side, sealed.to_vec()));
        body = &body[8 + len..];
    }
    let Some((longest, full)) = out.last() else {
        return Err(BadUpload::Truncated);
    };
    let sides: Vec<u32> = out.iter().map(|(side, _)| *side).collect();
    if *longest == 0 || sides != sides_for(*longest) {
        return Err(BadUpload::WrongSides);
    }
    if full.len() > max_full + MIN_SEALED + MAX_HEADER {
        return Err(BadUpload::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use haurach_private::{BondKey, DeviceSecret, InviteSecret};

    fn sealers() -> (Sealer, Sealer) {
        let (a, b) = (DeviceSecret::generate(), DeviceSecret::generate());
        let invite = InviteSecret::generate();
        (
            Sealer::new(&BondKey::derive(Role::Inviter, &a, &b.public(), &invite).unwrap()),
            Sealer::new(&BondKey::derive(Role::Accepter, &b, &a.public(), &invite).unwrap()),
        )
    }

    fn content(id: &str, side: u32) -> PictureContent {
        PictureContent {
            id: id.into(),
            side,
            width: side,
            height: side * 3 / 4,
            media_type: "image/jpeg".into(),
            bytes: vec![0xFF, 0xD8, 0xFF, 7, 7, 7],
        }
    }

    #[test]
    fn a_picture_travels_at_every_rung_below_its_side_and_its_own() {
        assert_eq!(sides_for(40), vec![40]);
        assert_eq!(sides_for(64), vec![64]);
        assert_eq!(sides_for(100), vec![64, 96, 100]);
        assert_eq!(sides_for(4032).len(), MAX_RENDITIONS);
        assert_eq!(sides_for(3072).len(), MAX_RENDITIONS - 1);
    }

    #[test]
    fn the_partner_opens_a_rendition_and_catches_a_swap() {
        let (hers, his) = sealers();
        let bond = Uuid::from_u128(5);
        let sealed_64 = seal(&hers, bond, Role::Inviter, 9, &content("sky", 64)).unwrap();
        let sealed_96 = seal(&hers, bond, Role::Inviter, 9, &content("sky", 96)).unwrap();
        let other = seal(&hers, bond, Role::Inviter, 10, &content("sea", 96)).unwrap();
        assert_eq!(
            open(&his, bond, Role::Inviter, "sky", 96, &sealed_96),
            Ok(content("sky", 96))
        );
        // A small rung passed off as a larger one, another picture's rendition.
        assert_eq!(
            open(&his, bond, Role::Inviter, "sky", 96, &sealed_64),
            Err(OpenError::NotThisPicture)
        );
        assert_eq!(
            open(&his, bond, Role::Inviter, "sky", 96, &other),
            Err(OpenError::NotThisPicture)
        );
        // Another bond, sender, or a changed byte.
        assert_eq!(
            open(
                &his,
                Uuid::from_u128(6),
                Role::Inviter,
                "sky",
                96,
                &sealed_96
            ),
            Err(OpenError::Unopenable)
        );
        assert_eq!(
            open(&his, bond, Role::Accepter, "sky", 96, &sealed_96),
            Err(OpenError::Unopenable)
        );
        let mut bad = sealed_96.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            open(&his, bond, Role::Inviter, "sky", 96, &bad),
            Err(OpenError::Unopenable)
        );
        assert!(!sealed_96.windows(3).any(|w| w == b"sky"));
    }

    #[test]
    fn an_upload_reads_back_and_has_bounds() {
        let renditions: Vec<(u32, Vec<u8>)> = sides_for(100)
            .into_iter()
            .map(|s| (s, vec![s as u8; MIN_SEALED + 3]))
            .collect();
        let body = write_upload(&renditions);
        assert_eq!(read_upload(&body, 1_000), Ok(renditions.clone()));
        assert_eq!(
            read_upload(&body[..body.len() - 1], 1_000),
            Err(BadUpload::Truncated)
        );
        assert_eq!(read_upload(&[], 1_000), Err(BadUpload::Truncated));
        // A rung left out, a side made up, sides out of order.
        for sides in [vec![96, 100], vec![64, 97, 100], vec![96, 64, 100], vec![0]] {
            let r: Vec<_> = sides.iter().map(|&s| (s, vec![1; MIN_SEALED])).collect();
            assert_eq!(
                read_upload(&write_upload(&r), 1_000),
                Err(BadUpload::WrongSides),
                "{sides:?}"
            );
        }
        let short = write_upload(&[(40, vec![1; MIN_SEALED - 1])]);
        assert_eq!(read_upload(&short, 1_000), Err(BadUpload::TooShort));
        let many: Vec<_> = (0..=MAX_RENDITIONS as u32)
            .map(|s| (s, vec![1; MIN_SEALED]))
            .collect();
        assert_eq!(
            read_upload(&write_upload(&many), 1_000),
            Err(BadUpload::TooMany)
        );
        let large = write_upload(&[(40, vec![1; 5_000])]);
        assert_eq!(read_upload(&large, 1_000), Err(BadUpload::TooLarge));
    }
}
