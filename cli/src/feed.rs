//! One output's supply of events behind one interface, so a worker does not care whether there
//! is a journal, and the [`Fanout`] the socket threads hand every accepted event to.
//!
//! Without a journal each output has a bounded queue in memory; when it is full the oldest
//! waiting event is dropped, counted exactly, and logged at ERROR (the first drop, then every
//! power of two, and at most once a second otherwise) with the remedy. With a journal every
//! output reads its own position of the one journal, and nothing is dropped before its limit.

use std::collections::VecDeque;
#[cfg(journal)]
use std::path::Path;
#[cfg(journal)]
use std::sync::atomic::AtomicU64;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

#[cfg(journal)]
use super::journal::{Journal, JournalError, JournalOptions, OpenReport};

/// One event for one output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// Its place in the journal, or in the memory queue.
    pub seq: u64,
    /// The event line, shared by every memory queue it went to.
    pub data: Arc<[u8]>,
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

    /// The next event, oldest first, waiting for one until `deadline`; `None` at the deadline
    /// or once closed.
    pub fn next(&self, deadline: Instant) -> Option<Item> {
        match &self.source {
            Source::Memory(queue) => queue.next(deadline),
            #[cfg(journal)]
            Source::Journal(journal) => journal.next(&self.name, deadline).map(|r| Item {
                seq: r.seq,
                data: r.bytes.into(),
            }),
        }
    }

    /// The output is done with `item` (delivered, or refused for good): with a journal, its
    /// position moves past it.
    #[cfg_attr(not(journal), allow(unused_variables))]
    pub fn ack(&self, item: &Item) {
        #[cfg(journal)]
        if let Source::Journal(journal) = &self.source {
            journal.ack(&self.name, item.seq);
        }
    }

    /// Wakes a waiting `next`; from now on it returns `None`. What is still waiting stays in the
    /// journal, or is lost from memory (see [`Feed::waiting`]).
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

/// Where the socket threads put each accepted event; never waits for an output.
pub enum Fanout {
    #[cfg(journal)]
    Journal {
        journal: Arc<Journal>,
        /// Events refused because the journal was closed (the rest it counts itself).
        refused: AtomicU64,
    },
    Memory(Vec<Arc<MemQueue>>),
}

impl Fanout {
    /// Hands `line` to every output: one append to the journal, or a push to each queue.
    /// Returns whether it was stored; a loss is counted and logged either way.
    pub fn push(&self, line: &[u8]) -> bool {
        match self {
            #[cfg(journal)]
            Fanout::Journal { journal, refused } => match journal.append(line) {
                Ok(_) => true,
                Err(JournalError::Closed) => {
                    let n = refused.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        log::error!("the journal is closed: dropped an event ({n} so far)");
                    }
                    false
                }
                Err(_) => false, // counted per output and logged by the journal
            },
            Fanout::Memory(queues) => {
                let data: Arc<[u8]> = line.into();
                for queue in queues {
                    queue.push(Arc::clone(&data));
                }
                true
            }
        }
    }

    /// Events refused by a closed journal (not in any output's count).
    pub fn refused(&self) -> u64 {
        match self {
            #[cfg(journal)]
            Fanout::Journal { refused, .. } => refused.load(Ordering::Relaxed),
            Fanout::Memory(_) => 0,
        }
    }
}

fn feed(name: &str, source: Source) -> Feed {
    Feed {
        name: name.into(),
        source,
    }
}

/// The fan-out and one feed per output, through the journal in `dir`.
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
        .map(|n| feed(n, Source::Journal(Arc::clone(&journal))))
        .collect();
    let refused = AtomicU64::new(0);
    Ok((Fanout::Journal { journal, refused }, feeds, report))
}

/// The fan-out and one feed per output, through a memory queue of `queue` events each.
pub fn build(outputs: &[&str], queue: usize) -> (Fanout, Vec<Feed>) {
    let queues: Vec<_> = outputs.iter().map(|n| MemQueue::new(n, queue)).collect();
    let feeds = queues
        .iter()
        .map(|q| feed(&q.name, Source::Memory(Arc::clone(q))))
        .collect();
    (Fanout::Memory(queues), feeds)
}

/// A bounded queue in memory for one output.
pub struct MemQueue {
    name: String,
    capacity: usize,
    inner: Mutex<MemInner>,
    wake: Condvar,
    /// The worker waits on `wake` and needs a notification.
    waiting: AtomicBool,
}

struct MemInner {
    queue: VecDeque<Item>,
    next_seq: u64,
    dropped: u64,
    last_log: Option<Instant>,
    closed: bool,
}

impl MemQueue {
    fn new(name: &str, capacity: usize) -> Arc<MemQueue> {
        Arc::new(MemQueue {
            name: name.into(),
            capacity: capacity.max(1),
            inner: Mutex::new(MemInner {
                queue: VecDeque::new(),
                next_seq: 0,
                dropped: 0,
                last_log: None,
                closed: false,
            }),
            wake: Condvar::new(),
            waiting: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, MemInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an event; a full queue drops its oldest first (counted, logged). Never waits.
    fn push(&self, data: Arc<[u8]>) {
        let mut inner = self.lock();
        if inner.queue.len() >= self.capacity {
            inner.queue.pop_front();
            inner.dropped += 1;
            self.log_drop(&mut inner);
        }
        let seq = inner.next_seq;
        inner.next_seq += 1;
        inner.queue.push_back(Item { seq, data });
        drop(inner);
        if self.waiting.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }

    /// The ERROR line for a drop: the first, every power of two, or a second after the last.
    fn log_drop(&self, inner: &mut MemInner) {
        let now = Instant::now();
        let due = inner
            .last_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1));
        if !(inner.dropped.is_power_of_two() || due) {
            return;
        }
        inner.last_log = Some(now);
        log::error!(
            "{}: {} events waiting, the queue is full: dropped the oldest ({} dropped so far); \
             --spool DIR keeps events on disk, or a larger --queue N gives more room",
            self.name,
            self.capacity,
            inner.dropped
        );
    }

    fn next(&self, deadline: Instant) -> Option<Item> {
        let mut inner = self.lock();
        loop {
            if inner.closed {
                return None;
            }
            if let Some(item) = inner.queue.pop_front() {
                return Some(item);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            self.waiting.store(true, Ordering::Release);
            inner = self
                .wake
                .wait_timeout(inner, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            self.waiting.store(false, Ordering::Release);
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_all();
    }
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
