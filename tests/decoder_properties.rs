//! Property tests of the pure decoders over random and mutated input: the frame decoder, the event
//! decoder and every accessor of the events it accepts, and the `.env` parser.
//!
//! A small xorshift generator mutates valid Zoom frames (bit flips, truncation, splicing, inserted
//! JSON tokens, deep nesting, huge numbers, random bytes). The properties: nothing panics; what is
//! accepted is self-consistent (an event's JSON line is one line of valid JSON with the same
//! value); and memory stays proportional to the input (a counting allocator measures the peak of
//! every call). `ZOOM_FUZZ_CASES` sets the number of inputs per test and `ZOOM_FUZZ_SEED` the
//! seed; each test prints how many inputs it ran (`cargo test --test decoder_properties --
//! --nocapture`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use zoom_ws::Event;
use zoom_ws::protocol::{Frame, decode_frame};

// ---- a counting allocator: the peak of live bytes on this thread --------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn track(grow: usize, shrink: usize) {
    // `try_with`: the allocator also runs while thread-locals are being torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get().saturating_add(grow).saturating_sub(shrink);
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; we only count sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        track(layout.size(), 0);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        track(0, layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        track(layout.size(), 0);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        track(new_size, layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns its result with the most memory it held at once, in bytes.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get).saturating_sub(base))
}

// ---- random input -------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    /// xorshift64*
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cases() -> u64 {
    setting("ZOOM_FUZZ_CASES", 100_000)
}

fn seed() -> u64 {
    setting("ZOOM_FUZZ_SEED", 0x5eed_2026_1130)
}

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

/// Pieces of JSON that steer mutations into the parser's corners.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "\\",
    "\\\"",
    "\\u",
    "\\ud800",
    "\\u0000",
    ":",
    ",",
    "\n",
    "\r\n",
    "\t",
    " ",
    "null",
    "true",
    "false",
    "-",
    "0",
    "1e999",
    "-1e-999",
    "123456789012345678901234567890",
    "9223372036854775808",
    "\"module\"",
    "\"message\"",
    "\"content\"",
    "\"event\"",
    "\"payload\"",
    "\"event_ts\"",
    "\"success\":false",
    "Invalid Token",
    "é",
    "東",
    "😀",
    "\u{feff}",
    "\0",
];

/// Turns `input` into something a little (or very) wrong.
fn mutate(rng: &mut Rng, input: &str, corpus: &[String]) -> String {
    let mut bytes = input.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = bytes.len();
        match rng.below(10) {
            0 if len > 0 => {
                let i = rng.below(len);
                bytes[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                bytes[i] = rng.next() as u8;
            }
            2 => bytes.truncate(rng.below(len + 1)),
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + rng.below(16)).min(len);
                bytes.drain(start..end);
            }
            4 if len > 0 => {
                let start = rng.below(len);
                let end = (start + rng.below(64)).min(len);
                let piece = bytes[start..end].to_vec();
                let at = rng.below(len + 1);
                bytes.splice(at..at, piece);
            }
            5 => {
                let other = rng.pick(corpus).as_bytes();
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                bytes.truncate(cut);
                bytes.extend_from_slice(&other[from..]);
            }
            6 | 7 => {
                let token = rng.pick(TOKENS).as_bytes();
                let at = rng.below(len + 1);
                bytes.splice(at..at, token.iter().copied());
            }
            8 => {
                let at = rng.below(len + 1);
                let depth = 1 + rng.below(3000);
                let open = if rng.chance(2) { "[" } else { "{\"a\":" };
                bytes.splice(at..at, open.repeat(depth).into_bytes());
            }
            _ => {
                let at = rng.below(len + 1);
                let digits: Vec<u8> = (0..1 + rng.below(400))
                    .map(|_| b'0' + rng.below(10) as u8)
                    .collect();
                bytes.splice(at..at, digits);
            }
        }
    }
    // Frames reach the decoder as text (tungstenite checks UTF-8).
    String::from_utf8_lossy(&bytes).into_owned()
}

fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(200);
    if rng.chance(2) {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        (0..len).map(|_| *rng.pick(TOKENS)).collect()
    }
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

/// Runs `property` on `input`, failing with the input and seed shown when it panics or holds
/// more memory than the input can justify.
fn run_one(input: &str, seed: u64, case: u64, property: fn(&str), worst: &mut f64) {
    let (outcome, peak) = peak_of(|| catch_unwind(AssertUnwindSafe(|| property(input))));
    if let Err(panic) = outcome {
        eprintln!("seed {seed:#x}, case {case}: panicked on input {input:?}");
        resume_unwind(panic);
    }
    // Decoding keeps a few copies of the text, and a parsed payload costs up to ~32 bytes of
    // `serde_json::Value` per byte of JSON (`[[],[],…]`), plus doubling growth.
    let bound = 80 * input.len() + 64 * 1024;
    assert!(
        peak <= bound,
        "seed {seed:#x}, case {case}: {peak} bytes held for a {}-byte input {:?}",
        input.len(),
        input.chars().take(200).collect::<String>()
    );
    // The ratio means something only once the input outweighs the fixed costs.
    if input.len() >= 4096 {
        *worst = worst.max(peak as f64 / input.len() as f64);
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

fn check_dotenv(text: &str) {
    if let Ok(pairs) = zoom_ws::dotenv::parse(text) {
        for (name, _) in pairs {
            assert!(
                !name.is_empty() && !name.contains(['=', ' ', '\n']),
                "{name:?}"
            );
        }
    }
}

#[test]
fn dotenv_parser_survives_random_input_and_round_trips_what_it_writes() {
    let (seed, cases) = (seed() ^ 0xd07e, cases());
    let mut rng = Rng::new(seed);
    let corpus: Vec<String> = vec![
        "CLIENT_USERNAME=id\nCLIENT_PASSWORD=secret\nSUBSCRIPTION_ID=sub\n\nOAUTH_URL=https://zoom.us/oauth/token\nWS_URL=wss://ws.zoom.us/ws\n".into(),
        "# comment\nexport A=1 # note\nB='x # y'\nC=\"a\\\"b\\nc\"  # c\nD=\nE = spaced \r\n".into(),
        "\u{feff}ZOOM_CLIENT_ID=\"東京\"\nZOOM_HEARTBEAT_INTERVAL=0.5\n".into(),
    ];
    let mut worst = 0.0f64;
    for case in 0..cases {
        let input = if rng.chance(10) {
            random_text(&mut rng)
        } else {
            let base = rng.pick(&corpus).clone();
            mutate(&mut rng, &base, &corpus)
        };
        run_one(&input, seed, case, check_dotenv, &mut worst);
    }

    // What a careful writer produces, the parser reads back exactly.
    let alphabet: Vec<char> = "aZ09_ #=\"'\\\n\t\r$é東😀".chars().collect();
    let round_trips = cases / 10;
    for case in 0..round_trips {
        let pairs: Vec<(String, String)> = (0..1 + rng.below(5))
            .map(|i| {
                let value: String = (0..rng.below(30)).map(|_| *rng.pick(&alphabet)).collect();
                (format!("K{i}_{}", rng.below(1000)), value)
            })
            .collect();
        let mut text = String::new();
        for (name, value) in &pairs {
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
                .replace('\t', "\\t")
                .replace('\r', "\\r");
            let export = if rng.chance(3) { "export " } else { "" };
            text.push_str(&format!("{export}{name}=\"{escaped}\"\n"));
        }
        let parsed = zoom_ws::dotenv::parse(&text)
            .unwrap_or_else(|e| panic!("seed {seed:#x}, case {case}: {e} in {text:?}"));
        assert_eq!(parsed, pairs, "seed {seed:#x}, case {case}: {text:?}");
    }
    eprintln!(
        ".env parser: {cases} inputs and {round_trips} round trips (seed {seed:#x}), peak \
         memory at most {worst:.1} bytes per byte of inputs over 4 KiB"
    );
}
