//! Every signal has an answer, in every phase: a stop cuts the token request and the back-off
//! short within a second, a second signal ends at once, SIGUSR1 and SIGUSR2 are logged and
//! ignored.

mod mock;
mod run;

use std::thread;
use std::time::{Duration, Instant};

use mock::{MockZoom, Plan, TokenAnswer, watchdog};
use run::{TempDir, cli_in, start};

/// Waits until the mock has received `n` token requests.
fn wait_token_requests(mock: &MockZoom, n: usize) {
    let until = Instant::now() + Duration::from_secs(20);
    while mock.token_requests().len() < n {
        assert!(Instant::now() < until, "no token request");
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_stop_during_the_token_request_ends_the_run_within_a_second() {
    let _guard = watchdog(90);
    let signals = [
        (libc::SIGINT, "SIGINT", false),
        (libc::SIGTERM, "SIGTERM", true),
        (libc::SIGHUP, "SIGHUP", false),
    ];
    for (signal, name, twice) in signals {
        let mock = MockZoom::start();
        // Zoom's token endpoint takes 30 s to answer.
        let slow = r#"{"access_token":"t","token_type":"bearer","expires_in":3599}"#;
        mock.token_answer(TokenAnswer::status(200, slow).after(Duration::from_secs(30)));
        let dir = TempDir::new();
        let mut cmd = cli_in(&mock, &dir);
        cmd.env("ZOOM_CONNECT_TIMEOUT", "30");
        let running = start(&mut cmd);
        wait_token_requests(&mock, 1);
        thread::sleep(Duration::from_millis(200));
        let asked = Instant::now();
        mock::signal(&running.child, signal);
        if twice {
            mock::signal(&running.child, signal);
        }
        let finished = running.wait(10.0);
        let took = asked.elapsed();
        // Within a second as a rule; 3 s of slack for a loaded machine (it used to be 30 s).
        assert!(took < Duration::from_secs(3), "{name}: {took:?}");
        finished.assert_exit(0);
        finished.assert_log(&format!("{name} received; stopping"));
        assert_eq!(mock.connections(), 0, "never connected");
    }
}

#[test]
fn a_stop_while_backing_off_ends_the_run_at_once() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.token_answer(TokenAnswer::status(503, r#"{"reason":"busy"}"#));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_BACKOFF_INITIAL", "30")
        .env("ZOOM_BACKOFF_MAX", "60");
    let running = start(&mut cmd);
    wait_token_requests(&mock, 1);
    thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let finished = running.signal(libc::SIGTERM, 10.0);
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
    finished.assert_exit(0);
    finished.assert_log("backing off for");
}

#[test]
fn sigusr1_and_sigusr2_are_logged_and_ignored() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 3));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    let mut running = start(cmd.stdout(std::process::Stdio::piped()));
    thread::sleep(Duration::from_millis(500));
    mock::signal(&running.child, libc::SIGUSR1);
    mock::signal(&running.child, libc::SIGUSR2);
    thread::sleep(Duration::from_millis(500));
    assert!(running.child.try_wait().unwrap().is_none(), "still running");
    let finished = running.signal(libc::SIGTERM, 10.0);
    finished.assert_exit(0);
    finished.assert_log("SIGUSR1 received; ignored");
    finished.assert_log("SIGUSR2 received; ignored");
    assert_eq!(finished.lines().len(), 3);
    finished.assert_log("summary stdout: 3 delivered, 0 failed, 0 retries, 0 dropped");
}
