//! Fault injection against the mock Zoom, seen through the `zoom-ws` binary: what it logs, and
//! how it exits when its reader goes away or a signal comes during a back-off.

mod mock;
use mock::{Action, MockZoom, Plan, cli, event_json, refused_ws_url, watchdog};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn fresh_token_refused_again_backs_off_and_says_to_check_app_and_subscription() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.reject_all_tokens(true);
    let mut child = cli(&mock)
        .env("ZOOM_BACKOFF_INITIAL", "0.1")
        .env("ZOOM_BACKOFF_MAX", "0.4")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    thread::sleep(Duration::from_millis(1500));
    mock::signal(&child, libc::SIGTERM);
    let status = mock::wait_exit(&mut child, 5.0);
    assert_eq!(status.code(), Some(0));
    let stderr = mock::stderr_of(&mut child);
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(" ERROR ")).collect();
    assert!(!errors.is_empty(), "{stderr}");
    for line in &errors {
        assert!(
            line.contains("Invalid Token") && line.contains("app") && line.contains("subscription"),
            "{line}"
        );
    }
    assert!(stderr.contains("backing off for"), "{stderr}");
    // Paced by back-off (100 ms doubling to 400 ms): a handful of attempts in 1.5 s.
    let attempts = mock.connections();
    assert!((2..=8).contains(&attempts), "{attempts} attempts");
    assert_eq!(mock.token_requests().len() as u64, attempts);
}

/// Reads a child's stderr on a thread, line by line, so a test can wait for a line.
fn stderr_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str, all: &mut Vec<String>) {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                all.push(line);
                if found {
                    return;
                }
            }
            Err(_) => panic!("no line with {needle:?} in:\n{}", all.join("\n")),
        }
    }
}

#[test]
fn cli_exits_0_quietly_when_the_reader_closes_stdout() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().then(Action::Paced(0, 500, Duration::from_millis(10))));
    // `zoom-ws | head -1`
    let (mut child, stdout, line) = mock::cli_first_line(&mut cli(&mock));
    assert_eq!(line, event_json(0));
    drop(stdout);
    let status = mock::wait_exit(&mut child, 10.0);
    let stderr = mock::stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("ERROR"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("summary:"), "{stderr}");
}

#[test]
fn cli_exits_at_once_when_the_reader_closes_stdout_even_with_no_further_event() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    // One event, then nothing: the closed pipe must be noticed without a write to fail.
    mock.plan(Plan::new().events(0, 1));
    let (mut child, stdout, line) = mock::cli_first_line(&mut cli(&mock));
    assert_eq!(line, event_json(0));
    let closed = Instant::now();
    drop(stdout);
    let status = mock::wait_exit(&mut child, 10.0);
    assert!(
        closed.elapsed() < Duration::from_secs(2),
        "{:?}",
        closed.elapsed()
    );
    assert_eq!(status.code(), Some(0));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(mock.closed_by_client(), 1, "it closed the socket properly");
}

#[test]
fn cli_sigterm_during_a_long_backoff_exits_within_a_second() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let mut child = cli(&mock)
        .env("ZOOM_WS_URL", refused_ws_url())
        .env("ZOOM_BACKOFF_INITIAL", "5")
        .env("ZOOM_BACKOFF_MAX", "60")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = stderr_lines(&mut child);
    let mut all = Vec::new();
    wait_for_line(&lines, "backing off for", &mut all);
    let start = Instant::now();
    mock::signal(&child, libc::SIGTERM);
    let status = mock::wait_exit(&mut child, 5.0);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(1), "exit took {took:?}");
    assert_eq!(status.code(), Some(0));
    wait_for_line(&lines, "summary:", &mut all);
}

#[test]
fn cli_logs_state_changes_at_info_and_each_gap_at_warn() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(
        Plan::new()
            .events(0, 2)
            .then(Action::Close(1012, "restart".into())),
    );
    mock.plan(Plan::new().events(2, 1).then(Action::Reset));
    mock.plan(Plan::new().events(3, 1));
    let output = cli(&mock).args(["--max-events", "4"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let has = |level: &str, text: &str| {
        stderr
            .lines()
            .any(|l| l.contains(&format!(" {level:<5} ")) && l.contains(text))
    };
    assert!(has("INFO", "connecting to 127.0.0.1"), "{stderr}");
    assert!(
        has("INFO", "connected; subscription mock-sub is live"),
        "{stderr}"
    );
    assert!(
        has(
            "INFO",
            "disconnected: server closed the connection (code 1012: restart)"
        ),
        "{stderr}"
    );
    assert!(has("INFO", "disconnected: connection reset"), "{stderr}");
    assert!(has("INFO", "backing off for"), "{stderr}");
    let gaps: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("may be missing"))
        .collect();
    assert_eq!(gaps.len(), 2, "{stderr}");
    for gap in gaps {
        // "events from 2026-…Z to 2026-…Z (0.1 s) may be missing: Zoom does not replay them"
        assert!(
            gap.contains("events from 20") && gap.contains("Z to 20"),
            "{gap}"
        );
    }
    assert!(
        has(
            "INFO",
            "summary: 4 events taken, 3 connections, 2 reconnects"
        ),
        "{stderr}"
    );
    for token in mock.issued_tokens() {
        assert!(!stderr.contains(&token[..20]), "token in the logs");
    }
}
