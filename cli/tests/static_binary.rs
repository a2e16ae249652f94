//! A prebuilt `zoom-ws` binary (a static musl build, a cross build under qemu) against the mock
//! Zoom: the same events, byte for byte, over plain `ws://` and over TLS with its own OpenSSL.
//!
//! Ignored by default, because the binary comes from outside `cargo test`:
//!
//! ```text
//! ZOOM_WS_BIN=target/x86_64-unknown-linux-musl/release/zoom-ws \
//!     cargo test --test static_binary -- --ignored
//! ZOOM_WS_BIN=target/aarch64-unknown-linux-musl/release/zoom-ws ZOOM_WS_RUNNER=qemu-aarch64 \
//!     cargo test --test static_binary -- --ignored
//! ```
//!
//! `ZOOM_WS_RUNNER` is a command (split at spaces) that runs the binary, such as an emulator.
//! Asked for with `--ignored` and not given a binary, the tests fail: a CI step that forgot the
//! variable must not pass.

mod mock;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mock::net::{test_ca_file, test_identity};
use mock::{MockZoom, Plan, event_json, wait_exit, watchdog};

/// The binary under test and the command that runs it.
fn command() -> Command {
    let bin = std::env::var_os("ZOOM_WS_BIN").unwrap_or_else(|| {
        panic!("ZOOM_WS_BIN is not set: give the path of the zoom-ws binary to test")
    });
    let bin = std::fs::canonicalize(&bin)
        .unwrap_or_else(|e| panic!("ZOOM_WS_BIN={}: {e}", bin.to_string_lossy()));
    let runner = std::env::var("ZOOM_WS_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut cmd = Command::new(program);
            cmd.args(words).arg(bin);
            cmd
        }
        None => Command::new(bin),
    }
}

/// The binary with a clean environment pointing at `mock`, in an empty directory.
fn cli(mock: &MockZoom) -> Command {
    let mut cmd = command();
    cmd.env_clear()
        .current_dir(mock::temp_dir())
        .env("ZOOM_CLIENT_ID", "static-client-id")
        .env("ZOOM_CLIENT_SECRET", "static-client-secret")
        .env("ZOOM_SUBSCRIPTION_ID", "static-sub")
        .env("ZOOM_OAUTH_URL", mock.oauth_url())
        .env("ZOOM_WS_URL", mock.ws_url())
        .env("ZOOM_HEARTBEAT_INTERVAL", "0.5")
        // An emulated TLS handshake is slow; the default step timeout is ample, and explicit.
        .env("ZOOM_CONNECT_TIMEOUT", "10")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// What the CLI must print for events `0..count`: one JSON line each.
fn expected_stdout(count: usize) -> Vec<u8> {
    (0..count)
        .flat_map(|i| (event_json(i) + "\n").into_bytes())
        .collect()
}

/// Runs the binary to `--max-events count` and checks its stdout byte for byte.
fn assert_delivers(mock: &MockZoom, count: usize, extra_env: &[(&str, &str)]) {
    mock.plan(Plan::new().events(0, count));
    let mut child = cli(mock)
        .envs(extra_env.iter().copied())
        .args(["--max-events", &count.to_string()])
        .spawn()
        .expect("spawn the binary under test");
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let status = wait_exit(&mut child, 60.0);
    let stderr = mock::stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "exit status; stderr:\n{stderr}");
    assert!(
        stdout == expected_stdout(count),
        "stdout differs from the {count} events sent ({} bytes, expected {}); stderr:\n{stderr}",
        stdout.len(),
        expected_stdout(count).len()
    );
    assert!(
        !stderr.contains("static-client-secret"),
        "the secret leaked to stderr:\n{stderr}"
    );
}

#[test]
#[ignore = "needs ZOOM_WS_BIN; run with --ignored"]
fn events_arrive_over_plain_websocket() {
    let _guard = watchdog(120);
    let mock = MockZoom::start();
    assert_delivers(&mock, 200, &[]);
    assert_eq!(mock.token_requests().len(), 1);
}

#[test]
#[ignore = "needs ZOOM_WS_BIN; run with --ignored"]
fn events_arrive_over_tls_with_the_binarys_own_openssl() {
    let _guard = watchdog(120);
    let mock = MockZoom::start_tls(test_identity());
    let ca = test_ca_file();
    assert_delivers(&mock, 200, &[("ZOOM_CA_FILE", ca.to_str().unwrap())]);
    assert_eq!(mock.token_requests().len(), 1);
}

#[test]
#[ignore = "needs ZOOM_WS_BIN; run with --ignored"]
fn an_untrusted_certificate_is_refused() {
    let _guard = watchdog(120);
    let mock = MockZoom::start_tls(test_identity());
    // No ZOOM_CA_FILE: the test CA is in no system bundle, so the token request must fail.
    let mut child = cli(&mock)
        .env("ZOOM_BACKOFF_INITIAL", "0.05")
        .spawn()
        .expect("spawn");
    let stderr = read_stderr_until(&mut child, "is not trusted", 60.0);
    mock::signal(&child, libc::SIGTERM);
    wait_exit(&mut child, 30.0);
    assert!(
        mock.connections() == 0,
        "a socket was opened through an untrusted certificate"
    );
    assert!(stderr.contains("is not trusted"), "stderr:\n{stderr}");
}

/// Stays connected over TLS with heartbeats answered, and prints the process's resident memory
/// (under an emulator that is the emulator's, and says so).
#[test]
#[ignore = "needs ZOOM_WS_BIN; run with --ignored"]
fn idle_over_tls_answers_heartbeats_and_reports_rss() {
    let _guard = watchdog(120);
    let mock = MockZoom::start_tls(test_identity());
    let ca = test_ca_file();
    let mut child = cli(&mock)
        .env("ZOOM_CA_FILE", ca.to_str().unwrap())
        .env("RUST_LOG", "info")
        .spawn()
        .expect("spawn");
    let stderr = read_stderr_until(&mut child, "is live", 60.0);
    assert!(stderr.contains("is live"), "never live; stderr:\n{stderr}");
    let start = Instant::now();
    while mock.heartbeats().len() < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "no heartbeats");
        std::thread::sleep(Duration::from_millis(50));
    }
    let rss = vm_rss_kib(child.id());
    let under = std::env::var("ZOOM_WS_RUNNER").unwrap_or_default();
    let note = if under.is_empty() {
        String::new()
    } else {
        format!(" (of {under})")
    };
    println!("VmRSS of the idle client over TLS: {rss} KiB{note}");
    assert!(rss > 0);
    mock::signal(&child, libc::SIGTERM);
    let status = wait_exit(&mut child, 30.0);
    assert_eq!(status.code(), Some(0), "SIGTERM is a clean stop");
}

/// Reads the child's stderr until a line contains `needle` (or it ends): what was read.
fn read_stderr_until(child: &mut Child, needle: &str, secs: f64) -> String {
    let pipe = child.stderr.take().expect("stderr piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            // Keep draining after the caller stopped listening, so the child never blocks.
            let _ = tx.send(line);
        }
    });
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let mut seen = String::new();
    while let Ok(line) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(needle) {
            break;
        }
    }
    seen
}

/// `VmRSS` of a process, in KiB.
fn vm_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS line")
}
