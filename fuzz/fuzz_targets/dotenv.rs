//! Any `.env` text: parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = zoom_ws::dotenv::parse(text);
});
