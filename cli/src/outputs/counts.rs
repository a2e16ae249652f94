//! What each output did with its events, readable at any time (for the summary, and for
//! metrics), and the rule that turns the counts into "something was lost".

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Kept by an output's worker; the feed keeps the rest (dropped, waiting).
#[derive(Debug, Default)]
pub struct Counters {
    delivered: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    /// Taken from a memory queue and not finished when the worker had to stop.
    unfinished: AtomicU64,
    /// Events taken and not yet done (a batch in the worker's hands).
    in_hand: AtomicU64,
    /// stdout only: the reader went away.
    gone: AtomicBool,
    /// The main thread closed the feed: the worker's `next` returning nothing means "stop".
    closed: AtomicBool,
}

macro_rules! flag {
    ($get:ident, $set:ident) => {
        pub fn $get(&self) -> bool {
            self.$get.load(Ordering::Acquire)
        }
        pub fn $set(&self, value: bool) {
            self.$get.store(value, Ordering::Release)
        }
    };
}

impl Counters {
    pub fn delivered(&self, n: usize) {
        self.delivered.fetch_add(n as u64, Ordering::Relaxed);
    }
    pub fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
    pub fn retried(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }
    pub fn unfinished(&self, n: u64) {
        self.unfinished.fetch_add(n, Ordering::Relaxed);
    }
    pub fn in_hand(&self) -> u64 {
        self.in_hand.load(Ordering::Acquire)
    }
    pub fn set_in_hand(&self, n: usize) {
        self.in_hand.store(n as u64, Ordering::Release)
    }
    flag!(gone, set_gone);
    flag!(closed, set_closed);
}

/// One output's figures at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Done: written and flushed (stdout), run with exit status 0 (`--exec`), answered 2xx
    /// (`--forward`).
    pub delivered: u64,
    /// Done but failed for good, not retried: the command failed, or the receiver answered a
    /// 4xx that is not worth repeating.
    pub failed: u64,
    /// Attempts that were repeated (network errors, 408/429/5xx, a failed write).
    pub retries: u64,
    /// Lost before this output took them: a full queue, or the journal's limit or a full disk.
    pub dropped: u64,
    /// Not yet done: in the journal (`durable`), or in memory (lost if the process ends).
    pub waiting: u64,
    /// Taken from memory, then abandoned when the worker had to stop (lost).
    pub unfinished: u64,
    /// Whether `waiting` survives the process (a journal).
    pub durable: bool,
    /// stdout's reader went away (what waits for it is not a loss: nobody reads it).
    pub gone: bool,
}

impl Counts {
    pub(super) fn read(counters: &Counters, dropped: u64, waiting: u64, durable: bool) -> Self {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Counts {
            delivered: get(&counters.delivered),
            failed: get(&counters.failed),
            retries: get(&counters.retries),
            dropped,
            waiting,
            unfinished: get(&counters.unfinished),
            durable,
            gone: counters.gone(),
        }
    }

    /// Events kept in the journal for the next run.
    pub fn kept(&self) -> u64 {
        if self.durable { self.waiting } else { 0 }
    }

    /// Events this output will never get, counting what waits in memory at exit.
    pub fn lost(&self) -> u64 {
        if self.gone {
            self.dropped
        } else if self.durable {
            // Taken, then its segment dropped (full disk) before it was done.
            self.dropped + self.unfinished
        } else {
            self.dropped + self.waiting + self.unfinished
        }
    }

    /// Events in memory nobody will read because stdout's reader left.
    pub fn unread(&self) -> u64 {
        if self.gone && !self.durable {
            self.waiting + self.unfinished
        } else {
            0
        }
    }

    /// The summary line's figures.
    pub fn line(&self, name: &str) -> String {
        let mut line = format!(
            "summary {name}: {} delivered, {} failed, {} retries, {} dropped, {} kept in the \
             journal, {} lost at exit",
            self.delivered,
            self.failed,
            self.retries,
            self.dropped,
            self.kept(),
            self.lost() - self.dropped,
        );
        if self.unread() > 0 {
            line.push_str(&format!(
                ", {} not written (the reader of stdout left)",
                self.unread()
            ));
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_counts_as_lost() {
        let c = Counters::default();
        c.delivered(1);
        c.unfinished(1);
        let memory = Counts::read(&c, 2, 3, false);
        assert_eq!((memory.lost(), memory.kept()), (6, 0));
        assert!(
            memory
                .line("exec")
                .contains("2 dropped, 0 kept in the journal, 4 lost")
        );
        let journal = Counts::read(&Counters::default(), 0, 3, true);
        assert_eq!((journal.lost(), journal.kept()), (0, 3));
        c.set_gone(true);
        let gone = Counts::read(&c, 0, 3, false);
        assert_eq!((gone.lost(), gone.unread()), (0, 4));
    }
}
