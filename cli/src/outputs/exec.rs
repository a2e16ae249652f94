//! `--exec CMD`: runs `sh -c CMD` for each event, the event's line on stdin, with an
//! environment that holds no secret ([`child_env`](super::child_env)).

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::child_env::child_env;
use super::shutdown::Shutdown;
use super::worker::{Deliver, Outcome};
use crate::feed::Item;

/// Runs the command once per event.
pub struct Exec {
    command: String,
    env: Vec<(OsString, OsString)>,
}

impl Exec {
    /// An output running `command` through `sh -c`.
    pub fn new(command: String) -> Exec {
        Exec {
            command,
            env: child_env(std::env::vars_os()),
        }
    }

    fn spawn(&self, item: &Item) -> io::Result<Child> {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&self.command)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            // stdout carries the events; whatever the command prints goes to stderr.
            .stdout(Stdio::from(io::stderr()));
        if !item.name().is_empty() {
            command.env("ZOOM_EVENT", item.name());
        }
        if let Some(ts) = item.event_ts() {
            command.env("ZOOM_EVENT_TS", ts.to_string());
        }
        command.spawn()
    }
}

impl Deliver for Exec {
    fn deliver(&mut self, items: &[Item], shutdown: &Shutdown) -> Outcome {
        let mut child = match self.spawn(&items[0]) {
            Ok(child) => child,
            Err(e) => return Outcome::Retry(format!("cannot start sh: {e}")),
        };
        if let Some(mut stdin) = child.stdin.take() {
            // A command that does not read its input closes the pipe early: that is its choice.
            if let Err(e) = stdin.write_all(items[0].line()) {
                if e.kind() != io::ErrorKind::BrokenPipe {
                    log::debug!("exec: writing the event to the command: {e}");
                }
            }
        }
        match wait(&mut child, shutdown) {
            Ok(Some(status)) if status.success() => Outcome::Done(1),
            Ok(Some(status)) => Outcome::Failed(format!("the command failed ({status})")),
            Ok(None) => Outcome::Retry("the command was still running; stopped it".into()),
            Err(e) => Outcome::Failed(format!("waiting for the command: {e}")),
        }
    }
}

/// Waits for the command, or kills it once the grace period is over (`None`).
fn wait(child: &mut Child, shutdown: &Shutdown) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if shutdown.deadline().is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}
