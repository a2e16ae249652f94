//! Helpers to run the `zoom-ws` binary of this package against the mock Zoom.

use std::thread;
use std::time::{Duration, Instant};

use super::{MockZoom, temp_dir};

/// The CLI, with a clean environment pointing at `mock`, run in an empty directory.
pub fn cli(mock: &MockZoom) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_zoom-ws"));
    cmd.env_clear()
        .current_dir(temp_dir())
        .env("ZOOM_CLIENT_ID", "mock-client-id")
        .env("ZOOM_CLIENT_SECRET", "mock-client-secret")
        .env("ZOOM_SUBSCRIPTION_ID", "mock-sub")
        .env("ZOOM_OAUTH_URL", mock.oauth_url())
        .env("ZOOM_WS_URL", mock.ws_url())
        .env("ZOOM_HEARTBEAT_INTERVAL", "0.5")
        .env("ZOOM_BACKOFF_INITIAL", "0.05")
        .env("ZOOM_BACKOFF_MAX", "0.4")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Sends `signal` to a child process.
pub fn signal(child: &std::process::Child, signal: libc::c_int) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as libc::pid_t, signal);
    }
}

/// Waits for a child to exit, killing it and failing after `secs`.
pub fn wait_exit(child: &mut std::process::Child, secs: f64) -> std::process::ExitStatus {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > until {
            child.kill().ok();
            panic!("zoom-ws did not exit within {secs} s");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Starts the CLI with stdout and stderr piped and waits for its first line on stdout: the child,
/// the rest of its stdout, and that line (without the newline).
pub fn cli_first_line(
    cmd: &mut std::process::Command,
) -> (
    std::process::Child,
    std::io::BufReader<std::process::ChildStdout>,
    String,
) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn zoom-ws");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a line on stdout");
    line.truncate(line.trim_end().len());
    (child, stdout, line)
}

/// Everything the child wrote to stderr (after it exited).
pub fn stderr_of(child: &mut std::process::Child) -> String {
    use std::io::Read;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).ok();
    }
    stderr
}

/// Reads systemd notifications from `socket` until one satisfies `wanted`; returns every message
/// seen, that one last. Fails after `secs`, naming `what` and what was seen.
#[cfg(unix)]
pub fn notified_until(
    socket: &std::os::unix::net::UnixDatagram,
    what: &str,
    wanted: impl Fn(&str) -> bool,
    secs: u64,
) -> Vec<String> {
    let until = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while Instant::now() < until {
        if let Ok(n) = socket.recv(&mut buf) {
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = wanted(&message);
            seen.push(message);
            if done {
                return seen;
            }
        }
    }
    panic!("no {what:?} within {secs} s; saw {seen:?}");
}
