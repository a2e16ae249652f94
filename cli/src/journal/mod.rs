//! A write-ahead journal on disk (`--spool DIR`): one FIFO of events shared by every output, each
//! output with its own durable position. It never loses in silence: every sequence number an
//! output expects either reaches it, in order, or is counted as lost for it with an ERROR line.
//!
//! # Format (2)
//!
//! The directory (made `0700`, refused if it is a symbolic link) holds only these files, each
//! `0600`, none ever opened through a link (`O_NOFOLLOW`; a directory holding anything else is
//! refused untouched):
//!
//! - `lock`: held with `flock(LOCK_EX | LOCK_NB)` while a process uses the journal.
//! - `seg-<N>.log`: a segment, `<N>` (20 digits) the sequence number of its first record.
//!   Records follow each other with no padding: `[len u32][crc u32][seq u64][payload]` (little
//!   endian), `crc` the CRC-32 (IEEE, as in zip) of the length, sequence number and payload; a
//!   payload is at most 16 MiB. A new segment starts before a record that would take the current
//!   one past the segment size: the least of 8 MiB, 1/64 of the size limit and 1/16 of the free
//!   space at open (at least 4 KiB), so a drop frees little at a time. A segment leaves once
//!   every output, present or not, has acknowledged all of it (never the newest).
//! - `cursor-<output>` (and `seq`): two slots of `["ZWC2"][next u64][lost u64][crc u32]`,
//!   written in turn; the valid slot with the higher `next` counts, so a slot torn by a crash
//!   leaves the previous one. `next` is the sequence number the output wants next; `lost`
//!   counts events dropped for it that no run with it has reported yet. `seq` holds the
//!   high-water mark: sequence numbers below it were used, and are never used again.
//!
//! # Damage
//!
//! A record that fails its check costs that record alone: reading resynchronises at the next
//! offset where a whole record with a valid checksum and a plausible sequence number starts (as
//! LevelDB's log reader does). Sequence numbers find every loss: a record numbered past the one
//! expected, a segment named past the end of the previous one (a segment deleted or emptied),
//! a high-water mark past the newest record (the newest segment deleted), a cursor before the
//! oldest segment. Each is an ERROR naming the range, counted for the output that expected it
//! (exit 4). On open only the end of the newest segment, past its last valid record and past the
//! high-water mark, is a torn tail (a write cut short by a crash): cut, with a WARN. A cursor
//! that is empty, damaged or past the end falls back to the oldest event kept (WARN, with how
//! many may come again); never a skip.
//!
//! # Writing (group commit) and what "taken" means
//!
//! [`Journal::append`] numbers the record and copies it into a bounded buffer in memory; it
//! never touches the disk nor a lock held across disk I/O. The committer thread takes the whole
//! buffer once per commit interval (5 ms; sooner when a quarter full), checksums it, writes it
//! with one `pwrite` per segment, `fdatasync`s the segments (the directory after a new one),
//! then the high-water mark, then the cursors that moved — and only then are those records
//! visible to the outputs: an event is durable before any output sees it. It also creates,
//! drops and removes segments. When the disk stalls, the buffer fills and
//! [`Journal::has_room`] turns false (the socket threads stop reading, heartbeats go on).
//!
//! An event is taken when its commit is done. What can still be lost or repeated:
//! - `kill -9` or a crash of the process: the events in the append buffer (at most the last
//!   commit interval, bounded by the buffer's size) — they never reached an output, and are not
//!   counted; the event an output had taken but not acknowledged comes again;
//! - power loss or a kernel crash: the same, and acknowledgements of the last interval (those
//!   events come again);
//! - damage on disk: the damaged records (counted and logged per output);
//! - over the size limit or with a full disk: the oldest segment, one small segment at a time,
//!   counted per output (events it had not taken). The drop is written to the cursors (synced)
//!   before the segment goes, so a kill between the two loses nothing unreported, and an output
//!   absent from the run hears of it when it runs again; an event the disk has no room for at
//!   all becomes a gap, counted by every output that reaches it;
//! - a failing `fdatasync`: logged and retried each interval; until it succeeds the outputs see
//!   no newer event.
//!
//! Memory does not grow with the journal: each output reads a chunk (256 KiB) at a time.

mod commit;
mod dir;
mod error;
mod format;
mod open;
mod state;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_damage;
#[cfg(test)]
mod tests_disk;
#[cfg(test)]
mod tests_kill;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use error::JournalError;
use state::State;

/// What a user can do when events are dropped, for the ERROR line.
const REMEDY: &str =
    "a larger --spool-max (or more disk) keeps more; or find out why that output falls behind";

/// How large a journal may grow and how often it syncs.
#[derive(Clone, Debug)]
pub struct JournalOptions {
    /// Size limit for all segments together; beyond it the oldest segment is dropped.
    pub max_bytes: u64,
    /// The largest a segment may grow (see the module doc for the smaller bounds).
    pub segment_bytes: u64,
    /// Longest wait between appending a record and syncing it.
    pub commit_interval: Duration,
    /// Appended bytes held in memory for the committer; beyond it `has_room` is false.
    pub buffer_bytes: usize,
    /// Outputs whose cursors are removed on open, with what they still held (`--spool-forget`).
    pub forget: Vec<String>,
    /// Test hook: the committer sleeps this long before each write and sync (a stalled disk).
    #[cfg(test)]
    pub stall: Duration,
    /// Test hook: the process kills itself (SIGKILL) inside a drop, once the cursors are
    /// synced and before the segment is removed.
    #[cfg(test)]
    pub kill_in_drop: bool,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            max_bytes: 1 << 30,
            segment_bytes: 8 << 20,
            commit_interval: Duration::from_millis(5),
            buffer_bytes: 8 << 20,
            forget: Vec::new(),
            #[cfg(test)]
            stall: Duration::ZERO,
            #[cfg(test)]
            kill_in_drop: false,
        }
    }
}

/// What a journal held when opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Per output of this run, in the order given: events it has not acknowledged yet.
    pub waiting: Vec<(String, u64)>,
    /// Bytes of a torn tail cut from the newest segment.
    pub torn_bytes: u64,
    /// Bytes in the journal after that.
    pub bytes: u64,
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
    /// `fdatasync`/`fsync` calls (segments, cursors, the high-water mark and the directory).
    pub fsyncs: u64,
}

/// The journal; `Send + Sync`, shared through an `Arc` by the socket threads (append) and one
/// worker per output (next and ack).
pub struct Journal {
    shared: Arc<Shared>,
    committer: Mutex<Option<JoinHandle<()>>>,
}

/// Appends waiting for the committer; its lock is never held across disk I/O.
struct Inbox {
    /// Records as [`format::push`] leaves them.
    buf: Vec<u8>,
    next_seq: u64,
    closed: bool,
    /// The committer waits on `work`.
    idle: bool,
}

/// What the committer thread shares with the callers.
struct Shared {
    dir: PathBuf,
    opts: JournalOptions,
    /// Names of this run's outputs, for log lines written without the state lock.
    names: String,
    inbox: Mutex<Inbox>,
    /// Appends or acknowledgements to commit, or the journal closed.
    work: Condvar,
    state: Mutex<State>,
    /// Records became durable, or the journal closed.
    readable: Condvar,
    /// Cursors moved since the committer last looked (set without the inbox's lock).
    kick: AtomicBool,
    /// Events refused on append (too large, buffer full, closed): lost for every output.
    refused: AtomicU64,
    dir_file: File,
    /// Held open for the lock.
    _lock: File,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        crate::sync::lock(&self.inbox)
    }

    /// An event refused on append: counted for every output, logged on the first and every
    /// power of two.
    fn refuse(&self, e: JournalError) -> JournalError {
        let n = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_power_of_two() {
            log::error!(
                "dropped an event for {} ({n} so far): {e}; {}",
                self.names,
                REMEDY
            );
        }
        e
    }
}

impl Journal {
    /// Opens the journal in `dir` (created if missing) for `outputs`, each resuming where it
    /// was; reports what it finds; starts the committer.
    pub fn open(
        dir: &Path,
        outputs: &[&str],
        opts: JournalOptions,
    ) -> Result<(Journal, OpenReport), JournalError> {
        let (shared, report, seq) = open::open(dir, outputs, opts)?;
        let shared = Arc::new(shared);
        let worker = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("journal-commit".into())
            .spawn(move || commit::run(&worker, seq))
            .map_err(|e| JournalError::io("start the committer for", dir, e))?;
        let journal = Journal {
            shared,
            committer: Mutex::new(Some(handle)),
        };
        Ok((journal, report))
    }

    /// Adds an event at the end: into the append buffer, for the committer to write and sync
    /// (see the module doc for when it is taken). Never waits for the disk. An event too large,
    /// beyond twice the buffer's size or after the close is refused: counted as dropped for
    /// every output (drops on the committer show in [`Journal::dropped`] too).
    pub fn append(&self, payload: &[u8]) -> Result<(), JournalError> {
        let (max, cap) = (
            open::max_record(&self.shared.opts),
            self.shared.opts.buffer_bytes,
        );
        if payload.len() > max {
            let len = payload.len();
            let e = format!(
                "an event of {len} bytes is larger than a journal record may be ({max} bytes)"
            );
            return Err(self.shared.refuse(JournalError(e)));
        }
        let mut inbox = self.shared.inbox();
        if inbox.closed {
            drop(inbox);
            let e = JournalError("the journal is closed".into());
            return Err(self.shared.refuse(e));
        }
        let before = inbox.buf.len();
        if before > 0 && before + payload.len() > 2 * cap {
            drop(inbox);
            let e = format!(
                "the journal's append buffer is full ({before} bytes): the disk does not keep up"
            );
            return Err(self.shared.refuse(JournalError(e)));
        }
        let seq = inbox.next_seq;
        format::push(&mut inbox.buf, seq, payload);
        inbox.next_seq += 1;
        if inbox.idle && (before == 0 || (before < cap / 4 && inbox.buf.len() >= cap / 4)) {
            self.shared.work.notify_one();
        }
        Ok(())
    }

    /// Whether the append buffer has room: false while the disk does not keep up. Never waits
    /// for the disk.
    pub fn has_room(&self) -> bool {
        let inbox = self.shared.inbox();
        inbox.closed || inbox.buf.len() < self.shared.opts.buffer_bytes
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
    /// it (written by the committer, or here once the journal is closed).
    pub fn ack(&self, output: &str, seq: u64) {
        let mut st = self.shared.lock();
        let Some(i) = st.output(output) else { return };
        let next = seq.saturating_add(1).min(st.written);
        if next <= st.outputs[i].acked {
            return;
        }
        st.outputs[i].acked = next;
        if st.committer_done {
            drop(commit::write_cursors(&self.shared, st));
            return;
        }
        drop(st);
        if !self.shared.kick.swap(true, Ordering::AcqRel) {
            let inbox = self.shared.inbox();
            if inbox.idle {
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

    /// Events in the journal `output` has not acknowledged yet (appended ones included).
    pub fn pending(&self, output: &str) -> u64 {
        let st = self.shared.lock();
        let Some(i) = st.output(output) else { return 0 };
        let next_seq = self.shared.inbox().next_seq;
        next_seq.saturating_sub(st.outputs[i].acked.max(st.oldest()))
    }

    /// Events `output` lost: damaged or missing records it expected, drops over the limit or
    /// for a full disk before it took them (this run's and unreported earlier ones), refusals.
    pub fn dropped(&self, output: &str) -> u64 {
        let st = self.shared.lock();
        st.output(output).map_or(0, |i| {
            st.outputs[i].dropped + self.shared.refused.load(Ordering::Relaxed)
        })
    }

    /// Whether record `seq` is still in the journal: not acknowledged by every output, and not
    /// dropped with its segment (over the limit or for a full disk) while an output held it.
    pub fn holds(&self, seq: u64) -> bool {
        let st = self.shared.lock();
        (st.oldest()..st.written).contains(&seq)
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

    /// Wakes every waiting `next`, writes and syncs what was appended and the positions a last
    /// time and stops the committer. Appends fail from now on; an `ack` still lands (synced at
    /// once).
    pub fn close(&self) {
        self.shared.lock().closed = true;
        self.shared.readable.notify_all();
        self.shared.inbox().closed = true;
        self.shared.work.notify_all();
        if let Some(handle) = crate::sync::lock(&self.committer).take() {
            let _ = handle.join();
            let stats = self.sync_stats();
            let (commits, fsyncs) = (stats.commits, stats.fsyncs);
            let dir = self.shared.dir.display();
            log::info!("journal {dir}: {commits} group commits, {fsyncs} fsyncs");
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
