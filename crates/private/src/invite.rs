//! The invite's secret as people pass it on: a code to read out or type, and a QR code to
//! scan. Both carry only the secret; the server finds the invite by its hash
//! ([`InviteSecret::lookup`]) and is never shown either.
//!
//! The code is the secret's 20 bytes in base32 (RFC 4648's alphabet, A-Z and 2-7, which
//! has no 0, 1, 8 or 9 to confuse with O, I, B or g), 32 characters in eight groups of
//! four joined by dashes, behind the prefix `HP1-` (Haurach private, version 1), e.g.
//! `HP1-MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OBYX-E4TT`. Reading is forgiving: case, spaces and
//! dashes do not matter, and a 0, 1 or 8 typed for O, I or B is read as meant.

use data_encoding::BASE32_NOPAD;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use crate::Error;
use crate::keys::InviteSecret;

/// What a private invite's code starts with.
pub const PREFIX: &str = "HP1-";

/// The code for `secret`, as it is shown.
pub fn code(secret: &InviteSecret) -> String {
    let body = BASE32_NOPAD.encode(secret.as_bytes());
    let groups: Vec<&str> = body
        .as_bytes()
        .chunks(4)
        .map(|group| std::str::from_utf8(group).expect("base32 is ASCII"))
        .collect();
    format!("{PREFIX}{}", groups.join("-"))
}

/// The secret in a code as a person typed it.
pub fn parse_code(typed: &str) -> Result<InviteSecret, Error> {
    let mut body: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            '0' => 'O',
            '1' => 'I',
            '8' => 'B',
            other => other,
        })
        .collect();
    // The prefix without its dash, as the filter left it ("HPI" is "HP1" after the
    // mapping above); only when what follows is a whole code, since a code typed without
    // its prefix may itself begin with "HPI".
    if body.len() == 35 && (body.starts_with("HP1") || body.starts_with("HPI")) {
        body.drain(..3);
    }
    let bytes = BASE32_NOPAD
        .decode(body.as_bytes())
        .map_err(|_| Error::BadInviteCode)?;
    let bytes: [u8; InviteSecret::LEN] = bytes.try_into().map_err(|_| Error::BadInviteCode)?;
    Ok(InviteSecret::from_bytes(bytes))
}

/// The link a QR code of the invite holds: the web page at `page` (the server's address)
/// with the code after `#accept=`. A phone's camera opens it in the browser and the page
/// fills the code in; what follows `#` is never sent to a server.
pub fn link(page: &str, secret: &InviteSecret) -> String {
    format!("{}/#accept={}", page.trim_end_matches('/'), code(secret))
}

/// The code taken from what a person pasted: the code itself, or a [`link`] to it.
pub fn code_in(typed: &str) -> &str {
    typed
        .rsplit_once("#accept=")
        .map_or(typed, |(_, code)| code)
}

/// The invite's [`link`] to the page at `page` as a QR code, drawn as an SVG document
/// (dark modules on white, with the standard quiet zone). Medium error correction: a
/// screen photographed at an angle or a crease in paper still scans.
pub fn qr_svg(page: &str, secret: &InviteSecret) -> String {
    let qr = QrCode::with_error_correction_level(link(page, secret), EcLevel::M)
        .expect("a link with a 43-character code fits a QR code");
    qr.render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_however_it_is_typed() {
        let secret = InviteSecret::generate();
        let shown = code(&secret);
        assert_eq!(shown.len(), PREFIX.len() + 32 + 7);
        assert!(shown.starts_with(PREFIX));
        assert_eq!(parse_code(&shown).unwrap(), secret);
        let sloppy = shown.to_lowercase().replace('-', " ");
        assert_eq!(parse_code(&sloppy).unwrap(), secret);
        let bare = shown.trim_start_matches(PREFIX).replace('-', "");
        assert_eq!(parse_code(&bare).unwrap(), secret);
    }

    #[test]
    fn look_alike_digits_read_as_the_letters_meant() {
        // "MFRG..." is base32 for "abcde...": put a 0 for an O and a 1 for an I.
        let secret = InviteSecret::from_bytes(*b"abcdefghijklmnopqrst");
        let shown = code(&secret);
        assert_eq!(shown, "HP1-MFRG-GZDF-MZTW-Q2LK-NNWG-23TP-OBYX-E43U");
        let typed = shown.replace('O', "0");
        assert_eq!(parse_code(&typed).unwrap(), secret);
    }

    #[test]
    fn a_short_or_garbled_code_is_refused() {
        let shown = code(&InviteSecret::generate());
        assert_eq!(
            parse_code(&shown[..shown.len() - 5]),
            Err(Error::BadInviteCode)
        );
        assert_eq!(
            parse_code(&format!("{shown}-AAAA")),
            Err(Error::BadInviteCode)
        );
        assert_eq!(parse_code("HP1-!!!!"), Err(Error::BadInviteCode));
        assert_eq!(parse_code(""), Err(Error::BadInviteCode));
    }

    #[test]
    fn the_qr_code_is_an_svg_of_the_link_to_the_page() {
        let secret = InviteSecret::generate();
        let page = "https://city.example/";
        assert_eq!(
            link(page, &secret),
            format!("https://city.example/#accept={}", code(&secret))
        );
        let drawn = qr_svg(page, &secret);
        assert!(drawn.starts_with("<?xml"), "{}", &drawn[..40]);
        assert!(drawn.contains("<svg") && drawn.trim_end().ends_with("</svg>"));
        // The secret is in the modules, not in the document's text.
        assert!(!drawn.contains(&code(&secret)[4..12]));
        // It is the link's picture: the same link draws it, the bare code does not.
        let expected = QrCode::with_error_correction_level(link(page, &secret), EcLevel::M)
            .unwrap()
            .render::<svg::Color<'_>>()
            .min_dimensions(200, 200)
            .quiet_zone(true)
            .build();
        assert_eq!(drawn, expected);
        assert_ne!(drawn, qr_svg("https://other.example", &secret));
        assert_ne!(drawn, qr_svg(page, &InviteSecret::generate()));
    }

    #[test]
    fn a_pasted_link_gives_its_code() {
        let secret = InviteSecret::generate();
        let linked = link("http://127.0.0.1:8080", &secret);
        assert_eq!(parse_code(code_in(&linked)), Ok(secret.clone()));
        assert_eq!(code_in(&code(&secret)), code(&secret));
    }
}
