//! The committer: the only thread that writes segments, creates, drops and removes them, and
//! writes the high-water mark and the cursors — so no caller waits on the disk.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

use super::state::{self, Dropped, Segment, Slots, State};
use super::{JournalError, Shared, dir, format, open};

/// The committer's own state.
struct Writer {
    last: Option<Instant>,
    /// Segments written since their last sync.
    unsynced: Vec<(PathBuf, Arc<File>)>,
    /// A segment was created since the directory's last sync.
    dir_dirty: bool,
    /// The high-water mark.
    seq: Slots,
    seg_bytes: u64,
    /// Events not written for lack of space, for a rate-limited log.
    refused: u64,
}

/// Runs until the journal closes, then writes and syncs a last time.
pub(super) fn run(shared: &Shared, seq: Slots) {
    let mut w = Writer {
        last: None,
        unsynced: Vec::new(),
        dir_dirty: false,
        seq,
        seg_bytes: open::segment_size(&shared.opts, dir::free_bytes(&shared.dir_file)),
        refused: 0,
    };
    let mut spare = Vec::new();
    loop {
        let (mut buf, closing) = w.wait(shared, spare);
        if !buf.is_empty() {
            w.write(shared, &mut buf);
        }
        buf.clear();
        // Keep the buffer's memory for the next round, unless a burst grew it past its size.
        spare = if buf.capacity() > shared.opts.buffer_bytes {
            Vec::new()
        } else {
            buf
        };
        w.commit(shared);
        if closing {
            let mut st = shared.lock();
            st.committer_done = true;
            drop(write_cursors(shared, st));
            return;
        }
    }
}

/// Whether `result` is a success; else an ERROR saying what could not be done to `path`.
fn logged(result: io::Result<()>, action: &str, path: &Path) -> bool {
    let error = |e| log::error!("{}", JournalError::io(action, path, e));
    result.map_err(error).is_ok()
}

fn no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
        || e.kind() == io::ErrorKind::WriteZero
}

impl Writer {
    /// Waits for a commit to be due (the interval passed with something to do, a quarter of the
    /// buffer filled, or the journal closing); takes the append buffer, leaving `spare`.
    fn wait(&mut self, shared: &Shared, spare: Vec<u8>) -> (Vec<u8>, bool) {
        let quarter = shared.opts.buffer_bytes / 4;
        let mut inbox = shared.inbox();
        while !inbox.closed {
            let kick = shared.kick.load(Ordering::Acquire);
            let work = !inbox.buf.is_empty() || kick || !self.unsynced.is_empty();
            let left = self.last.map_or(Duration::ZERO, |t| {
                shared.opts.commit_interval.saturating_sub(t.elapsed())
            });
            if work && (left.is_zero() || inbox.buf.len() >= quarter) {
                break;
            }
            inbox.idle = true;
            let wait = if work { left } else { Duration::MAX };
            inbox = crate::sync::wait(&shared.work, inbox, wait);
            inbox.idle = false;
        }
        self.last = Some(Instant::now());
        shared.kick.store(false, Ordering::Release);
        let closing = inbox.closed;
        (std::mem::replace(&mut inbox.buf, spare), closing)
    }

    /// Checksums the records of `buf` and writes them, one `pwrite` per segment, starting a
    /// new segment before one would grow past its size.
    fn write(&mut self, shared: &Shared, buf: &mut [u8]) {
        format::seal(buf);
        let newest = || shared.lock().segments.back().map_or(0, |s| s.len);
        let mut len = newest();
        let (mut start, mut at, mut end) = (0, 0, 0);
        for (seq, size) in format::records(buf) {
            let run = (at - start) as u64;
            if len + run > 0 && len + run + size as u64 > self.seg_bytes {
                self.put(shared, &buf[start..at], seq);
                start = at;
                self.roll(shared, seq);
                len = newest();
            }
            at += size;
            end = seq + 1;
        }
        self.put(shared, &buf[start..], end);
    }

    /// Writes whole records (numbered below `end`) at the end of the newest segment, dropping
    /// the oldest first to stay within the size limit, and once more on a full disk; if there
    /// is still no room they are not stored: a gap every output counts when it reaches it.
    fn put(&mut self, shared: &Shared, bytes: &[u8], end: u64) {
        if !bytes.is_empty() {
            let need = bytes.len() as u64;
            while shared.lock().bytes + need > shared.opts.max_bytes
                && self.drop_oldest(shared, "is at its size limit")
            {}
            let mut result = self.append(shared, bytes);
            let first = format::records(bytes).next().map_or(end, |r| r.0);
            if matches!(&result, Err(e) if no_space(e)) && self.make_room(shared, first) {
                result = self.append(shared, bytes);
            }
            if let Err(e) = result {
                let n = format::records(bytes).count() as u64;
                self.refused += n;
                if self.refused == n || self.refused.is_power_of_two() {
                    log::error!(
                        "cannot write to the journal {} ({e}): {n} events not stored ({} so \
                         far); each output counts them as lost when it reaches them; {}",
                        shared.dir.display(),
                        self.refused,
                        super::REMEDY
                    );
                }
            }
        }
        let mut st = shared.lock();
        st.written = st.written.max(end);
    }

    /// One `pwrite` at the end of the newest segment; a failed one is cut off again, so the
    /// segment keeps only whole records.
    fn append(&mut self, shared: &Shared, bytes: &[u8]) -> io::Result<()> {
        let (path, file, len) = {
            let st = shared.lock();
            let s = st.segments.back().expect("a journal always has a segment");
            (s.path.clone(), Arc::clone(&s.file), s.len)
        };
        #[cfg(test)]
        std::thread::sleep(shared.opts.stall);
        if let Err(e) = file.write_all_at(bytes, len) {
            let _ = file.set_len(len);
            return Err(e);
        }
        let mut st = shared.lock();
        st.bytes += bytes.len() as u64;
        if let Some(s) = st.segments.back_mut() {
            s.len += bytes.len() as u64;
        }
        drop(st);
        if !self.unsynced.iter().any(|(p, _)| *p == path) {
            self.unsynced.push((path, file));
        }
        Ok(())
    }

    /// Starts segment `first`, or (logged) writes on to the current one.
    fn roll(&mut self, shared: &Shared, first: u64) {
        match Segment::create(&shared.dir, first) {
            Ok(segment) => {
                self.dir_dirty = true;
                shared.lock().segments.push_back(segment);
            }
            Err(e) => log::warn!("{e}; writing on to the current segment"),
        }
    }

    /// On a full disk: drops the oldest segment, rolling first (to a segment starting at
    /// `first`) if the newest is the only one.
    fn make_room(&mut self, shared: &Shared, first: u64) -> bool {
        let alone = {
            let st = shared.lock();
            st.segments.len() == 1 && st.segments[0].len > 0
        };
        if alone {
            self.roll(shared, first);
        }
        self.drop_oldest(shared, "is on a full disk")
    }

    /// Drops the oldest segment although some outputs, present or not, may not have taken it:
    /// their cursors move past it with the count, synced BEFORE the segment is removed; counted
    /// for this run's outputs and logged. False if there is only the newest.
    fn drop_oldest(&mut self, shared: &Shared, why: &str) -> bool {
        let mut st = shared.lock();
        let Some(Dropped {
            seg,
            end,
            lost,
            counts,
        }) = st.drop_oldest()
        else {
            return false;
        };
        let first = seg.first;
        drop(write_cursors(shared, st));
        #[cfg(test)]
        if shared.opts.kill_in_drop {
            // SAFETY: signalling this process; nothing runs after it.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        state::remove(&seg.path);
        self.unsynced.retain(|(p, _)| *p != seg.path);
        log::error!(
            "the journal {} {why}: dropped its oldest {} events ({first} to {}): {}; {}",
            shared.dir.display(),
            end - first,
            end - 1,
            if lost.is_empty() {
                "every output had taken them".into()
            } else {
                lost.join(", ")
            },
            super::REMEDY
        );
        let mut st = shared.lock();
        for (i, n) in counts {
            if st.outputs[i].present {
                st.outputs[i].unreported -= n; // reported just now
            }
        }
        true
    }

    /// Syncs what was written (and the directory after a new segment), then the high-water
    /// mark and the cursors; makes the records visible; removes the segments every output is
    /// done with.
    fn commit(&mut self, shared: &Shared) {
        let upto = shared.lock().written;
        #[cfg(test)]
        std::thread::sleep(shared.opts.stall);
        let mut fsyncs = 0;
        let mut ok = true;
        for (path, file) in &self.unsynced {
            fsyncs += 1;
            if let Err(e) = file.sync_data() {
                log::error!(
                    "cannot sync the journal segment {}: {e}; retrying",
                    path.display()
                );
                ok = false;
            }
        }
        if ok && self.dir_dirty {
            fsyncs += 1;
            let synced = shared.dir_file.sync_all();
            ok = logged(synced, "sync the journal directory", &shared.dir);
        }
        if ok {
            self.unsynced.clear();
            self.dir_dirty = false;
            if let Some(w) = self.seq.write((upto, 0)) {
                fsyncs += 1;
                if logged(w.run(), "write the journal's high-water mark", &w.path) {
                    self.seq.synced = w.value;
                }
            }
        }
        let mut st = shared.lock();
        st.stats.commits += 1;
        st.stats.fsyncs += fsyncs;
        if ok {
            st.durable = st.durable.max(upto);
        }
        shared.readable.notify_all();
        let st = write_cursors(shared, st);
        remove_done(st);
    }
}

/// Writes and syncs every cursor that moved, outside the lock; returns the lock again.
pub(super) fn write_cursors<'a>(
    shared: &'a Shared,
    mut st: MutexGuard<'a, State>,
) -> MutexGuard<'a, State> {
    let writes: Vec<_> = st
        .outputs
        .iter_mut()
        .enumerate()
        .filter_map(|(i, o)| o.cursor_write().map(|w| (i, w)))
        .collect();
    if writes.is_empty() {
        return st;
    }
    drop(st);
    let done: Vec<_> = writes
        .iter()
        .map(|(_, w)| logged(w.run(), "write the journal cursor", &w.path))
        .collect();
    let mut st = shared.lock();
    st.stats.fsyncs += writes.len() as u64;
    for ((i, w), ok) in writes.iter().zip(done) {
        if ok {
            st.outputs[*i].cursor.synced = w.value;
        }
    }
    st
}

/// Removes the segments every output (present or not) has acknowledged, as its synced cursor
/// says; never the newest.
fn remove_done(mut st: MutexGuard<'_, State>) {
    let done = st
        .outputs
        .iter()
        .map(|o| o.cursor.synced.0)
        .min()
        .unwrap_or(u64::MAX);
    let mut gone = Vec::new();
    while st.segments.len() > 1 && st.segments[1].first <= done {
        let seg = st.segments.pop_front().expect("two segments");
        st.bytes -= seg.len;
        gone.push(seg.path);
    }
    drop(st);
    gone.iter().for_each(|path| state::remove(path));
}
