//! The journal's state under its lock — segments, outputs and their readers — and the reading
//! rules: every sequence number an output expects either comes to it or is counted as lost.
//! No disk I/O happens under this lock.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use super::format::{self, HEADER, SHORT, SLOTS_LEN, Slot};
use super::{JournalError, Record, Shared, SyncStats, dir};

/// Bytes a reader takes from a segment with one read.
const CHUNK: u64 = 256 << 10;

/// One segment file.
pub(super) struct Segment {
    /// Sequence number of its first record (its name).
    pub first: u64,
    pub path: PathBuf,
    pub file: Arc<File>,
    /// Bytes written to it.
    pub len: u64,
}

impl Segment {
    /// Creates segment `first`, empty, in `dir`.
    pub fn create(dir: &Path, first: u64) -> Result<Segment, JournalError> {
        let path = dir.join(dir::segment_name(first));
        let file = Arc::new(dir::open_file(&path, true)?);
        Ok(Segment {
            first,
            path,
            file,
            len: 0,
        })
    }
}

/// Removes a segment's file, saying so when it cannot.
pub(super) fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        log::error!("cannot remove the journal segment {}: {e}", path.display());
    }
}

/// Where an output's reader stands.
#[derive(Default)]
pub(super) struct Reader {
    /// The next sequence number it expects from disk.
    pub want: u64,
    /// The segment it reads (by its first sequence number) and the byte offset in it.
    pub seg: u64,
    pub offset: u64,
    /// Records read and not handed out yet (at most one chunk).
    pub ahead: VecDeque<Record>,
    /// The damage found last, for the log line of the loss it causes.
    pub note: Option<String>,
}

pub(super) struct Output {
    pub name: String,
    /// An output of this run; else a cursor kept for one that is not (it holds its events).
    pub present: bool,
    /// The next sequence number it has not acknowledged.
    pub acked: u64,
    /// Events dropped for it (size limit, full disk) that no run with it has reported yet.
    pub unreported: u64,
    /// Events it lost in this run.
    pub dropped: u64,
    /// Its cursor file, which holds (acked, unreported) once synced.
    pub cursor: Slots,
    /// Its worker stops: `next` returns `None` at once.
    pub stopped: bool,
    pub reader: Reader,
}

impl Output {
    /// The next sequence number it would be handed.
    pub fn next_given(&self) -> u64 {
        let r = &self.reader;
        r.ahead.front().map_or(r.want, |rec| rec.seq)
    }

    /// Its cursor, if it has moved since last written.
    pub fn cursor_write(&mut self) -> Option<SlotWrite> {
        self.cursor.write((self.acked, self.unreported))
    }
}

/// A slot file (a cursor, or `seq`): two slots written in turn.
pub(super) struct Slots {
    pub file: Arc<File>,
    pub path: PathBuf,
    /// The slot to write next.
    next: usize,
    /// What the file holds, synced: (a sequence number, lost).
    pub synced: (u64, u64),
}

impl Slots {
    /// Opens (with `create`, creates) the slot file at `path`: the bytes it holds and its newest
    /// valid slot. The first write goes to the other slot.
    pub fn open(path: PathBuf, create: bool) -> Result<(Slots, usize, Option<Slot>), JournalError> {
        let file = dir::open_file(&path, create)?;
        let mut bytes = Vec::new();
        (&file)
            .take(SLOTS_LEN as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| JournalError::io("read", &path, e))?;
        let slot = format::decode_slots(&bytes);
        let slots = Slots {
            file: Arc::new(file),
            path,
            next: slot.map_or(0, |(i, ..)| i ^ 1),
            synced: slot.map_or((u64::MAX, 0), |(_, next, lost)| (next, lost)),
        };
        Ok((slots, bytes.len(), slot))
    }

    /// The write of `value` when the file holds another, to run outside the lock.
    pub fn write(&mut self, value: (u64, u64)) -> Option<SlotWrite> {
        (value != self.synced).then(|| {
            let slot = self.next;
            self.next ^= 1;
            SlotWrite {
                file: Arc::clone(&self.file),
                path: self.path.clone(),
                offset: format::slot_offset(slot),
                value,
            }
        })
    }
}

/// One slot to write and sync, outside the lock.
pub(super) struct SlotWrite {
    pub file: Arc<File>,
    pub path: PathBuf,
    pub offset: u64,
    pub value: (u64, u64),
}

impl SlotWrite {
    pub fn run(&self) -> io::Result<()> {
        let slot = format::encode_slot(self.value.0, self.value.1);
        self.file.write_all_at(&slot, self.offset)?;
        self.file.sync_data()
    }
}

pub(super) struct State {
    /// Oldest first; never empty (the newest is the one written to).
    pub segments: VecDeque<Segment>,
    /// Records below this are written (or were refused: a gap the readers count).
    pub written: u64,
    /// Records below this are synced and visible to outputs.
    pub durable: u64,
    pub bytes: u64,
    /// Present outputs first, in the order given, then the absent ones.
    pub outputs: Vec<Output>,
    /// Readers stop; appends are refused.
    pub closed: bool,
    /// The committer has exited: an `ack` writes its cursor itself.
    pub committer_done: bool,
    pub stats: SyncStats,
}

/// The oldest segment, dropped from the state (its file still there), and what it cost.
pub(super) struct Dropped {
    pub seg: Segment,
    /// The first sequence number after it.
    pub end: u64,
    /// Per output that lost events, for the log line.
    pub lost: Vec<String>,
    /// (output index, events lost).
    pub counts: Vec<(usize, u64)>,
}

/// What a reader reads next, decided under the lock: the file of its segment, where the whole
/// records in it end, and the bound of the sequence numbers it may hold.
type Step = (Arc<File>, u64, u64);

/// What one read of a segment found.
#[derive(Default)]
struct Got {
    records: Vec<Record>,
    /// Where the next read starts, and where the last record taken ends.
    offset: u64,
    valid: u64,
    /// Damage at this byte that the read skipped.
    damage: Option<(u64, &'static str)>,
}

impl State {
    pub fn output(&self, name: &str) -> Option<usize> {
        self.outputs
            .iter()
            .position(|o| o.present && o.name == name)
    }

    pub fn oldest(&self) -> u64 {
        self.segments[0].first
    }

    /// Takes out the oldest segment (never the newest) although outputs, present or not, may
    /// not have taken it: their cursors move past it, the count goes into `unreported` (and,
    /// for this run's outputs, `dropped`), their readers move on.
    pub fn drop_oldest(&mut self) -> Option<Dropped> {
        if self.segments.len() < 2 {
            return None;
        }
        let (first, end) = (self.segments[0].first, self.segments[1].first);
        let seg = self.segments.pop_front().expect("two segments");
        self.bytes -= seg.len;
        let (mut lost, mut counts) = (Vec::new(), Vec::new());
        let closed = self.closed;
        for (i, out) in self.outputs.iter_mut().enumerate() {
            // A running worker's event in flight is its own to count; else from the cursor.
            let running = out.present && !out.stopped && !closed;
            let from = if running { out.next_given() } else { out.acked }.max(first);
            out.acked = out.acked.max(end);
            if from >= end {
                continue;
            }
            let n = end - from;
            out.unreported += n;
            counts.push((i, n));
            if !out.present {
                lost.push(format!(
                    "{} (not in this run; told when it runs) {n}",
                    out.name
                ));
                continue;
            }
            out.dropped += n;
            let r = &mut out.reader;
            r.ahead.retain(|rec| rec.seq >= end);
            if r.want < end {
                (r.want, r.seg, r.offset) = (end, end, 0);
            }
            lost.push(format!("{} lost {n} it had not taken", out.name));
        }
        Some(Dropped {
            seg,
            end,
            lost,
            counts,
        })
    }

    /// Counts events `from..to` as lost for output `i`, with an ERROR line; its reader wants
    /// `to` next.
    fn lost(&mut self, shared: &Shared, i: usize, from: u64, to: u64) {
        let out = &mut self.outputs[i];
        out.dropped += to - from;
        out.reader.want = to;
        let why = out.reader.note.take().unwrap_or_else(|| {
            "they are not in the journal (a segment deleted, emptied or cut short, or a write \
             refused)"
                .into()
        });
        log::error!(
            "{}: lost {} events ({from} to {}) of the journal {}: {why}",
            out.name,
            to - from,
            to - 1,
            shared.dir.display()
        );
    }

    /// Where output `i`'s reader stands: a durable record to read, or nothing yet (`None`).
    /// Counts every sequence number it passes without a record.
    fn step(&mut self, shared: &Shared, i: usize) -> Option<Step> {
        loop {
            let r = &self.outputs[i].reader;
            let (want, seg, offset) = (r.want, r.seg, r.offset);
            if want >= self.durable {
                return None;
            }
            let Ok(k) = self.segments.binary_search_by_key(&seg, |s| s.first) else {
                // Its segment was removed: on to the one that holds `want`, or the oldest.
                let k = self.segments.partition_point(|s| s.first <= want);
                let r = &mut self.outputs[i].reader;
                (r.seg, r.offset) = (self.segments[k.saturating_sub(1)].first, 0);
                continue;
            };
            let s = &self.segments[k];
            if want < s.first && offset == 0 {
                self.lost(shared, i, want, s.first);
                continue;
            }
            let hi = self.segments.get(k + 1).map_or(self.written, |n| n.first);
            if offset < s.len {
                return Some((Arc::clone(&s.file), s.len, hi));
            }
            if k + 1 < self.segments.len() {
                let r = &mut self.outputs[i].reader;
                (r.seg, r.offset) = (hi, 0);
            } else if want < self.written {
                // Everything written is below `offset`: the rest never will be.
                self.lost(shared, i, want, self.written);
            } else {
                return None;
            }
        }
    }

    /// Takes in what a read found, counting the sequence numbers it skipped.
    fn took(&mut self, shared: &Shared, i: usize, got: Got) {
        for rec in got.records {
            let want = self.outputs[i].reader.want;
            if rec.seq > want {
                self.lost(shared, i, want, rec.seq);
            }
            let r = &mut self.outputs[i].reader;
            r.note = None;
            r.want = rec.seq + 1;
            r.ahead.push_back(rec);
        }
        let out = &mut self.outputs[i];
        out.reader.offset = got.offset;
        if let Some((at, what)) = got.damage {
            let seg = shared.dir.join(super::dir::segment_name(out.reader.seg));
            log::warn!(
                "{}: the journal segment {} is damaged at byte {at} ({what}); reading goes on \
                 at the next valid record",
                out.name,
                seg.display()
            );
            out.reader.note = Some(format!("{} is damaged at byte {at}", seg.display()));
        }
    }
}

/// The next durable record for output `i` (see [`super::Journal::next`]): decided under the
/// lock, read from the file without it.
pub(super) fn next<'a>(
    shared: &'a Shared,
    mut st: MutexGuard<'a, State>,
    i: usize,
    deadline: Instant,
) -> Option<Record> {
    loop {
        if st.closed || st.outputs[i].stopped {
            return None;
        }
        if let Some(rec) = st.outputs[i].reader.ahead.pop_front() {
            return Some(rec);
        }
        // Nothing durable to read yet.
        let Some((file, end, hi)) = st.step(shared, i) else {
            st = wait(shared, st, deadline)?;
            continue;
        };
        let r = &st.outputs[i].reader;
        let (seg, offset, want, limit) = (r.seg, r.offset, r.want, st.durable);
        drop(st);
        let got = read(&file, offset, end, want..hi, limit);
        st = shared.lock();
        let r = &st.outputs[i].reader;
        if (r.seg, r.offset, r.want) != (seg, offset, want) {
            continue; // a drop moved this reader meanwhile
        }
        match got {
            // The next record is not durable yet (a refused write before it).
            Ok(got) if got.offset == offset && got.damage.is_none() => {
                st = wait(shared, st, deadline)?;
            }
            Ok(got) => st.took(shared, i, got),
            Err(e) => {
                // Unreadable: counted like damage, from here to the segment's end.
                st.outputs[i].reader.offset = end;
                st.outputs[i].reader.note = Some(format!("segment {seg} cannot be read: {e}"));
            }
        }
    }
}

/// Waits until records become durable or `deadline`; `None` at the deadline.
fn wait<'a>(
    shared: &'a Shared,
    st: MutexGuard<'a, State>,
    deadline: Instant,
) -> Option<MutexGuard<'a, State>> {
    let left = deadline.checked_duration_since(Instant::now())?;
    (!left.is_zero()).then(|| crate::sync::wait(&shared.readable, st, left))
}

/// The last valid record of a segment of `len` bytes numbered from `first`, read as an output
/// reads it (skipping damage), and where the bytes after it start.
pub(super) fn scan(file: &File, first: u64, len: u64) -> io::Result<(Option<u64>, u64)> {
    let (mut at, mut last, mut valid) = (0, None, 0);
    while at < len {
        let from = last.map_or(first, |l: u64| l + 1);
        let got = read(file, at, len, from..u64::MAX, u64::MAX)?;
        if let Some(rec) = got.records.last() {
            (last, valid) = (Some(rec.seq), got.valid);
        }
        if got.offset == at {
            break;
        }
        at = got.offset;
    }
    Ok((last, valid))
}

fn read_exact(file: &File, offset: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    file.read_exact_at(&mut buf, offset)?;
    Ok(buf)
}

/// Reads the records from `offset` of a segment whose bytes end at `end`: those numbered in
/// `seqs` and below `limit` (the durable ones), one chunk at a time. Damage is skipped to the
/// next valid record numbered in `seqs`, or to the end.
fn read(file: &File, offset: u64, end: u64, seqs: Range<u64>, limit: u64) -> io::Result<Got> {
    let mut buf = read_exact(file, offset, (end - offset).min(CHUNK))?;
    let mut got = Got::default();
    let mut at = 0;
    while at < buf.len() {
        let from = got.records.last().map_or(seqs.start, |r| r.seq + 1);
        let damage = match format::parse(&buf, at) {
            Ok((seq, _)) if seq >= seqs.end => "a record numbered out of place",
            Ok((seq, _)) if seq >= limit => break,
            Ok((seq, payload)) => {
                if seq >= from {
                    let bytes = buf[payload.clone()].to_vec();
                    got.records.push(Record { seq, bytes });
                    got.valid = offset + payload.end as u64;
                }
                at = payload.end;
                continue;
            }
            Err(SHORT) if more_fits(&buf, at, end - offset) => {
                if at > 0 {
                    break; // the next read starts with this record
                }
                let need = HEADER as u64 + header_len(&buf).unwrap_or(0);
                buf = read_exact(file, offset, need)?;
                continue;
            }
            Err(damage) => damage,
        };
        let rest = read_exact(file, offset + at as u64, end - offset - at as u64)?;
        let skip = format::resync(&rest, 1, from..seqs.end).map_or(rest.len(), |(q, _)| q);
        got.damage = Some((offset + at as u64, damage));
        got.offset = offset + (at + skip) as u64;
        return Ok(got);
    }
    got.offset = offset + at as u64;
    Ok(got)
}

/// The payload length in the header at the start of `buf`, if whole.
fn header_len(buf: &[u8]) -> Option<u64> {
    let len = u32::from_le_bytes(buf.get(..4)?.try_into().ok()?);
    Some(u64::from(len))
}

/// Whether the record at `at` of `buf` is cut only by the end of the chunk: it fits in the
/// segment's `rest` bytes, so reading more makes it whole.
fn more_fits(buf: &[u8], at: usize, rest: u64) -> bool {
    let need = header_len(&buf[at..]).map_or(HEADER as u64, |len| HEADER as u64 + len);
    (at as u64) + need <= rest && need <= (HEADER + format::MAX_RECORD) as u64
}
