//! The outputs beside stdout: `--exec` and `--forward` (with `--spool`), a worker thread and a
//! pipe each, kept out of the library (which runs no threads of its own).
//!
//! - `pipe`: a bounded queue per output, with an optional spool file for what does not fit.
//! - `worker`: one thread per output that empties its pipe in order.
//!
//! The socket threads never wait for an output: handing an event over is a push into memory or
//! an append to a local file, so heartbeats and reads stay on time whatever the command or the
//! receiver does. (stdout is written by the sink, on the socket threads.)

pub mod pipe;
pub mod worker;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zoom_ws::webhook::Forwarder;
use zoom_ws::{Config, Secret};

use crate::args::Args;
use crate::exit::Exit;
use pipe::{Counts, Pipe, Spool};

/// How long the outputs may go on delivering after a stop request.
const DRAIN_GRACE: Duration = Duration::from_secs(5);

/// An output's worker thread and its pipe.
pub struct Action {
    /// Where the sink hands events over.
    pub pipe: Arc<Pipe>,
    thread: JoinHandle<()>,
}

/// What is checked before anything connects: the receiver's URL, the spool file.
pub struct Prepared {
    forwarder: Option<Forwarder>,
    spool: Option<Spool>,
}

/// Checks `--forward` and opens `--spool`; a problem is a usage error.
pub fn prepare(
    args: &Args,
    config: &Config,
    webhook_secret: Option<Secret>,
) -> Result<Prepared, Exit> {
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
    let spool = match &args.spool {
        Some(path) => Some(Spool::open(path).map_err(|e| {
            Exit::Usage(format!("--spool {}: cannot open it: {e}", path.display()))
        })?),
        None => None,
    };
    Ok(Prepared { forwarder, spool })
}

/// Starts the workers (after the signal mask is in place, which they inherit).
pub fn spawn(args: &Args, prepared: Prepared, config: &Config) -> Vec<Action> {
    let mut actions = Vec::new();
    if let Some(command) = args.exec.clone() {
        let pipe = Pipe::new(
            "exec",
            args.queue,
            None,
            "a larger --queue holds more; a faster command keeps up",
        );
        let thread = worker::spawn(
            pipe.clone(),
            worker::Exec::new(command),
            config.backoff.clone(),
        );
        actions.push(Action { pipe, thread });
    }
    if let Some(forwarder) = prepared.forwarder {
        let pipe = Pipe::new(
            "forward",
            args.queue,
            prepared.spool,
            "--spool PATH keeps them",
        );
        let thread = worker::spawn(
            pipe.clone(),
            worker::Forward::new(forwarder),
            config.backoff.clone(),
        );
        actions.push(Action { pipe, thread });
    }
    actions
}

/// Gives each output the grace period to finish, then keeps or counts what is left.
pub fn drain(actions: Vec<Action>) -> Vec<(&'static str, Counts)> {
    for action in &actions {
        action.pipe.close(DRAIN_GRACE);
    }
    // A request is bounded by the grace period; a command is not, so do not wait for ever.
    let give_up = Instant::now() + DRAIN_GRACE + Duration::from_secs(1);
    actions
        .into_iter()
        .map(|action| {
            while !action.thread.is_finished() && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !action.thread.is_finished() {
                log::error!(
                    "{}: still busy with one event after the grace period; exiting without it",
                    action.pipe.name()
                );
            }
            (action.pipe.name(), action.pipe.finish())
        })
        .collect()
}

/// One summary line per output; an error when anything was dropped.
pub fn log_summary(counts: Vec<(&'static str, Counts)>) {
    for (name, c) in counts {
        let line = format!(
            "summary {name}: {} done, {} of them failed, {} retries, {} spooled, {} dropped",
            c.delivered, c.failed, c.retries, c.spooled, c.dropped
        );
        if c.dropped > 0 {
            log::error!("{line}");
        } else {
            log::info!("{line}");
        }
    }
}
