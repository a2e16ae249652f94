//! One thread per output: takes events from its [`Feed`] one at a time, in order, hands each to
//! its [`Deliver`], acknowledges it once done, and retries with back-off when the failure may
//! pass. It never holds up the socket threads: they only ever push into the feed.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zoom_ws::Backoff;

use super::counts::Counters;
use super::shutdown::Shutdown;
use crate::feed::{Feed, Item};
use crate::sink::describe_content;

/// What came of handing one event to an output.
pub enum Outcome {
    /// Done with it.
    Done,
    /// Done with it, but it failed for good (logged and counted, not retried).
    #[cfg_attr(not(feature = "relays"), allow(dead_code))]
    Failed(String),
    /// It may work later: try the same event again after a pause.
    Retry(String),
    /// The output is gone for good (stdout's reader left): stop, leaving the rest.
    Gone,
}

/// Something done with each event, in order.
pub trait Deliver: Send + 'static {
    /// Handles one event (its exact content). Finish by `shutdown`'s deadline once it has one.
    fn deliver(&mut self, content: &str, shutdown: &Shutdown) -> Outcome;
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
                loop {
                    let Some(item) = self.feed.next(Instant::now() + IDLE) else {
                        if self.counters.closed() {
                            return;
                        }
                        continue;
                    };
                    self.counters.set_busy(true);
                    let finished = self.handle(&item, &mut output);
                    self.counters.set_busy(false);
                    if !finished {
                        return;
                    }
                }
            })
    }

    /// Delivers one event, retrying while that may help; false when the worker must stop
    /// with the event not done (it stays in the journal, or is counted as unfinished).
    fn handle(&self, item: &Item, output: &mut impl Deliver) -> bool {
        let name = self.feed.name();
        let Ok(content) = std::str::from_utf8(&item.data) else {
            log::error!("{name}: an event that is not UTF-8 text; skipped");
            self.counters.failed();
            self.feed.ack(item);
            return true;
        };
        let mut delay = self.backoff.initial;
        for attempt in 1u32.. {
            if self
                .shutdown
                .deadline()
                .is_some_and(|d| Instant::now() >= d)
            {
                return self.abandon(item, content, "the grace period is over");
            }
            let reason = match output.deliver(content, &self.shutdown) {
                Outcome::Done => {
                    self.counters.delivered();
                    self.feed.ack(item);
                    return true;
                }
                Outcome::Failed(reason) => {
                    log::warn!("{name}: {}: {reason}", describe_content(content));
                    self.counters.failed();
                    self.feed.ack(item);
                    return true;
                }
                Outcome::Gone => {
                    self.counters.set_gone(true);
                    (self.on_gone)();
                    return self.abandon(item, content, "the reader of stdout is gone");
                }
                Outcome::Retry(reason) => reason,
            };
            self.counters.retried();
            if self.shutdown.draining() {
                return self.abandon(item, content, &format!("{reason}; zoom-ws is exiting"));
            }
            log::warn!(
                "{name}: {}: {reason}; attempt {attempt} failed, retrying in {} ms",
                describe_content(content),
                delay.as_millis()
            );
            self.shutdown.sleep(delay);
            delay = (delay * 2).min(self.backoff.max);
        }
        unreachable!("the attempts are not counted to the end")
    }

    /// Leaves `content` undone: in the journal for the next run, or counted as lost.
    fn abandon(&self, item: &Item, content: &str, why: &str) -> bool {
        let name = self.feed.name();
        let event = describe_content(content);
        if self.feed.holds(item) {
            log::warn!("{name}: {event}: {why}; it stays in the journal for the next run");
        } else {
            self.counters.unfinished();
            if self.feed.is_durable() {
                log::error!(
                    "{name}: {event}: {why}; it is lost: the journal dropped it to make room"
                );
            } else if !self.counters.gone() {
                log::error!("{name}: {event}: {why}; it is lost (--spool DIR would keep it)");
            }
        }
        false
    }
}
