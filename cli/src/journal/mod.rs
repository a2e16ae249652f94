//! A write-ahead journal on disk (`--spool DIR`): one FIFO of events shared by every output, each
//! output with its own durable position.
//!
//! # Format
//!
//! The directory (made `0700`) holds only these files, each `0600`, none ever opened through a
//! symbolic link (`O_NOFOLLOW`, and a directory holding anything else is refused untouched):
//!
//! - `lock`: held with `flock(LOCK_EX | LOCK_NB)` while a process uses the journal, so a second
//!   process fails at once.
//! - `seg-<N>.log`: a segment, where `<N>` (20 digits) is the sequence number of its first
//!   record. Records follow each other with no padding: `[len u32 LE][crc u32 LE][payload]`,
//!   where `crc` is the CRC-32 (IEEE, as in zip and gzip) of the four length bytes and the
//!   payload; a payload is at most 16 MiB. A new segment starts before a record that would take
//!   the current one past the segment size (8 MiB by default). A segment is removed once every
//!   output has acknowledged all of it (never the newest, whose name carries the numbering), or
//!   when the journal is over its size limit (1 GiB by default).
//! - `cursor-<output>`: 32 bytes, two slots of `["ZWC1"][next u64 LE][crc u32 LE]`, written in
//!   turn; the valid slot with the higher `next` is the sequence number that output wants next.
//!   A slot torn by a crash fails its checksum and the other still holds the previous position.
//!   An output without a cursor starts at the oldest event kept.
//!
//! On open, the newest two segments (the ones a crash can leave unsynced) are read through
//! and every checksum checked; a short record, an impossible length or a bad checksum ends the
//! valid data, and what follows is cut and logged with the number of bytes. Older segments are
//! checked record by record as they are read: a damaged record skips the rest of its segment,
//! counted as dropped and logged. Nothing that fails its checksum is ever taken for an event.
//!
//! # Fsync policy (group commit)
//!
//! [`Journal::append`] writes a record with one `pwrite` and returns without waiting, so a
//! `kill -9` loses nothing appended. A committer thread syncs as soon as there is something to
//! sync, but not more often than once per commit interval (5 ms by default), so what arrives in
//! between shares one sync: it `fdatasync`s the segments written since
//! the last commit (and the directory after a new segment), and only then makes those records
//! visible to the outputs — an event is durable before any output sees it. An output's position
//! moves with one `pwrite` of its cursor when it acknowledges an event, and cursors are
//! `fdatasync`ed in the same groups.
//!
//! What can still be lost or repeated:
//! - power loss or a kernel crash: events appended in the last commit interval that were not yet
//!   synced (none of them had reached an output); events acknowledged in that interval are
//!   delivered again after the restart;
//! - `kill -9`: nothing appended; the event an output had taken but not acknowledged is
//!   delivered again (at-least-once);
//! - over the size limit or with a full disk: the oldest segment is dropped, counted per output
//!   (events it had not taken) and logged at ERROR; if the disk is still full, the new event is
//!   counted as dropped for every output. Appending resumes by itself when space returns.
//! - a failing `fdatasync` (an I/O error): logged at ERROR and retried every interval; until it
//!   succeeds the outputs see no newer event. (Linux may have dropped the pages it could not
//!   write, so a power loss then can lose those events.)
//!
//! Memory does not grow with the journal: records are read one at a time at each output's
//! position, never a whole segment.

mod commit;
mod dir;
mod error;
mod format;
mod open;
mod state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_disk;
#[cfg(test)]
mod tests_kill;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use error::JournalError;
use state::State;

/// How large a journal may grow and how often it syncs.
#[derive(Clone, Debug)]
pub struct JournalOptions {
    /// Size limit for all segments together; beyond it the oldest segment is dropped.
    pub max_bytes: u64,
    /// A new segment starts before one would grow past this; kept between 1/256 and 1/4 of
    /// `max_bytes` (and at least 4 KiB), so a journal has a few hundred files at most.
    pub segment_bytes: u64,
    /// Longest wait between appending a record and syncing it.
    pub commit_interval: Duration,
    /// What a user can do when events are dropped, for the ERROR line.
    pub remedy: String,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            max_bytes: 1 << 30,
            segment_bytes: 8 << 20,
            commit_interval: Duration::from_millis(5),
            remedy: "give the journal a larger size limit or more disk, or find out why \
                     those outputs fall behind"
                .into(),
        }
    }
}

/// What a journal held when opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Per output, in the order given: events in the journal it has not taken yet.
    pub waiting: Vec<(String, u64)>,
    /// Bytes of a torn tail cut from the newest segments.
    pub torn_bytes: u64,
    /// Bytes in the journal after that.
    pub bytes: u64,
}

/// What an append did besides storing the event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Appended {
    /// Events removed with the oldest segments to make room (size limit or full disk) before
    /// some output took them: the most any one output lost.
    pub dropped_oldest: u64,
}

/// One event read back for an output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number, to acknowledge it with.
    pub seq: u64,
    pub bytes: Vec<u8>,
}

/// Syncs done so far, for the figures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Group commits.
    pub commits: u64,
    /// `fdatasync`/`fsync` calls (segments, cursors and the directory).
    pub fsyncs: u64,
}

/// The journal; `Send + Sync`, shared through an `Arc` by the socket threads (append) and one
/// worker per output (next and ack).
pub struct Journal {
    shared: Arc<Shared>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

/// What the committer thread shares with the callers.
struct Shared {
    dir: PathBuf,
    opts: JournalOptions,
    state: Mutex<State>,
    /// Records became durable, or the journal closed.
    readable: Condvar,
    /// Something to sync, or the journal closed.
    work: Condvar,
    dir_file: File,
    /// Held open for the lock.
    _lock: File,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Journal {
    /// Opens the journal in `dir` (created if missing) for `outputs`, each resuming where it
    /// was; cuts a torn tail; starts the committer.
    pub fn open(
        dir: &Path,
        outputs: &[&str],
        opts: JournalOptions,
    ) -> Result<(Journal, OpenReport), JournalError> {
        let (shared, report) = open::open(dir, outputs, opts)?;
        let shared = Arc::new(shared);
        let worker = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("journal-commit".into())
            .spawn(move || commit::run(&worker))
            .map_err(|e| JournalError::io("start the committer for", dir, e))?;
        let journal = Journal {
            shared,
            committer: Mutex::new(Some(handle)),
        };
        Ok((journal, report))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Adds an event at the end. Returns once it is written (not yet synced); never waits for
    /// an output. On error the event is not stored, and is counted as dropped for every output.
    pub fn append(&self, payload: &[u8]) -> Result<Appended, JournalError> {
        let max = state::max_record(&self.shared.opts);
        if payload.len() > max {
            return Err(self.shared.lock().too_large(payload.len(), max));
        }
        let record = format::encode(payload);
        let mut st = self.shared.lock();
        if st.closed {
            return Err(JournalError::Closed);
        }
        let appended = st.append(&self.shared, &record)?;
        if st.committer_idle {
            st.committer_idle = false;
            self.shared.work.notify_one();
        }
        Ok(appended)
    }

    /// The next durable record for `output`, waiting for one until `deadline`; `None` at the
    /// deadline, once closed, or for an unknown output. Records come in order; one taken and not
    /// acknowledged is given again only after a restart.
    pub fn next(&self, output: &str, deadline: Instant) -> Option<Record> {
        let st = self.shared.lock();
        let i = st.output(output)?;
        state::next(&self.shared, st, i, deadline)
    }

    /// `output` is done with record `seq` (and every one before it): its position moves past
    /// it, and segments every output is done with are removed.
    pub fn ack(&self, output: &str, seq: u64) {
        let mut st = self.shared.lock();
        if let Some(i) = st.output(output) {
            st.ack(i, seq);
            if st.committer_idle {
                st.committer_idle = false;
                self.shared.work.notify_one();
            }
        }
    }

    /// Stops `output`'s reader: a waiting `next` returns `None` at once, and so does every later
    /// one. Its position stays where its last `ack` put it.
    pub fn stop(&self, output: &str) {
        let mut st = self.shared.lock();
        if let Some(i) = st.output(output) {
            st.outputs[i].stopped = true;
            self.shared.readable.notify_all();
        }
    }

    /// Events in the journal `output` has not acknowledged yet.
    pub fn pending(&self, output: &str) -> u64 {
        let st = self.shared.lock();
        st.output(output).map_or(0, |i| st.pending(i))
    }

    /// Events `output` lost: dropped over the limit or for a full disk before it took them.
    pub fn dropped(&self, output: &str) -> u64 {
        let st = self.shared.lock();
        st.output(output).map_or(0, |i| st.outputs[i].dropped)
    }

    /// Whether record `seq` is still in the journal: not acknowledged by every output, and not
    /// dropped with its segment (over the limit or for a full disk) while an output held it.
    pub fn holds(&self, seq: u64) -> bool {
        let st = self.shared.lock();
        let oldest = st.segments.front().map_or(st.next_seq, |s| s.first);
        (oldest..st.next_seq).contains(&seq)
    }

    /// Bytes in the segments.
    #[cfg(test)]
    pub fn size_bytes(&self) -> u64 {
        self.shared.lock().bytes
    }

    /// Syncs so far.
    pub fn sync_stats(&self) -> SyncStats {
        self.shared.lock().stats
    }

    /// Wakes every waiting `next`, syncs data and positions a last time and stops the
    /// committer. Appends fail from now on; an `ack` still lands (synced at once).
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
        self.shared.readable.notify_all();
        let handle = self
            .committer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            let _ = handle.join();
        }
    }
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.shared.dir)
            .finish_non_exhaustive()
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}
