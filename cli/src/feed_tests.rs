//! Feeds and the fan-out, with and without a journal.

#[cfg(journal)]
use std::sync::Arc;
use std::time::{Duration, Instant};

use zoom_ws::Event;

#[cfg(journal)]
use super::super::journal::{JournalError, JournalOptions, OpenReport};
use super::{Bounds, Fanout, Feed, Item};

/// The fan-out and feeds through the journal in `spool`, or through memory queues.
#[cfg(journal)]
type Built = Result<(Fanout, Vec<Feed>, Option<OpenReport>), JournalError>;
#[cfg(journal)]
fn build(outputs: &[&str], spool: Option<(&std::path::Path, JournalOptions)>, b: Bounds) -> Built {
    match spool {
        Some((dir, opts)) => {
            super::build_journal(outputs, dir, opts).map(|(f, s, r)| (f, s, Some(r)))
        }
        None => {
            let (fanout, feeds) = super::build(outputs, b);
            Ok((fanout, feeds, None))
        }
    }
}

fn memory(outputs: &[&str], b: Bounds) -> (Fanout, Vec<Feed>, Option<()>) {
    let (fanout, feeds) = super::build(outputs, b);
    (fanout, feeds, None)
}

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

fn bounds(bytes: u64, stall_ms: u64) -> Bounds {
    Bounds {
        bytes,
        stall: Duration::from_millis(stall_ms),
    }
}

fn event(i: u64) -> super::Packed {
    let content = format!(r#"{{"event":"e.{i}","event_ts":{i},"payload":{{}}}}"#);
    Item::pack(&Event::from_content(content).unwrap())
}

fn content(i: u64) -> String {
    format!(r#"{{"event":"e.{i}","event_ts":{i},"payload":{{}}}}"#)
}

/// Takes and acknowledges everything the feed has within a short wait.
fn drain(feed: &Feed) -> Vec<String> {
    let mut got = Vec::new();
    let mut batch = Vec::new();
    while feed.next_batch(Instant::now() + Duration::from_millis(200), &mut batch) {
        feed.ack(&batch);
        got.extend(batch.iter().map(|item| item.content().to_string()));
    }
    got
}

#[test]
fn a_full_queue_stops_the_reading_and_drops_only_once_its_output_stalls() {
    let cost = (event(0).len() + super::ITEM_OVERHEAD) as u64;
    let (fanout, feeds, report) = memory(&["stdout", "exec"], bounds(3 * cost, 300));
    assert!(report.is_none());
    let [stdout, exec] = &feeds[..] else { panic!() };
    for i in 0..3 {
        assert!(fanout.has_room());
        assert!(fanout.push(&event(i)));
    }
    assert!(!fanout.has_room(), "full: the socket stops reading");
    // Pushed anyway (an event read before the check): kept, nothing dropped.
    fanout.push(&event(3));
    assert_eq!((stdout.waiting(), stdout.dropped()), (4, 0));
    // One output takes a batch: it has room again; the other still has not.
    assert_eq!(drain(stdout), (0..4).map(content).collect::<Vec<_>>());
    assert!(!fanout.has_room());
    // exec takes nothing for the stall bound: reading goes on, exec loses its oldest.
    std::thread::sleep(Duration::from_millis(350));
    assert!(
        fanout.has_room(),
        "a stalled output no longer holds the socket"
    );
    for i in 4..10 {
        fanout.push(&event(i));
    }
    assert_eq!(exec.dropped(), 7);
    assert_eq!(drain(exec), (7..10).map(content).collect::<Vec<_>>());
    assert_eq!(drain(stdout), (4..10).map(content).collect::<Vec<_>>());
    assert_eq!(stdout.dropped(), 0);
}

#[test]
fn a_worker_takes_everything_waiting_in_one_batch_up_to_its_bound() {
    let (fanout, feeds, _) = memory(&["stdout"], bounds(64 << 20, 60_000));
    for i in 0..5_000 {
        fanout.push(&event(i));
    }
    let mut batch = Vec::new();
    assert!(feeds[0].next_batch(Instant::now(), &mut batch));
    assert_eq!(batch.len(), 5_000);
    assert_eq!(batch[4_999].name(), "e.4999");
    // The bound: about a megabyte per batch.
    let big = Item::pack(
        &Event::from_content(format!(r#"{{"event":"b","x":"{}"}}"#, "y".repeat(100_000))).unwrap(),
    );
    for _ in 0..30 {
        fanout.push(&big);
    }
    assert!(feeds[0].next_batch(Instant::now(), &mut batch));
    assert!((10..=11).contains(&batch.len()), "{}", batch.len());
}

#[test]
#[cfg(journal)]
fn every_output_reads_the_journal_in_order_and_resumes_after_a_restart() {
    let dir = tmp("resume");
    let _cleanup = Cleanup(dir.clone());
    let memory = bounds(1, 1);
    {
        let (fanout, feeds, report) =
            build(&["stdout", "forward"], Some((&dir, opts())), memory).unwrap();
        assert_eq!(report.unwrap().waiting[0].1, 0);
        for i in 0..50 {
            assert!(fanout.push(&event(i)));
        }
        assert!(feeds[0].is_durable());
        assert_eq!(drain(&feeds[0]), (0..50).map(content).collect::<Vec<_>>());
        let mut batch = Vec::new();
        let mut taken = 0;
        while taken < 20 {
            assert!(feeds[1].next_batch(Instant::now() + Duration::from_secs(5), &mut batch));
            batch.truncate(20 - taken);
            taken += batch.len();
            feeds[1].ack(&batch);
        }
        assert_eq!(feeds[1].waiting(), 30);
        assert_eq!(feeds[0].dropped() + feeds[1].dropped(), 0);
    }
    let (_fanout, feeds, report) =
        build(&["stdout", "forward"], Some((&dir, opts())), memory).unwrap();
    let report = report.unwrap();
    assert_eq!(
        report.waiting,
        vec![("stdout".into(), 0), ("forward".into(), 30)]
    );
    assert_eq!(drain(&feeds[1]), (20..50).map(content).collect::<Vec<_>>());
    assert!(drain(&feeds[0]).is_empty());
}

#[test]
#[cfg(journal)]
fn a_record_of_an_earlier_version_is_its_bare_content() {
    let item = Item::from_record(3, content(7).into_bytes());
    assert_eq!((item.name(), item.event_ts()), ("e.7", Some(7)));
    assert_eq!(item.content(), content(7));
    let odd = Item::from_record(4, b"not\nan event".to_vec());
    assert_eq!(
        (odd.describe().as_str(), odd.line()),
        ("an event", &b"not an event\n"[..])
    );
    assert_eq!(odd.content(), "not\nan event");
}

#[test]
#[cfg(journal)]
fn close_wakes_a_waiting_worker_with_or_without_a_journal() {
    let dir = tmp("close");
    let _cleanup = Cleanup(dir.clone());
    for spool in [None, Some((dir.as_path(), opts()))] {
        let (fanout, feeds, _) = build(&["exec"], spool, bounds(1 << 20, 1000)).unwrap();
        let feed = Arc::new(feeds.into_iter().next().unwrap());
        let worker = std::thread::spawn({
            let feed = Arc::clone(&feed);
            move || feed.next_batch(Instant::now() + Duration::from_secs(30), &mut Vec::new())
        });
        std::thread::sleep(Duration::from_millis(50));
        let start = Instant::now();
        feed.close();
        assert!(!worker.join().unwrap());
        assert!(start.elapsed() < Duration::from_secs(10));
        // Events still arrive after a feed closed; they wait (in the journal, or counted).
        fanout.push(&event(0));
        assert_eq!(feed.waiting(), 1);
    }
}

#[test]
#[cfg(journal)]
fn the_fanout_never_waits_for_an_output_that_does_not_read() {
    let dir = tmp("nowait");
    let _cleanup = Cleanup(dir.clone());
    let small = bounds(256 << 10, 0);
    let (journal, feeds, _) = build(&["stdout", "exec"], Some((&dir, opts())), small).unwrap();
    let (memory, mem_feeds, _) = build(&["stdout"], None, small).unwrap();
    // Nobody reads: every push still returns, the journal keeps all, a stalled memory queue
    // keeps the newest that fit in its bytes.
    for i in 0..5_000 {
        assert!(journal.push(&event(i)));
        assert!(memory.push(&event(i)));
    }
    assert_eq!(feeds[1].waiting(), 5_000);
    let kept = mem_feeds[0].waiting();
    assert!(kept > 1_000 && kept < 5_000, "{kept}");
    assert_eq!(mem_feeds[0].dropped(), 5_000 - kept);
    assert!(matches!(journal, Fanout::Journal(_)));
}
