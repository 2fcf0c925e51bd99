//! Fuzz target `config`: bytes → `Config::parse`, the loader's from-string entry point
//! (TOML, then validation). Asserts no panic, and that every error is a value with a
//! location: the message starts with the path it was given.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A folder that does not exist: a `sources_file` or template named by the input is
    // absent, and nothing is read from or written to the disk.
    let path = Path::new("/nonexistent-relais-fuzz/relais.toml");
    if let Err(e) = relais::config::Config::parse(text, path) {
        let message = e.to_string();
        assert!(
            message.starts_with("/nonexistent-relais-fuzz/"),
            "error without a location: {message:?}"
        );
    }
});
