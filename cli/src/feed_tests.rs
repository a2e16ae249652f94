//! Feeds and the fan-out, with and without a journal.

use std::sync::Arc;
use std::time::{Duration, Instant};

#[cfg(journal)]
use super::super::journal::JournalOptions;
#[cfg(journal)]
use super::{Fanout, build_journal};
use super::{Feed, build};

#[cfg(journal)]
fn tmp(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("zoom-ws-feed-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    path
}

#[cfg(journal)]
struct Cleanup(std::path::PathBuf);
#[cfg(journal)]
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(journal)]
fn opts() -> JournalOptions {
    JournalOptions {
        commit_interval: Duration::from_millis(2),
        ..JournalOptions::default()
    }
}

fn line(i: u64) -> Vec<u8> {
    format!("{{\"n\":{i}}}").into_bytes()
}

/// Takes and acknowledges everything the feed has within a short wait.
fn drain(feed: &Feed) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while let Some(item) = feed.next(Instant::now() + Duration::from_millis(200)) {
        feed.ack(&item);
        got.push(item.data.to_vec());
    }
    got
}

#[test]
fn a_full_memory_queue_drops_the_oldest_and_counts_exactly() {
    let (fanout, feeds) = build(&["stdout", "exec"], 3);
    for i in 0..10 {
        assert!(fanout.push(&line(i)));
    }
    let [stdout, exec] = &feeds[..] else { panic!() };
    assert_eq!(stdout.dropped(), 7);
    assert_eq!(stdout.waiting(), 3);
    assert!(!stdout.is_durable());
    assert_eq!(drain(stdout), (7..10).map(line).collect::<Vec<_>>());
    // The other output has its own queue, untouched by the first one's reading.
    assert_eq!(exec.waiting(), 3);
    fanout.push(&line(10));
    assert_eq!(drain(exec), (8..11).map(line).collect::<Vec<_>>());
    assert_eq!(exec.dropped(), 8);
    assert_eq!(stdout.dropped(), 7);
}

#[test]
#[cfg(journal)]
fn every_output_reads_the_journal_in_order_and_resumes_after_a_restart() {
    let dir = tmp("resume");
    let _cleanup = Cleanup(dir.clone());
    {
        let (fanout, feeds, report) = build_journal(&["stdout", "forward"], &dir, opts()).unwrap();
        assert_eq!(report.waiting[0].1, 0);
        for i in 0..50 {
            assert!(fanout.push(&line(i)));
        }
        assert!(feeds[0].is_durable());
        assert_eq!(drain(&feeds[0]), (0..50).map(line).collect::<Vec<_>>());
        for _ in 0..20 {
            let item = feeds[1]
                .next(Instant::now() + Duration::from_secs(5))
                .unwrap();
            feeds[1].ack(&item);
        }
        assert_eq!(feeds[1].waiting(), 30);
        assert_eq!(feeds[0].dropped() + feeds[1].dropped(), 0);
    }
    let (_fanout, feeds, report) = build_journal(&["stdout", "forward"], &dir, opts()).unwrap();
    assert_eq!(
        report.waiting,
        vec![("stdout".into(), 0), ("forward".into(), 30)]
    );
    assert_eq!(drain(&feeds[1]), (20..50).map(line).collect::<Vec<_>>());
    assert!(drain(&feeds[0]).is_empty());
}

#[test]
fn close_wakes_a_waiting_worker_with_or_without_a_journal() {
    #[cfg_attr(not(journal), allow(unused_mut))]
    let mut both = vec![build(&["exec"], 10)];
    #[cfg(journal)]
    let _cleanup = {
        let dir = tmp("close");
        let (fanout, feeds, _) = build_journal(&["exec"], &dir, opts()).unwrap();
        both.push((fanout, feeds));
        Cleanup(dir)
    };
    for (fanout, feeds) in both {
        let feed = Arc::new(feeds.into_iter().next().unwrap());
        let worker = std::thread::spawn({
            let feed = Arc::clone(&feed);
            move || feed.next(Instant::now() + Duration::from_secs(30))
        });
        std::thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        feed.close();
        assert_eq!(worker.join().unwrap(), None);
        assert!(start.elapsed() < Duration::from_secs(10));
        // Events still arrive after a feed closed; they wait (in the journal, or counted).
        fanout.push(b"late");
        assert_eq!(feed.waiting(), 1);
    }
}

#[test]
#[cfg(journal)]
fn the_fanout_never_waits_for_an_output_that_does_not_read() {
    let dir = tmp("nowait");
    let _cleanup = Cleanup(dir.clone());
    let (journal, feeds, _) = build_journal(&["stdout", "exec"], &dir, opts()).unwrap();
    let (memory, mem_feeds) = build(&["stdout"], 100);
    // Nobody reads: every push still returns, the journal keeps all, memory keeps the newest.
    for i in 0..5_000 {
        assert!(journal.push(&line(i)));
        assert!(memory.push(&line(i)));
    }
    assert_eq!(feeds[1].waiting(), 5_000);
    assert_eq!(mem_feeds[0].waiting(), 100);
    assert_eq!(mem_feeds[0].dropped(), 4_900);
    assert!(matches!(journal, Fanout::Journal { .. }));
    assert_eq!(journal.refused(), 0);
}
