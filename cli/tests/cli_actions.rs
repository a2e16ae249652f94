//! From events to action, through the real CLI against the mock Zoom: `--event` filters,
//! `--exec`, the signed `--forward` relay with its queue and spool, several subscriptions and
//! `--dedupe`.

mod mock;
mod receiver;
mod run;

use run::wait_lines;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mock::{Action, MockZoom, Plan, TokenAnswer, cli, event_json, message_frame, watchdog};
use receiver::{Mode, Receiver, unix_now};

const SECRET_TOKEN: &str = "webhook-secret-token-5f4dcc3b";

/// The CLI running, its stdout and stderr collected on threads.
struct Running {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

fn start(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let collect = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = collect(Box::new(child.stdout.take().unwrap()));
    let stderr = collect(Box::new(child.stderr.take().unwrap()));
    Running {
        child,
        stdout: Some(stdout),
        stderr: Some(stderr),
    }
}

impl Running {
    /// Waits for the CLI to exit by itself.
    fn wait(mut self, secs: f64) -> Finished {
        let status = mock::wait_exit(&mut self.child, secs);
        Finished {
            status,
            stdout: self.stdout.take().unwrap().join().unwrap(),
            stderr: self.stderr.take().unwrap().join().unwrap(),
        }
    }

    /// Sends SIGTERM and waits for the exit.
    fn terminate(self, secs: f64) -> Finished {
        mock::signal(&self.child, libc::SIGTERM);
        self.wait(secs)
    }
}

fn run(cmd: &mut Command, secs: f64) -> Finished {
    start(cmd).wait(secs)
}

fn assert_exit(finished: &Finished, code: i32) {
    assert_eq!(
        finished.status.code(),
        Some(code),
        "stderr:\n{}",
        finished.stderr
    );
}

/// The working directory the CLI was given (a fresh one per command).
fn dir_of(cmd: &Command) -> PathBuf {
    cmd.get_current_dir().unwrap().to_path_buf()
}

/// A Zoom event named `name`, numbered `i`.
fn named_event(name: &str, i: usize) -> String {
    format!(
        r#"{{"event":"{name}","event_ts":{},"payload":{{"account_id":"AbC","object":{{"seq":{i}}}}}}}"#,
        1_764_500_000_000u64 + i as u64
    )
}

/// `payload.object.seq` of an event line.
fn seq_of(line: &str) -> u64 {
    let value: serde_json::Value = serde_json::from_str(line).expect("a whole JSON line");
    value["payload"]["object"]["seq"].as_u64().expect("seq")
}

/// Heartbeat gaps all within the interval and a generous slack (shared, noisy machines).
fn assert_heartbeats_on_time(mock: &MockZoom, interval: Duration, min_count: usize) {
    let beats = mock.heartbeats();
    assert!(beats.len() >= min_count, "only {} heartbeats", beats.len());
    let gaps: Vec<Duration> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    for gap in &gaps {
        assert!(
            *gap + Duration::from_millis(15) >= interval
                && *gap <= interval + Duration::from_millis(150),
            "heartbeat gap {gap:?} for interval {interval:?}: {gaps:?}"
        );
    }
}

#[test]
fn event_patterns_keep_only_matching_events() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let names = [
        "meeting.started",
        "user.deleted",
        "user.created",
        "recording.completed",
        "meeting.participant_joined",
        "webinar.started",
        "meeting.ended",
    ];
    let mut plan = Plan::new();
    for (i, name) in names.iter().enumerate() {
        plan = plan.text(message_frame(&named_event(name, i)));
    }
    mock.plan(plan);
    let finished = run(
        cli(&mock).args([
            "--event",
            "meeting.*",
            "--event=*.created",
            "--max-events",
            "4",
        ]),
        20.0,
    );
    assert_exit(&finished, 0);
    let expected: Vec<String> = [0, 2, 4, 6]
        .iter()
        .map(|&i| named_event(names[i], i))
        .collect();
    assert_eq!(finished.lines(), expected);
    assert!(
        finished.stderr.contains("3 events filtered out"),
        "{}",
        finished.stderr
    );
}

#[test]
fn exec_sees_the_event_on_stdin_and_in_its_environment_and_a_failure_does_not_stop_the_stream() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 6));
    let mut cmd = cli(&mock);
    let dir = dir_of(&cmd);
    // Records stdin, the environment and the signal mask; fails on the third event.
    let script = r#"cat >> stdin.log
echo "$ZOOM_EVENT $ZOOM_EVENT_TS ${ZOOM_CLIENT_SECRET:-no-secret} ${ZOOM_WEBHOOK_SECRET_TOKEN:-no-token} $(awk '/^SigBlk/ {print $2}' /proc/$$/status)" >> env.log
echo "exec output for $ZOOM_EVENT_TS"
test "$ZOOM_EVENT_TS" != 1764500000002"#;
    cmd.env("ZOOM_WEBHOOK_SECRET_TOKEN", SECRET_TOKEN).args([
        "--exec",
        script,
        "--max-events",
        "6",
    ]);
    let finished = run(&mut cmd, 20.0);
    assert_exit(&finished, 0);

    // stdout still carries exactly the events; the command's output went to stderr.
    let expected: Vec<String> = (0..6).map(event_json).collect();
    assert_eq!(finished.lines(), expected);
    assert!(finished.stderr.contains("exec output for 1764500000005"));

    // One at a time, in order, each event's JSON line on stdin.
    let stdin = std::fs::read_to_string(dir.join("stdin.log")).unwrap();
    assert_eq!(stdin, expected.join("\n") + "\n");
    let env = std::fs::read_to_string(dir.join("env.log")).unwrap();
    let env: Vec<&str> = env.lines().collect();
    assert_eq!(env.len(), 6);
    for (i, line) in env.iter().enumerate() {
        assert_eq!(
            *line,
            format!(
                "meeting.started {} no-secret no-token 0000000000000000",
                1_764_500_000_000u64 + i as u64
            ),
            "the command gets the event's name and time, no secrets, and no blocked signals"
        );
    }
    // The failure is logged and counted; the events after it still ran.
    assert_eq!(
        finished
            .stderr
            .matches("the command failed (exit status: 1)")
            .count(),
        1,
        "{}",
        finished.stderr
    );
    assert!(
        finished
            .stderr
            .contains("summary exec: 5 delivered, 1 failed, 0 retries, 0 dropped, 0 kept in the journal, 0 lost at exit"),
        "{}",
        finished.stderr
    );
}

#[test]
fn a_slow_command_does_not_delay_heartbeats() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 4));
    let mut cmd = cli(&mock);
    let dir = dir_of(&cmd);
    cmd.args(["--quiet", "--exec", "sleep 0.8; cat >> stdin.log"]);
    let running = start(&mut cmd);
    let lines = wait_lines(&dir.join("stdin.log"), 4, 15.0);
    let finished = running.terminate(10.0);
    assert_exit(&finished, 0);
    assert_eq!(finished.stdout, "", "--quiet keeps stdout empty");
    let expected: Vec<String> = (0..4).map(event_json).collect();
    assert_eq!(lines, expected);
    // 4 × 0.8 s of commands while the heartbeat is due every 0.5 s: run on the socket
    // thread, each would push a heartbeat late by up to 0.8 s.
    assert_heartbeats_on_time(&mock, Duration::from_millis(500), 5);
}

#[test]
fn forward_posts_each_event_signed_like_zoom_and_the_receiver_verifies_every_one() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 50));
    let receiver = Receiver::start(Some(SECRET_TOKEN));
    // The URL's query may hold the receiver's own secret: it must not reach the logs.
    let url = format!("{}?key=url-secret-8d2a", receiver.url());
    let mut cmd = cli(&mock);
    cmd.env("ZOOM_WEBHOOK_SECRET_TOKEN", SECRET_TOKEN)
        .env("RUST_LOG", "trace")
        .args(["--forward", &url]);
    let running = start(&mut cmd);
    let received = receiver.wait_for(50, 20.0);
    let finished = running.terminate(10.0);
    assert_exit(&finished, 0);

    assert!(receiver.bad_signatures().is_empty());
    assert_eq!(received.len(), 50, "each event once");
    let now = unix_now();
    for (i, r) in received.iter().enumerate() {
        assert_eq!(
            r.body,
            event_json(i),
            "the body is the event exactly as received"
        );
        assert_eq!(r.content_type, "application/json");
        assert_eq!(r.path, "/zoom/webhook?key=url-secret-8d2a");
        let ts: u64 = r
            .timestamp
            .parse()
            .expect("x-zm-request-timestamp in seconds");
        assert!(ts.abs_diff(now) < 60, "timestamp {ts} vs now {now}");
    }
    // stdout still carries the events.
    assert_eq!(finished.lines().len(), 50);
    for secret in [SECRET_TOKEN, "url-secret-8d2a", "mock-client-secret"] {
        assert!(
            !finished.stderr.contains(secret),
            "{secret} leaked into the log"
        );
    }
    assert!(
        finished
            .stderr
            .contains("summary forward: 50 delivered, 0 failed, 0 retries, 0 dropped"),
        "{}",
        finished.stderr
    );
}

#[test]
fn unsigned_without_a_secret_token_and_refusals_are_logged_not_retried() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 3));
    let receiver = Receiver::start(None);
    receiver.set(Mode::Status(422));
    let running = start(cli(&mock).args(["--quiet", "--forward", &receiver.url()]));
    let until = Instant::now() + Duration::from_secs(10);
    while receiver.refused() < 3 {
        assert!(Instant::now() < until, "only {} posts", receiver.refused());
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(200));
    let finished = running.terminate(10.0);
    assert_exit(&finished, 0);
    assert_eq!(receiver.refused(), 3, "a 4xx is not retried");
    assert!(
        finished.stderr.contains("are not signed"),
        "{}",
        finished.stderr
    );
    assert_eq!(
        finished
            .stderr
            .matches("refused it with HTTP 422; not retried")
            .count(),
        3
    );
    assert!(
        finished
            .stderr
            .contains("summary forward: 0 delivered, 3 failed, 0 retries, 0 dropped"),
        "{}",
        finished.stderr
    );
}

#[test]
fn relay_receiver_down_then_failing_then_slow_then_back_every_event_once_in_order() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    // 200 events over about 2 s, while the receiver misbehaves.
    mock.plan(Plan::new().then(Action::Paced(0, 200, Duration::from_millis(10))));
    let receiver = Receiver::start(Some(SECRET_TOKEN));
    receiver.set(Mode::Down);
    let mut cmd = cli(&mock);
    let spool = dir_of(&cmd).join("journal");
    cmd.env("ZOOM_WEBHOOK_SECRET_TOKEN", SECRET_TOKEN).args([
        "--quiet",
        "--forward",
        &receiver.url(),
        "--spool",
        spool.to_str().unwrap(),
        "--queue",
        "5",
    ]);
    let running = start(&mut cmd);
    thread::sleep(Duration::from_millis(700));
    receiver.set(Mode::Status(503));
    thread::sleep(Duration::from_millis(500));
    receiver.set(Mode::Slow(Duration::from_millis(30)));
    thread::sleep(Duration::from_millis(600));
    receiver.set(Mode::Up);
    let received = receiver.wait_for(200, 30.0);
    thread::sleep(Duration::from_millis(300));
    let finished = running.terminate(10.0);
    assert_exit(&finished, 0);

    assert!(receiver.refused() > 0, "the 503 phase was seen");
    assert!(receiver.bad_signatures().is_empty());
    assert_eq!(received.len(), 200);
    // Read again after the exit: nothing arrived twice, late.
    let all: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    assert_eq!(all.len(), 200, "each event exactly once");
    let expected: Vec<String> = (0..200).map(event_json).collect();
    assert_eq!(all, expected, "in order");

    assert!(
        finished
            .stderr
            .contains("summary forward: 200 delivered, 0 failed, "),
        "{}",
        finished.stderr
    );
    assert!(
        finished
            .stderr
            .contains(" 0 dropped, 0 kept in the journal, 0 lost at exit")
    );
    assert!(std::fs::metadata(&spool).unwrap().is_dir());
    // Reading the socket never waited for the receiver.
    assert_heartbeats_on_time(&mock, Duration::from_millis(500), 4);
}

#[test]
fn without_a_spool_a_full_queue_drops_the_oldest_and_says_so() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 20));
    let receiver = Receiver::start(None);
    receiver.set(Mode::Down);
    // A queue of about four events, and an output that takes nothing for 0.3 s counts as
    // stalled: the socket reads on and the queue drops its oldest.
    let running = start(cli(&mock).args([
        "--quiet",
        "--forward",
        &receiver.url(),
        "--queue",
        "4K",
        "--stall-timeout",
        "0.3",
    ]));
    thread::sleep(Duration::from_millis(800));
    receiver.set(Mode::Up);
    receiver.wait_for(4, 10.0);
    thread::sleep(Duration::from_millis(500));
    let finished = running.terminate(10.0);
    // Stopped as asked, but events were dropped.
    assert_exit(&finished, 4);

    let seqs: Vec<usize> = receiver
        .received()
        .iter()
        .map(|r| seq_of(&r.body) as usize)
        .collect();
    // The newest four always survive; the oldest may be the one in flight when the queue filled.
    assert!(seqs.ends_with(&[16, 17, 18, 19]), "{seqs:?}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let dropped = 20 - seqs.len();
    // Logged at the first drop, and the count is exact in the summary.
    assert!(
        finished.stderr.contains(
            "forward: took nothing for 0.3 s with its queue full (4096 bytes): dropped the \
             oldest event (1 dropped so far)"
        ),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains(&format!(
            "summary forward: {} delivered, 0 failed, ",
            seqs.len()
        )),
        "{}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains(&format!(
            " {dropped} dropped, 0 kept in the journal, 0 lost"
        )),
        "{}",
        finished.stderr
    );
}

#[test]
fn undelivered_events_wait_in_the_spool_and_the_next_run_sends_them_first() {
    let _guard = watchdog(60);
    let receiver = Receiver::start(Some(SECRET_TOKEN));
    receiver.set(Mode::Down);
    let spool = mock::temp_dir().join("journal");
    let args = |extra: &[&str]| {
        let mut args = vec![
            "--quiet".to_string(),
            "--forward".into(),
            receiver.url(),
            "--spool".into(),
            spool.to_str().unwrap().into(),
            "--queue".into(),
            "3".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };

    // First run: the receiver is down throughout; --max-events ends the run.
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 10));
    let mut cmd = cli(&mock);
    cmd.env("ZOOM_WEBHOOK_SECRET_TOKEN", SECRET_TOKEN)
        .args(args(&["--max-events", "10"]));
    let finished = run(&mut cmd, 20.0);
    assert_exit(&finished, 0);
    assert!(
        finished
            .stderr
            .contains("0 dropped, 10 kept in the journal, 0 lost at exit"),
        "{}",
        finished.stderr
    );

    // Second run: the receiver is back; the spooled events go first, then the new ones.
    receiver.set(Mode::Up);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(10, 5));
    let mut cmd = cli(&mock);
    cmd.env("ZOOM_WEBHOOK_SECRET_TOKEN", SECRET_TOKEN)
        .args(args(&["--max-events", "5"]));
    let finished = run(&mut cmd, 20.0);
    assert_exit(&finished, 0);
    let bodies: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    let expected: Vec<String> = (0..15).map(event_json).collect();
    assert_eq!(bodies, expected);
    assert!(receiver.bad_signatures().is_empty());
    assert!(
        finished
            .stderr
            .contains("summary forward: 15 delivered, 0 failed, 0 retries, 0 dropped, 0 kept"),
        "{}",
        finished.stderr
    );
}

#[test]
fn two_subscriptions_share_one_token_and_dedupe_delivers_each_event_once() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    // Overlapping deliveries: 0..60 on one subscription, then 40..100 on the other (the pause
    // makes the copies of 40..60 arrive second, so that all twenty are repeats to drop).
    mock.plan(Plan::new().events(0, 60));
    mock.plan(Plan::new().sleep(0.5).events(40, 60));
    let receiver = Receiver::start(None);
    let finished = run(
        cli(&mock)
            .env("ZOOM_SUBSCRIPTION_ID", "sub-a, sub-b")
            .args([
                "--dedupe",
                "--max-events",
                "100",
                "--forward",
                &receiver.url(),
            ]),
        20.0,
    );
    assert_exit(&finished, 0);
    let lines = finished.lines();
    assert_eq!(lines.len(), 100, "{}", finished.stderr);
    let mut seqs: Vec<u64> = lines.iter().map(|l| seq_of(l)).collect();
    for line in &lines {
        assert_eq!(*line, event_json(seq_of(line) as usize), "whole lines");
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (0..100).collect::<Vec<u64>>(), "each event once");

    // The relay saw the same hundred, each once, in stdout's order.
    let bodies: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, lines);

    let queries = mock.socket_queries();
    assert_eq!(queries.len(), 2);
    assert!(queries.iter().any(|q| q.contains("subscriptionId=sub-a")));
    assert!(queries.iter().any(|q| q.contains("subscriptionId=sub-b")));
    assert_eq!(mock.token_requests().len(), 1, "one token cache for both");
    assert!(
        finished.stderr.contains("20 repeats dropped"),
        "{}",
        finished.stderr
    );
}

#[test]
fn two_subscriptions_without_dedupe_deliver_every_copy() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 60));
    mock.plan(Plan::new().events(40, 60));
    let finished = run(
        cli(&mock)
            .env("ZOOM_SUBSCRIPTION_ID", "sub-a,sub-b")
            .args(["--max-events", "120"]),
        20.0,
    );
    assert_exit(&finished, 0);
    let mut seqs: Vec<u64> = finished.lines().iter().map(|l| seq_of(l)).collect();
    seqs.sort_unstable();
    let mut expected: Vec<u64> = (0..60).chain(40..100).collect();
    expected.sort_unstable();
    assert_eq!(seqs, expected);
}

#[test]
fn a_fatal_error_on_one_subscription_stops_them_all() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.token_answer(TokenAnswer::status(
        401,
        r#"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#,
    ));
    let start = Instant::now();
    let finished = run(
        cli(&mock).env("ZOOM_SUBSCRIPTION_ID", "sub-a,sub-b,sub-c"),
        10.0,
    );
    assert_exit(&finished, 3);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(finished.stderr.contains("invalid_client"));
}

#[test]
fn bad_action_options_are_usage_errors_that_name_the_fix() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let cases: [(&[&str], &str); 6] = [
        (&["--spool-max", "1k"], "--spool-max: \"1k\" is too small"),
        (
            &["--grace", "soon"],
            "--grace: \"soon\" is not a number of seconds",
        ),
        (
            &["--forward", "ftp://example.com/x"],
            "--forward must start with http:// or https://",
        ),
        (&["--event", ""], "--event needs a pattern"),
        (&["--queue", "none"], "--queue: \"none\" is not a size"),
        (&["--exec"], "--exec needs a value"),
    ];
    for (args, message) in cases {
        let output = cli(&mock).args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
    let output = cli(&mock)
        .env("ZOOM_SUBSCRIPTION_ID", " , ")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ZOOM_SUBSCRIPTION_ID"));
    assert_eq!(mock.connections(), 0);
}
