//! Content sealed end to end in a private bond (issue 20, `docs/privacy.md`): how a
//! sealed message, thought or position travels, and the helpers both clients use to seal
//! and open it with [`haurach_private::Sealer`].
//!
//! On the wire a sealed content is one string, `sealed`: base64url without padding
//! (RFC 4648 §5) of the sender's counter (8 bytes, big-endian) followed by what
//! [`Sealer::seal`] gives (`nonce ‖ ciphertext ‖ tag`). The counter travels in the clear
//! because the receiver needs it to open the content (it is in the associated data); the
//! server learns from it how many things the sender sealed, which it can count anyway.
//! The kind (`voice`, `feeling`, `alarm`, `place`, `meeting`, `thought`, `position`,
//! `memory`, `glimpse`, `sight`) is not in the string:
//! it is the field beside it that the server reads to gate the content by its tier, and
//! it is bound into the associated data, so a server that changes it makes the content
//! unopenable.
//!
//! Camera frames are binary, so a sealed one is the same bytes without the base64: a
//! leading byte that says what it is ([`GLIMPSE_FRAME`], [`SIGHT_FRAME`]), then the
//! counter and `nonce ‖ ciphertext ‖ tag` ([`Envelope::seal_frame`]); the JPEG is the
//! content, of kind [`GLIMPSE`] or [`SIGHT`]. A journal photo is sealed the same way
//! (kind [`MEMORY_PHOTO`], a [`PhotoContent`]) and uploaded as those bytes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use haurach_private::rounding::{PartnerFix, Shared};
use haurach_private::seal::OVERHEAD;
use haurach_private::{Context, Role, Sealer};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The most bytes of content one sealed string may carry: 4,000 characters of words
/// (a message's limit) of up to 4 bytes each in UTF-8.
pub const MAX_CONTENT: usize = 16_000;

/// The counter's length in front of the sealed bytes.
const COUNTER_LEN: usize = 8;

/// The fewest bytes a sealed string decodes to: the counter and an empty content sealed.
pub const MIN_BYTES: usize = COUNTER_LEN + OVERHEAD;

/// The most bytes a sealed string decodes to.
pub const MAX_BYTES: usize = COUNTER_LEN + OVERHEAD + MAX_CONTENT;

/// The shortest a sealed string may be, characters (base64url of [`MIN_BYTES`]).
pub const MIN_CHARS: usize = (MIN_BYTES * 4).div_ceil(3);

/// The longest a sealed string may be, characters (base64url of [`MAX_BYTES`]).
pub const MAX_CHARS: usize = (MAX_BYTES * 4).div_ceil(3);

/// The pattern of a sealed string (the OpenAPI document's): canonical base64url without
/// padding, as [`Sealed::decode`] reads it. A last group of two or three characters must
/// leave its unused low bits zero, so its last character is one of those listed (a
/// client that writes `AB` where `AA` is meant would otherwise be told the schema allows
/// it and then be refused).
pub const PATTERN: &str =
    "^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw]|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048])?$";

/// The kind bound into a sealed thought.
pub const THOUGHT: &str = "thought";

/// The kind bound into a sealed position.
pub const POSITION: &str = "position";

/// The kind bound into a sealed journal entry.
pub const MEMORY: &str = "memory";

/// The kind bound into a sealed glimpse.
pub const GLIMPSE: &str = "glimpse";

/// The kind bound into a sealed frame of the live sight.
pub const SIGHT: &str = "sight";

/// The kind bound into a sealed stroke drawn over a picture, a glimpse or the sight: a
/// [`crate::link::Trace`] as JSON.
pub const TRACE: &str = "trace";

/// The kind bound into a sealed journal photo: a [`PhotoContent`].
pub const MEMORY_PHOTO: &str = "memory-photo";

/// The type a sealed journal photo is kept and served as (its bytes as
/// [`Envelope::seal_frame`] makes them, kind [`MEMORY_PHOTO`]).
pub const PHOTO_MEDIA_TYPE: &str = "application/vnd.haurach.sealed-photo";

/// What a sealed journal photo holds: the entry's id as its author's device named it (so a
/// server cannot pass one entry's photo off as another's), the caption, and the picture,
/// stripped of its metadata on the device. Encoded as the header's length (4 bytes,
/// big-endian), the header as JSON (`{"id": …, "caption": …}`), then the picture's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoContent {
    /// The entry's id (`?id=` of the upload).
    pub id: String,
    /// The caption, if any.
    pub caption: Option<String>,
    /// The picture (a JPEG, PNG or WebP without metadata).
    pub picture: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct PhotoHeader {
    id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    caption: Option<String>,
}

impl PhotoContent {
    /// The bytes to seal.
    pub fn encode(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&PhotoHeader {
            id: self.id.clone(),
            caption: self.caption.clone(),
        })
        .expect("a header serialises");
        let mut out = Vec::with_capacity(4 + header.len() + self.picture.len());
        out.extend_from_slice(&(header.len() as u32).to_be_bytes());
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.picture);
        out
    }

    /// Reads opened bytes back; `None` when they are not a photo's content.
    pub fn decode(bytes: &[u8]) -> Option<PhotoContent> {
        let len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let header: PhotoHeader = serde_json::from_slice(bytes.get(4..4 + len)?).ok()?;
        Some(PhotoContent {
            id: header.id,
            caption: header.caption,
            picture: bytes[4 + len..].to_vec(),
        })
    }
}

/// First byte of a sealed glimpse on the link (a plain bond's glimpse is `0x01`). From a
/// client: this byte, the counter, `nonce ‖ ciphertext ‖ tag`; to the asker the server
/// puts the glimpse's id (16 bytes) after this byte.
pub const GLIMPSE_FRAME: u8 = 0x03;

/// First byte of a sealed frame of the live sight (a plain bond's is `0x02`), then the
/// counter and `nonce ‖ ciphertext ‖ tag`, passed on untouched.
pub const SIGHT_FRAME: u8 = 0x04;

/// The bytes sealing adds to a camera frame's JPEG: the counter, the nonce and the tag.
pub const FRAME_OVERHEAD: usize = COUNTER_LEN + OVERHEAD;

/// The most bytes of content a sealed position may carry: its JSON ([`FixContent`]) is
/// under 120 bytes.
pub const MAX_FIX_CONTENT: usize = 256;

/// The longest a sealed position's string may be, characters.
pub const MAX_FIX_CHARS: usize = ((COUNTER_LEN + OVERHEAD + MAX_FIX_CONTENT) * 4).div_ceil(3);

/// What a sealed position holds once opened (kind [`POSITION`]): the point the sender
/// lets the partner have and how far from it the sender may be
/// (`haurach_private::rounding`). Exact within sight range (the fix, and its accuracy as
/// the reach); beyond it, the centre of the sender's cell and the cell's reach. With the
/// fix that made it, the sender's device may have seen its own position jump
/// implausibly fast: the bond's stretch, which the server of a private bond cannot see.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FixContent {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// How far from the point the sender may be, metres.
    pub reach_m: f64,
    /// Whether it is the sender's exact fix (sight was open when it was sealed).
    pub exact: bool,
    /// The stretch the sender's device saw from its previous fix to this one, if any.
    /// Absent otherwise; a reader that knows no stretch ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stretch: Option<StretchContent>,
}

/// A stretch as the mover's device seals it inside its position
/// (`haurach_bond::StretchDetector` over its own fixes, at the city's `max_speed_kmh`):
/// how far it jumped, to two significant figures, and over how long.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StretchContent {
    /// How far the position jumped beyond both fixes' accuracies, metres, to two
    /// significant figures.
    pub jump_m: f64,
    /// Over how long, milliseconds.
    pub over_ms: i64,
}

impl StretchContent {
    /// What a device seals of a stretch it saw: the jump to two significant figures (the
    /// precision of the coarse pull's distance; the partner is told no finer a distance
    /// than a sentence shows).
    pub fn of(stretch: &haurach_bond::Stretch) -> StretchContent {
        StretchContent {
            jump_m: two_figures(stretch.jump_m),
            over_ms: stretch.over_ms.max(1),
        }
    }

    /// The implied speed, km/h.
    pub fn speed_kmh(&self) -> f64 {
        self.jump_m / self.over_ms.max(1) as f64 * 3_600.0
    }
}

/// `x` to two significant figures.
fn two_figures(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 0.0;
    }
    let step = 10f64.powi(x.log10().floor() as i32 - 1);
    (x / step).round() * step
}

impl FixContent {
    /// What a sender seals of a rounded fix.
    pub fn of(shared: &Shared) -> FixContent {
        let (lat, lon) = shared.point();
        FixContent {
            lat,
            lon,
            reach_m: shared.reach_m(),
            exact: shared.is_exact(),
            stretch: None,
        }
    }

    /// Its JSON, as serde_json writes it.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a sealed position is plain JSON")
    }

    /// The bytes sealed: its JSON padded with spaces to [`MAX_FIX_CONTENT`], so every
    /// sealed position is as long as every other and its length tells the server nothing
    /// (not whether it carries a stretch, nor whether it is exact). JSON readers skip the
    /// trailing spaces.
    pub fn sealed_bytes(&self) -> Vec<u8> {
        pad_fix(self.to_bytes())
    }

    /// A sealed position's content read back; `None` when it is not one, or not a place
    /// on Earth with a reach.
    pub fn from_bytes(bytes: &[u8]) -> Option<FixContent> {
        let content: FixContent = serde_json::from_slice(bytes).ok()?;
        let usable = haurach_bond::geo::valid_coordinates(content.lat, content.lon)
            && content.reach_m.is_finite()
            && content.reach_m >= 0.0
            && content
                .stretch
                .is_none_or(|s| s.jump_m.is_finite() && s.jump_m >= 0.0 && s.over_ms > 0);
        usable.then_some(content)
    }

    /// The partner's position as the rounding rule takes it.
    pub fn partner(&self) -> PartnerFix {
        PartnerFix {
            lat: self.lat,
            lon: self.lon,
            reach_m: self.reach_m,
        }
    }
}

/// A position's JSON padded with spaces to [`MAX_FIX_CONTENT`] bytes (left as it is if it
/// is longer, which no [`FixContent`] is).
pub fn pad_fix(mut json: Vec<u8>) -> Vec<u8> {
    if json.len() < MAX_FIX_CONTENT {
        json.resize(MAX_FIX_CONTENT, b' ');
    }
    json
}

/// Checks a sealed position's string: its shape, and no longer than [`MAX_FIX_CHARS`].
pub fn check_fix(text: &str) -> Result<Sealed, Malformed> {
    if text.len() > MAX_FIX_CHARS {
        return Err(Malformed::TooLongForAFix);
    }
    Sealed::decode(text)
}

/// What a sealed `place` message holds once opened: a place's news, judged on its
/// owner's device by `haurach_bond::place` on each of its own fixes. The place's centre
/// is in it only when sight was open as it was sealed (the plain bond shows a partner's
/// place only within sight range); beyond it, nothing of where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlaceContent {
    /// The place's name, as its owner named it.
    pub place: String,
    /// Arrived or left.
    pub event: crate::PlaceEvent,
    /// When the fix that decided it was taken.
    #[serde(with = "time::serde::rfc3339")]
    pub at: time::OffsetDateTime,
    /// The place's centre, only when sight was open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<crate::LatLon>,
}

/// The size a place's news and a meeting point are padded to before sealing (with spaces
/// after the JSON, which reading skips), so their sealed length tells the server nothing:
/// not the place's name, not whether a centre is in it, not a pin from an unpin. Every
/// one fits: a name of 64 characters of 4 bytes and everything else are under 400 bytes.
pub const PLACE_PADDED: usize = 512;

/// `json` followed by spaces up to a multiple of [`PLACE_PADDED`].
fn padded(mut json: Vec<u8>) -> Vec<u8> {
    let len = json.len().div_ceil(PLACE_PADDED).max(1) * PLACE_PADDED;
    json.resize(len, b' ');
    json
}

impl PlaceContent {
    /// The bytes sealed: its JSON, padded to [`PLACE_PADDED`].
    pub fn to_bytes(&self) -> Vec<u8> {
        padded(serde_json::to_vec(self).expect("a place's news is plain JSON"))
    }

    /// Opened bytes read back; `None` when they are not a place's news (a name of 1 to
    /// 64 characters, a centre on Earth if any).
    pub fn from_bytes(bytes: &[u8]) -> Option<PlaceContent> {
        let content: PlaceContent = serde_json::from_slice(bytes).ok()?;
        let named = (1..=64).contains(&content.place.chars().count());
        let placed = content
            .position
            .is_none_or(|p| haurach_bond::geo::valid_coordinates(p.lat, p.lon));
        (named && placed).then_some(content)
    }
}

/// What a sealed `meeting` message holds once opened: the meeting point pinned (a point,
/// with the name of the place or a label), unpinned, or reached by the partner who sealed
/// it. Each device works out its own way to a pinned point from its own fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "lowercase")]
pub enum MeetingContent {
    /// Pinned to this point.
    Pinned {
        /// Latitude, degrees.
        lat: f64,
        /// Longitude, degrees.
        lon: f64,
        /// The pinned place's name or the pin's label.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// Unpinned: no meeting point (a private bond has no fair suggestion: working one out
    /// needs both positions, which only a sealed exchange within sight would give).
    Unpinned,
    /// The sender reached the pinned point.
    Reached,
}

impl MeetingContent {
    /// The bytes sealed: its JSON, padded to [`PLACE_PADDED`].
    pub fn to_bytes(&self) -> Vec<u8> {
        padded(serde_json::to_vec(self).expect("a meeting point is plain JSON"))
    }

    /// Opened bytes read back; `None` when they are not a meeting point's news.
    pub fn from_bytes(bytes: &[u8]) -> Option<MeetingContent> {
        let content: MeetingContent = serde_json::from_slice(bytes).ok()?;
        match &content {
            MeetingContent::Pinned { lat, lon, name } => {
                let usable = haurach_bond::geo::valid_coordinates(*lat, *lon)
                    && name
                        .as_ref()
                        .is_none_or(|n| (1..=64).contains(&n.chars().count()));
                usable.then_some(content)
            }
            _ => Some(content),
        }
    }
}

/// A sealed string that is not one: why, for the problem the server answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Not base64url without padding.
    NotBase64Url,
    /// Too short to hold a counter, a nonce and a tag.
    TooShort,
    /// Longer than [`MAX_CHARS`].
    TooLong,
    /// A sealed position longer than [`MAX_FIX_CHARS`].
    TooLongForAFix,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Malformed::NotBase64Url => {
                f.write_str("sealed content must be base64url without padding")
            }
            Malformed::TooShort => {
                f.write_str("sealed content is too short to hold a counter, a nonce and a tag")
            }
            Malformed::TooLong => write!(
                f,
                "sealed content is at most {MAX_CHARS} characters (16,000 bytes sealed)"
            ),
            Malformed::TooLongForAFix => write!(
                f,
                "a sealed position is at most {MAX_FIX_CHARS} characters ({MAX_FIX_CONTENT} bytes sealed)"
            ),
        }
    }
}

impl std::error::Error for Malformed {}

/// A sealed content read from its string: the sender's counter and the sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The sender's own counter, bound into the associated data.
    pub counter: u64,
    /// `nonce ‖ ciphertext ‖ tag`.
    pub bytes: Vec<u8>,
}

impl Sealed {
    /// The string that carries it.
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(COUNTER_LEN + self.bytes.len());
        raw.extend_from_slice(&self.counter.to_be_bytes());
        raw.extend_from_slice(&self.bytes);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Reads a sealed string, checking only its shape (the server's check: it cannot
    /// open it).
    pub fn decode(text: &str) -> Result<Sealed, Malformed> {
        if text.len() > MAX_CHARS {
            return Err(Malformed::TooLong);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| Malformed::NotBase64Url)?;
        if raw.len() < MIN_BYTES {
            return Err(Malformed::TooShort);
        }
        let (counter, bytes) = raw.split_at(COUNTER_LEN);
        Ok(Sealed {
            counter: u64::from_be_bytes(counter.try_into().expect("split at 8")),
            bytes: bytes.to_vec(),
        })
    }
}

/// Who sealed, in which bond, and what: everything but the counter that a sealed
/// content's associated data binds.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    /// The bond's id.
    pub bond: Uuid,
    /// Who seals (or sealed, to open).
    pub from: Role,
    /// What it is: a message's kind key, [`THOUGHT`] or [`POSITION`].
    pub kind: &'a str,
}

impl Envelope<'_> {
    fn context(&self, counter: u64) -> Context<'_> {
        Context {
            bond_id: *self.bond.as_bytes(),
            from: self.from,
            kind: self.kind,
            counter,
        }
    }

    /// Seals `content` as the sender's `counter`-th sealed thing; the string to send.
    pub fn seal(
        &self,
        sealer: &Sealer,
        counter: u64,
        content: &[u8],
    ) -> Result<String, haurach_private::Error> {
        if content.len() > MAX_CONTENT {
            return Err(haurach_private::Error::TooLong);
        }
        let bytes = sealer.seal(&self.context(counter), content)?;
        Ok(Sealed { counter, bytes }.encode())
    }

    /// Opens a sealed string the partner sent: its counter and content. Fails, saying
    /// nothing more, when it is malformed or does not open under this envelope.
    pub fn open(
        &self,
        sealer: &Sealer,
        text: &str,
    ) -> Result<(u64, Vec<u8>), haurach_private::Error> {
        let sealed = Sealed::decode(text).map_err(|_| haurach_private::Error::Unopenable)?;
        let content = sealer.open(&self.context(sealed.counter), &sealed.bytes)?;
        Ok((sealed.counter, content))
    }

    /// Seals a camera frame's `content` (its JPEG) as the sender's `counter`-th sealed
    /// thing: `counter (8 bytes, big-endian) ‖ nonce ‖ ciphertext ‖ tag`, the bytes that
    /// follow the frame's leading byte. Not bounded here: the server bounds a frame by the
    /// side the bond allows (`haurach_bond::images::jpeg_bytes_bound`).
    pub fn seal_frame(
        &self,
        sealer: &Sealer,
        counter: u64,
        content: &[u8],
    ) -> Result<Vec<u8>, haurach_private::Error> {
        let sealed = sealer.seal(&self.context(counter), content)?;
        let mut out = Vec::with_capacity(COUNTER_LEN + sealed.len());
        out.extend_from_slice(&counter.to_be_bytes());
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens a sealed camera frame's bytes (after its leading byte, and after the id in a
    /// glimpse the server passes on): its counter and content. Fails, saying nothing
    /// more, when it is too short or does not open under this envelope.
    pub fn open_frame(
        &self,
        sealer: &Sealer,
        bytes: &[u8],
    ) -> Result<(u64, Vec<u8>), haurach_private::Error> {
        if bytes.len() < FRAME_OVERHEAD {
            return Err(haurach_private::Error::Unopenable);
        }
        let (counter, sealed) = bytes.split_at(COUNTER_LEN);
        let counter = u64::from_be_bytes(counter.try_into().expect("split at 8"));
        let content = sealer.open(&self.context(counter), sealed)?;
        Ok((counter, content))
    }
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

    #[test]
    fn the_partner_opens_a_sealed_string_and_the_server_reads_only_its_shape() {
        let (hers, his) = sealers();
        let envelope = Envelope {
            bond: Uuid::from_u128(7),
            from: Role::Inviter,
            kind: "voice",
        };
        let text = envelope.seal(&hers, 41, "I HEARD that".as_bytes()).unwrap();
        assert!(!text.contains("HEARD"));
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(Sealed::decode(&text).unwrap().counter, 41);
        assert_eq!(
            envelope.open(&his, &text).unwrap(),
            (41, b"I HEARD that".to_vec())
        );
        // Another kind, sender or bond does not open.
        for other in [
            Envelope {
                kind: "feeling",
                ..envelope
            },
            Envelope {
                from: Role::Accepter,
                ..envelope
            },
            Envelope {
                bond: Uuid::from_u128(8),
                ..envelope
            },
        ] {
            assert!(other.open(&his, &text).is_err());
        }
    }

    #[test]
    fn a_sealed_camera_frame_opens_only_as_what_it_was_sealed_as() {
        let (hers, his) = sealers();
        let envelope = Envelope {
            bond: Uuid::from_u128(5),
            from: Role::Accepter,
            kind: SIGHT,
        };
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3, 4];
        let frame = envelope.seal_frame(&hers, 300, &jpeg).unwrap();
        assert_eq!(frame.len(), jpeg.len() + FRAME_OVERHEAD);
        assert_eq!(&frame[..8], &300u64.to_be_bytes());
        assert!(!frame.windows(3).any(|w| w == [0xFF, 0xD8, 0xFF]));
        assert_eq!(
            envelope.open_frame(&his, &frame).unwrap(),
            (300, jpeg.to_vec())
        );
        // A glimpse is not a sight frame; a changed byte or counter does not open.
        let glimpse = Envelope {
            kind: GLIMPSE,
            ..envelope
        };
        assert!(glimpse.open_frame(&his, &frame).is_err());
        let mut bad = frame.clone();
        bad[7] ^= 1;
        assert!(envelope.open_frame(&his, &bad).is_err());
        assert!(
            envelope
                .open_frame(&his, &frame[..FRAME_OVERHEAD - 1])
                .is_err()
        );
    }

    #[test]
    fn a_sealed_position_fits_its_bound_and_reads_back() {
        let (hers, his) = sealers();
        let envelope = Envelope {
            bond: Uuid::from_u128(9),
            from: Role::Inviter,
            kind: POSITION,
        };
        // The longest a position's JSON gets: every number at full precision, and a
        // stretch whose numbers are as long as they can be.
        let content = FixContent {
            lat: -89.123_456_789_012_34,
            lon: -179.123_456_789_012_34,
            reach_m: 12_345_678.123_456_79,
            exact: false,
            stretch: Some(StretchContent {
                jump_m: 1.234_567_890_123_456_7e-300,
                over_ms: i64::MAX,
            }),
        };
        let bytes = content.to_bytes();
        assert!(bytes.len() < 200, "{}", bytes.len());
        // Padded, every sealed position is as long as every other, stretch or not.
        let plain = FixContent {
            stretch: None,
            ..content
        };
        assert_eq!(content.sealed_bytes().len(), MAX_FIX_CONTENT);
        assert_eq!(plain.sealed_bytes().len(), MAX_FIX_CONTENT);
        let text = envelope
            .seal(&hers, u64::MAX, &content.sealed_bytes())
            .unwrap();
        let plain_text = envelope.seal(&hers, 1, &plain.sealed_bytes()).unwrap();
        assert_eq!(text.len(), plain_text.len());
        assert!(text.len() <= MAX_FIX_CHARS);
        assert!(check_fix(&text).is_ok());
        let (_, opened) = envelope.open(&his, &text).unwrap();
        // serde_json without `float_roundtrip` (how the workspace builds it) may read a
        // number one unit in the last place off: the jump is compared to that.
        let read = FixContent::from_bytes(&opened).unwrap();
        let (jump, read_jump) = (
            content.stretch.unwrap().jump_m,
            read.stretch.unwrap().jump_m,
        );
        assert!((read_jump - jump).abs() <= jump * 4.0 * f64::EPSILON);
        assert_eq!(
            FixContent {
                stretch: content.stretch,
                ..read
            },
            content
        );
        // A reader that knows no stretch (an older one) reads the position all the same,
        // and a position without one reads as before.
        #[derive(Deserialize)]
        struct Older {
            lat: f64,
        }
        let older: Older = serde_json::from_slice(&opened).unwrap();
        assert_eq!(older.lat, content.lat);
        assert_eq!(
            FixContent::from_bytes(br#"{"lat":1.0,"lon":2.0,"reach_m":3.0,"exact":true}"#),
            Some(FixContent {
                lat: 1.0,
                lon: 2.0,
                reach_m: 3.0,
                exact: true,
                stretch: None
            })
        );
        let too_long = envelope
            .seal(&hers, 1, &[b' '; MAX_FIX_CONTENT + 1])
            .unwrap();
        assert_eq!(check_fix(&too_long), Err(Malformed::TooLongForAFix));
        // What is not a place with a reach is not a position.
        for bad in [
            r#"{"lat":91.0,"lon":0.0,"reach_m":1.0,"exact":false}"#,
            r#"{"lat":0.0,"lon":0.0,"reach_m":-1.0,"exact":false}"#,
            r#"{"lat":0.0,"lon":0.0,"exact":true}"#,
            r#"{"lat":0.0,"lon":0.0,"reach_m":1.0,"exact":false,"stretch":{"jump_m":-1.0,"over_ms":5}}"#,
            r#"{"lat":0.0,"lon":0.0,"reach_m":1.0,"exact":false,"stretch":{"jump_m":1.0,"over_ms":0}}"#,
            "calm",
        ] {
            assert_eq!(FixContent::from_bytes(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn a_sealed_string_has_bounds() {
        let (hers, _) = sealers();
        let envelope = Envelope {
            bond: Uuid::nil(),
            from: Role::Accepter,
            kind: THOUGHT,
        };
        let empty = envelope.seal(&hers, 0, b"").unwrap();
        assert_eq!(empty.len(), MIN_CHARS);
        let longest = envelope.seal(&hers, 1, &[b'x'; MAX_CONTENT]).unwrap();
        assert_eq!(longest.len(), MAX_CHARS);
        assert!(Sealed::decode(&longest).is_ok());
        assert!(envelope.seal(&hers, 2, &[b'x'; MAX_CONTENT + 1]).is_err());
        assert_eq!(
            Sealed::decode(&format!("{longest}AA")),
            Err(Malformed::TooLong)
        );
        assert_eq!(
            Sealed::decode(&empty[..empty.len() - 4]),
            Err(Malformed::TooShort)
        );
        assert_eq!(Sealed::decode("not base64!"), Err(Malformed::NotBase64Url));
        assert_eq!(Sealed::decode("AAAA+/=="), Err(Malformed::NotBase64Url));
    }

    /// The OpenAPI pattern allows exactly the strings [`Sealed::decode`] reads as
    /// base64url: every length and every last character, for each group length. A
    /// pattern that allowed a last character with its unused bits set let a schema
    /// fuzzer send a string the server refused (422 for a schema-valid request).
    #[test]
    fn the_pattern_allows_what_decoding_reads() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let whole = "A".repeat(MIN_CHARS + 3);
        for len in MIN_CHARS..=MIN_CHARS + 3 {
            for last in alphabet.chars().chain("+/=".chars()) {
                let text = format!("{}{last}", &whole[..len - 1]);
                let decodes = URL_SAFE_NO_PAD.decode(&text).is_ok();
                assert_eq!(pattern.is_match(&text), decodes, "{text}");
                assert_eq!(Sealed::decode(&text).is_ok(), decodes, "{text}");
            }
        }
        let api =
            serde_json::to_value(<crate::api::SealedFixUpdate as utoipa::PartialSchema>::schema())
                .unwrap();
        assert_eq!(api["properties"]["sealed"]["pattern"], PATTERN);
        assert_eq!(api["properties"]["sealed"]["minLength"], MIN_CHARS);
        assert_eq!(api["properties"]["sealed"]["maxLength"], MAX_FIX_CHARS);
    }

    /// The web client's vectors (`crates/private/tests/vectors/web.json`, written by
    /// `haurach-private`, which cannot use this crate) hold the JSON of sealed positions
    /// the page must write byte for byte: it is what `FixContent` writes.
    #[test]
    fn the_web_vectors_hold_what_a_sealed_position_is_written_as() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../private/tests/vectors/web.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let rounding = &v["rounding"];
        let mut n = 0;
        for c in rounding["contents"].as_array().unwrap() {
            let content = FixContent {
                lat: c["lat"].as_f64().unwrap(),
                lon: c["lon"].as_f64().unwrap(),
                reach_m: c["reach_m"].as_f64().unwrap(),
                exact: c["exact"].as_bool().unwrap(),
                stretch: None,
            };
            assert_eq!(
                String::from_utf8(content.to_bytes()).unwrap(),
                c["json"].as_str().unwrap()
            );
            n += 1;
        }
        // Every rounded case's JSON reads as a sealed position. (Not written back and
        // compared: serde_json reads some long floats a unit in the last place off.)
        for c in rounding["cases"].as_array().unwrap() {
            let text = c["content"].as_str().unwrap();
            assert!(FixContent::from_bytes(text.as_bytes()).is_some(), "{text}");
            n += 1;
        }
        assert!(n > 300, "{n}");
    }

    /// A stretch is sealed to two significant figures, never finer than the sentence
    /// the partner is shown, and its speed reads as the plain bond's.
    #[test]
    fn a_sealed_stretch_says_its_jump_to_two_figures() {
        let stretch = haurach_bond::Stretch {
            jump_m: 50_321.7,
            over_ms: 60_000,
            speed_kmh: 3_019.3,
        };
        let sealed = StretchContent::of(&stretch);
        assert_eq!(sealed.jump_m, 50_000.0);
        assert_eq!(sealed.over_ms, 60_000);
        assert!((sealed.speed_kmh() - 3_000.0).abs() < 1e-9);
        assert_eq!(two_figures(149.9), 150.0);
        assert_eq!(two_figures(1_234_567.0), 1_200_000.0);
        assert_eq!(two_figures(f64::NAN), 0.0);
    }

    #[test]
    fn a_place_and_a_meeting_point_read_back_and_refuse_what_is_not_one() {
        let news = PlaceContent {
            place: "the saffron gate".into(),
            event: crate::PlaceEvent::Arrived,
            at: time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            position: None,
        };
        let bytes = news.to_bytes();
        assert!(!String::from_utf8_lossy(&bytes).contains("lat"));
        assert_eq!(bytes.len(), PLACE_PADDED);
        assert_eq!(PlaceContent::from_bytes(&bytes), Some(news.clone()));
        let within_sight = PlaceContent {
            position: Some(crate::LatLon {
                lat: -46.1,
                lon: -7.6,
            }),
            ..news
        };
        assert_eq!(within_sight.to_bytes().len(), PLACE_PADDED);
        assert_eq!(
            PlaceContent::from_bytes(&within_sight.to_bytes()),
            Some(within_sight)
        );
        // The longest name there is, in the widest characters, still fits one size.
        let longest = PlaceContent {
            place: "𝄞".repeat(64),
            event: crate::PlaceEvent::Arrived,
            at: time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            position: Some(crate::LatLon {
                lat: -89.123_456_789_012_34,
                lon: -179.123_456_789_012_34,
            }),
        };
        assert_eq!(longest.to_bytes().len(), PLACE_PADDED);
        for bad in [
            r#"{"place":"","event":"left","at":"2027-01-15T08:00:00Z"}"#,
            r#"{"place":"x","event":"stayed","at":"2027-01-15T08:00:00Z"}"#,
            r#"{"place":"x","event":"left","at":"2027-01-15T08:00:00Z","position":{"lat":91.0,"lon":0.0}}"#,
        ] {
            assert_eq!(PlaceContent::from_bytes(bad.as_bytes()), None, "{bad}");
        }
        for m in [
            MeetingContent::Pinned {
                lat: 1.5,
                lon: -2.5,
                name: Some("the Needle".into()),
            },
            MeetingContent::Unpinned,
            MeetingContent::Reached,
        ] {
            // A pin, an unpin and reaching it are one size sealed.
            assert_eq!(m.to_bytes().len(), PLACE_PADDED);
            assert_eq!(MeetingContent::from_bytes(&m.to_bytes()), Some(m));
        }
        assert_eq!(
            MeetingContent::from_bytes(br#"{"what":"pinned","lat":95.0,"lon":0.0}"#),
            None
        );
        assert_eq!(MeetingContent::from_bytes(b"calm"), None);
    }

    #[test]
    fn a_photo_content_reads_back_and_refuses_what_is_cut_short() {
        let photo = PhotoContent {
            id: "m1".into(),
            caption: Some("the quartz lantern".into()),
            picture: vec![0xFF, 0xD8, 1, 2, 3],
        };
        let bytes = photo.encode();
        assert_eq!(PhotoContent::decode(&bytes), Some(photo.clone()));
        assert_eq!(PhotoContent::decode(&bytes[..10]), None);
        assert_eq!(PhotoContent::decode(&[0, 0, 0]), None);
        let bare = PhotoContent {
            caption: None,
            ..photo
        };
        assert_eq!(PhotoContent::decode(&bare.encode()), Some(bare));
    }
}
