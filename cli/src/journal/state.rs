//! The journal's state under its one lock: segments, positions, and the rules for appending,
//! reading, acknowledging and dropping.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use super::format::{self, HEADER};
use super::{Appended, JournalError, JournalOptions, Record, Shared, SyncStats, dir};

/// One segment file.
pub(super) struct Segment {
    /// Sequence number of its first record.
    pub first: u64,
    pub path: PathBuf,
    pub file: Arc<File>,
    /// Bytes of whole records written to it.
    pub len: u64,
}

/// Where an output reads next: the record `seq`, at `offset` in the segment starting at `seg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pos {
    pub seq: u64,
    pub seg: u64,
    pub offset: u64,
}

pub(super) struct Output {
    pub name: String,
    pub read: Pos,
    /// The next sequence number not acknowledged; what the cursor file holds.
    pub acked: u64,
    pub dropped: u64,
    pub cursor: Arc<File>,
    pub cursor_path: PathBuf,
    /// The cursor slot to write next.
    pub slot: usize,
    /// Written since the last sync.
    pub dirty: bool,
    /// Its worker stops: `next` returns `None` at once.
    pub stopped: bool,
}

pub(super) struct State {
    /// Oldest first; never empty (the newest is the one appended to).
    pub segments: VecDeque<Segment>,
    /// Sequence number of the next record appended.
    pub next_seq: u64,
    /// Records below this are synced and visible to outputs.
    pub durable: u64,
    pub bytes: u64,
    /// Rolled segments with writes not yet synced.
    pub unsynced: Vec<(PathBuf, Arc<File>)>,
    /// The newest segment has writes not yet synced.
    pub current_dirty: bool,
    /// A segment was created since the last sync of the directory.
    pub dir_dirty: bool,
    pub outputs: Vec<Output>,
    pub closed: bool,
    /// The committer waits for work and needs a wake-up.
    pub committer_idle: bool,
    pub stats: SyncStats,
    /// Events not stored for lack of space, for a rate-limited log.
    pub refused: u64,
    /// Segments that could not be created, for a rate-limited log.
    pub roll_failures: u64,
}

/// The largest payload `opts` allows: one that fits a segment and half the size limit.
pub(super) fn max_record(opts: &JournalOptions) -> usize {
    let half = usize::try_from(opts.max_bytes / 2).unwrap_or(usize::MAX);
    format::MAX_RECORD.min(half)
}

fn no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

impl State {
    /// The state of a journal just opened: everything on disk is synced, so durable.
    pub fn new(segments: VecDeque<Segment>, next_seq: u64, outputs: Vec<Output>) -> State {
        State {
            bytes: segments.iter().map(|s| s.len).sum(),
            segments,
            next_seq,
            durable: next_seq,
            unsynced: Vec::new(),
            current_dirty: false,
            dir_dirty: false,
            outputs,
            closed: false,
            committer_idle: false,
            stats: SyncStats::default(),
            refused: 0,
            roll_failures: 0,
        }
    }

    pub fn output(&self, name: &str) -> Option<usize> {
        self.outputs.iter().position(|o| o.name == name)
    }

    pub fn pending(&self, i: usize) -> u64 {
        let oldest = self.segments.front().map_or(self.next_seq, |s| s.first);
        self.next_seq
            .saturating_sub(self.outputs[i].acked.max(oldest))
    }

    pub fn needs_commit(&self) -> bool {
        self.current_dirty
            || self.dir_dirty
            || !self.unsynced.is_empty()
            || self.outputs.iter().any(|o| o.dirty)
    }

    fn current(&self) -> &Segment {
        self.segments
            .back()
            .expect("a journal always has a segment")
    }

    /// Writes `record` (roll and drop as needed); on a full disk, drops the oldest and retries
    /// once, then refuses the event, counted for every output.
    pub fn append(&mut self, shared: &Shared, record: &[u8]) -> Result<Appended, JournalError> {
        let opts = &shared.opts;
        let need = record.len() as u64;
        let current = self.current();
        if current.len > 0 && current.len + need > opts.segment_bytes {
            if let Err(e) = self.roll(shared) {
                self.roll_failures += 1;
                if self.roll_failures.is_power_of_two() {
                    log::warn!("{e}; writing on to the current segment");
                }
            }
        }
        let mut dropped = 0;
        while self.bytes + need > opts.max_bytes && self.segments.len() > 1 {
            dropped += self.drop_oldest(shared, "is at its size limit");
        }
        let mut result = self.write(record);
        if matches!(&result, Err(e) if no_space(e)) && self.make_room(shared) {
            dropped += self.drop_oldest(shared, "is on a full disk");
            result = self.write(record);
        }
        match result {
            Ok(()) => {
                self.next_seq += 1;
                self.current_dirty = true;
                Ok(Appended {
                    dropped_oldest: dropped,
                })
            }
            Err(e) => Err(self.refuse(shared, e)),
        }
    }

    /// An event too large for a record: counted as dropped for every output and logged.
    pub fn too_large(&mut self, len: usize, max: usize) -> JournalError {
        let mut names = Vec::new();
        for out in &mut self.outputs {
            out.dropped += 1;
            names.push(out.name.as_str());
        }
        log::error!(
            "dropped an event of {len} bytes for {}: larger than a journal record may be \
             ({max} bytes)",
            names.join(", ")
        );
        JournalError::TooLarge { len, max }
    }

    /// One `pwrite` at the end of the newest segment; a short or failed write is cut off again
    /// so the segment keeps only whole records.
    fn write(&mut self, record: &[u8]) -> io::Result<()> {
        let seg = self
            .segments
            .back_mut()
            .expect("a journal always has a segment");
        let result = match seg.file.write_at(record, seg.len) {
            Ok(n) if n == record.len() => Ok(()),
            Ok(_) => Err(io::Error::from_raw_os_error(libc::ENOSPC)),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                seg.len += record.len() as u64;
                self.bytes += record.len() as u64;
            }
            Err(_) => {
                let _ = seg.file.set_len(seg.len);
            }
        }
        result
    }

    /// An event not stored: counted for every output, logged on the first and then every
    /// power of two.
    fn refuse(&mut self, shared: &Shared, e: io::Error) -> JournalError {
        self.refused += 1;
        for out in &mut self.outputs {
            out.dropped += 1;
        }
        let path = self.current().path.clone();
        if self.refused.is_power_of_two() {
            log::error!(
                "cannot write to the journal {} ({e}): dropped an event for every output ({} \
                 so far); it is kept again as soon as the disk has room; {}",
                path.display(),
                self.refused,
                shared.opts.remedy
            );
        }
        JournalError::io("write to the journal", path, e)
    }

    /// Whether there is an older segment to drop, rolling first if the newest is the only one.
    fn make_room(&mut self, shared: &Shared) -> bool {
        if self.segments.len() == 1 && self.current().len > 0 {
            if let Err(e) = self.roll(shared) {
                log::debug!("{e}");
            }
        }
        self.segments.len() > 1
    }

    /// Starts a new segment named after the next sequence number.
    pub fn roll(&mut self, shared: &Shared) -> Result<(), JournalError> {
        let path = shared.dir.join(dir::segment_name(self.next_seq));
        let file = Arc::new(dir::open_file(&path, true)?);
        let old = self
            .segments
            .back()
            .expect("a journal always has a segment");
        if self.current_dirty {
            self.unsynced
                .push((old.path.clone(), Arc::clone(&old.file)));
        }
        self.current_dirty = false;
        self.dir_dirty = true;
        self.segments.push_back(Segment {
            first: self.next_seq,
            path,
            file,
            len: 0,
        });
        Ok(())
    }

    /// The end (exclusive) of segment `k`'s sequence numbers.
    fn seg_end(&self, k: usize) -> u64 {
        self.segments.get(k + 1).map_or(self.next_seq, |s| s.first)
    }

    /// Removes the oldest segment although some outputs may not have taken it: counted per
    /// output and logged. Returns the most events any output lost.
    fn drop_oldest(&mut self, shared: &Shared, why: &str) -> u64 {
        let (first, end) = (self.segments[0].first, self.seg_end(0));
        let mut lost = Vec::new();
        let mut most = 0;
        for out in &mut self.outputs {
            if out.read.seq < end {
                let n = end - out.read.seq.max(first);
                out.dropped += n;
                most = most.max(n);
                lost.push(format!("{} lost {n} it had not taken", out.name));
            }
        }
        self.remove_oldest();
        self.reposition();
        if !lost.is_empty() {
            log::error!(
                "the journal {} {why}: dropped its oldest {} events ({first} to {}): {}; {}",
                shared.dir.display(),
                end - first,
                end - 1,
                lost.join(", "),
                shared.opts.remedy
            );
        }
        most
    }

    fn remove_oldest(&mut self) {
        let seg = self.segments.pop_front().expect("a segment to remove");
        self.bytes -= seg.len;
        // Nothing of it is left to read: no need to sync it either.
        self.unsynced.retain(|(path, _)| *path != seg.path);
        if let Err(e) = std::fs::remove_file(&seg.path) {
            log::error!(
                "cannot remove the journal segment {}: {e}",
                seg.path.display()
            );
        }
    }

    /// Moves every reader whose segment is gone to the start of the oldest one left.
    fn reposition(&mut self) {
        let oldest = &self.segments[0];
        let start = Pos {
            seq: oldest.first,
            seg: oldest.first,
            offset: 0,
        };
        for out in &mut self.outputs {
            if out.read.seg < oldest.first {
                out.read = start;
            }
        }
    }

    /// Records `seq` as done for output `i`: one `pwrite` of its cursor, then removes every
    /// segment all outputs are done with (never the newest, whose name carries the numbering).
    pub fn ack(&mut self, i: usize, seq: u64) {
        let out = &mut self.outputs[i];
        let next = seq.saturating_add(1).min(self.next_seq);
        if next <= out.acked {
            return;
        }
        out.acked = next;
        let slot = format::encode_slot(next);
        let written = out.cursor.write_at(&slot, format::slot_offset(out.slot));
        let synced = written.and_then(|_| match self.closed {
            true => out.cursor.sync_data(),
            false => Ok(()),
        });
        match synced {
            Ok(()) => {
                out.slot ^= 1;
                out.dirty = !self.closed;
            }
            Err(e) => log::error!(
                "cannot write the journal cursor {} ({e}); {} may get events again after a \
                 restart",
                out.cursor_path.display(),
                out.name
            ),
        }
        let done = self.outputs.iter().map(|o| o.acked).min().unwrap_or(0);
        while self.segments.len() > 1 && self.segments[1].first <= done {
            self.remove_oldest();
        }
        self.reposition();
    }
}

/// What the reader for output `i` does next, decided under the lock.
enum Step {
    /// Read the record at this position of this file (valid bytes end at the `u64`).
    Read(Pos, Arc<File>, u64),
    Wait,
}

/// The next record for output `i` (see [`super::Journal::next`]): decided under the lock, read
/// from the file without it, so appends never wait for a disk read.
pub(super) fn next<'a>(
    shared: &'a Shared,
    mut st: MutexGuard<'a, State>,
    i: usize,
    deadline: Instant,
) -> Option<Record> {
    let mut buf = Vec::new();
    loop {
        if st.closed || st.outputs[i].stopped {
            return None;
        }
        match st.step(i) {
            Step::Wait => {
                let left = deadline.checked_duration_since(Instant::now())?;
                if left.is_zero() {
                    return None;
                }
                st = shared
                    .readable
                    .wait_timeout(st, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            Step::Read(pos, file, end) => {
                drop(st);
                let read = format::read_at(&file, pos.offset, end, &mut buf);
                st = shared.lock();
                if st.outputs[i].read != pos {
                    continue; // a drop moved this reader meanwhile
                }
                match read {
                    Ok(Ok(())) => {
                        let out = &mut st.outputs[i];
                        out.read.seq += 1;
                        out.read.offset += HEADER + buf.len() as u64;
                        return Some(Record {
                            seq: pos.seq,
                            bytes: std::mem::take(&mut buf),
                        });
                    }
                    Ok(Err(damage)) => st.damaged(i, damage.describe()),
                    Err(e) => st.damaged(i, &e.to_string()),
                }
            }
        }
    }
}

impl State {
    /// Where output `i` stands: a durable record to read, or nothing yet.
    fn step(&mut self, i: usize) -> Step {
        loop {
            let pos = self.outputs[i].read;
            if pos.seq >= self.durable {
                return Step::Wait;
            }
            let Ok(k) = self.segments.binary_search_by_key(&pos.seg, |s| s.first) else {
                // Its segment was dropped: start again at the oldest one left.
                let oldest = self.segments[0].first;
                self.outputs[i].read = Pos {
                    seq: oldest,
                    seg: oldest,
                    offset: 0,
                };
                continue;
            };
            let seg = &self.segments[k];
            if pos.offset < seg.len {
                return Step::Read(pos, Arc::clone(&seg.file), seg.len);
            }
            let next = self.segments.get(k + 1).map_or(self.next_seq, |s| s.first);
            let read = &mut self.outputs[i].read;
            if k + 1 < self.segments.len() {
                *read = Pos {
                    seq: next.max(pos.seq),
                    seg: next,
                    offset: 0,
                };
            } else {
                read.seq = self.next_seq;
            }
        }
    }

    /// A record that fails its checks after open (the disk changed under us): the rest of its
    /// segment is skipped, counted as dropped for output `i`, and logged.
    fn damaged(&mut self, i: usize, what: &str) {
        let pos = self.outputs[i].read;
        let Ok(k) = self.segments.binary_search_by_key(&pos.seg, |s| s.first) else {
            return;
        };
        let end = self.seg_end(k);
        let out = &mut self.outputs[i];
        out.dropped += end.saturating_sub(pos.seq);
        out.read.seq = end;
        out.read.offset = self.segments[k].len;
        log::error!(
            "{}: the journal segment {} is damaged at byte {} ({what}); skipped its last {} \
             events",
            out.name,
            self.segments[k].path.display(),
            pos.offset,
            end.saturating_sub(pos.seq)
        );
    }
}
