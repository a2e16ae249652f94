//! The machinery of the property tests, shared by the library's decoders
//! (`tests/decoder_properties.rs`) and the CLI's `.env` reader (`cli/tests/dotenv_properties.rs`):
//! a counting allocator, a small random generator, mutations of valid input, and one runner that
//! checks a property and the memory it held. `ZOOM_FUZZ_CASES` and `ZOOM_FUZZ_SEED` set the number
//! of inputs and the seed.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

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
pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    (out, PEAK.with(Cell::get).saturating_sub(base))
}

// ---- random input -------------------------------------------------------------------------------

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    /// xorshift64*
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn cases() -> u64 {
    setting("ZOOM_FUZZ_CASES", 100_000)
}

pub fn seed() -> u64 {
    setting("ZOOM_FUZZ_SEED", 0x5eed_2026_1130)
}

/// Pieces of JSON that steer mutations into the parser's corners.
pub const TOKENS: &[&str] = &[
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
pub fn mutate(rng: &mut Rng, input: &str, corpus: &[String]) -> String {
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

pub fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(200);
    if rng.chance(2) {
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    } else {
        (0..len).map(|_| *rng.pick(TOKENS)).collect()
    }
}

/// Runs `property` on `input`, failing with the input and seed shown when it panics or holds
/// more memory than the input can justify.
pub fn run_one(input: &str, seed: u64, case: u64, property: fn(&str), worst: &mut f64) {
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
