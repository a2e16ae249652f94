//! The outputs — stdout, `--exec`, `--forward` — each fed by its own [`Feed`] and run by its
//! own worker thread, and the end of a run: the drain, the summary, whether anything was lost.
//!
//! - `worker`: the loop every output shares (take, deliver, acknowledge, retry);
//! - `stdout`, `exec`, `forward`: what each output does with one event;
//! - `child_env`: the environment of a `--exec` command, without secrets;
//! - `counts`: what each output did, readable at any time; `shutdown`: the grace period.
//!
//! The socket threads never wait for an output: they hand each event to the [`Fanout`] (one
//! append to the journal, or a push into each output's memory queue), and stop reading while a
//! queue is full, so heartbeats stay on time whatever the reader, the command or the receiver
//! does.

#[cfg(feature = "relays")]
mod child_env;
pub mod counts;
#[cfg(feature = "relays")]
mod exec;
#[cfg(feature = "relays")]
mod forward;
pub mod shutdown;
mod stdout;
mod worker;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[cfg(feature = "relays")]
use zoom_ws::webhook::Forwarder;
use zoom_ws::{Backoff, Config, Secret};

use crate::args::Args;
use crate::exit::Exit;
use crate::feed::{self, Fanout, Feed};
#[cfg(journal)]
use crate::journal::{JournalError, JournalOptions};
use crate::settings::Delivery;
pub use counts::Counts;
use shutdown::Shutdown;
use worker::Worker;

/// How long the main thread waits past the grace period for an output busy with one event
/// (a command or a write that cannot be cut short), before it reports that event and exits.
const PAST_GRACE: Duration = Duration::from_millis(500);

/// One output: its feed, its figures, its thread.
pub struct Output {
    feed: Arc<Feed>,
    counters: Arc<counts::Counters>,
    thread: Option<JoinHandle<()>>,
}

impl Output {
    /// `stdout`, `exec` or `forward`.
    pub fn name(&self) -> &str {
        self.feed.name()
    }

    fn finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Nothing waits for it, and it is not busy: it may stop.
    fn idle(&self) -> bool {
        self.feed.waiting() == 0 && self.counters.in_hand() == 0
    }

    fn close(&self) {
        if !self.counters.closed() {
            self.counters.set_closed(true);
            self.feed.close();
        }
    }
}

/// Every output of the run, and where the socket threads hand events over.
pub struct Outputs {
    pub fanout: Arc<Fanout>,
    pub outputs: Vec<Output>,
    pub shutdown: Arc<Shutdown>,
    grace: Duration,
}

/// What is checked before anything connects: the receiver's URL, the journal.
pub struct Prepared {
    #[cfg(feature = "relays")]
    forwarder: Option<Forwarder>,
    fanout: Fanout,
    feeds: Vec<Feed>,
}

/// The outputs asked for, in order.
fn names(args: &Args) -> Vec<&'static str> {
    let wanted = [!args.quiet, args.exec.is_some(), args.forward.is_some()];
    ["stdout", "exec", "forward"]
        .into_iter()
        .zip(wanted)
        .filter_map(|(name, on)| on.then_some(name))
        .collect()
}

/// Checks `--forward` and opens the journal (`--spool DIR`); a problem is a usage error.
/// Call it after the signals are blocked: the journal starts a thread.
pub fn prepare(
    args: &Args,
    delivery: &Delivery,
    config: &Config,
    webhook_secret: Option<Secret>,
) -> Result<Prepared, Exit> {
    #[cfg(not(feature = "relays"))]
    let _ = (config, webhook_secret); // --exec and --forward are refused at start
    #[cfg(feature = "relays")]
    let forwarder = match &args.forward {
        Some(url) => {
            let forwarder = Forwarder::new(url, webhook_secret, config)
                .map_err(|e| Exit::Fatal(crate::exit::as_flag(e, "--forward")))?;
            if !forwarder.signs() {
                log::info!(
                    "ZOOM_WEBHOOK_SECRET_TOKEN is not set: events posted to {} are not signed",
                    zoom_ws::check::escaped(forwarder.host())
                );
            }
            Some(forwarder)
        }
        None => None,
    };
    let names = names(args);
    let bounds = feed::Bounds {
        bytes: delivery.queue,
        stall: delivery.stall,
    };
    let (fanout, feeds) = match &delivery.spool {
        #[cfg(journal)]
        Some(dir) => journal_feeds(&names, dir, args, delivery)?,
        _ if !args.spool_forget.is_empty() => {
            return Err(Exit::Usage(
                "--spool-forget needs a journal: --spool DIR or ZOOM_SPOOL_DIR".into(),
            ));
        }
        _ => feed::build(&names, bounds),
    };
    Ok(Prepared {
        #[cfg(feature = "relays")]
        forwarder,
        fanout,
        feeds,
    })
}

/// Opens the journal in `dir` for the outputs `names`, and says what waits in it. Every
/// problem at start is the user's to fix (the message says how): exit 2.
#[cfg(journal)]
fn journal_feeds(
    names: &[&str],
    dir: &std::path::Path,
    args: &Args,
    delivery: &Delivery,
) -> Result<(Fanout, Vec<Feed>), Exit> {
    let max = delivery.spool_max;
    let opts = JournalOptions {
        max_bytes: max,
        forget: args.spool_forget.clone(),
        ..JournalOptions::default()
    };
    let (fanout, feeds, report) = feed::build_journal(names, dir, opts)
        .map_err(|e: JournalError| Exit::Usage(format!("--spool: {e}")))?;
    let waiting: Vec<String> = report
        .waiting
        .iter()
        .map(|(name, n)| format!("{n} for {name}"))
        .collect();
    log::info!(
        "journal {}: {} bytes, events waiting: {}",
        dir.display(),
        report.bytes,
        if waiting.is_empty() {
            "none".into()
        } else {
            waiting.join(", ")
        }
    );
    Ok((fanout, feeds))
}

/// Starts one worker per output. `on_gone` runs when stdout's reader leaves.
#[cfg_attr(not(feature = "relays"), allow(unused_variables))]
pub fn spawn(
    prepared: Prepared,
    args: &Args,
    delivery: &Delivery,
    backoff: &Backoff,
    on_gone: impl Fn() + Clone + Send + 'static,
) -> Result<Outputs, Exit> {
    let shutdown = Arc::new(Shutdown::default());
    #[cfg(feature = "relays")]
    let mut forwarder = prepared.forwarder;
    let mut outputs = Vec::new();
    for feed in prepared.feeds {
        let feed = Arc::new(feed);
        let counters = Arc::new(counts::Counters::default());
        let worker = Worker {
            feed: Arc::clone(&feed),
            counters: Arc::clone(&counters),
            shutdown: Arc::clone(&shutdown),
            backoff: backoff.clone(),
            on_gone: Box::new(on_gone.clone()),
        };
        let thread = match feed.name() {
            "stdout" => stdout::Stdout::new().and_then(|out| worker.spawn(out)),
            #[cfg(feature = "relays")]
            "exec" => worker.spawn(exec::Exec::new(args.exec.clone().unwrap_or_default())),
            #[cfg(feature = "relays")]
            _ => match forwarder.take() {
                Some(f) => worker.spawn(forward::Forward::new(f)),
                None => Err(std::io::Error::other("no receiver for --forward")),
            },
            #[cfg(not(feature = "relays"))]
            _ => Err(std::io::Error::other("built without the `relays` feature")),
        }
        .map_err(|e| Exit::Usage(format!("cannot start the {} worker: {e}", feed.name())))?;
        outputs.push(Output {
            feed,
            counters,
            thread: Some(thread),
        });
    }
    Ok(Outputs {
        fanout: Arc::new(prepared.fanout),
        outputs,
        shutdown,
        grace: delivery.grace,
    })
}

/// Every output's figures, readable from any thread while the run goes on (for metrics, and
/// the summary).
#[derive(Clone)]
pub struct Watch(Vec<(Arc<Feed>, Arc<counts::Counters>)>);

impl Watch {
    /// Per output, its name and figures now: its worker's, and its feed's.
    pub fn counts(&self) -> Vec<(String, Counts)> {
        let read = |feed: &Feed, counters| {
            Counts::read(counters, feed.dropped(), feed.waiting(), feed.is_durable())
        };
        self.0
            .iter()
            .map(|(feed, counters)| (feed.name().to_string(), read(feed, counters)))
            .collect()
    }
}

impl Outputs {
    /// A handle on the figures for another thread (metrics).
    pub fn watch(&self) -> Watch {
        Watch(
            self.outputs
                .iter()
                .map(|o| (Arc::clone(&o.feed), Arc::clone(&o.counters)))
                .collect(),
        )
    }

    /// After the socket threads are done: lets every output finish what waits for it within
    /// the grace period (a second signal cuts it short), stops them, closes the journal, logs
    /// the summary. Returns whether anything was lost.
    pub fn finish(mut self) -> bool {
        let deadline = self.shutdown.begin(self.grace);
        loop {
            let deadline = self.shutdown.deadline().unwrap_or(deadline);
            let now = Instant::now();
            for output in &self.outputs {
                if output.idle() || now >= deadline || output.counters.gone() {
                    output.close();
                }
            }
            if self.outputs.iter().all(Output::finished) || now >= deadline + PAST_GRACE {
                break;
            }
            self.shutdown.sleep(Duration::from_millis(10));
        }
        for output in &mut self.outputs {
            if output.finished() {
                let _ = output.thread.take().map(JoinHandle::join);
            } else {
                // Busy past the grace period: what it holds is counted as not done (with a
                // journal it stays there, see `Worker::abandon`).
                let in_hand = output.counters.in_hand();
                if !output.feed.is_durable() {
                    output.counters.unfinished(in_hand);
                }
                log::error!(
                    "{}: still busy with {} after the grace period; exiting without it",
                    output.name(),
                    match in_hand {
                        1 => "one event".to_string(),
                        n => format!("{n} events"),
                    }
                );
            }
        }
        self.summary()
    }

    /// The summary lines, after a last look at the journal; true when something was lost.
    fn summary(&self) -> bool {
        #[cfg(journal)]
        if let Fanout::Journal(journal) = &*self.fanout {
            journal.close(); // logs its figures
        }
        // After the journal's close: its last commit may drop (size limit, full disk).
        let counts = self.watch().counts();
        let mut lost = false;
        for (name, c) in counts {
            if c.lost() > 0 {
                lost = true;
                log::error!("{}", c.line(&name));
            } else {
                log::info!("{}", c.line(&name));
            }
        }
        lost
    }
}
