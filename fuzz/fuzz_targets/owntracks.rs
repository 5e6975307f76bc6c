//! A body posted to `POST /owntracks`, read as the server reads it
//! (`haurach_server::http::owntracks::read_payload`: JSON, one message or an array, each
//! interpreted by its `_type`), then the checks the hub makes before it acts: a fix is
//! a valid position, a waypoint's name and circle are checked like any place's.
#![no_main]

use haurach_server::http::owntracks::{Action, read_payload};
use haurach_server::runtime::places::{check_place, check_place_name};
use libfuzzer_sys::fuzz_target;

/// A fixed "now" (2026-01-01T00:00:00Z), so that a run can be repeated.
const NOW_MS: i64 = 1_767_225_600_000;

fuzz_target!(|data: &[u8]| {
    let Ok(actions) = read_payload(data, NOW_MS) else {
        return;
    };
    for action in actions {
        match action {
            Action::Fix(fix, battery) => {
                assert!(battery.is_none_or(|b| b <= 100));
                assert!(haurach_bond::geo::valid_coordinates(fix.lat, fix.lon));
                assert!(fix.accuracy_m.is_finite() && fix.accuracy_m >= 0.0);
                assert!(fix.at_ms <= NOW_MS + 60_000);
            }
            Action::Places(places) => {
                for (name, input) in &places {
                    let _ = check_place_name(name);
                    let _ = check_place(input);
                }
            }
            Action::Nothing => {}
        }
    }
});
