//! Any `.env` text: parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

// The reader is part of the CLI binary: compile its file into this target.
#[path = "../../cli/src/dotenv.rs"]
mod dotenv;

fuzz_target!(|text: &str| {
    let _ = dotenv::parse(text);
});
