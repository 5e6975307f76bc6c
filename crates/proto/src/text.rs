//! Rules for text that others read as someone's words or names.

/// The bidirectional controls that make text display in an order other than the one it
/// is written in: the embeddings and overrides (U+202A to U+202E) and the isolates
/// (U+2066 to U+2069). "Trojan Source" (CVE-2021-42574) used them to make code read as
/// something else; in a place's name or a parcel's file name they make `gpj.exe` show
/// as `exe.jpg`. Right-to-left writing needs none of them: letters of Arabic or Hebrew
/// carry their own direction.
pub const BIDI_CONTROLS: [char; 9] = [
    '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}',
    '\u{2069}',
];

/// The first bidirectional control in `text`, if any.
pub fn bidi_control(text: &str) -> Option<char> {
    text.chars().find(|c| BIDI_CONTROLS.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_found_and_right_to_left_writing_is_not_one() {
        assert_eq!(bidi_control("photo\u{202E}gpj.exe"), Some('\u{202E}'));
        assert_eq!(bidi_control("a\u{2067}b"), Some('\u{2067}'));
        assert_eq!(bidi_control("שלום עליכם"), None);
        assert_eq!(bidi_control("مرحبا"), None);
        assert_eq!(bidi_control("mark\u{200F}ok"), None);
    }
}
