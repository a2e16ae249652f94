//! Helpers for the delivery tests: the CLI running with its output collected, a scratch
//! directory that is removed afterwards, and the checks those tests share.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::mock::{self, MockZoom};

/// A scratch directory, removed with everything in it when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        TempDir(mock::temp_dir())
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The CLI against `mock`, run in `dir` (its journal and files go there).
pub fn cli_in(mock: &MockZoom, dir: &TempDir) -> Command {
    let mut cmd = mock::cli(mock);
    // mock::cli made a directory of its own: use ours, which is cleaned up.
    let _ = std::fs::remove_dir(cmd.get_current_dir().unwrap());
    cmd.current_dir(&dir.0);
    cmd
}

/// The CLI running, its stdout (unless redirected) and stderr collected on threads.
pub struct Running {
    pub child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
    /// Fails with the log unless the exit status is `code`.
    pub fn assert_exit(&self, code: i32) {
        assert_eq!(self.status.code(), Some(code), "stderr:\n{}", self.stderr);
    }
    pub fn assert_log(&self, text: &str) {
        assert!(
            self.stderr.contains(text),
            "no {text:?} in:\n{}",
            self.stderr
        );
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Option<JoinHandle<String>> {
    pipe.map(|mut pipe| {
        thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).ok();
            String::from_utf8_lossy(&bytes).into_owned()
        })
    })
}

/// Starts the CLI with stderr piped (and stdout, unless the command set it).
pub fn start(cmd: &mut Command) -> Running {
    let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spawn zoom-ws");
    let stdout = collect(child.stdout.take());
    let stderr = collect(child.stderr.take());
    Running {
        child,
        stdout,
        stderr,
    }
}

/// Starts the CLI with stdout piped and left to the test to read (`child.stdout`).
pub fn start_reading(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zoom-ws");
    let stderr = collect(child.stderr.take());
    Running {
        child,
        stdout: None,
        stderr,
    }
}

/// Starts the CLI with stdout piped too.
pub fn start_piped(cmd: &mut Command) -> Running {
    start(cmd.stdout(Stdio::piped()))
}

impl Running {
    /// Waits for the CLI to exit by itself (killing it and failing after `secs`).
    pub fn wait(mut self, secs: f64) -> Finished {
        let status = mock::wait_exit(&mut self.child, secs);
        let text = |h: Option<JoinHandle<String>>| h.map(|h| h.join().unwrap()).unwrap_or_default();
        Finished {
            status,
            stdout: text(self.stdout.take()),
            stderr: text(self.stderr.take()),
        }
    }

    /// Sends `signal`, then waits for the exit.
    pub fn signal(self, signal: libc::c_int, secs: f64) -> Finished {
        mock::signal(&self.child, signal);
        self.wait(secs)
    }
}

/// Heartbeat gaps within the interval and a generous slack (shared, noisy machines): the
/// socket thread never waited for an output.
pub fn assert_heartbeats_on_time(mock: &MockZoom, interval: Duration, min_count: usize) {
    let beats = mock.heartbeats();
    assert!(beats.len() >= min_count, "only {} heartbeats", beats.len());
    let gaps: Vec<Duration> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    for gap in &gaps {
        assert!(
            *gap + Duration::from_millis(20) >= interval
                && *gap <= interval + Duration::from_millis(250),
            "heartbeat gap {gap:?} for interval {interval:?}: {gaps:?}"
        );
    }
}

/// `payload.object.seq` of each event line.
pub fn seqs<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<u64> {
    lines
        .into_iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("a whole JSON line");
            value["payload"]["object"]["seq"].as_u64().expect("seq")
        })
        .collect()
}

/// Waits until `path` has at least `n` lines; returns them.
pub fn wait_lines(path: &Path, n: usize, secs: f64) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            Instant::now() < until,
            "{} has {} of {n} lines after {secs} s",
            path.display(),
            lines.len()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The journal's files, by name.
pub fn journal_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}
