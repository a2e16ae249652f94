//! Any text frame: decoding never panics, and an accepted event answers every accessor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zoom_ws::protocol::{Frame, decode_frame};

fuzz_target!(|text: &str| {
    if let Ok(Frame::Event(event)) = decode_frame(text) {
        let _ = (
            event.name(),
            event.event_ts(),
            event.payload().ok(),
            event.payload_json(),
        );
        let line = event.json_line();
        assert!(!line.contains(['\n', '\r']));
    }
});
