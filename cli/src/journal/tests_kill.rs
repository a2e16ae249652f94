//! `kill -9` of a process writing and reading a journal: nothing appended is lost, the output
//! resumes at its acknowledged place (the one event in flight may come again).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::tests::{TempDir, put};
use super::{Journal, JournalOptions};

const CHILD_ENV: &str = "ZOOM_WS_TEST_JOURNAL_CHILD";

fn event(i: u64) -> Vec<u8> {
    let mut e = format!("{{\"n\":{i}}}").into_bytes();
    e.resize(300, b' ');
    e
}

fn opts() -> JournalOptions {
    JournalOptions {
        segment_bytes: 64 << 10,
        commit_interval: Duration::from_millis(3),
        ..JournalOptions::default()
    }
}

/// Run by the test below in a child process: appends without end and prints `a N` after each
/// append returned; a reader prints `k N` after each acknowledgement; a watcher prints `d N`
/// when the events below N are durable (taken).
#[test]
#[ignore = "a child process of kill_9_loses_nothing_the_journal_took"]
fn journal_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let (j, _) = Journal::open(dir.as_ref(), &["stdout"], opts()).unwrap();
    let j = Arc::new(j);
    let reader = Arc::clone(&j);
    std::thread::spawn(move || {
        while let Some(r) = reader.next("stdout", Instant::now() + Duration::from_secs(60)) {
            reader.ack("stdout", r.seq);
            println!("k {}", r.seq);
            // Slower than the writer, so events wait in the journal when the kill comes.
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    let watcher = Arc::clone(&j);
    std::thread::spawn(move || {
        loop {
            println!("d {}", watcher.shared.lock().durable);
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    for i in 0.. {
        put(&j, &event(i));
        println!("a {i}");
    }
}

/// The child test's name as the test harness knows it (its path without the crate), so it still
/// runs when this module moves.
fn child_test_name() -> String {
    let module = module_path!();
    let path = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{path}::journal_child_writer")
}

/// One run of the child, killed with SIGKILL once it appended `after` events; returns the last
/// append, the last acknowledgement and the last durable mark it reported.
fn run_child_and_kill(dir: &std::path::Path, after: u64) -> (u64, Option<u64>, u64) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &child_test_name()])
        .args(["--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = std::thread::spawn({
        let done = Arc::clone(&done);
        move || {
            let start = Instant::now();
            while !done.load(Ordering::Relaxed) {
                if start.elapsed() > Duration::from_secs(60) {
                    // SAFETY: signalling our own child, which has not been reaped yet.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        }
    });
    let (mut appended, mut acked, mut durable) = (None, None, 0);
    let mut killed = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let mut parts = line.split(' ');
        let (kind, n) = (
            parts.next(),
            parts.next().and_then(|n| n.parse::<u64>().ok()),
        );
        match (kind, n) {
            (Some("a"), Some(n)) => appended = Some(n),
            (Some("k"), Some(n)) => acked = Some(n),
            (Some("d"), Some(n)) => durable = n,
            _ => continue,
        }
        if !killed && appended.is_some_and(|a| a >= after) {
            child.kill().unwrap(); // SIGKILL; the pipe still holds what it printed before
            killed = true;
        }
    }
    child.wait().unwrap();
    done.store(true, Ordering::Relaxed);
    assert!(!watchdog.join().unwrap(), "the child hung");
    (appended.expect("the child appended"), acked, durable)
}

#[test]
fn kill_9_loses_nothing_the_journal_took() {
    let tmp = TempDir::new("kill9");
    let dir = tmp.join("j");
    for round in 0..5 {
        // Each child numbers its events from 0, so keep each round's journal apart.
        let dir = dir.join(format!("r{round}"));
        let (appended, acked, durable) = run_child_and_kill(&dir, 1000 + round * 700);
        let (j, report) = Journal::open(&dir, &["stdout"], opts()).unwrap();
        let waiting = report.waiting[0].1;
        let resume_at = acked.map_or(0, |k| k + 1);
        let first = j.next("stdout", Instant::now() + Duration::from_secs(2));
        let Some(first) = first else {
            // Everything kept was acknowledged before the kill.
            assert_eq!(waiting, 0);
            assert!(resume_at >= durable);
            continue;
        };
        // Never a skip: it resumes at the last acknowledgement it printed or before (positions
        // are synced in groups; an acknowledgement whose line the kill cut off makes one more).
        assert!(
            first.seq <= resume_at + 1,
            "round {round}: resumed at {} after ack {acked:?}",
            first.seq
        );
        // Every event taken (durable) is there, in order, nothing torn; what was lost was in the
        // append buffer only.
        let mut seq = first.seq;
        assert_eq!(first.bytes, event(seq));
        while let Some(r) = j.next("stdout", Instant::now() + Duration::from_millis(300)) {
            seq += 1;
            assert_eq!((r.seq, &r.bytes), (seq, &event(seq)), "round {round}");
        }
        assert!(
            seq + 1 >= durable,
            "round {round}: {durable} taken, {seq} kept"
        );
        assert!(appended - seq < 60_000, "bounded by the buffer");
        assert_eq!(j.dropped("stdout"), 0);
        println!(
            "round {round}: killed after {appended} appended, {durable} taken, ack {acked:?}; \
             {waiting} kept"
        );
    }
}
