//! Property tests of the pure decoders over random and mutated input: the frame decoder, the event
//! decoder and every accessor of the events it accepts. (The CLI's `.env` reader has its own, in
//! `cli/tests/dotenv_properties.rs`, on the same machinery: `tests/properties`.)
//!
//! A small xorshift generator mutates valid Zoom frames (bit flips, truncation, splicing, inserted
//! JSON tokens, deep nesting, huge numbers, random bytes). The properties: nothing panics; what is
//! accepted is self-consistent (an event's JSON line is one line of valid JSON with the same
//! value); and memory stays proportional to the input (a counting allocator measures the peak of
//! every call). `ZOOM_FUZZ_CASES` sets the number of inputs per test and `ZOOM_FUZZ_SEED` the
//! seed; each test prints how many inputs it ran (`cargo test --test decoder_properties --
//! --nocapture`).

mod properties;

use properties::{Rng, cases, mutate, random_text, run_one, seed};
use zoom_ws::Event;
use zoom_ws::protocol::{Frame, decode_frame};

fn message(event_json: &str) -> String {
    serde_json::json!({"module":"message","success":true,"content":event_json,"header":{}})
        .to_string()
}

/// Valid events, the way Zoom writes them and a few ways it might.
fn events() -> Vec<String> {
    vec![
        r#"{"event":"meeting.started","event_ts":1764500000000,"payload":{"account_id":"AbC","object":{"id":"8000000001","uuid":"4444AAAiAAAAAiAiAiiAii==","topic":"My Meeting","type":2,"duration":60}}}"#.to_string(),
        r#"{"event":"meeting.participant_joined","event_ts":1,"payload":{"object":{"participant":{"user_name":"Zoë \"Z\" 東京","join_time":"2026-11-30T13:00:00Z"}}}}"#.to_string(),
        "{\n  \"event\": \"recording.completed\",\n  \"event_ts\": 17,\n  \"payload\": {\"files\": [1, 2.5, -3e2, true, null, {}]}\n}".to_string(),
        r#"{"event":"a\u002eb\n","payload":{"x":"\ud83d\ude00"}}"#.to_string(),
        r#"{"event":"user.created"}"#.to_string(),
        r#"{"payload":{"n":123456789012345678901234567890,"f":1e308,"tiny":1e-400}}"#.to_string(),
        r#"{"event":"x","event_ts":-9223372036854775808,"payload":[]}"#.to_string(),
        "{\"event\":\"x\",\"payload\":{\"deep\":".to_string() + &"[".repeat(60) + &"]".repeat(60) + "}}",
    ]
}

/// Valid frames: every module Zoom sends, and events encoded both ways.
fn frames() -> Vec<String> {
    let mut frames: Vec<String> = events().iter().map(|e| message(e)).collect();
    frames.extend(
        [
            r#"{"module":"build_connection","success":true,"content":"conn_id_5a6b7c","header":{}}"#,
            r#"{"module":"build_connection","success":false,"content":"Invalid Token","header":{}}"#,
            r#"{"module":"heartbeat","success":true,"content":"live","header":{}}"#,
            r#"{"module":"heartbeat"}"#,
            r#"{"module":"message","success":false,"content":"Token is invalid"}"#,
            r#"{"module":"message","success":true,"content":{"event":"user.updated","payload":{"a":[1,{"b":null}]}}}"#,
            r#"{"module":"surprise","success":"maybe","content":["x"],"header":{"k":"v"}}"#,
        ]
        .map(str::to_string),
    );
    frames
}

// ---- the properties ----------------------------------------------------------------------------

/// Everything a caller can ask of an accepted event, with the invariants that must hold.
fn exercise(event: &Event) {
    let _ = event.name();
    let _ = event.event_ts();
    let _ = format!("{event:?}");
    let line = event.json_line();
    assert!(!line.contains(['\n', '\r']), "json_line is not one line");
    serde_json::from_str::<&serde_json::value::RawValue>(&line).expect("json_line is valid JSON");
    // Where serde_json can build a value (numbers in range, no lone surrogates), it is the same.
    if let Ok(from_content) = serde_json::from_str::<serde_json::Value>(event.content()) {
        let from_line: serde_json::Value = serde_json::from_str(&line).expect("same value");
        assert_eq!(from_line, from_content, "json_line changed the event");
    }
    serde_json::from_str::<&serde_json::value::RawValue>(event.payload_json())
        .expect("payload_json is valid JSON");
    let _ = event.payload();
    let copy = event.clone();
    assert!(copy == *event);
}

fn check_frame(text: &str) {
    if let Ok(Frame::Event(event)) = decode_frame(text) {
        exercise(&event);
    }
}

fn check_content(text: &str) {
    if let Ok(event) = Event::from_content(text.to_string()) {
        assert_eq!(event.content(), text);
        exercise(&event);
    }
}

#[test]
fn frame_decoder_survives_random_and_mutated_frames() {
    let (seed, cases) = (seed(), cases());
    let mut rng = Rng::new(seed);
    let corpus = frames();
    let mut worst = 0.0f64;
    let mut accepted = 0u64;
    for frame in &corpus {
        assert!(decode_frame(frame).is_ok(), "valid frame refused: {frame}");
    }
    for case in 0..cases {
        let input = if rng.chance(10) {
            random_text(&mut rng)
        } else {
            let base = rng.pick(&corpus).clone();
            mutate(&mut rng, &base, &corpus)
        };
        if matches!(decode_frame(&input), Ok(Frame::Event(_))) {
            accepted += 1;
        }
        run_one(&input, seed, case, check_frame, &mut worst);
    }
    eprintln!(
        "frame decoder: {cases} inputs (seed {seed:#x}), {accepted} decoded as events, \
         peak memory at most {worst:.1} bytes per byte of inputs over 4 KiB"
    );
    assert!(
        accepted > cases / 50,
        "mutations too destructive: {accepted} events"
    );
}

#[test]
fn event_decoder_survives_random_and_mutated_content() {
    let (seed, cases) = (seed() ^ 0xe1e1, cases());
    let mut rng = Rng::new(seed);
    let corpus = events();
    let mut worst = 0.0f64;
    let mut accepted = 0u64;
    for case in 0..cases {
        let input = if rng.chance(10) {
            random_text(&mut rng)
        } else {
            let base = rng.pick(&corpus).clone();
            mutate(&mut rng, &base, &corpus)
        };
        if Event::from_content(input.clone()).is_ok() {
            accepted += 1;
        }
        run_one(&input, seed, case, check_content, &mut worst);
    }
    eprintln!(
        "event decoder: {cases} inputs (seed {seed:#x}), {accepted} accepted, \
         peak memory at most {worst:.1} bytes per byte of inputs over 4 KiB"
    );
    assert!(
        accepted > cases / 50,
        "mutations too destructive: {accepted} events"
    );
}
