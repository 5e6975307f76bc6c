//! Accepting, stripping and rendering real pictures, and refusing bad and hostile ones.
//!
//! `gps-photo.jpg` is a real photo from a Samsung Galaxy S7 Edge (SM-G935L), from
//! drewnoakes/metadata-extractor-images (`jpg/Samsung SM-G935L (Galaxy S7 Edge).jpg`,
//! "free to use these media files however you wish"), shrunk from 4032 × 3024 to 800 × 600
//! with vipsthumbnail to keep the repository small, with the camera's own EXIF segment
//! (GPS included) put back verbatim. `alpha.png` and `photo.webp` are 96-pixel copies of
//! it made with vips; the PNG carries the same EXIF twice, as `eXIf` chunks.

use haurach_picture::{Kind, Limits, PictureError, accept, render, sniff};
use image::{GenericImageView, ImageEncoder};

const GPS_PHOTO: &[u8] = include_bytes!("gps-photo.jpg");
const ALPHA_PNG: &[u8] = include_bytes!("alpha.png");
const WEBP: &[u8] = include_bytes!("photo.webp");

/// The GPS IFD of a TIFF/EXIF block, if IFD0 points to one (tag 0x8825), with its number
/// of entries.
fn gps_entries(tiff: &[u8]) -> Option<u16> {
    let le = tiff.get(..2)? == b"II";
    let u16_at = |i: usize| {
        let b = [*tiff.get(i)?, *tiff.get(i + 1)?];
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |i: usize| {
        let b: [u8; 4] = tiff.get(i..i + 4)?.try_into().ok()?;
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd0 = u32_at(4)? as usize;
    let n = u16_at(ifd0)? as usize;
    (0..n).find_map(|k| {
        let entry = ifd0 + 2 + 12 * k;
        if u16_at(entry)? == 0x8825 {
            u16_at(u32_at(entry + 8)? as usize)
        } else {
            None
        }
    })
}

/// Every JPEG marker segment before the scan, as (marker, payload).
fn jpeg_segments(bytes: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let mut i = 2;
    while i + 4 <= bytes.len() && bytes[i] == 0xFF {
        let marker = bytes[i + 1];
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        out.push((marker, &bytes[i + 4..i + 2 + len]));
        if marker == 0xDA {
            break;
        }
        i += 2 + len;
    }
    out
}

fn exif_of_jpeg(bytes: &[u8]) -> Option<&[u8]> {
    jpeg_segments(bytes)
        .into_iter()
        .find(|(m, p)| *m == 0xE1 && p.starts_with(b"Exif\0\0"))
        .map(|(_, p)| &p[6..])
}

fn png_chunks(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 8;
    while i + 8 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
        out.push(String::from_utf8_lossy(&bytes[i + 4..i + 8]).into_owned());
        i += 12 + len;
    }
    out
}

/// The error a picture is refused with (a panic, without the whole picture, if it is
/// accepted).
fn refused(bytes: &[u8], limits: Limits) -> PictureError {
    match accept(bytes, limits) {
        Ok(a) => panic!("accepted as {} × {} {:?}", a.width, a.height, a.kind),
        Err(e) => e,
    }
}

#[test]
fn the_real_photo_loses_its_gps_position() {
    // The fixture really carries a position: nine GPS entries in its EXIF.
    let exif = exif_of_jpeg(GPS_PHOTO).expect("the fixture has EXIF");
    assert_eq!(gps_entries(exif), Some(9));

    let accepted = accept(GPS_PHOTO, Limits::default()).unwrap();
    assert_eq!(accepted.kind, Kind::Jpeg);
    assert_eq!(accepted.stripped_kind, Kind::Jpeg);
    assert_eq!((accepted.width, accepted.height), (800, 600));
    let stripped = &accepted.stripped;
    assert!(exif_of_jpeg(stripped).is_none(), "no EXIF survives");
    // No application segment at all (EXIF, XMP, ICC, maker notes) and no comment: only
    // what a decoder needs.
    for (marker, _) in jpeg_segments(stripped) {
        assert!(
            !(0xE1..=0xEF).contains(&marker) && marker != 0xFE,
            "segment FF{marker:02X} survived"
        );
    }
    for needle in [&b"GPS"[..], b"samsung", b"SM-G935L", b"Exif"] {
        assert!(
            !stripped.windows(needle.len()).any(|w| w == needle),
            "{:?} survived",
            String::from_utf8_lossy(needle)
        );
    }
    // And it is still the same picture.
    let img = image::load_from_memory(stripped).unwrap();
    assert_eq!(img.dimensions(), (800, 600));
}

#[test]
fn a_png_keeps_its_transparency_and_loses_its_exif_chunks() {
    assert!(png_chunks(ALPHA_PNG).iter().any(|c| c == "eXIf"));
    let accepted = accept(ALPHA_PNG, Limits::default()).unwrap();
    assert_eq!(accepted.kind, Kind::Png);
    assert_eq!(accepted.stripped_kind, Kind::Png);
    let chunks = png_chunks(&accepted.stripped);
    for chunk in &chunks {
        assert!(
            ["IHDR", "IDAT", "IEND"].contains(&chunk.as_str()),
            "chunk {chunk} survived: {chunks:?}"
        );
    }
    let img = image::load_from_memory(&accepted.stripped).unwrap();
    assert!(img.color().has_alpha());
    assert_eq!(img.get_pixel(10, 10).0[3], 128);
}

#[test]
fn a_webp_is_accepted() {
    assert_eq!(sniff(WEBP), Some(Kind::WebP));
    let accepted = accept(WEBP, Limits::default()).unwrap();
    assert_eq!(accepted.kind, Kind::WebP);
    assert_eq!((accepted.width, accepted.height), (96, 72));
}

#[test]
fn other_types_are_refused_by_their_bytes() {
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    assert!(matches!(
        accept(gif, Limits::default()),
        Err(PictureError::Unsupported(hint)) if hint.contains("Gif")
    ));
    assert!(matches!(
        accept(b"%PDF-1.7 not a picture", Limits::default()),
        Err(PictureError::Unsupported(_))
    ));
    assert!(matches!(
        accept(b"", Limits::default()),
        Err(PictureError::Unsupported(_))
    ));
}

#[test]
fn truncated_pictures_are_refused() {
    for cut in [GPS_PHOTO.len() / 2, GPS_PHOTO.len() - 10, 30_000] {
        let err = refused(&GPS_PHOTO[..cut], Limits::default());
        assert!(
            matches!(err, PictureError::Corrupt(_)),
            "cut at {cut}: {err:?}"
        );
    }
    let err = refused(&ALPHA_PNG[..ALPHA_PNG.len() / 2], Limits::default());
    assert!(matches!(err, PictureError::Corrupt(_)), "{err:?}");
    let err = refused(&WEBP[..WEBP.len() / 2], Limits::default());
    assert!(matches!(err, PictureError::Corrupt(_)), "{err:?}");
    // Garbage after a valid header.
    let mut garbage = GPS_PHOTO[..2000].to_vec();
    garbage.extend(std::iter::repeat_n(0x5A, 5000));
    garbage.extend([0xFF, 0xD9]);
    assert!(accept(&garbage, Limits::default()).is_err());
}

/// A JPEG whose frame header claims 65,000 × 65,000 pixels: refused from the header,
/// before a single pixel is decoded.
#[test]
fn huge_dimensions_are_refused_from_the_header() {
    let mut huge = GPS_PHOTO.to_vec();
    let sof = huge
        .windows(2)
        .rposition(|w| w == [0xFF, 0xC0])
        .expect("a baseline frame header (the last one: the first is the EXIF thumbnail's)");
    huge[sof + 5..sof + 7].copy_from_slice(&65_000u16.to_be_bytes());
    huge[sof + 7..sof + 9].copy_from_slice(&65_000u16.to_be_bytes());
    let err = refused(&huge, Limits::default());
    assert!(matches!(err, PictureError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("megapixels"), "{err}");
}

/// A PNG of one colour, `side` pixels square, compressed as well as PNG can.
fn one_colour_png(side: u32) -> Vec<u8> {
    let pixels = vec![0u8; (side * side) as usize];
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(&pixels, side, side, image::ExtendedColorType::L8)
    .unwrap();
    png
}

/// Hardening finding 8: "a 38 KB PNG bomb costs about 1 CPU-second to refuse". Within
/// the pixel budget, a picture that announces far more pixels than its bytes could hold
/// is refused from its header, before a second is spent on it; a small one is decoded.
#[test]
fn a_bomb_within_the_pixel_budget_is_refused_from_its_header() {
    let bomb = one_colour_png(6_000);
    let err = refused(&bomb, Limits::default());
    assert_eq!(
        err,
        PictureError::TooCompressed {
            width: 6_000,
            height: 6_000,
            bytes: bomb.len()
        }
    );
    // A drawing of a plain colour at phone size is still welcome.
    let small = one_colour_png(1_500);
    assert_eq!(accept(&small, Limits::default()).unwrap().width, 1_500);
}

/// A decompression bomb: a 6,000 × 6,000 PNG of one colour is 36 megapixels (144 MB as
/// RGBA) in a few tens of kilobytes. Under a 10-megapixel budget it is refused from its
/// header as too large.
#[test]
fn a_decompression_bomb_is_refused_before_decoding() {
    let side = 6_000u32;
    let pixels = vec![0u8; (side * side) as usize];
    let mut bomb = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut bomb,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(&pixels, side, side, image::ExtendedColorType::L8)
    .unwrap();
    drop(pixels);
    assert!(bomb.len() < 100_000, "the bomb is {} bytes", bomb.len());
    let limits = Limits {
        max_pixels: 10_000_000,
    };
    let err = refused(&bomb, limits);
    assert_eq!(
        err,
        PictureError::TooLarge {
            width: side,
            height: side,
            max_megapixels: 10
        }
    );
}

#[test]
fn renditions_fit_the_side_and_never_grow() {
    let accepted = accept(GPS_PHOTO, Limits::default()).unwrap();
    for side in [64, 256, 512] {
        let small = render(&accepted.stripped, side).unwrap();
        let img = image::load_from_memory(&small).unwrap();
        assert_eq!(img.width(), side, "longest side {side}");
        assert_eq!(img.height(), side * 3 / 4);
        assert!(exif_of_jpeg(&small).is_none());
    }
    let same = image::load_from_memory(&render(&accepted.stripped, 3072).unwrap()).unwrap();
    assert_eq!(same.dimensions(), (800, 600));
}
