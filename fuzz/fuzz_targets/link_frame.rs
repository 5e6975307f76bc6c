//! A WebSocket text frame from a client, read as the live link reads it
//! (`haurach_server::http::link::parse_client_frame`: U+0000 refused, then the JSON into a
//! `ClientFrame`; a `position` with its type first read directly, `position_first`, which
//! must give what the general reading gives), then what is checked of it before the hub acts: a position's
//! coordinates, accuracy and time (`fix_of`), a message's shape (`validate_message`).
//! A thought's edits pass the server unchanged to the partner, whose client applies them
//! (`ThoughtText::apply`, as the CLI's `watch` does): that runs too.
#![no_main]

use haurach_bond::thoughts::ThoughtText;
use haurach_proto::ClientFrame;
use haurach_server::http::account::fix_of;
use haurach_server::http::link::{parse_client_frame, position_first};
use haurach_server::runtime::messages::validate_message;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// A fixed "now" (2026-01-01T00:00:00Z), so that a run can be repeated.
const NOW_MS: i64 = 1_767_225_600_000;

/// Whether any text in `value`, a key or a string, holds U+0000.
fn carries_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(carries_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || carries_nul(v)),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    // A text frame is UTF-8: the WebSocket library closes a link that sends one that is not.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(update) = position_first(text) {
        let general = serde_json::from_str::<ClientFrame>(text).ok();
        assert_eq!(general, Some(ClientFrame::Position(update)), "read directly: {text}");
    }
    let Ok(frame) = parse_client_frame(text) else {
        return;
    };
    // The door's promise (docs/security.md): no frame that passes carries U+0000.
    let value = serde_json::to_value(&frame).expect("a client frame serializes");
    assert!(!carries_nul(&value), "U+0000 passed the door: {value}");
    match frame {
        ClientFrame::Position(update) => {
            if let Ok(fix) = fix_of(&update, NOW_MS) {
                assert!(haurach_bond::geo::valid_coordinates(fix.lat, fix.lon));
                assert!(fix.accuracy_m.is_finite() && fix.accuracy_m >= 0.0);
                assert!(fix.at_ms <= NOW_MS + 60_000);
            }
        }
        ClientFrame::Send(message) => {
            let _ = validate_message(&message);
        }
        ClientFrame::Thought { seq, reset, edits } => {
            // The partner receives the batch as a reset first, then (on the text that
            // made) as the next batch in sequence.
            let mut thought = ThoughtText::default();
            thought.apply(seq, true, &edits);
            thought.apply(seq.wrapping_add(1), reset, &edits);
        }
        _ => {}
    }
});
