//! After the socket, through the real CLI against the mock Zoom: a stalled reader, command or
//! receiver never delays a heartbeat and loses nothing; the stop signals drain, keep or report;
//! a `--exec` command sees no secret.

mod mock;
mod receiver;
mod run;

use std::io::{BufRead, BufReader};
use std::thread;
use std::time::{Duration, Instant};

use mock::{Action, MockZoom, Plan, event_json, watchdog};
use receiver::{Mode, Receiver};
use run::{
    TempDir, assert_heartbeats_on_time, cli_in, start, start_piped, start_reading, wait_lines,
};

const BEAT: Duration = Duration::from_millis(250);

#[test]
fn a_reader_that_pauses_for_ten_heartbeats_delays_none_and_loses_nothing() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    // 150 events of about 800 bytes: more than a pipe holds, so the writer blocks.
    mock.plan(Plan::new().then(Action::Paced(0, 150, Duration::from_millis(10))));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_HEARTBEAT_INTERVAL", "0.25")
        .args(["--spool", "journal"]);
    let mut running = start_reading(&mut cmd);
    let mut stdout = BufReader::new(running.child.stdout.take().unwrap());
    let mut lines = Vec::new();
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    lines.push(line.trim_end().to_string());
    thread::sleep(BEAT * 10);
    while lines.len() < 150 {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "stdout ended");
        lines.push(line.trim_end().to_string());
    }
    let finished = running.signal(libc::SIGTERM, 10.0);
    finished.assert_exit(0);
    let expected: Vec<String> = (0..150).map(event_json).collect();
    assert_eq!(lines, expected, "every event, in order");
    finished.assert_log("summary stdout: 150 delivered, 0 failed, 0 retries, 0 dropped, 0 kept");
    assert_heartbeats_on_time(&mock, BEAT, 8);
}

#[test]
fn a_two_second_command_delays_no_heartbeat() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 3));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_HEARTBEAT_INTERVAL", "0.25").args([
        "--spool",
        "journal",
        "--exec",
        "sleep 2; cat >> exec.log",
    ]);
    let running = start_piped(&mut cmd);
    let lines = wait_lines(&dir.join("exec.log"), 3, 30.0);
    let finished = running.signal(libc::SIGTERM, 10.0);
    finished.assert_exit(0);
    let expected: Vec<String> = (0..3).map(event_json).collect();
    assert_eq!(lines, expected);
    assert_eq!(
        finished.lines(),
        expected,
        "stdout did not wait for the command"
    );
    finished.assert_log("summary exec: 3 delivered, 0 failed, 0 retries, 0 dropped, 0 kept");
    assert_heartbeats_on_time(&mock, BEAT, 20);
}

#[test]
fn a_receiver_that_hangs_delays_no_heartbeat_and_gets_every_event_once() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 20));
    let receiver = Receiver::start(None);
    receiver.set(Mode::Slow(Duration::from_millis(1500)));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_HEARTBEAT_INTERVAL", "0.25").args([
        "--quiet",
        "--spool",
        "journal",
        "--forward",
        &receiver.url(),
    ]);
    let running = start(&mut cmd);
    receiver.wait_for(2, 20.0);
    receiver.set(Mode::Up);
    receiver.wait_for(20, 20.0);
    let finished = running.signal(libc::SIGTERM, 10.0);
    finished.assert_exit(0);
    let bodies: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    let expected: Vec<String> = (0..20).map(event_json).collect();
    assert_eq!(bodies, expected, "each once, in order");
    assert_heartbeats_on_time(&mock, BEAT, 10);
}

/// The receiver is down: SIGHUP stops the run; the journal keeps what is left, memory reports
/// it lost.
#[test]
fn sighup_drains_then_keeps_in_the_journal_or_reports_the_loss() {
    let _guard = watchdog(60);
    for journal in [true, false] {
        let mock = MockZoom::start();
        mock.plan(Plan::new().events(0, 20));
        let receiver = Receiver::start(None);
        receiver.set(Mode::Down);
        let dir = TempDir::new();
        let mut cmd = cli_in(&mock, &dir);
        cmd.args(["--quiet", "--forward", &receiver.url()]);
        if journal {
            cmd.args(["--spool", "journal"]);
        }
        let running = start(&mut cmd);
        thread::sleep(Duration::from_millis(800));
        let asked = Instant::now();
        let finished = running.signal(libc::SIGHUP, 10.0);
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "{:?}",
            asked.elapsed()
        );
        finished.assert_log("SIGHUP received; stopping");
        if journal {
            finished.assert_exit(0);
            finished.assert_log(" in the journal for the next run");
            finished.assert_log("0 delivered, 0 failed");
            finished.assert_log("0 dropped, 20 kept in the journal, 0 lost at exit");
        } else {
            finished.assert_exit(4);
            finished.assert_log(" lost (--spool DIR would keep it)");
            finished.assert_log("0 dropped, 0 kept in the journal, 20 lost at exit");
        }
    }
}

/// A post that hangs past the grace period: a second signal ends the wait at once, and the
/// event in flight is reported, never silently dropped.
#[test]
fn a_second_signal_cuts_the_grace_period_short_and_still_reports() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 3));
    let receiver = Receiver::start(None);
    receiver.set(Mode::Slow(Duration::from_secs(20)));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_CONNECT_TIMEOUT", "30").args([
        "--quiet",
        "--grace",
        "30",
        "--forward",
        &receiver.url(),
    ]);
    let running = start(&mut cmd);
    thread::sleep(Duration::from_millis(800));
    mock::signal(&running.child, libc::SIGTERM);
    thread::sleep(Duration::from_millis(500));
    assert!(running.child.id() > 0);
    let second = Instant::now();
    let finished = running.signal(libc::SIGTERM, 10.0);
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "{:?}",
        second.elapsed()
    );
    finished.assert_exit(4);
    finished.assert_log("SIGTERM received again: cutting the grace period short");
    finished.assert_log("forward: still busy with ");
    finished.assert_log(" after the grace period; exiting without it");
    finished.assert_log("summary forward: 0 delivered, 0 failed, 0 retries, 0 dropped, 0 kept in the journal, 3 lost at exit");
}

#[test]
fn a_command_gets_no_secret_and_proxies_without_their_password() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_WEBHOOK_SECRET_TOKEN", "hook-secret-1")
        .env("CLIENT_PASSWORD", "other-secret-2")
        .env("DEPLOY_API_TOKEN", "deploy-secret-3")
        .env("HTTPS_PROXY", "http://puser:proxy-secret-4@127.0.0.1:9")
        .env("all_proxy", "http://puser:proxy-secret-5@127.0.0.1:9/")
        .env("NO_PROXY", "127.0.0.1")
        .args(["--quiet", "--max-events", "1", "--exec", "env > env.log"]);
    let finished = start(&mut cmd).wait(20.0);
    finished.assert_exit(0);
    let env = std::fs::read_to_string(dir.join("env.log")).unwrap();
    for secret in [
        "mock-client-secret",
        "hook-secret-1",
        "other-secret-2",
        "deploy-secret-3",
        "proxy-secret-4",
        "proxy-secret-5",
        "puser",
    ] {
        assert!(
            !env.contains(secret),
            "{secret} reached the command:\n{env}"
        );
    }
    let has = |line: &str| env.lines().any(|l| l == line);
    assert!(has("HTTPS_PROXY=http://127.0.0.1:9"), "{env}");
    assert!(has("all_proxy=http://127.0.0.1:9/"), "{env}");
    assert!(has("NO_PROXY=127.0.0.1"), "{env}");
    assert!(has("ZOOM_EVENT=meeting.started"), "{env}");
    assert!(has("ZOOM_CLIENT_ID=mock-client-id"), "{env}");
}
