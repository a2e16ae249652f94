//! One output's supply of events behind one interface, so a worker does not care whether there
//! is a journal, and the [`Fanout`] the socket threads hand every accepted event to.
//!
//! Without a journal each output has a queue in memory, bounded in bytes. A full queue does not
//! drop: [`Fanout::has_room`] says no, and the socket threads stop reading (the library's
//! `pause_while`) until the output takes a batch. Only an output that has taken nothing for the
//! stall bound while events wait for it loses events: then its queue lets the socket read again
//! and drops its oldest, counted exactly and logged at ERROR (the first drop, then every power
//! of two, and at most once a second otherwise) with the remedy. With a journal every output
//! reads its own position of the one journal, and nothing is dropped before its limit.

use std::collections::VecDeque;
#[cfg(journal)]
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use zoom_ws::Event;

#[cfg(journal)]
use super::journal::{Journal, JournalError, JournalOptions, OpenReport};

/// The most a worker takes at once: one write of about a megabyte.
const BATCH_BYTES: usize = 1 << 20;

/// What an event costs in a memory queue besides its bytes (the item, the queue's slot).
const ITEM_OVERHEAD: usize = 64;

/// How long a worker that has just emptied its queue waits for more before it asks to be woken:
/// under a flood the next events are microseconds away, and they then go out together within
/// a millisecond, instead of costing the socket thread a wake-up (a system call) each. An event
/// that comes after a quiet millisecond wakes the worker at once.
const LINGER: Duration = Duration::from_millis(1);

/// The first byte of a packed event; never the first byte of JSON text.
const PACKED: u8 = 1;

/// One event for one output, decoded once by the sink and handed on decoded: its name, its
/// `event_ts`, the line that stdout and `--exec` write, and the exact content `--forward` posts.
/// Packed into one buffer (`[1][u16 name length][name][i64 event_ts][u32 line length][line and
/// newline][content, when it differs from the line]`), shared by every memory queue and stored
/// as one journal record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Its place in the journal (0 in a memory queue).
    pub seq: u64,
    /// The packed event.
    pub data: Packed,
}

/// A packed event (see [`Item`]), shared without copying.
pub type Packed = Arc<Vec<u8>>;

/// Reads `n` bytes at `*at`.
fn take<'a>(data: &'a [u8], at: &mut usize, n: usize) -> &'a [u8] {
    let part = data.get(*at..*at + n).unwrap_or_default();
    *at += n;
    part
}

impl Item {
    /// `event`, packed (see [`Item`]).
    pub fn pack(event: &Event) -> Packed {
        let content = event.content();
        let line = if content.contains(['\n', '\r']) {
            event.json_line()
        } else {
            content.into()
        };
        Item::pack_parts(event.name(), event.event_ts(), &line, content)
    }

    fn pack_parts(name: &str, ts: Option<i64>, line: &str, content: &str) -> Packed {
        let name = &name.as_bytes()[..name.len().min(u16::MAX as usize)];
        let rest = if line == content { "" } else { content };
        let mut data = Vec::with_capacity(16 + name.len() + line.len() + rest.len());
        data.push(PACKED);
        data.extend_from_slice(&(name.len() as u16).to_le_bytes());
        data.extend_from_slice(name);
        data.extend_from_slice(&ts.unwrap_or(i64::MIN).to_le_bytes());
        data.extend_from_slice(&(line.len() as u32 + 1).to_le_bytes());
        data.extend_from_slice(line.as_bytes());
        data.push(b'\n');
        data.extend_from_slice(rest.as_bytes());
        Arc::new(data)
    }

    /// A record as stored: packed, or (written by an earlier version) the bare content.
    #[cfg_attr(not(journal), allow(dead_code))]
    fn from_record(seq: u64, bytes: Vec<u8>) -> Item {
        if bytes.first() == Some(&PACKED) {
            return Item {
                seq,
                data: Arc::new(bytes),
            };
        }
        let content = String::from_utf8_lossy(&bytes).into_owned();
        // Content that is not an event (an earlier version's damaged record) goes on as is.
        let data = match Event::from_content(content.clone()) {
            Ok(event) => Item::pack(&event),
            Err(_) => Item::pack_parts("", None, &content.replace(['\n', '\r'], " "), &content),
        };
        Item { seq, data }
    }

    /// (name, event_ts, line with its newline, exact content).
    fn parts(&self) -> (&str, Option<i64>, &[u8], &[u8]) {
        let data = &self.data[..];
        let mut at = 1;
        let n = u16::from_le_bytes(take(data, &mut at, 2).try_into().unwrap_or_default());
        let name = std::str::from_utf8(take(data, &mut at, n as usize)).unwrap_or_default();
        let ts = i64::from_le_bytes(take(data, &mut at, 8).try_into().unwrap_or_default());
        let n = u32::from_le_bytes(take(data, &mut at, 4).try_into().unwrap_or_default());
        let line = take(data, &mut at, n as usize);
        let rest = data.get(at..).unwrap_or_default();
        let content = if rest.is_empty() {
            line.strip_suffix(b"\n").unwrap_or(line)
        } else {
            rest
        };
        (name, (ts != i64::MIN).then_some(ts), line, content)
    }

    /// The event's name (`meeting.started`).
    pub fn name(&self) -> &str {
        self.parts().0
    }

    /// Its `event_ts`, when it has one.
    pub fn event_ts(&self) -> Option<i64> {
        self.parts().1
    }

    /// The event as one line, with its newline.
    pub fn line(&self) -> &[u8] {
        self.parts().2
    }

    /// The exact content Zoom sent.
    #[cfg_attr(not(feature = "relays"), allow(dead_code))]
    pub fn content(&self) -> &str {
        std::str::from_utf8(self.parts().3).unwrap_or_default()
    }

    /// For log lines.
    pub fn describe(&self) -> String {
        describe(self.name(), self.event_ts())
    }
}

/// `meeting.started (event_ts 1764500000000)`, for log lines.
pub fn describe(name: &str, ts: Option<i64>) -> String {
    match (name, ts) {
        ("", _) => "an event".into(),
        (name, Some(ts)) => format!("{name} (event_ts {ts})"),
        (name, None) => name.into(),
    }
}

/// One output's supply of events.
pub struct Feed {
    name: String,
    source: Source,
}

enum Source {
    Memory(Arc<MemQueue>),
    #[cfg(journal)]
    Journal(Arc<Journal>),
}

impl Feed {
    /// The output's name (`stdout`, `exec`, `forward`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The events waiting, oldest first, up to about a megabyte, into `batch` (emptied first);
    /// waits for the first until `deadline`. False at the deadline or once closed.
    pub fn next_batch(&self, deadline: Instant, batch: &mut Vec<Item>) -> bool {
        batch.clear();
        match &self.source {
            Source::Memory(queue) => queue.next_batch(deadline, batch),
            #[cfg(journal)]
            Source::Journal(journal) => {
                let mut bytes = 0;
                let mut wait = deadline;
                while bytes < BATCH_BYTES {
                    let Some(record) = journal.next(&self.name, wait) else {
                        break;
                    };
                    bytes += record.bytes.len();
                    batch.push(Item::from_record(record.seq, record.bytes));
                    wait = Instant::now();
                }
            }
        }
        !batch.is_empty()
    }

    /// The output is done with `items` (delivered, or refused for good): with a journal, its
    /// position moves past them.
    #[cfg_attr(not(journal), allow(unused_variables))]
    pub fn ack(&self, items: &[Item]) {
        let Some(last) = items.last() else { return };
        match &self.source {
            #[cfg(journal)]
            Source::Journal(journal) => journal.ack(&self.name, last.seq),
            // Progress: a slow command working through a batch is not stalled.
            Source::Memory(queue) => queue.lock().progress = Instant::now(),
        }
    }

    /// Wakes a waiting `next_batch`; from now on it returns nothing. What is still waiting stays
    /// in the journal, or is lost from memory (see [`Feed::waiting`]).
    pub fn close(&self) {
        match &self.source {
            Source::Memory(queue) => queue.close(),
            #[cfg(journal)]
            Source::Journal(journal) => journal.stop(&self.name),
        }
    }

    /// Events dropped before this output took them.
    pub fn dropped(&self) -> u64 {
        match &self.source {
            Source::Memory(queue) => queue.lock().dropped,
            #[cfg(journal)]
            Source::Journal(journal) => journal.dropped(&self.name),
        }
    }

    /// Events waiting: kept in the journal, or in memory (lost if the process ends now).
    pub fn waiting(&self) -> u64 {
        match &self.source {
            Source::Memory(queue) => queue.lock().queue.len() as u64,
            #[cfg(journal)]
            Source::Journal(journal) => journal.pending(&self.name),
        }
    }

    /// Whether `item`, taken and not acknowledged, is still kept for a later run (its segment
    /// may have been dropped under the worker).
    #[cfg_attr(not(journal), allow(unused_variables))]
    pub fn holds(&self, item: &Item) -> bool {
        match &self.source {
            Source::Memory(_) => false,
            #[cfg(journal)]
            Source::Journal(journal) => journal.holds(item.seq),
        }
    }

    /// Whether what is waiting survives the process.
    pub fn is_durable(&self) -> bool {
        !matches!(self.source, Source::Memory(_))
    }
}

/// Where the socket threads put each accepted event. A push never waits for an output; the
/// socket threads ask [`has_room`](Fanout::has_room) before they read.
pub enum Fanout {
    #[cfg(journal)]
    Journal(Arc<Journal>),
    Memory(Vec<Arc<MemQueue>>),
}

impl Fanout {
    /// Hands a packed event ([`Item::pack`]) to every output: one append to the journal, or a
    /// push to each queue. Returns whether it was stored; a loss is counted and logged.
    pub fn push(&self, data: &Packed) -> bool {
        match self {
            #[cfg(journal)]
            // A refusal is counted for every output and logged by the journal.
            Fanout::Journal(journal) => journal.append(data).is_ok(),
            Fanout::Memory(queues) => {
                for queue in queues {
                    queue.push(Arc::clone(data));
                }
                true
            }
        }
    }

    /// Whether the socket threads may read the next event: the journal's append buffer has room
    /// (it fills only while the disk is slower than the socket), or every queue has room, or its
    /// output is stalled (then it drops its oldest).
    pub fn has_room(&self) -> bool {
        match self {
            #[cfg(journal)]
            Fanout::Journal(journal) => journal.has_room(),
            Fanout::Memory(queues) => queues.iter().all(|q| q.has_room(Instant::now())),
        }
    }
}

/// The memory queues' bounds (`--queue SIZE`, `--stall-timeout SECS`).
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Bytes of events each output's queue holds before the socket threads stop reading.
    pub bytes: u64,
    /// How long an output may take nothing while events wait before its oldest are dropped.
    pub stall: Duration,
}

/// The fan-out and one feed per output, each through a memory queue.
pub fn build(outputs: &[&str], bounds: Bounds) -> (Fanout, Vec<Feed>) {
    let queues: Vec<_> = outputs.iter().map(|n| MemQueue::new(n, bounds)).collect();
    let feeds = queues
        .iter()
        .map(|q| Feed {
            name: q.name.clone(),
            source: Source::Memory(Arc::clone(q)),
        })
        .collect();
    (Fanout::Memory(queues), feeds)
}

/// The fan-out and one feed per output, all through the journal in `dir`.
#[cfg(journal)]
pub fn build_journal(
    outputs: &[&str],
    dir: &Path,
    opts: JournalOptions,
) -> Result<(Fanout, Vec<Feed>, OpenReport), JournalError> {
    let (journal, report) = Journal::open(dir, outputs, opts)?;
    let journal = Arc::new(journal);
    let feeds = outputs
        .iter()
        .map(|n| Feed {
            name: n.to_string(),
            source: Source::Journal(Arc::clone(&journal)),
        })
        .collect();
    Ok((Fanout::Journal(journal), feeds, report))
}

/// A queue in memory for one output, bounded in bytes.
pub struct MemQueue {
    name: String,
    bounds: Bounds,
    inner: Mutex<MemInner>,
    wake: Condvar,
    /// The worker waits on `wake` and needs a notification.
    waiting: AtomicBool,
}

struct MemInner {
    queue: VecDeque<Item>,
    bytes: u64,
    dropped: u64,
    last_log: Option<Instant>,
    closed: bool,
    /// The output last took or finished events, or had nothing to do.
    progress: Instant,
}

impl MemInner {
    fn stalled(&self, bounds: Bounds, now: Instant) -> bool {
        !self.queue.is_empty() && now.saturating_duration_since(self.progress) >= bounds.stall
    }
}

fn cost(item: &Item) -> u64 {
    (item.data.len() + ITEM_OVERHEAD) as u64
}

impl MemQueue {
    fn new(name: &str, bounds: Bounds) -> Arc<MemQueue> {
        Arc::new(MemQueue {
            name: name.into(),
            bounds,
            inner: Mutex::new(MemInner {
                queue: VecDeque::new(),
                bytes: 0,
                dropped: 0,
                last_log: None,
                closed: false,
                progress: Instant::now(),
            }),
            wake: Condvar::new(),
            waiting: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, MemInner> {
        crate::sync::lock(&self.inner)
    }

    /// Room for the next event, or the output is stalled (its oldest will be dropped).
    fn has_room(&self, now: Instant) -> bool {
        let inner = self.lock();
        inner.bytes < self.bounds.bytes || inner.stalled(self.bounds, now)
    }

    /// Adds an event. Over the bound, and only when the output is stalled, the oldest are
    /// dropped (counted, logged); otherwise the socket threads have stopped reading already.
    fn push(&self, data: Packed) {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.queue.is_empty() {
            inner.progress = now; // it had nothing to do until now
        }
        let item = Item { seq: 0, data };
        if inner.stalled(self.bounds, now) {
            while inner.bytes + cost(&item) > self.bounds.bytes {
                let Some(old) = inner.queue.pop_front() else {
                    break;
                };
                inner.bytes -= cost(&old);
                inner.dropped += 1;
                self.log_drop(&mut inner, now);
            }
        }
        inner.bytes += cost(&item);
        inner.queue.push_back(item);
        drop(inner);
        if self.waiting.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }

    /// The ERROR line for a drop: the first, every power of two, or a second after the last.
    fn log_drop(&self, inner: &mut MemInner, now: Instant) {
        let due = inner
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if !(inner.dropped.is_power_of_two() || due) {
            return;
        }
        inner.last_log = Some(now);
        log::error!(
            "{}: took nothing for {} s with its queue full ({} bytes): dropped the oldest event \
             ({} dropped so far); find out why it stalls, or --spool DIR keeps events on disk",
            self.name,
            secs(self.bounds.stall),
            self.bounds.bytes,
            inner.dropped
        );
    }

    fn next_batch(&self, deadline: Instant, batch: &mut Vec<Item>) {
        let mut inner = self.lock();
        let mut linger = true;
        loop {
            if inner.closed {
                return;
            }
            if !inner.queue.is_empty() {
                break;
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            // First a short wait nobody wakes (see LINGER), then one the next push ends.
            let wait = if linger { left.min(LINGER) } else { left };
            self.waiting.store(!linger, Ordering::Release);
            linger = false;
            inner = crate::sync::wait(&self.wake, inner, wait);
            self.waiting.store(false, Ordering::Release);
        }
        let mut bytes = 0;
        while bytes < BATCH_BYTES as u64 {
            let Some(item) = inner.queue.pop_front() else {
                break;
            };
            bytes += cost(&item);
            batch.push(item);
        }
        inner.bytes -= bytes;
        inner.progress = Instant::now();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }
}

/// `d` in seconds as the user wrote it (`1`, `0.3`): std's float formatting, the only use of it
/// in the binary, costs 11 KiB.
fn secs(d: Duration) -> String {
    let frac = format!(".{:09}", d.subsec_nanos());
    format!(
        "{}{}",
        d.as_secs(),
        frac.trim_end_matches('0').trim_end_matches('.')
    )
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
