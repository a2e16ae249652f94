//! One thread per action: takes events from its [`Pipe`] one at a time, in order, and retries
//! with back-off when the action says the failure may pass.

use std::io::{self, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use zoom_ws::webhook::{Delivery, Forwarder};
use zoom_ws::{Backoff, Event};

use super::pipe::{Pipe, describe};

/// What came of handing one event to an action.
pub enum Outcome {
    /// Done with it.
    Done,
    /// Done with it, but it failed for good (logged and counted, not retried).
    Failed(String),
    /// It may work later: try the same event again after a pause.
    Retry(String),
}

/// Something done with each event, in order.
pub trait Action: Send + 'static {
    /// Handles one event. `deadline` is set at shutdown: finish by then.
    fn handle(&mut self, event: &Event, deadline: Option<Instant>) -> Outcome;
}

/// Starts the worker thread for `pipe`.
///
/// At shutdown (the pipe closed), the worker goes on while deliveries succeed and the grace
/// period lasts; the first failure or the end of the grace period stops it, and what is left
/// stays in the pipe (see [`Pipe::finish`]).
pub fn spawn(pipe: Arc<Pipe>, mut action: impl Action, backoff: Backoff) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let name = pipe.name();
        while let Some(taken) = pipe.next() {
            let mut delay = backoff.initial;
            let mut attempt = 1u32;
            loop {
                let deadline = pipe.drain_until();
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    pipe.give_back(taken);
                    return;
                }
                match action.handle(&taken.event, deadline) {
                    Outcome::Done => {
                        pipe.done(taken, false);
                        break;
                    }
                    Outcome::Failed(reason) => {
                        log::warn!("{name}: {}: {reason}", describe(&taken.event));
                        pipe.done(taken, true);
                        break;
                    }
                    Outcome::Retry(reason) => {
                        pipe.count_retry();
                        if pipe.drain_until().is_some() {
                            log::warn!(
                                "{name}: {}: {reason}; stopping, as zoom-ws is exiting",
                                describe(&taken.event)
                            );
                            pipe.give_back(taken);
                            return;
                        }
                        log::warn!(
                            "{name}: {}: {reason}; attempt {attempt} failed, retrying in {} ms",
                            describe(&taken.event),
                            delay.as_millis()
                        );
                        pipe.sleep(delay);
                        delay = (delay * 2).min(backoff.max);
                        attempt += 1;
                    }
                }
            }
        }
    })
}

/// `--exec CMD`: runs `sh -c CMD` with the event on stdin.
pub struct Exec {
    command: String,
}

/// Settings the command must not see: the credentials (it gets the event, not the keys).
const HIDDEN_FROM_COMMAND: [&str; 3] = [
    "ZOOM_CLIENT_SECRET",
    "CLIENT_PASSWORD",
    "ZOOM_WEBHOOK_SECRET_TOKEN",
];

impl Exec {
    /// An action running `command` through `sh -c`.
    pub fn new(command: String) -> Exec {
        Exec { command }
    }
}

impl Action for Exec {
    fn handle(&mut self, event: &Event, _deadline: Option<Instant>) -> Outcome {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&self.command)
            .env("ZOOM_EVENT", event.name())
            .stdin(Stdio::piped())
            // stdout carries the events; whatever the command prints goes to stderr.
            .stdout(Stdio::from(io::stderr()));
        match event.event_ts() {
            Some(ts) => command.env("ZOOM_EVENT_TS", ts.to_string()),
            None => command.env_remove("ZOOM_EVENT_TS"),
        };
        for name in HIDDEN_FROM_COMMAND {
            command.env_remove(name);
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return Outcome::Failed(format!("cannot start sh: {e}")),
        };
        if let Some(mut stdin) = child.stdin.take() {
            let mut line = event.json_line().into_owned();
            line.push('\n');
            // A command that does not read its input closes the pipe early: that is its choice.
            if let Err(e) = stdin.write_all(line.as_bytes()) {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    log::debug!("exec: writing the event to the command: {e}");
                }
            }
        }
        match child.wait() {
            Ok(status) if status.success() => Outcome::Done,
            Ok(status) => Outcome::Failed(format!("the command failed ({status})")),
            Err(e) => Outcome::Failed(format!("waiting for the command: {e}")),
        }
    }
}

/// `--forward URL`: posts the event as a Zoom webhook.
pub struct Forward {
    forwarder: Forwarder,
}

impl Forward {
    /// An action posting through `forwarder`.
    pub fn new(forwarder: Forwarder) -> Forward {
        Forward { forwarder }
    }
}

impl Action for Forward {
    fn handle(&mut self, event: &Event, deadline: Option<Instant>) -> Outcome {
        let timeout = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left < Duration::from_millis(1) {
                    return Outcome::Retry("no time left before exit".into());
                }
                Some(left)
            }
            None => None,
        };
        match self.forwarder.post(event.content(), timeout) {
            Delivery::Accepted => Outcome::Done,
            Delivery::Refused { status } => Outcome::Failed(format!(
                "{} refused it with HTTP {status}; not retried",
                self.forwarder.host()
            )),
            Delivery::Retry { reason } => Outcome::Retry(reason),
            _ => Outcome::Retry("unexpected answer".into()),
        }
    }
}
