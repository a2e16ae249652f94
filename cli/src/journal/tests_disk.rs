//! The journal on a full disk (a small tmpfs), under threads, and its throughput.

use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::tests::{TempDir, eventually, put, settle};
use super::{Journal, JournalOptions};

/// A 1 MiB tmpfs, unmounted (and its directory removed) on drop.
struct Tmpfs {
    path: PathBuf,
    _parent: TempDir,
}

impl Tmpfs {
    /// `None` (with the reason printed) where mounting is not permitted.
    fn mount(name: &str) -> Option<Tmpfs> {
        let parent = TempDir::new(name);
        let path = parent.join("mnt");
        fs::create_dir(&path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"])
            .arg(&path)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs {
                path,
                _parent: parent,
            }),
            Ok(out) => {
                let why = String::from_utf8_lossy(&out.stderr);
                println!("skipped: cannot mount a tmpfs ({})", why.trim());
                None
            }
            Err(e) => {
                println!("skipped: cannot run mount ({e})");
                None
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

/// A limit above the file system's size, so the disk fills first.
fn opts() -> JournalOptions {
    JournalOptions {
        segment_bytes: 64 << 10,
        max_bytes: 16 << 20,
        commit_interval: Duration::from_millis(2),
        ..JournalOptions::default()
    }
}

fn event(i: u64) -> Vec<u8> {
    let mut e = format!("{{\"n\":{i}}}").into_bytes();
    e.resize(800, b' ');
    e
}

fn drain(j: &Journal, output: &str) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while let Some(r) = j.next(output, Instant::now() + Duration::from_millis(300)) {
        j.ack(output, r.seq);
        got.push(r.bytes);
    }
    got
}

/// Fills the file system with a ballast file until it is full.
fn fill(path: &std::path::Path) -> fs::File {
    let mut ballast = fs::File::create(path).unwrap();
    let block = vec![0u8; 4096];
    while ballast.write_all(&block).is_ok() {}
    ballast
}

/// The numbers of events read, from their payloads.
fn numbers(events: &[Vec<u8>]) -> Vec<u64> {
    let n = |e: &Vec<u8>| {
        let text = String::from_utf8_lossy(&e[5..]);
        text[..text.find('}').unwrap()].parse().unwrap()
    };
    events.iter().map(n).collect()
}

#[test]
fn a_full_disk_drops_the_oldest_and_journaling_resumes_when_space_returns() {
    let Some(fs) = Tmpfs::mount("tmpfs") else {
        return;
    };
    let dir = fs.path.join("j");
    let (j, _) = Journal::open(&dir, &["stdout", "forward"], opts()).unwrap();
    // 3,000 events of 800 bytes do not fit 1 MiB: the oldest segments make room, a small
    // segment (1/16 of the free space at most) at a time.
    for i in 0..3000 {
        put(&j, &event(i));
    }
    settle(&j);
    let kept = numbers(&drain(&j, "stdout"));
    let dropped = j.dropped("stdout");
    assert!(dropped > 0 && !kept.is_empty());
    assert_eq!(kept.len() as u64 + dropped, 3000);
    assert!(kept.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(
        kept.len() > 600,
        "only what had to go went: {} kept",
        kept.len()
    );
    assert_eq!(drain(&j, "forward").len(), kept.len());
    assert_eq!(j.dropped("forward"), dropped);

    // A fresh journal on a full disk: the event cannot be written; every output that reaches
    // its number counts it (tmpfs allocates whole pages: an empty segment has no page to fill).
    drop(j);
    fs::remove_dir_all(&dir).unwrap();
    let (j, _) = Journal::open(&dir, &["stdout", "forward"], opts()).unwrap();
    let ballast_path = fs.path.join("ballast");
    let ballast = fill(&ballast_path);
    put(&j, &event(3000));
    settle(&j);
    assert_eq!(drain(&j, "stdout"), Vec::<Vec<u8>>::new());
    assert_eq!(j.dropped("stdout"), 1);

    // Space returns: the next event is kept, and nothing torn is left behind.
    drop(ballast);
    fs::remove_file(&ballast_path).unwrap();
    put(&j, &event(3001));
    assert_eq!(drain(&j, "stdout"), vec![event(3001)]);
    drop(j);
    let (j, report) = Journal::open(&dir, &["stdout", "forward"], opts()).unwrap();
    assert_eq!(report.torn_bytes, 0);
    assert_eq!(
        report.waiting,
        vec![("stdout".into(), 0), ("forward".into(), 2)]
    );
    // forward had taken nothing: it finds the event that could not be written missing.
    assert_eq!(drain(&j, "forward"), vec![event(3001)]);
    assert_eq!(j.dropped("forward"), 1);
}

#[test]
fn appenders_and_readers_on_many_threads_keep_one_order() {
    let tmp = TempDir::new("threads");
    let small = JournalOptions {
        segment_bytes: 16 << 10,
        max_bytes: 4 << 20,
        ..opts()
    };
    let (j, _) = Journal::open(&tmp.join("j"), &["stdout", "exec"], small).unwrap();
    let j = Arc::new(j);
    let (threads, each) = (4u64, 3000u64);
    let readers: Vec<_> = ["stdout", "exec"]
        .into_iter()
        .map(|name| {
            let j = Arc::clone(&j);
            std::thread::spawn(move || {
                let mut last = vec![None::<u64>; threads as usize];
                for want in 0..threads * each {
                    let r = j
                        .next(name, Instant::now() + Duration::from_secs(20))
                        .unwrap();
                    assert_eq!(r.seq, want, "{name}");
                    let text = String::from_utf8(r.bytes).unwrap();
                    let (t, n) = text.trim().split_once(' ').unwrap();
                    let (t, n): (usize, u64) = (t.parse().unwrap(), n.parse().unwrap());
                    assert_eq!(last[t].map_or(0, |l| l + 1), n, "{name}: thread {t}");
                    last[t] = Some(n);
                    j.ack(name, r.seq);
                }
            })
        })
        .collect();
    let appenders: Vec<_> = (0..threads)
        .map(|t| {
            let j = Arc::clone(&j);
            std::thread::spawn(move || {
                for n in 0..each {
                    let mut line = format!("{t} {n}").into_bytes();
                    line.resize(200, b' ');
                    put(&j, &line);
                }
            })
        })
        .collect();
    for a in appenders {
        a.join().unwrap();
    }
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(j.pending("stdout") + j.pending("exec"), 0);
    eventually("taken segments are removed", || {
        j.size_bytes() <= (16 << 10) + 216
    });
}

#[test]
fn a_reader_whose_segment_is_dropped_under_it_moves_on_and_counts() {
    let tmp = TempDir::new("dropread");
    let tight = JournalOptions {
        segment_bytes: 16 << 10,
        max_bytes: 64 << 10,
        ..opts()
    };
    let (j, _) = Journal::open(&tmp.join("j"), &["forward"], tight).unwrap();
    let j = Arc::new(j);
    let total = 20_000u64;
    let reader = std::thread::spawn({
        let j = Arc::clone(&j);
        move || {
            let (mut got, mut last) = (0u64, None::<u64>);
            // Until every event is either read or counted as dropped.
            while got + j.dropped("forward") < total {
                let r = j
                    .next("forward", Instant::now() + Duration::from_secs(20))
                    .unwrap();
                assert!(last.is_none_or(|l| r.seq > l), "out of order");
                assert_eq!(r.bytes, event(r.seq), "a record matches its number");
                last = Some(r.seq);
                got += 1;
                j.ack("forward", r.seq);
                if got % 64 == 0 {
                    std::thread::sleep(Duration::from_millis(1)); // slower than the writer
                }
            }
            got
        }
    });
    for i in 0..total {
        put(&j, &event(i));
    }
    let got = reader.join().unwrap();
    let dropped = j.dropped("forward");
    assert!(dropped > 0, "the reader fell behind");
    assert_eq!(got + dropped, total);
}

/// `cargo test --release --bin zoom-ws journal_throughput -- --ignored --nocapture`
#[test]
#[ignore = "prints a figure; run by hand"]
fn journal_throughput() {
    throughput(&["stdout"], false);
    throughput(&["stdout", "exec", "forward"], true);
}

/// Appends 200,000 events of 800 bytes from one thread, with a reader per output that takes and
/// acknowledges each (or none), and prints the rates.
fn throughput(outputs: &[&'static str], read: bool) {
    let tmp = TempDir::new("bench");
    let (j, _) = Journal::open(&tmp.join("j"), outputs, JournalOptions::default()).unwrap();
    let j = Arc::new(j);
    let n: u64 = 200_000;
    let readers: Vec<_> = outputs
        .iter()
        .filter(|_| read)
        .map(|&name| {
            let j = Arc::clone(&j);
            std::thread::spawn(move || {
                for _ in 0..n {
                    let r = j
                        .next(name, Instant::now() + Duration::from_secs(10))
                        .unwrap();
                    j.ack(name, r.seq);
                }
            })
        })
        .collect();
    let start = Instant::now();
    for i in 0..n {
        put(&j, &event(i));
    }
    let appended = start.elapsed();
    for r in readers {
        r.join().unwrap();
    }
    let all = start.elapsed();
    let stats = j.sync_stats();
    let rate = |x: u64| x as f64 / all.as_secs_f64();
    println!(
        "{n} events of 800 bytes, {} outputs{}: appended at {:.0} events/s{}; {} group commits \
         ({:.0}/s), {} fsyncs ({:.0}/s)",
        outputs.len(),
        if read {
            " each read and acknowledged"
        } else {
            " not read"
        },
        n as f64 / appended.as_secs_f64(),
        if read {
            format!(", delivered to all at {:.0} events/s", rate(n))
        } else {
            String::new()
        },
        stats.commits,
        rate(stats.commits),
        stats.fsyncs,
        rate(stats.fsyncs),
    );
}
