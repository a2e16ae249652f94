//! The journal's interface where it cannot run (it needs Unix: `flock`, `pwrite`, modes):
//! `--spool` is refused at start with a clear message, and nothing else changes.

// The interface mirrors the Unix journal, whose callers use only part of it here.
#![allow(dead_code)]

use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why the journal cannot be used here.
pub enum JournalError {
    /// Not on this platform.
    Unsupported,
    /// Never made (there is no journal to close).
    Closed,
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("--spool needs a Unix system (Linux, macOS, BSD); leave it out here")
    }
}

impl fmt::Debug for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// As on Unix.
#[derive(Clone, Debug)]
pub struct JournalOptions {
    pub max_bytes: u64,
    pub segment_bytes: u64,
    pub commit_interval: Duration,
    pub buffer_bytes: usize,
    pub forget: Vec<String>,
    pub remedy: String,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            max_bytes: 1 << 30,
            segment_bytes: 8 << 20,
            commit_interval: Duration::from_millis(5),
            buffer_bytes: 8 << 20,
            forget: Vec::new(),
            remedy: String::new(),
        }
    }
}

/// As on Unix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub waiting: Vec<(String, u64)>,
    pub torn_bytes: u64,
    pub bytes: u64,
}

/// As on Unix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    pub dropped_oldest: u64,
}

/// As on Unix.
pub struct Record {
    pub seq: u64,
    pub bytes: Vec<u8>,
}

/// As on Unix.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    pub commits: u64,
    pub fsyncs: u64,
}

/// A journal that cannot exist: `open` always fails, so no method below ever runs.
pub enum Journal {}

impl Journal {
    pub fn open(
        _dir: &Path,
        _outputs: &[&str],
        _opts: JournalOptions,
    ) -> Result<(Journal, OpenReport), JournalError> {
        Err(JournalError::Unsupported)
    }
    pub fn dir(&self) -> &Path {
        match *self {}
    }
    pub fn append(&self, _payload: &[u8]) -> Result<Appended, JournalError> {
        match *self {}
    }
    pub fn has_room(&self) -> bool {
        match *self {}
    }
    pub fn next(&self, _output: &str, _deadline: Instant) -> Option<Record> {
        match *self {}
    }
    pub fn ack(&self, _output: &str, _seq: u64) {
        match *self {}
    }
    pub fn stop(&self, _output: &str) {
        match *self {}
    }
    pub fn pending(&self, _output: &str) -> u64 {
        match *self {}
    }
    pub fn holds(&self, _seq: u64) -> bool {
        match *self {}
    }
    pub fn dropped(&self, _output: &str) -> u64 {
        match *self {}
    }
    pub fn sync_stats(&self) -> SyncStats {
        match *self {}
    }
    pub fn close(&self) {
        match *self {}
    }
}
