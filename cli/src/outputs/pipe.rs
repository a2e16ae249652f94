//! A bounded queue between the socket threads and one worker, with an optional spool file.
//!
//! Order is kept across the two: events go to the spool only once the queue is full, and from
//! then on every newer event goes to the spool too, until the worker has replayed all of it. The
//! worker takes the queue (older events) first, then the spool, line by line; the spool is
//! emptied once fully replayed. Without a spool, a full queue drops its oldest event, with an
//! error in the log and a counter.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use zoom_ws::Event;

/// What happened to the events handed to one pipe.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Handed over by the socket threads.
    pub received: u64,
    /// Written to the spool file because the queue was full (or the spool not yet replayed).
    pub spooled: u64,
    /// Lost: dropped from a full queue without a spool, or not delivered at exit without one.
    pub dropped: u64,
    /// Done: accepted by the receiver, or run by the command (whatever its exit status).
    pub delivered: u64,
    /// Of those, refused by the receiver (4xx) or run by a command that failed.
    pub failed: u64,
    /// Attempts that will be repeated (network errors, 5xx).
    pub retries: u64,
}

/// An event the worker took, and where from.
pub struct Taken {
    /// The event.
    pub event: Event,
    /// For an event read from the spool: where the next line starts.
    spool_next: Option<u64>,
}

/// The shared queue. Cheap for the socket threads: one lock, a push or an append.
pub struct Pipe {
    name: &'static str,
    /// What the user can do about lost events, for the log.
    remedy: &'static str,
    capacity: usize,
    inner: Mutex<Inner>,
    wake: Condvar,
}

struct Inner {
    queue: VecDeque<Event>,
    spool: Option<Spool>,
    /// Set at shutdown: the worker may go on until this instant.
    drain_until: Option<Instant>,
    counts: Counts,
}

impl Pipe {
    /// A pipe named `name` (for the log) holding up to `capacity` events in memory. `remedy`
    /// tells the user how to avoid losing events, e.g. `--spool PATH keeps them`.
    pub fn new(
        name: &'static str,
        capacity: usize,
        spool: Option<Spool>,
        remedy: &'static str,
    ) -> Arc<Pipe> {
        Arc::new(Pipe {
            name,
            remedy,
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                queue: VecDeque::new(),
                spool,
                drain_until: None,
                counts: Counts::default(),
            }),
            wake: Condvar::new(),
        })
    }

    /// The name given at creation (`exec`, `forward`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands an event over. Never waits for the worker.
    pub fn push(&self, event: &Event) {
        let mut inner = self.lock();
        inner.counts.received += 1;
        let full = inner.queue.len() >= self.capacity;
        let capacity = self.capacity;
        let Inner { spool, counts, .. } = &mut *inner;
        if let Some(spool) = spool {
            if spool.pending() || full {
                if !spool.pending() {
                    log::warn!(
                        "{}: {capacity} events waiting; writing newer ones to the spool {} until \
                         they are delivered",
                        self.name,
                        spool.path.display()
                    );
                }
                match spool.append(event) {
                    Ok(()) => counts.spooled += 1,
                    Err(e) => {
                        counts.dropped += 1;
                        log::error!(
                            "{}: cannot write to the spool {} ({e}); dropped {} ({} dropped so \
                             far)",
                            self.name,
                            spool.path.display(),
                            describe(event),
                            counts.dropped
                        );
                    }
                }
                self.wake.notify_one();
                return;
            }
        } else if full {
            if let Some(oldest) = inner.queue.pop_front() {
                inner.counts.dropped += 1;
                log::error!(
                    "{}: queue full ({capacity} events); dropped the oldest, {} ({} dropped so \
                     far; {})",
                    self.name,
                    describe(&oldest),
                    inner.counts.dropped,
                    self.remedy
                );
            }
        }
        inner.queue.push_back(event.clone());
        self.wake.notify_one();
    }

    /// The next event for the worker, oldest first, waiting for one; `None` once the pipe is
    /// closed and empty.
    pub fn next(&self) -> Option<Taken> {
        let mut inner = self.lock();
        loop {
            if let Some(event) = inner.queue.pop_front() {
                return Some(Taken {
                    event,
                    spool_next: None,
                });
            }
            if let Some(spool) = inner.spool.as_mut().filter(|s| s.pending()) {
                match spool.read_next() {
                    Ok((line, next)) => match Event::from_content(line) {
                        Ok(event) => {
                            return Some(Taken {
                                event,
                                spool_next: Some(next),
                            });
                        }
                        Err(_) => {
                            log::warn!(
                                "{}: skipped a line of the spool that is not an event",
                                self.name
                            );
                            spool.advance(next);
                            continue;
                        }
                    },
                    Err(e) => {
                        log::error!(
                            "{}: cannot read the spool {} ({e}); its remaining events stay \
                             there",
                            self.name,
                            spool.path.display()
                        );
                        return None;
                    }
                }
            }
            if inner.drain_until.is_some() {
                return None;
            }
            inner = self.wake.wait(inner).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The worker is done with `taken` (delivered, or refused for good).
    pub fn done(&self, taken: Taken, failed: bool) {
        let mut inner = self.lock();
        inner.counts.delivered += 1;
        inner.counts.failed += u64::from(failed);
        if let (Some(next), Some(spool)) = (taken.spool_next, inner.spool.as_mut()) {
            spool.advance(next);
        }
    }

    /// The worker could not deliver `taken` before shutdown: it stays first in line.
    pub fn give_back(&self, taken: Taken) {
        if taken.spool_next.is_none() {
            self.lock().queue.push_front(taken.event);
        }
    }

    /// Counts one attempt that will be repeated.
    pub fn count_retry(&self) {
        self.lock().counts.retries += 1;
    }

    /// Stops taking new work after the queue and spool are empty, and gives the worker until
    /// `grace` from now.
    pub fn close(&self, grace: Duration) {
        self.lock().drain_until = Some(Instant::now() + grace);
        self.wake.notify_all();
    }

    /// `Some(deadline)` once the pipe is closed.
    pub fn drain_until(&self) -> Option<Instant> {
        self.lock().drain_until
    }

    /// Sleeps for `delay`, or less when the pipe is closed meanwhile. True if it was closed.
    pub fn sleep(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        let mut inner = self.lock();
        while inner.drain_until.is_none() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            inner = self
                .wake
                .wait_timeout(inner, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// After the worker has stopped: keeps what was not delivered in the spool (oldest first,
    /// for the next run), or counts it as dropped. Returns the counts.
    pub fn finish(&self) -> Counts {
        let mut inner = self.lock();
        let left: Vec<Event> = inner.queue.drain(..).collect();
        match inner.spool.as_mut() {
            Some(spool) => match spool.keep_undelivered(&left) {
                Ok(0) => {}
                Ok(n) => log::warn!(
                    "{}: {n} events not yet delivered are kept in the spool {}; the next run \
                     sends them first",
                    self.name,
                    spool.path.display()
                ),
                Err(e) => {
                    inner.counts.dropped += left.len() as u64;
                    log::error!(
                        "{}: cannot save {} undelivered events to the spool: {e}",
                        self.name,
                        left.len()
                    );
                }
            },
            None if !left.is_empty() => {
                inner.counts.dropped += left.len() as u64;
                log::error!(
                    "{}: {} events were not delivered before exit and are lost ({})",
                    self.name,
                    left.len(),
                    self.remedy
                );
            }
            None => {}
        }
        inner.counts
    }
}

pub use crate::sink::describe;

/// A file of events waiting for the receiver, one JSON line each, oldest first.
///
/// Lines are appended while the receiver is behind and read back from `read_at` as it catches up;
/// the file is emptied once everything has been read back and delivered. Events left at exit stay
/// in the file and are sent first by the next run with the same `--spool`. Writes are not
/// fsynced: a crash of the machine can lose the last lines, and a crash of zoom-ws during a
/// replay sends the replayed part again on the next run (at least once, never silently lost).
pub struct Spool {
    path: PathBuf,
    file: File,
    /// Where the first undelivered line starts.
    read_at: u64,
    /// The file's length.
    len: u64,
}

impl Spool {
    /// Opens (or creates) the spool at `path`. Events already in it are sent first.
    pub fn open(path: &Path) -> io::Result<Spool> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut len = file.metadata()?.len();
        if len > 0 {
            // A line cut short by a crash must not swallow the next one.
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                len += 1;
            }
        }
        let spool = Spool {
            path: path.to_path_buf(),
            file,
            read_at: 0,
            len,
        };
        if len > 0 {
            log::info!(
                "the spool {} holds events from an earlier run; sending them first",
                path.display()
            );
        }
        Ok(spool)
    }

    /// True while some lines have not been delivered.
    fn pending(&self) -> bool {
        self.read_at < self.len
    }

    fn append(&mut self, event: &Event) -> io::Result<()> {
        let mut line = event.json_line().into_owned();
        line.push('\n');
        (&self.file).write_all(line.as_bytes())?;
        self.len += line.len() as u64;
        Ok(())
    }

    /// The first undelivered line and where the one after it starts.
    fn read_next(&mut self) -> io::Result<(String, u64)> {
        self.file.seek(SeekFrom::Start(self.read_at))?;
        let mut reader = BufReader::new((&self.file).take(self.len - self.read_at));
        let mut line = String::new();
        let read = reader.read_line(&mut line)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than expected",
            ));
        }
        let next = self.read_at + read as u64;
        Ok((line.trim_end_matches(['\n', '\r']).to_string(), next))
    }

    /// Marks everything before `next` as delivered; empties the file once all of it is.
    fn advance(&mut self, next: u64) {
        self.read_at = next;
        if self.read_at >= self.len {
            match self.file.set_len(0) {
                Ok(()) => {
                    log::info!("spool {} replayed and emptied", self.path.display());
                    self.read_at = 0;
                    self.len = 0;
                }
                Err(e) => log::error!("cannot empty the spool {}: {e}", self.path.display()),
            }
        }
    }

    /// Rewrites the file as `older` followed by the lines not yet delivered, so the next run
    /// starts with exactly what is owed. Returns how many events that is.
    fn keep_undelivered(&mut self, older: &[Event]) -> io::Result<usize> {
        let mut rest = Vec::new();
        if self.pending() {
            self.file.seek(SeekFrom::Start(self.read_at))?;
            (&self.file)
                .take(self.len - self.read_at)
                .read_to_end(&mut rest)?;
        }
        let mut text = String::new();
        for event in older {
            text.push_str(&event.json_line());
            text.push('\n');
        }
        let count = older.len() + rest.iter().filter(|&&b| b == b'\n').count();
        if self.read_at == 0 && older.is_empty() {
            return Ok(count);
        }
        let mut temp_name = self.path.clone().into_os_string();
        temp_name.push(".tmp");
        let temp = PathBuf::from(temp_name);
        let mut out = File::create(&temp)?;
        out.write_all(text.as_bytes())?;
        out.write_all(&rest)?;
        out.sync_all()?;
        std::fs::rename(&temp, &self.path)?;
        self.read_at = 0;
        self.len = (text.len() + rest.len()) as u64;
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize) -> Event {
        Event::from_content(format!(
            r#"{{"event":"meeting.started","event_ts":{i},"payload":{{}}}}"#
        ))
        .unwrap()
    }

    fn temp_path(name: &str) -> PathBuf {
        let path =
            std::env::temp_dir().join(format!("zoom-ws-pipe-{}-{name}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    fn take_all(pipe: &Pipe) -> Vec<i64> {
        pipe.close(Duration::ZERO);
        let mut out = Vec::new();
        while let Some(taken) = pipe.next() {
            out.push(taken.event.event_ts().unwrap());
            pipe.done(taken, false);
        }
        out
    }

    #[test]
    fn without_a_spool_a_full_queue_drops_the_oldest() {
        let pipe = Pipe::new("test", 3, None, "");
        for i in 0..5 {
            pipe.push(&event(i));
        }
        assert_eq!(take_all(&pipe), [2, 3, 4]);
        let counts = pipe.finish();
        assert_eq!(
            (counts.received, counts.dropped, counts.delivered),
            (5, 2, 3)
        );
    }

    #[test]
    fn with_a_spool_order_is_kept_and_the_spool_emptied() {
        let path = temp_path("order");
        let pipe = Pipe::new("test", 2, Some(Spool::open(&path).unwrap()), "");
        for i in 0..3 {
            pipe.push(&event(i));
        }
        // The worker takes one from the queue; the queue has room again, but newer events must
        // still follow the spooled one.
        let first = pipe.next().unwrap();
        assert_eq!(first.event.event_ts(), Some(0));
        pipe.done(first, false);
        for i in 3..6 {
            pipe.push(&event(i));
        }
        assert_eq!(take_all(&pipe), [1, 2, 3, 4, 5]);
        let counts = pipe.finish();
        assert_eq!(
            (counts.spooled, counts.dropped, counts.delivered),
            (4, 0, 6)
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn undelivered_events_stay_in_the_spool_for_the_next_run() {
        let path = temp_path("leftover");
        let pipe = Pipe::new("test", 2, Some(Spool::open(&path).unwrap()), "");
        for i in 0..5 {
            pipe.push(&event(i));
        }
        // Deliver 0 and 1 from the queue and 2 from the spool, then hand 3 back (receiver down).
        for _ in 0..3 {
            let taken = pipe.next().unwrap();
            pipe.done(taken, false);
        }
        let taken = pipe.next().unwrap();
        assert_eq!(taken.event.event_ts(), Some(3));
        pipe.give_back(taken);
        pipe.close(Duration::ZERO);
        pipe.finish();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            format!("{}\n{}\n", event(3).content(), event(4).content())
        );

        // The next run sends them first, then what arrives after.
        let pipe = Pipe::new("test", 2, Some(Spool::open(&path).unwrap()), "");
        pipe.push(&event(5));
        assert_eq!(take_all(&pipe), [3, 4, 5]);
        pipe.finish();
        std::fs::remove_file(&path).ok();
    }

    #[test]
    fn a_line_cut_short_is_skipped_not_merged() {
        let path = temp_path("cut");
        std::fs::write(&path, format!("{}\n{{\"event\":\"mee", event(7).content())).unwrap();
        let pipe = Pipe::new("test", 2, Some(Spool::open(&path).unwrap()), "");
        pipe.push(&event(8));
        assert_eq!(take_all(&pipe), [7, 8]);
        pipe.finish();
        std::fs::remove_file(&path).ok();
    }
}
