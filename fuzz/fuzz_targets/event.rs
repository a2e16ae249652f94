//! Any event text: decoding never panics, and an accepted event answers every accessor.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zoom_ws::Event;

fuzz_target!(|text: &str| {
    if let Ok(event) = Event::from_content(text.to_string()) {
        assert_eq!(event.content(), text);
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
