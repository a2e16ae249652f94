//! A burst is not a stall: through the real CLI against the mock Zoom, a slower output makes
//! the socket wait (backpressure) and loses nothing; only an output that takes nothing for the
//! stall bound loses events; a stop reads until Zoom's Close; stdout never keeps half a line.

mod mock;
mod run;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use mock::{Action, MockZoom, Plan, event_json, message_frame, text_frame, watchdog};
use run::{Running, TempDir, cli_in, seqs, start, start_reading, wait_lines};

/// Busy loops on every core until dropped (a loaded host), for at most `secs`.
struct Load(Arc<AtomicBool>);

impl Load {
    fn start(secs: u64) -> Load {
        let done = Arc::new(AtomicBool::new(false));
        let cores = thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..cores {
            let done = Arc::clone(&done);
            thread::spawn(move || {
                let until = Instant::now() + Duration::from_secs(secs);
                let mut x = 0u64;
                while !done.load(Ordering::Relaxed) && Instant::now() < until {
                    x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                }
            });
        }
        Load(done)
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The instants of the client's "heartbeat sent" lines (`RUST_LOG=zoom_ws=debug`), in ms.
fn beats_sent(stderr: &str) -> Vec<f64> {
    stderr
        .lines()
        .filter(|l| l.contains("heartbeat sent"))
        .filter_map(|l| {
            let time = l.split_whitespace().next()?.split('T').nth(1)?;
            let mut parts = time.trim_end_matches('Z').split(':');
            let h: f64 = parts.next()?.parse().ok()?;
            let m: f64 = parts.next()?.parse().ok()?;
            let s: f64 = parts.next()?.parse().ok()?;
            Some(((h * 60.0 + m) * 60.0 + s) * 1000.0)
        })
        .collect()
}

/// Every gap between heartbeats the client sent is within the interval and a generous slack.
fn assert_sent_on_time(stderr: &str, interval_ms: f64, min_count: usize) {
    let beats = beats_sent(stderr);
    assert!(beats.len() >= min_count, "only {} heartbeats", beats.len());
    for gap in beats.windows(2).map(|w| w[1] - w[0]) {
        assert!(
            gap > interval_ms - 20.0 && gap < interval_ms + 250.0,
            "heartbeat gap {gap} ms for {interval_ms} ms"
        );
    }
}

fn count_lines(path: &std::path::Path, want: &str) -> usize {
    let file = std::fs::File::open(path).unwrap();
    let mut n = 0;
    for line in BufReader::new(file).lines() {
        assert_eq!(line.unwrap(), want, "line {n}");
        n += 1;
    }
    n
}

#[test]
fn a_flood_into_a_file_on_a_loaded_host_arrives_whole() {
    const EVENTS: usize = 60_000;
    let _guard = watchdog(240);
    let mock = MockZoom::start();
    let frame = text_frame(&message_frame(&event_json(7)));
    mock.plan(Plan::new().then(Action::Repeat(Arc::new(frame), EVENTS)));
    let dir = TempDir::new();
    let out = std::fs::File::create(dir.join("events.jsonl")).unwrap();
    let mut cmd = cli_in(&mock, &dir);
    // A small queue: the socket waits for the writer again and again.
    cmd.args(["--queue", "256K", "--max-events", &EVENTS.to_string()])
        .stdout(out);
    let load = Load::start(200);
    let finished = start(&mut cmd).wait(200.0);
    drop(load);
    finished.assert_exit(0);
    assert_eq!(
        count_lines(&dir.join("events.jsonl"), &event_json(7)),
        EVENTS
    );
    finished.assert_log(&format!(
        "summary stdout: {EVENTS} delivered, 0 failed, 0 retries, 0 dropped"
    ));
}

/// The reader stops for longer than the dead-peer bound (5.5 s here): the socket waits, the
/// heartbeats go on, the connection is not taken for dead, and every event arrives.
#[test]
fn a_reader_that_pauses_past_the_dead_peer_bound_holds_the_socket_and_loses_nothing() {
    let _guard = watchdog(90);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 3_000));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_HEARTBEAT_INTERVAL", "0.25")
        .env("RUST_LOG", "info,zoom_ws=debug")
        .args(["--queue", "64K"]);
    let mut running = start_reading(&mut cmd);
    let mut stdout = BufReader::new(running.child.stdout.take().unwrap());
    let mut lines = vec![String::new()];
    stdout.read_line(&mut lines[0]).unwrap();
    thread::sleep(Duration::from_secs(7));
    let mut line = String::new();
    while lines.len() < 3_000 {
        line.clear();
        assert!(stdout.read_line(&mut line).unwrap() > 0, "stdout ended");
        lines.push(line.clone());
    }
    let finished = running.signal(libc::SIGTERM, 10.0);
    finished.assert_exit(0);
    let got = seqs(lines.iter().map(|l| l.trim_end()));
    assert_eq!(
        got,
        (0..3_000).collect::<Vec<u64>>(),
        "every event, in order"
    );
    assert!(
        !finished.stderr.contains("the connection is dead"),
        "{}",
        finished.stderr
    );
    assert_eq!(mock.connections(), 1);
    finished.assert_log("summary stdout: 3000 delivered, 0 failed, 0 retries, 0 dropped");
    assert_sent_on_time(&finished.stderr, 250.0, 20);
}

/// A reader that never reads again: after the stall bound the oldest are dropped, counted,
/// logged, exit 4; the newest are kept; heartbeats went on throughout.
#[test]
fn a_reader_that_stops_for_good_loses_the_oldest_after_the_stall_bound_exit_4() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 2_000));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_HEARTBEAT_INTERVAL", "0.25")
        .env("RUST_LOG", "info,zoom_ws=debug")
        .args(["--queue", "16K", "--stall-timeout", "1"]);
    let mut running = start_reading(&mut cmd);
    let mut stdout = running.child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    thread::sleep(Duration::from_secs(4));
    mock::signal(&running.child, libc::SIGTERM);
    // Read only now: what the pipe held, then what the grace period wrote.
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let finished = running.wait(15.0);
    finished.assert_exit(4);
    let text = format!("{}{rest}", first[0] as char);
    let got = seqs(text.lines());
    assert!(got.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(*got.last().unwrap(), 1_999, "the newest survive");
    let dropped = 2_000 - got.len();
    assert!(dropped > 0);
    finished.assert_log("stdout: took nothing for 1 s with its queue full");
    finished.assert_log(&format!(
        "summary stdout: {} delivered, 0 failed, 0 retries, {dropped} dropped",
        got.len()
    ));
    assert_sent_on_time(&finished.stderr, 250.0, 12);
}

#[test]
#[cfg(feature = "relays")]
fn a_burst_into_exec_is_delivered_whole() {
    const EVENTS: usize = 3_000;
    let _guard = watchdog(240);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, EVENTS));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.args(["--quiet", "--queue", "64K", "--exec", "cat >> exec.log"]);
    let running = start(&mut cmd);
    let lines = wait_lines(&dir.join("exec.log"), EVENTS, 200.0);
    let finished = running.signal(libc::SIGTERM, 10.0);
    finished.assert_exit(0);
    let expected: Vec<String> = (0..EVENTS).map(event_json).collect();
    assert!(lines == expected, "every event once, in order");
    finished.assert_log("summary exec: 3000 delivered, 0 failed, 0 retries, 0 dropped");
}

#[test]
fn a_reset_mid_flood_loses_nothing_it_read() {
    let _guard = watchdog(90);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1_000).sleep(1.0).then(Action::Reset));
    mock.plan(Plan::new().events(1_000, 1_000));
    let dir = TempDir::new();
    let out = std::fs::File::create(dir.join("events.jsonl")).unwrap();
    let mut cmd = cli_in(&mock, &dir);
    cmd.args(["--queue", "32K", "--max-events", "2000"])
        .stdout(out);
    let finished = start(&mut cmd).wait(60.0);
    finished.assert_exit(0);
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert_eq!(seqs(text.lines()), (0..2_000).collect::<Vec<u64>>());
    assert_eq!(mock.connections(), 2);
    finished.assert_log("summary stdout: 2000 delivered, 0 failed, 0 retries, 0 dropped");
}

/// A stop in the middle of a stream: the client sends Close and reads on until Zoom's Close;
/// every event read is delivered, and they are exactly the events before Zoom's Close.
#[test]
fn a_stop_mid_stream_delivers_every_event_read_before_zooms_close() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().then(Action::Paced(0, 100_000, Duration::from_micros(1))));
    let dir = TempDir::new();
    let out = std::fs::File::create(dir.join("events.jsonl")).unwrap();
    let mut cmd = cli_in(&mock, &dir);
    cmd.args(["--queue", "32K"]).stdout(out);
    let running = start(&mut cmd);
    wait_lines(&dir.join("events.jsonl"), 200, 20.0);
    let finished = running.signal(libc::SIGTERM, 10.0);
    finished.assert_exit(0);
    finished.assert_log("closed: Zoom answered the Close frame; every event before it was read");
    assert_eq!(mock.closed_by_client(), 1);
    let text = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let got = seqs(text.lines());
    assert_eq!(got, (0..got.len() as u64).collect::<Vec<u64>>(), "no gap");
    let taken = format!("summary: {} events taken", got.len());
    finished.assert_log(&taken);
    finished.assert_log(&format!("summary stdout: {} delivered", got.len()));
}

/// Most of `disk` taken by a filler, so 60 events do not fit: a run with `args` writing its
/// stdout there, once it has written 20 KiB and a write has had time to fail.
fn start_onto_full_disk(mock: &MockZoom, dir: &TempDir, disk: &Path, args: &[&str]) -> Running {
    std::fs::write(disk.join("filler"), vec![b'x'; 40 << 10]).unwrap();
    mock.plan(Plan::new().events(0, 60));
    let out = std::fs::File::create(disk.join("events.jsonl")).unwrap();
    let mut cmd = cli_in(mock, dir);
    cmd.args(args).stdout(out);
    let running = start(&mut cmd);
    let until = Instant::now() + Duration::from_secs(30);
    while !std::fs::read(disk.join("events.jsonl")).is_ok_and(|b| b.len() > 20 << 10) {
        assert!(Instant::now() < until, "nothing written");
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(500));
    running
}

/// stdout on a full disk (a 64 KiB tmpfs): the line cut by ENOSPC is completed first once
/// there is room again, so the file never holds half a line; events are retried, not lost.
#[test]
fn a_line_cut_by_a_full_disk_is_completed_before_the_next() {
    let _guard = watchdog(90);
    let dir = TempDir::new();
    let Some((disk, _unmount)) = tiny_disk(&dir) else {
        return;
    };
    // Wait for the first failed write, then make room.
    let mock = MockZoom::start();
    let running = start_onto_full_disk(&mock, &dir, &disk, &[]);
    let partial = std::fs::read(disk.join("events.jsonl")).unwrap();
    std::fs::remove_file(disk.join("filler")).unwrap();
    wait_lines(&disk.join("events.jsonl"), 60, 30.0);
    let finished = running.signal(libc::SIGTERM, 10.0);
    finished.assert_exit(0);
    finished.assert_log("cannot write to stdout: No space left on device");
    assert!(
        !partial.ends_with(b"\n"),
        "the disk filled in the middle of a line"
    );
    let text = std::fs::read_to_string(disk.join("events.jsonl")).unwrap();
    assert_eq!(
        seqs(text.lines()),
        (0..60).collect::<Vec<u64>>(),
        "whole lines only"
    );
    finished.assert_log("summary stdout: 60 delivered, 0 failed");
}

/// The disk stays full: at exit the unfinished line is cut back, so the file ends with a whole
/// line; the events not written are reported lost (exit 4).
#[test]
fn a_line_left_unfinished_at_exit_is_cut_back_to_the_last_whole_line() {
    let _guard = watchdog(60);
    let dir = TempDir::new();
    let Some((disk, _unmount)) = tiny_disk(&dir) else {
        return;
    };
    let mock = MockZoom::start();
    let running = start_onto_full_disk(&mock, &dir, &disk, &["--grace", "0.5"]);
    let finished = running.signal(libc::SIGTERM, 20.0);
    finished.assert_exit(4);
    finished.assert_log("stdout: cut back the ");
    let bytes = std::fs::read(disk.join("events.jsonl")).unwrap();
    assert!(bytes.ends_with(b"\n"), "ends with a whole line");
    let text = String::from_utf8(bytes).unwrap();
    let written = seqs(text.lines()).len();
    assert!(written > 0 && written < 60);
    finished.assert_log(&format!("summary stdout: {written} delivered"));
}

/// A 64 KiB tmpfs in `dir`, unmounted when the guard drops; `None` (the test is skipped, and
/// says so) unless we are root.
fn tiny_disk(dir: &TempDir) -> Option<(std::path::PathBuf, impl Drop)> {
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a tmpfs needs root");
        return None;
    }
    let disk = dir.join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mount = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(mount.success(), "mount tmpfs");
    Some((disk.clone(), Unmount(disk)))
}
