//! The journal on real files, each test in its own directory.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::format;
use super::{Journal, JournalError, JournalOptions};

/// A fresh directory under the system's temp dir, removed (with what is in it) on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("zoom-ws-test-{}-{name}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// A path inside it that does not exist yet.
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Bytes before each payload.
pub const HEADER: u64 = format::HEADER as u64;

/// Appends once the buffer has room, as the socket threads do.
pub fn put(j: &Journal, payload: &[u8]) {
    while !j.has_room() {
        std::thread::sleep(Duration::from_micros(200));
    }
    j.append(payload).unwrap();
}

/// Waits until everything appended is written and synced.
pub fn settle(j: &Journal) {
    eventually("all appended is durable", || {
        j.shared.lock().durable == j.shared.inbox().next_seq
    });
}

/// Waits (generously) until `check` holds.
pub fn eventually(what: &str, check: impl Fn() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

fn event(i: u64) -> Vec<u8> {
    format!("{{\"event\":\"meeting.started\",\"n\":{i}}}").into_bytes()
}

fn opts() -> JournalOptions {
    JournalOptions {
        commit_interval: Duration::from_millis(2),
        ..JournalOptions::default()
    }
}

fn small(segment: u64, max: u64) -> JournalOptions {
    JournalOptions {
        segment_bytes: segment,
        max_bytes: max,
        ..opts()
    }
}

/// Reads and acknowledges up to `n` records of `output`; returns their payloads.
fn take(j: &Journal, output: &str, n: usize) -> Vec<Vec<u8>> {
    // Everything appended first becomes durable (a loaded machine may take longer than the
    // wait for each record below).
    settle(j);
    let mut got = Vec::new();
    while got.len() < n {
        let Some(r) = j.next(output, Instant::now() + Duration::from_millis(300)) else {
            break;
        };
        j.ack(output, r.seq);
        got.push(r.bytes);
    }
    got
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("seg-"))
        .collect();
    v.sort();
    v
}

#[test]
fn crc32_matches_the_standard_check_value() {
    assert_eq!(format::crc32(&[b"123456789"]), 0xCBF4_3926);
    assert_eq!(format::crc32(&[b"1234", b"56789"]), 0xCBF4_3926);
}

#[test]
fn events_come_back_in_order_and_each_output_resumes_where_it_was() {
    let tmp = TempDir::new("resume");
    let dir = tmp.join("j");
    {
        let (j, report) = Journal::open(&dir, &["stdout", "exec"], opts()).unwrap();
        assert_eq!(
            report.waiting,
            vec![("stdout".into(), 0), ("exec".into(), 0)]
        );
        for i in 0..100 {
            put(&j, &event(i));
        }
        let out: Vec<_> = take(&j, "stdout", 60);
        assert_eq!(out, (0..60).map(event).collect::<Vec<_>>());
        assert_eq!(take(&j, "exec", 10), (0..10).map(event).collect::<Vec<_>>());
        // Taken but not acknowledged: delivered again after a restart.
        let r = j.next("exec", soon()).unwrap();
        assert_eq!(r.bytes, event(10));
        assert_eq!(j.pending("stdout"), 40);
        assert_eq!(j.pending("exec"), 90);
        j.close();
    }
    let (j, report) = Journal::open(&dir, &["stdout", "exec"], opts()).unwrap();
    assert_eq!(
        report.waiting,
        vec![("stdout".into(), 40), ("exec".into(), 90)]
    );
    assert_eq!(report.torn_bytes, 0);
    assert_eq!(
        take(&j, "stdout", 100),
        (60..100).map(event).collect::<Vec<_>>()
    );
    assert_eq!(
        take(&j, "exec", 100),
        (10..100).map(event).collect::<Vec<_>>()
    );
    put(&j, &event(100));
    assert_eq!(take(&j, "stdout", 1), vec![event(100)]);
    assert_eq!(j.dropped("stdout") + j.dropped("exec"), 0);
}

#[test]
fn segments_roll_and_leave_once_every_output_is_past_them() {
    let tmp = TempDir::new("roll");
    let dir = tmp.join("j");
    let (j, _) = Journal::open(&dir, &["a", "b"], small(8192, 1 << 20)).unwrap();
    let payload = vec![b'x'; 800];
    for _ in 0..100 {
        put(&j, &payload);
    }
    eventually("ten segments", || segments(&dir).len() >= 9);
    assert_eq!(take(&j, "a", 100).len(), 100);
    // "b" has taken nothing yet, so every segment stays.
    assert!(segments(&dir).len() >= 9);
    assert_eq!(take(&j, "b", 100).len(), 100);
    eventually("only the newest segment stays", || {
        segments(&dir).len() == 1
    });
    assert!(j.size_bytes() <= 8192 + 816);
}

#[test]
fn over_its_limit_the_journal_drops_the_oldest_and_counts_per_output() {
    let tmp = TempDir::new("limit");
    let dir = tmp.join("j");
    let (j, _) = Journal::open(&dir, &["stdout", "forward"], small(16 << 10, 64 << 10)).unwrap();
    for i in 0..200 {
        let mut payload = event(i);
        payload.resize(800, b' ');
        put(&j, &payload);
        if i == 9 {
            assert_eq!(take(&j, "stdout", 10).len(), 10);
        }
    }
    settle(&j);
    let kept: Vec<_> = take(&j, "forward", 300);
    assert!(j.size_bytes() <= 64 << 10);
    let dropped = j.dropped("forward");
    assert!(dropped > 0);
    assert_eq!(kept.len() as u64 + dropped, 200);
    // What is kept is the newest, in order.
    let first = 200 - kept.len() as u64;
    for (k, bytes) in kept.iter().enumerate() {
        assert!(bytes.starts_with(&event(first + k as u64)));
    }
    // stdout had taken 10 before the drops: those are not counted against it.
    assert_eq!(j.dropped("stdout"), dropped - 10);
    assert_eq!(take(&j, "stdout", 300).len(), kept.len());
}

/// Writes three records, closes, and returns the segment and where the last record starts.
fn three_records(dir: &Path) -> (PathBuf, u64) {
    let (j, _) = Journal::open(dir, &["stdout"], opts()).unwrap();
    for i in 0..3 {
        put(&j, &event(i));
    }
    drop(j);
    let seg = segments(dir).pop().unwrap();
    let len = fs::metadata(&seg).unwrap().len();
    (seg, len - HEADER - event(2).len() as u64)
}

#[test]
fn a_torn_tail_is_cut_at_every_byte_offset_of_the_last_record() {
    let tmp = TempDir::new("torn");
    let record = HEADER + event(2).len() as u64;
    for cut in 1..record {
        // Past the high-water mark (the crash came before it was written): a torn tail, not a
        // loss; below it (the record had been synced): a loss, counted.
        for synced in [false, true] {
            let dir = tmp.join(&format!("j{cut}-{synced}"));
            let (seg, last) = three_records(&dir);
            let file = fs::OpenOptions::new().write(true).open(&seg).unwrap();
            file.set_len(last + cut).unwrap();
            if !synced {
                fs::write(dir.join("seq"), format::encode_slot(2, 0)).unwrap();
            }
            let (j, report) = Journal::open(&dir, &["stdout"], opts()).unwrap();
            assert_eq!(report.torn_bytes, cut, "cut at {cut}");
            assert_eq!(fs::metadata(&seg).unwrap().len(), last);
            put(&j, b"after");
            let got = take(&j, "stdout", 10);
            assert_eq!(
                got,
                vec![event(0), event(1), b"after".to_vec()],
                "cut at {cut}"
            );
            assert_eq!(j.dropped("stdout"), u64::from(synced), "cut at {cut}");
        }
    }
}

#[test]
fn a_bad_checksum_or_length_costs_that_record_alone() {
    let tmp = TempDir::new("crc");
    let first_len = HEADER + event(0).len() as u64;
    // A flipped payload byte of the last record, a flipped length byte of the last record, and
    // a flipped byte in the middle record: the record is lost, counted; the rest arrives.
    for (name, at, kept) in [
        ("payload", None, [0, 1]),
        ("length", Some(0), [0, 1]),
        ("mid", Some(1), [0, 2]),
    ] {
        let dir = tmp.join(name);
        let (seg, last) = three_records(&dir);
        let mut bytes = fs::read(&seg).unwrap();
        let offset = match at {
            None => bytes.len() - 3,
            Some(0) => last as usize + 2, // a high byte of the length
            Some(_) => first_len as usize + 20,
        };
        bytes[offset] ^= 0x40;
        fs::write(&seg, &bytes).unwrap();
        let (j, _) = Journal::open(&dir, &["stdout"], opts()).unwrap();
        let got = take(&j, "stdout", 10);
        assert_eq!(got, kept.map(event).to_vec(), "{name}");
        assert_eq!(j.dropped("stdout"), 1, "{name}");
    }
}

#[test]
fn nothing_is_visible_before_it_is_synced() {
    let tmp = TempDir::new("durable");
    let slow = JournalOptions {
        commit_interval: Duration::from_secs(2),
        ..JournalOptions::default()
    };
    let (j, _) = Journal::open(&tmp.join("j"), &["stdout"], slow).unwrap();
    put(&j, b"a");
    let a = j.next("stdout", soon()).unwrap();
    assert_eq!(a.bytes, b"a");
    let synced = j.sync_stats();
    assert!(synced.fsyncs >= 1);
    // The next commit waits for the interval: until then, "b" is written but not visible.
    put(&j, b"b");
    let early = j.next("stdout", Instant::now() + Duration::from_millis(100));
    assert_eq!(early, None);
    let b = j.next("stdout", soon()).unwrap();
    assert_eq!(b.bytes, b"b");
    assert!(j.sync_stats().commits > synced.commits);
}

#[test]
fn close_wakes_a_waiting_reader() {
    let tmp = TempDir::new("close");
    let (j, _) = Journal::open(&tmp.join("j"), &["stdout"], opts()).unwrap();
    let j = std::sync::Arc::new(j);
    let reader = std::thread::spawn({
        let j = std::sync::Arc::clone(&j);
        move || j.next("stdout", Instant::now() + Duration::from_secs(30))
    });
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    j.close();
    assert_eq!(reader.join().unwrap(), None);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(
        j.append(b"late").unwrap_err().to_string(),
        "the journal is closed"
    );
}

#[test]
fn a_second_process_is_refused_naming_the_lock() {
    let tmp = TempDir::new("lock");
    let dir = tmp.join("j");
    let (j, _) = Journal::open(&dir, &["stdout"], opts()).unwrap();
    let err = Journal::open(&dir, &["stdout"], opts()).unwrap_err();
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&dir.join("lock").display().to_string()),
        "{err}"
    );
    drop(j);
    Journal::open(&dir, &["stdout"], opts()).unwrap();
}

#[test]
fn a_foreign_directory_or_a_file_is_refused_and_left_untouched() {
    let tmp = TempDir::new("foreign");
    let dir = tmp.join("notes");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(dir.join("notes.txt"), "mine").unwrap();
    let err = Journal::open(&dir, &["stdout"], opts()).unwrap_err();
    assert!(
        err.to_string().contains("is not part of a zoom-ws journal"),
        "{err}"
    );
    assert!(err.to_string().contains("notes.txt"), "{err}");
    let names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["notes.txt"]);
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(fs::read(dir.join("notes.txt")).unwrap(), b"mine");

    let file = tmp.join("spool.txt");
    fs::write(&file, "line\n").unwrap();
    let err = Journal::open(&file, &["stdout"], opts()).unwrap_err();
    assert!(
        err.to_string()
            .contains("is an existing file, not a directory"),
        "{err}"
    );
    assert!(err.to_string().contains("spool.txt"), "{err}");
    assert_eq!(fs::read(&file).unwrap(), b"line\n");
}

#[test]
fn a_directory_of_another_user_is_refused_and_left_untouched() {
    let tmp = TempDir::new("owner");
    let dir = tmp.join("theirs");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    if let Err(e) = std::os::unix::fs::chown(&dir, Some(65534), Some(65534)) {
        println!("skipped: cannot give a directory to another user ({e})");
        return;
    }
    let err = Journal::open(&dir, &["stdout"], opts()).unwrap_err();
    assert!(err.to_string().contains("belongs to another user"), "{err}");
    assert!(err.to_string().contains("theirs"), "{err}");
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o777
    );
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn a_symlink_planted_in_the_journal_is_refused_and_not_followed() {
    let tmp = TempDir::new("symlink");
    let target = tmp.join("victim");
    fs::write(&target, "precious").unwrap();
    let target_mode = fs::metadata(&target).unwrap().permissions().mode();
    for name in ["seg-00000000000000000005.log", "cursor-stdout", "lock"] {
        let dir = tmp.join(&format!("j-{name}"));
        drop(Journal::open(&dir, &["stdout"], opts()).unwrap());
        let planted = dir.join(name);
        let _ = fs::remove_file(&planted);
        symlink(&target, &planted).unwrap();
        let err = Journal::open(&dir, &["stdout"], opts()).unwrap_err();
        assert!(
            err.to_string().contains("is a symbolic link"),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"precious", "{name}");
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode(),
            target_mode
        );
    }
    // The open itself refuses a link too (a link planted after the directory was checked).
    let planted = tmp.join("link");
    symlink(&target, &planted).unwrap();
    let err = super::dir::open_file(&planted, true).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
}

#[test]
fn a_spool_path_that_is_a_symlink_is_refused_and_its_target_left_alone() {
    let tmp = TempDir::new("linkdir");
    let target = tmp.join("target");
    fs::create_dir(&target).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o755)).unwrap();
    let link = tmp.join("link");
    symlink(&target, &link).unwrap();
    let err = Journal::open(&link, &["stdout"], opts()).unwrap_err();
    assert!(err.to_string().contains("is a symbolic link"), "{err}");
    let mode = fs::metadata(&target).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o755);
    assert_eq!(fs::read_dir(&target).unwrap().count(), 0);
}

#[test]
fn the_directory_is_0700_and_its_files_0600_under_umask_022() {
    // SAFETY: umask only changes the mode of files created from now on; 022 is the usual one.
    let old = unsafe { libc::umask(0o022) };
    let tmp = TempDir::new("modes");
    let dir = tmp.join("a/b/j");
    let (j, _) = Journal::open(&dir, &["stdout", "exec"], small(4096, 1 << 20)).unwrap();
    for _ in 0..20 {
        j.append(&[b'x'; 500]).unwrap();
    }
    take(&j, "stdout", 5);
    drop(j);
    let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&dir), 0o700);
    let files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    // An empty directory of the user's becomes private too.
    let empty = tmp.join("empty");
    fs::create_dir(&empty).unwrap();
    fs::set_permissions(&empty, fs::Permissions::from_mode(0o755)).unwrap();
    drop(Journal::open(&empty, &["stdout"], opts()).unwrap());
    assert_eq!(mode(&empty), 0o700);
    unsafe { libc::umask(old) };
}

fn vm_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn reading_a_large_journal_keeps_memory_flat() {
    let tmp = TempDir::new("rss");
    let dir = tmp.join("j");
    let payload = vec![b'e'; 800];
    {
        let (j, _) = Journal::open(&dir, &["stdout"], opts()).unwrap();
        for _ in 0..200_000 {
            put(&j, &payload);
        }
    }
    let before = vm_rss_kib();
    let (j, report) = Journal::open(&dir, &["stdout"], opts()).unwrap();
    assert_eq!(report.waiting[0].1, 200_000);
    let mut n = 0;
    while let Some(r) = j.next("stdout", Instant::now() + Duration::from_millis(500)) {
        assert_eq!(r.bytes.len(), 800);
        j.ack("stdout", r.seq);
        n += 1;
    }
    let after = vm_rss_kib();
    assert_eq!(n, 200_000);
    // 160 MB went through; the process grew by far less (other tests run beside this one).
    let grown = after.saturating_sub(before);
    println!("VmRSS {before} KiB before reading 160 MB of journal, {after} KiB after");
    assert!(grown < 32 * 1024, "grew by {grown} KiB");
}

#[test]
fn damage_in_an_older_segment_costs_the_damaged_record_alone() {
    let tmp = TempDir::new("olddamage");
    let dir = tmp.join("j");
    let payload = |i: u64| {
        let mut e = event(i);
        e.resize(500, b' ');
        e
    };
    {
        let (j, _) = Journal::open(&dir, &["stdout"], small(4096, 1 << 20)).unwrap();
        for i in 0..40 {
            put(&j, &payload(i));
        }
    }
    let segs = segments(&dir);
    assert!(segs.len() >= 4, "{segs:?}");
    let mut bytes = fs::read(&segs[0]).unwrap();
    bytes[2 * 516 + 100] ^= 1; // in the third record's payload
    fs::write(&segs[0], &bytes).unwrap();
    let (j, report) = Journal::open(&dir, &["stdout"], small(4096, 1 << 20)).unwrap();
    assert_eq!(report.torn_bytes, 0);
    let got = take(&j, "stdout", 100);
    assert_eq!(j.dropped("stdout"), 1, "that record alone");
    let rest: Vec<_> = (0..40).filter(|&i| i != 2).map(payload).collect();
    assert_eq!(got, rest);
}

#[test]
fn a_torn_cursor_slot_falls_back_to_the_previous_position() {
    let tmp = TempDir::new("cursor");
    let dir = tmp.join("j");
    {
        let (j, _) = Journal::open(&dir, &["stdout"], opts()).unwrap();
        for i in 0..10 {
            put(&j, &event(i));
        }
        assert_eq!(take(&j, "stdout", 5).len(), 5);
    }
    let cursor = dir.join("cursor-stdout");
    let mut bytes = fs::read(&cursor).unwrap();
    assert_eq!(bytes.len(), format::SLOTS_LEN);
    let newest = format::decode_slots(&bytes).unwrap();
    assert_eq!((newest.1, newest.2), (5, 0));
    bytes[format::slot_offset(newest.0) as usize + 6] ^= 0xFF;
    fs::write(&cursor, &bytes).unwrap();
    // The other slot holds an earlier position (how much earlier depends on the commits).
    let previous = format::decode_slots(&bytes).unwrap().1;
    assert!(previous < 5);
    let (j, report) = Journal::open(&dir, &["stdout"], opts()).unwrap();
    assert_eq!(report.waiting, vec![("stdout".into(), 10 - previous)]);
    assert_eq!(
        take(&j, "stdout", 100),
        (previous..10).map(event).collect::<Vec<_>>()
    );
}

#[test]
fn the_journal_and_the_feeds_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Journal>();
    shared::<JournalError>();
    shared::<super::super::feed::Feed>();
    shared::<super::super::feed::Fanout>();
}
