//! One thread per output: takes every event waiting from its [`Feed`] at once (up to about a
//! megabyte), hands them to its [`Deliver`] in order, acknowledges what is done, and retries
//! with back-off when the failure may pass. The socket threads only ever push into the feed.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zoom_ws::Backoff;

use super::counts::Counters;
use super::shutdown::Shutdown;
use crate::feed::{Feed, Item};

/// What came of handing events to an output.
pub enum Outcome {
    /// Done with the first `n` (at least one).
    Done(usize),
    /// Done with the first, but it failed for good (logged and counted, not retried).
    #[cfg_attr(not(feature = "relays"), allow(dead_code))]
    Failed(String),
    /// It may work later: try the first again after a pause.
    Retry(String),
    /// The output is gone for good (stdout's reader left): stop, leaving the rest.
    Gone,
}

/// Something done with each event, in order.
pub trait Deliver: Send + 'static {
    /// Handles the first events of `items` (one, or as many as one write takes). Finish by
    /// `shutdown`'s deadline once it has one.
    fn deliver(&mut self, items: &[Item], shutdown: &Shutdown) -> Outcome;

    /// The worker gives up on the first of the items it was last given: leave the output whole.
    fn abandon(&mut self) {}
}

/// What a worker needs besides its output.
pub struct Worker {
    pub feed: Arc<Feed>,
    pub counters: Arc<Counters>,
    pub shutdown: Arc<Shutdown>,
    pub backoff: Backoff,
    /// Called when the output is gone (stops the clients).
    pub on_gone: Box<dyn Fn() + Send>,
}

/// How long an idle worker waits in one call (it is woken at once by an event or a close).
const IDLE: Duration = Duration::from_secs(3600);

impl Worker {
    /// Starts the thread. It ends when the feed is closed, the output is gone, or the grace
    /// period is over.
    pub fn spawn(self, mut output: impl Deliver) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name(format!("output-{}", self.feed.name()))
            .spawn(move || {
                let mut batch = Vec::new();
                loop {
                    if !self.feed.next_batch(Instant::now() + IDLE, &mut batch) {
                        if self.counters.closed() {
                            return;
                        }
                        continue;
                    }
                    self.counters.set_in_hand(batch.len());
                    if !self.handle(&batch, &mut output) {
                        return;
                    }
                }
            })
    }

    /// Delivers a batch, retrying while that may help; false when the worker must stop with
    /// events not done (they stay in the journal, or are counted as unfinished).
    fn handle(&self, batch: &[Item], output: &mut impl Deliver) -> bool {
        let name = self.feed.name();
        let mut left = batch;
        let mut delay = self.backoff.initial;
        let mut attempt = 1u32;
        while let Some(first) = left.first() {
            if self
                .shutdown
                .deadline()
                .is_some_and(|d| Instant::now() >= d)
            {
                return self.abandon(left, output, "the grace period is over");
            }
            let reason = match output.deliver(left, &self.shutdown) {
                Outcome::Done(n) => {
                    let n = n.clamp(1, left.len());
                    self.done(&left[..n]);
                    self.counters.delivered(n);
                    left = &left[n..];
                    (delay, attempt) = (self.backoff.initial, 1);
                    continue;
                }
                Outcome::Failed(reason) => {
                    log::warn!("{name}: {}: {reason}", first.describe());
                    self.counters.failed();
                    self.done(&left[..1]);
                    left = &left[1..];
                    continue;
                }
                Outcome::Gone => {
                    self.counters.set_gone(true);
                    (self.on_gone)();
                    return self.abandon(left, output, "the reader of stdout is gone");
                }
                Outcome::Retry(reason) => reason,
            };
            self.counters.retried();
            if self.shutdown.draining() {
                let why = format!("{reason}; zoom-ws is exiting");
                return self.abandon(left, output, &why);
            }
            log::warn!(
                "{name}: {}: {reason}; attempt {attempt} failed, retrying in {} ms",
                first.describe(),
                delay.as_millis()
            );
            self.shutdown.sleep(delay);
            delay = (delay * 2).min(self.backoff.max);
            attempt += 1;
        }
        true
    }

    fn done(&self, items: &[Item]) {
        self.feed.ack(items);
        let in_hand = self.counters.in_hand();
        self.counters
            .set_in_hand(in_hand.saturating_sub(items.len() as u64) as usize);
    }

    /// Leaves `left` undone: in the journal for the next run, or counted as lost.
    fn abandon(&self, left: &[Item], output: &mut impl Deliver, why: &str) -> bool {
        output.abandon();
        let name = self.feed.name();
        let (event, it) = match left.len() {
            1 => (left[0].describe(), ["it stays", "it is"]),
            n => (
                format!("{} and {} more", left[0].describe(), n - 1),
                ["they stay", "they are"],
            ),
        };
        let lost = left.iter().filter(|item| !self.feed.holds(item)).count() as u64;
        self.counters.unfinished(lost);
        self.counters.set_in_hand(0);
        if lost == 0 {
            log::warn!(
                "{name}: {event}: {why}; {} in the journal for the next run",
                it[0]
            );
        } else if self.feed.is_durable() {
            log::error!("{name}: {event}: {why}; {lost} lost: the journal dropped them");
        } else if !self.counters.gone() {
            log::error!(
                "{name}: {event}: {why}; {} lost (--spool DIR would keep it)",
                it[1]
            );
        }
        false
    }
}
