//! How sharp a picture the partner sees: the longest side of an image's rendition, and
//! the frame rate and size of the live sight, as functions of the bond's strength.
//!
//! At the edge of the images tier a picture arrives as a thumbnail of
//! [`THUMBNAIL_SIDE`] pixels; within sight range it arrives at full size. Between the two
//! the longest side grows geometrically with strength (each equal step of strength
//! multiplies the side by the same factor, as strength itself is logarithmic in distance),
//! then is rounded down to a rung of [`LADDER`] so a server keeps a handful of renditions
//! per image rather than one per metre walked:
//!
//! ```text
//! t    = (strength - s_images) / (s_sight - s_images)          clamped to [0, 1]
//! side = THUMBNAIL_SIDE * (LARGEST_RUNG / THUMBNAIL_SIDE) ^ t  rounded down to a rung
//! ```
//!
//! where `s_images` and `s_sight` are the profile's strengths at the edges of the images
//! and sight tiers. At `t = 1` (within sight range) the side is [`Side::Full`]. For the
//! story profile (images at 15 km, sight at 2 km):
//!
//! | distance | strength | longest side |
//! |---|---|---|
//! | 15 km | 0.043 | 64 px |
//! | 12 km | 0.076 | 96 px |
//! | 10 km | 0.104 | 128 px |
//! | 7 km | 0.157 | 256 px |
//! | 5 km | 0.207 | 512 px |
//! | 3 km | 0.284 | 1024 px |
//! | 2.5 km | 0.311 | 1536 px |
//! | 2 km or closer | 0.344 or more | full size |
//!
//! and for the city profile (images at 750 m, sight at 100 m): 64 px at 750 m, 128 px at
//! 500 m, 256 px at 300 m, 1024 px at 150 m, full size at 100 m.
//!
//! The "open" profile has strength 1 everywhere, so pictures pass at full size.
//!
//! [`sight_params`] is the same idea for the live sight: frame rate and frame size.

use crate::tier::{Profile, Tier};

/// The longest side of a picture at the edge of the images tier, pixels.
pub const THUMBNAIL_SIDE: u32 = 64;

/// The sides a rendition may have, pixels, smallest first. The last rung is the largest
/// side below full size.
pub const LADDER: [u32; 12] = [64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072];

/// The largest rung below full size.
pub const LARGEST_RUNG: u32 = LADDER[LADDER.len() - 1];

/// How large a rendition may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The longest side is at most this many pixels.
    AtMost(u32),
    /// The picture as sent (without its metadata).
    Full,
}

impl Side {
    /// The longest side of the rendition of a picture whose longest side is `original`:
    /// never larger than the picture itself.
    pub fn of(self, original: u32) -> u32 {
        match self {
            Side::AtMost(side) => side.min(original),
            Side::Full => original,
        }
    }
}

/// The largest rendition a partner may see at `strength` in `profile`.
///
/// Monotonic: a higher strength never allows a smaller picture. Below the strength at
/// the edge of the images tier (which happens only when the tier's hysteresis keeps it
/// open a little past its range) it is the thumbnail.
pub fn rendition_side(profile: Profile, strength: f64) -> Side {
    let (Some(images_m), Some(sight_m)) =
        (profile.range_m(Tier::Images), profile.range_m(Tier::Sight))
    else {
        return Side::Full;
    };
    let (s_images, s_sight) = (profile.strength(images_m), profile.strength(sight_m));
    if strength.is_nan() {
        return Side::AtMost(THUMBNAIL_SIDE);
    }
    if strength >= s_sight {
        return Side::Full;
    }
    let t = ((strength - s_images) / (s_sight - s_images)).clamp(0.0, 1.0);
    let ideal =
        f64::from(THUMBNAIL_SIDE) * (f64::from(LARGEST_RUNG) / f64::from(THUMBNAIL_SIDE)).powf(t);
    // A tiny tolerance keeps a rung that the curve reaches exactly (up to rounding) from
    // falling to the one below.
    let rung = LADDER
        .iter()
        .rev()
        .find(|&&r| f64::from(r) <= ideal * (1.0 + 1e-9))
        .copied()
        .unwrap_or(THUMBNAIL_SIDE);
    Side::AtMost(rung)
}

/// How the live sight flows at a strength: frames per second and the longest side of a
/// frame, pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SightParams {
    /// Frames per second.
    pub fps: f64,
    /// Longest side of a frame, pixels (a multiple of 16).
    pub side: u32,
}

/// The slowest, smallest sight: at the edge of the sight tier.
pub const SIGHT_EDGE: SightParams = SightParams {
    fps: 2.0,
    side: 240,
};

/// The fastest, largest sight: together (strength 1).
pub const SIGHT_TOGETHER: SightParams = SightParams {
    fps: 15.0,
    side: 720,
};

/// The frame rate and frame size of the live sight at `strength` in `profile`.
///
/// From [`SIGHT_EDGE`] at the edge of the sight tier to [`SIGHT_TOGETHER`] at strength
/// 1, both growing geometrically with strength, like the pictures' sides:
///
/// ```text
/// t    = (strength - s_sight) / (1 - s_sight)        clamped to [0, 1]
/// fps  = 2 × 7.5^t                                     (2 to 15 frames a second)
/// side = 240 × 3^t, rounded to a multiple of 16        (240 to 720 pixels)
/// ```
///
/// For the story profile: 2 fps at 240 px at 2 km, 2.3 fps at 256 px at 1.5 km, 2.8 fps
/// at 288 px at 1 km, 3.8 fps at 336 px at 500 m, 15 fps at 720 px within 25 m. Whether sight is open at all is the
/// tier's business; a strength below the edge (hysteresis) gives the edge's values.
pub fn sight_params(profile: Profile, strength: f64) -> SightParams {
    let s_sight = profile
        .range_m(Tier::Sight)
        .map_or(0.0, |range| profile.strength(range));
    let t = if strength.is_nan() || s_sight >= 1.0 {
        0.0
    } else {
        ((strength - s_sight) / (1.0 - s_sight)).clamp(0.0, 1.0)
    };
    let fps = SIGHT_EDGE.fps * (SIGHT_TOGETHER.fps / SIGHT_EDGE.fps).powf(t);
    let side = f64::from(SIGHT_EDGE.side)
        * (f64::from(SIGHT_TOGETHER.side) / f64::from(SIGHT_EDGE.side)).powf(t);
    SightParams {
        fps,
        side: ((side / 16.0).round() as u32 * 16).clamp(SIGHT_EDGE.side, SIGHT_TOGETHER.side),
    }
}

/// Bytes a JPEG may take for its headers (markers, quantisation and Huffman tables, a
/// JFIF or Exif segment): a browser's canvas writes about 600.
pub const JPEG_HEADER_BYTES: usize = 2_048;

/// Bits a JPEG may spend on each pixel of a square of the longest side. A camera frame
/// encoded at quality 0.7 takes 1 to 3 bits a pixel of its own area, and a 4:3 frame has
/// three quarters of the square's pixels, so 4 bits a pixel of the square is more than
/// five of the frame's: room for a noisy picture, not for another picture's worth.
pub const JPEG_BITS_PER_PIXEL: usize = 4;

/// The most bytes a JPEG whose longest side is at most `side` pixels may take, for a
/// server that cannot read its header (a private bond's frames are sealed): the headers
/// and [`JPEG_BITS_PER_PIXEL`] bits for every pixel of a `side` × `side` square. A client
/// whose frame comes out larger encodes it again at a lower quality.
///
/// | side | bound |
/// |---|---|
/// | 96 (a glimpse at 12 km) | 6,656 bytes |
/// | 240 (the edge of sight) | 30,848 bytes |
/// | 720 (together) | 261,248 bytes |
pub fn jpeg_bytes_bound(side: u32) -> usize {
    let side = side as usize;
    JPEG_HEADER_BYTES + side * side * JPEG_BITS_PER_PIXEL / 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_bound_follows_the_side() {
        assert_eq!(jpeg_bytes_bound(96), 6_656);
        assert_eq!(jpeg_bytes_bound(SIGHT_EDGE.side), 30_848);
        assert_eq!(jpeg_bytes_bound(SIGHT_TOGETHER.side), 261_248);
        assert!(jpeg_bytes_bound(97) > jpeg_bytes_bound(96));
    }
}
