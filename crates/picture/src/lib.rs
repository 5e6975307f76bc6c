//! Pictures as Haurach handles them: an upload is checked and accepted with its metadata
//! stripped, and a stripped picture is rendered at the size the bond allows.
//!
//! Everything here is CPU work on bytes in memory: no files, no async. The server runs it
//! on blocking threads and stores what it returns.
//!
//! - [`accept`] sniffs the type from the bytes (JPEG, PNG or WebP; the client's
//!   `Content-Type` is not trusted), reads the dimensions from the header and refuses a
//!   picture too large *before* decoding it, decodes under allocation limits (so a
//!   decompression bomb fails instead of eating the memory), turns the pixels upright
//!   (EXIF orientation), and re-encodes them. The re-encoded picture carries no
//!   metadata at all: no EXIF (so no GPS position), no XMP, no ICC profile, no comments.
//! - [`render`] shrinks a stripped picture so its longest side is at most a given number
//!   of pixels (Lanczos3 through `fast_image_resize`) and encodes it.
//!
//! Pictures without transparency are encoded as JPEG, pictures with transparency as PNG.
#![deny(missing_docs)]

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, PngEncoder};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

/// The largest width or height accepted, whatever the pixel budget: a 1 × 100,000 strip
/// is not a photo.
pub const MAX_SIDE: u32 = 16_384;

/// JPEG quality of the stripped full-size picture.
pub const FULL_QUALITY: u8 = 90;

/// Above [`BOMB_FLOOR`] pixels, the most pixels a picture may announce per byte of its
/// file. Photos hold 1 to 10 pixels a byte, drawings and screenshots up to about a
/// hundred; a PNG of one colour holds thousands, and decoding and re-encoding its 40
/// megapixels costs a core about a second (hardening finding 8: 38 KB for one
/// CPU-second).
pub const MAX_PIXELS_PER_BYTE: u64 = 200;

/// Pictures of at most this many pixels are decoded however well they compress: they
/// cost a fraction of a second.
pub const BOMB_FLOOR: u64 = 4_000_000;

/// JPEG quality of the smaller renditions.
pub const RENDITION_QUALITY: u8 = 85;

/// What an upload may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most pixels (width × height) a picture may have.
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_pixels: 40_000_000,
        }
    }
}

/// The types of picture accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// JPEG.
    Jpeg,
    /// PNG.
    Png,
    /// WebP (lossy or lossless).
    WebP,
}

impl Kind {
    /// The media type.
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::WebP => "image/webp",
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
            Kind::WebP => "webp",
        }
    }

    /// The type of a stored picture from its media type.
    pub fn from_mime(mime: &str) -> Option<Kind> {
        [Kind::Jpeg, Kind::Png, Kind::WebP]
            .into_iter()
            .find(|k| k.mime() == mime)
    }

    fn format(self) -> ImageFormat {
        match self {
            Kind::Jpeg => ImageFormat::Jpeg,
            Kind::Png => ImageFormat::Png,
            Kind::WebP => ImageFormat::WebP,
        }
    }
}

/// Why a picture was refused. The messages are written for the person who sent it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PictureError {
    /// Not a JPEG, PNG or WebP (by its bytes, whatever it was called).
    #[error("this is not a JPEG, PNG or WebP picture{0}")]
    Unsupported(String),
    /// Its header announces more pixels than allowed.
    #[error(
        "the picture is {width} × {height} pixels; the most accepted is {max_megapixels} megapixels and {MAX_SIDE} pixels a side"
    )]
    TooLarge {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The pixel budget, in megapixels.
        max_megapixels: u64,
    },
    /// Its header announces far more pixels than its bytes could hold as a photo: a
    /// decompression bomb, refused before decoding (see [`MAX_PIXELS_PER_BYTE`]).
    #[error(
        "the picture says it is {width} × {height} pixels in only {bytes} bytes, which no photo is; send it at a smaller size"
    )]
    TooCompressed {
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The upload's size.
        bytes: usize,
    },
    /// The bytes are damaged or truncated.
    #[error("the picture is damaged or incomplete: {0}")]
    Corrupt(String),
    /// Encoding the result failed (not the sender's fault).
    #[error("the picture could not be encoded: {0}")]
    Encode(String),
}

/// A picture accepted for storage.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// What was uploaded.
    pub kind: Kind,
    /// Width of the upright picture, pixels.
    pub width: u32,
    /// Height of the upright picture, pixels.
    pub height: u32,
    /// The upright picture re-encoded without any metadata: what the partner may see.
    pub stripped: Vec<u8>,
    /// The type of `stripped`: JPEG, or PNG for a picture with transparency.
    pub stripped_kind: Kind,
}

impl Accepted {
    /// The longest side, pixels.
    pub fn longest_side(&self) -> u32 {
        self.width.max(self.height)
    }
}

/// The type of a picture from its first bytes, or `None` when it is none of those
/// accepted.
pub fn sniff(bytes: &[u8]) -> Option<Kind> {
    match image::guess_format(bytes).ok()? {
        ImageFormat::Jpeg => Some(Kind::Jpeg),
        ImageFormat::Png => Some(Kind::Png),
        ImageFormat::WebP => Some(Kind::WebP),
        _ => None,
    }
}

/// The width and height a JPEG, PNG or WebP announces in its header, without decoding
/// it; `None` when it is none of those or the header is unreadable.
pub fn dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let kind = sniff(bytes)?;
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(kind.format());
    reader.into_dimensions().ok()
}

/// Checks an upload, decodes it safely and strips it of every piece of metadata.
pub fn accept(bytes: &[u8], limits: Limits) -> Result<Accepted, PictureError> {
    let kind = sniff(bytes).ok_or_else(|| {
        let hint = match image::guess_format(bytes) {
            Ok(other) => format!(" (it looks like {other:?})"),
            Err(_) => String::new(),
        };
        PictureError::Unsupported(hint)
    })?;
    let image = decode(bytes, kind, limits)?;
    let stripped_kind = if image.color().has_alpha() {
        Kind::Png
    } else {
        Kind::Jpeg
    };
    let stripped = encode(&image, FULL_QUALITY)?;
    Ok(Accepted {
        kind,
        width: image.width(),
        height: image.height(),
        stripped,
        stripped_kind,
    })
}

/// Decodes a picture of a known type: the header's dimensions are checked first, then
/// the pixels are decoded under an allocation limit and turned upright.
pub fn decode(bytes: &[u8], kind: Kind, limits: Limits) -> Result<DynamicImage, PictureError> {
    if kind == Kind::Jpeg && !jpeg_is_complete(bytes) {
        return Err(PictureError::Corrupt(
            "the JPEG ends before its image data does (was the upload cut short?)".into(),
        ));
    }
    if kind == Kind::WebP && !webp_is_complete(bytes) {
        return Err(PictureError::Corrupt(
            "the WebP is shorter than its header says (was the upload cut short?)".into(),
        ));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes));
    reader.set_format(kind.format());
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(MAX_SIDE);
    decoder_limits.max_image_height = Some(MAX_SIDE);
    // The decoded pixels (at most four bytes each, eight for 16-bit PNG) plus slack for
    // the decoder's own buffers.
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8) + 64 * 1024 * 1024);
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(|e| header_error(e, limits))?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > BOMB_FLOOR && pixels > (bytes.len() as u64).saturating_mul(MAX_PIXELS_PER_BYTE) {
        return Err(PictureError::TooCompressed {
            width,
            height,
            bytes: bytes.len(),
        });
    }
    // A damaged orientation tag is not worth refusing a photo for: it stays as stored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => PictureError::TooLarge {
            width,
            height,
            max_megapixels: limits.max_pixels / 1_000_000,
        },
        other => PictureError::Corrupt(lowercase(other.to_string())),
    })?;
    image.apply_orientation(orientation);
    Ok(image)
}

fn header_error(err: image::ImageError, limits: Limits) -> PictureError {
    match err {
        image::ImageError::Limits(_) => PictureError::TooLarge {
            width: 0,
            height: 0,
            max_megapixels: limits.max_pixels / 1_000_000,
        },
        other => PictureError::Corrupt(lowercase(other.to_string())),
    }
}

fn check_dimensions(width: u32, height: u32, limits: Limits) -> Result<(), PictureError> {
    let too_large = width > MAX_SIDE
        || height > MAX_SIDE
        || u64::from(width) * u64::from(height) > limits.max_pixels;
    if width == 0 || height == 0 {
        return Err(PictureError::Corrupt("the picture has no pixels".into()));
    }
    if too_large {
        return Err(PictureError::TooLarge {
            width,
            height,
            max_megapixels: limits.max_pixels / 1_000_000,
        });
    }
    Ok(())
}

/// Whether a JPEG's image data is followed by its end marker. The decoder fills a
/// truncated scan with grey rather than failing, so a cut-short upload would otherwise
/// be stored half grey. Entropy-coded data never holds `FF D9` (a data `FF` is always
/// followed by `00`), so the last `FF D9` is the end of the main image; it must come after
/// the last start of scan (`FF DA`), since the EXIF thumbnail ends with its own `FF D9`
/// before the main image's scan starts.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    }
}

/// Whether a WebP holds as many bytes as its RIFF header announces. The decoder stops
/// once it has the pixels, so a file cut in its trailing metadata would otherwise pass.
fn webp_is_complete(bytes: &[u8]) -> bool {
    bytes
        .get(4..8)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .is_some_and(|riff| bytes.len() as u64 >= u64::from(riff) + 8)
}

fn lowercase(s: String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => s,
    }
}

/// Renders a stripped picture (as [`Accepted::stripped`]) so its longest side is at
/// most `side` pixels; a picture already that small is re-encoded at its own size.
pub fn render(stripped: &[u8], side: u32) -> Result<Vec<u8>, PictureError> {
    let kind = sniff(stripped)
        .ok_or_else(|| PictureError::Corrupt("a stored picture is of an unknown type".into()))?;
    let image = decode(stripped, kind, Limits::default())?;
    let small = shrink(&image, side)?;
    encode(&small, RENDITION_QUALITY)
}

/// Shrinks a picture so its longest side is at most `side`, keeping its proportions.
pub fn shrink(image: &DynamicImage, side: u32) -> Result<DynamicImage, PictureError> {
    let (width, height) = (image.width(), image.height());
    let longest = width.max(height);
    if longest <= side {
        return Ok(image.clone());
    }
    let scale = f64::from(side) / f64::from(longest);
    let fit = |n: u32| ((f64::from(n) * scale).round() as u32).max(1);
    let mut dst = DynamicImage::new(fit(width), fit(height), image.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    Resizer::new()
        .resize(image, &mut dst, &options)
        .map_err(|e| PictureError::Encode(e.to_string()))?;
    Ok(dst)
}

/// Encodes pixels without metadata: JPEG at `quality` when opaque, PNG otherwise.
pub fn encode(image: &DynamicImage, quality: u8) -> Result<Vec<u8>, PictureError> {
    let mut out = Vec::new();
    let res = if image.color().has_alpha() {
        let rgba = image.to_rgba8();
        let encoder = PngEncoder::new_with_quality(
            &mut out,
            CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        );
        rgba.write_with_encoder(encoder)
    } else {
        let rgb = match image {
            DynamicImage::ImageRgb8(rgb) => std::borrow::Cow::Borrowed(rgb),
            other => std::borrow::Cow::Owned(other.to_rgb8()),
        };
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut out, quality))
    };
    res.map_err(|e| PictureError::Encode(e.to_string()))?;
    Ok(out)
}
