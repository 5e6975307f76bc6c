//! An uploaded picture (or a glimpse, a journal photo), decoded as the server decodes it:
//! `haurach_picture::decode` with the server's default limits, for the type the first
//! byte picks (0: JPEG, 1: PNG, 2: WebP, modulo 3), so every decoder is reached whatever
//! the rest looks like. `dimensions` (what a sight frame's header is read with) runs too.
//! A decoded picture never has more pixels than the limits allow.
#![no_main]

use haurach_picture::{Kind, Limits, MAX_SIDE};
use haurach_server::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let kind = match first % 3 {
        0 => Kind::Jpeg,
        1 => Kind::Png,
        _ => Kind::WebP,
    };
    // As `runtime::pictures::Pictures::new` makes them from the configuration.
    let limits = Limits {
        max_pixels: u64::from(Config::default().max_image_megapixels) * 1_000_000,
    };
    let _ = haurach_picture::dimensions(bytes);
    if let Ok(image) = haurach_picture::decode(bytes, kind, limits) {
        let (w, h) = (image.width(), image.height());
        assert!(w > 0 && h > 0 && w <= MAX_SIDE && h <= MAX_SIDE);
        assert!(u64::from(w) * u64::from(h) <= limits.max_pixels);
    }
});
