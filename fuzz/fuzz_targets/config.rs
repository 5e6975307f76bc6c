//! The server's configuration file, read as `Config::load` reads it (UTF-8 text, then
//! `Config::from_toml` over the defaults), checked by `Config::validate`, and, when valid,
//! what the server derives from it.
#![no_main]

use haurach_server::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // `Config::load` reads the file with `read_to_string`, which refuses what is not UTF-8.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_toml(text) else {
        return;
    };
    if config.validate().is_err() {
        return;
    }
    let _ = config.journey_keep_ms();
    let _ = config.contact_timeout();
    let _ = std::time::Duration::from_secs_f64(config.header_read_timeout_s);
});
