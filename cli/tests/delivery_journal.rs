//! The journal (`--spool DIR`) through the real CLI: kill -9 at random moments loses nothing it
//! took, a torn tail is cut and said, a full disk drops the oldest and says so (exit 4), and
//! the directory is safe: modes, links, a lock, nothing foreign touched.

mod mock;
mod receiver;
mod run;

use std::fs::{self, OpenOptions};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use mock::{Action, MockZoom, Plan, event_json, watchdog};
use receiver::{Mode, Receiver};
use run::{TempDir, assert_heartbeats_on_time, cli_in, journal_files, seqs, start};

/// Removes events given again after a kill: positions are synced in groups (every few ms), so
/// a run may start over at an event a killed one had delivered (at-least-once). A repeat is
/// never an event not seen before.
fn without_adjacent_repeats(seqs: &[u64]) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for &s in seqs {
        match out.last() {
            Some(&last) if s <= last => {
                assert!(out.binary_search(&s).is_ok(), "{s} out of order: {seqs:?}");
            }
            _ => out.push(s),
        }
    }
    out
}

/// Of each run's events (`run * 1000 ..`), those delivered must be a prefix: an event may be
/// missing only because the kill came before the CLI read it, and then so are all after it.
fn assert_prefix_per_run(name: &str, delivered: &[u64], runs: u64) {
    let once = without_adjacent_repeats(delivered);
    assert!(
        once.windows(2).all(|w| w[0] < w[1]),
        "{name} out of order: {delivered:?}"
    );
    for run in 0..runs {
        let of_run: Vec<u64> = once.iter().copied().filter(|s| s / 1000 == run).collect();
        let expected: Vec<u64> = (run * 1000..run * 1000 + of_run.len() as u64).collect();
        assert_eq!(of_run, expected, "{name}: a hole in run {run}'s events");
    }
}

#[test]
fn kill_9_at_random_moments_loses_nothing_the_journal_took() {
    const RUNS: u64 = 20;
    let _guard = watchdog(240);
    let dir = TempDir::new();
    let receiver = Receiver::start(None);
    receiver.set(Mode::Down);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    println!("seed {seed}");
    let mut rng = seed | 1;
    let mut random_ms = |max: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % max
    };
    let stdout_path = dir.join("stdout.log");
    let run = |mock: &MockZoom| {
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stdout_path)
            .unwrap();
        let mut cmd = cli_in(mock, &dir);
        cmd.stdout(Stdio::from(out)).args([
            "--spool",
            "journal",
            "--exec",
            "cat >> exec.log",
            "--forward",
            &receiver.url(),
        ]);
        start(&mut cmd)
    };
    let mut took = 0;
    for i in 0..RUNS {
        // Down for the first half, then up.
        if i == RUNS / 2 {
            receiver.set(Mode::Up);
        }
        let mock = MockZoom::start();
        let first = (i * 1000) as usize;
        mock.plan(Plan::new().then(Action::Paced(first, 60, Duration::from_millis(4))));
        let mut running = run(&mock);
        thread::sleep(Duration::from_millis(30 + random_ms(400)));
        running.child.kill().unwrap();
        let finished = running.wait(10.0);
        assert!(
            finished.status.code().is_none(),
            "killed: {}",
            finished.stderr
        );
        took += 1;
        // A command the kill orphaned finishes before the next run starts.
        thread::sleep(Duration::from_millis(30));
    }
    // A last run with nothing new delivers what the journal still holds, then stops.
    let mock = MockZoom::start();
    mock.plan(Plan::new());
    let running = run(&mock);
    thread::sleep(Duration::from_millis(1500));
    let finished = running.signal(libc::SIGTERM, 20.0);
    finished.assert_exit(0);
    for name in ["stdout", "exec", "forward"] {
        let line = finished
            .stderr
            .lines()
            .find(|l| l.contains(&format!("summary {name}:")))
            .unwrap_or_else(|| panic!("no summary for {name}: {}", finished.stderr));
        assert!(
            line.ends_with("0 kept in the journal, 0 lost at exit"),
            "{line}"
        );
    }
    assert_eq!(took, RUNS);

    let stdout = fs::read_to_string(&stdout_path).unwrap();
    let exec = fs::read_to_string(dir.join("exec.log")).unwrap_or_default();
    let forward: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    let outputs = [
        ("stdout", seqs(stdout.lines())),
        ("exec", seqs(exec.lines())),
        ("forward", seqs(forward.iter().map(String::as_str))),
    ];
    for (name, delivered) in &outputs {
        assert_prefix_per_run(name, delivered, RUNS);
    }
    // Every output got the same events: all the journal took.
    let sets: Vec<Vec<u64>> = outputs
        .iter()
        .map(|(_, d)| without_adjacent_repeats(d))
        .collect();
    assert_eq!(sets[0], sets[1], "stdout and exec");
    assert_eq!(sets[0], sets[2], "stdout and forward");
    assert!(
        sets[0].len() > 20,
        "only {} events taken in {RUNS} runs",
        sets[0].len()
    );
    let twice: Vec<usize> = outputs
        .iter()
        .map(|(_, d)| d.len() - sets[0].len())
        .collect();
    println!(
        "{} events taken over {RUNS} kills; given twice (stdout, exec, forward): {twice:?}",
        sets[0].len()
    );
}

/// The receiver is down, `--max-events` ends a run with everything kept in the journal.
fn keep_in_journal(dir: &TempDir, receiver: &Receiver, first: usize, n: usize) {
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(first, n));
    let mut cmd = cli_in(&mock, dir);
    let max = n.to_string();
    cmd.args([
        "--quiet",
        "--spool",
        "journal",
        "--max-events",
        &max,
        "--forward",
    ])
    .arg(receiver.url());
    let finished = start(&mut cmd).wait(20.0);
    finished.assert_exit(0);
    finished.assert_log(&format!(
        "0 dropped, {n} kept in the journal, 0 lost at exit"
    ));
}

/// The receiver is up again: a run with the journal delivers `n` events to it, then is stopped.
fn forward_from_journal(dir: &TempDir, receiver: &Receiver, n: usize) -> run::Finished {
    receiver.set(Mode::Up);
    let mock = MockZoom::start();
    mock.plan(Plan::new());
    let mut cmd = cli_in(&mock, dir);
    cmd.args(["--quiet", "--spool", "journal", "--forward"])
        .arg(receiver.url());
    let running = start(&mut cmd);
    receiver.wait_for(n, 20.0);
    thread::sleep(Duration::from_millis(300));
    running.signal(libc::SIGTERM, 10.0)
}

#[test]
fn a_torn_tail_is_cut_and_said_and_every_event_before_it_is_delivered() {
    let _guard = watchdog(60);
    let dir = TempDir::new();
    let receiver = Receiver::start(None);
    receiver.set(Mode::Down);
    keep_in_journal(&dir, &receiver, 0, 10);
    let journal = dir.join("journal");
    let segment = journal_files(&journal)
        .into_iter()
        .rfind(|n| n.starts_with("seg-"))
        .unwrap();
    // Cut the last record in the middle, as a crash during its write would (before the
    // high-water mark covered it: a record cut after that is a loss, counted).
    fs::remove_file(journal.join("seq")).unwrap();
    let path = journal.join(&segment);
    let len = fs::metadata(&path).unwrap().len();
    let cut_at = len - event_json(9).len() as u64 / 2;
    fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(cut_at)
        .unwrap();

    let finished = forward_from_journal(&dir, &receiver, 9);
    finished.assert_exit(0);
    // A record: 16 bytes of header (length, checksum, sequence number), then the packed event
    // (the line, its newline, and 30 bytes of name, event_ts and lengths: see `feed::Item`).
    let record = 16 + event_json(9).len() as u64 + 31;
    let torn = cut_at - (len - record);
    finished.assert_log(&format!("ends in {torn} bytes that are not a whole record"));
    let bodies: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    let expected: Vec<String> = (0..9).map(event_json).collect();
    assert_eq!(
        bodies, expected,
        "every event before the torn one, once, in order"
    );
}

#[test]
fn a_damaged_record_is_lost_alone_named_counted_and_exits_4() {
    let _guard = watchdog(60);
    let dir = TempDir::new();
    let receiver = Receiver::start(None);
    receiver.set(Mode::Down);
    keep_in_journal(&dir, &receiver, 0, 10);
    let journal = dir.join("journal");
    let segment = journal_files(&journal)
        .into_iter()
        .rfind(|n| n.starts_with("seg-"))
        .unwrap();
    // One flipped byte in the payload of the fifth record, in the middle of the newest segment.
    let path = journal.join(&segment);
    let mut bytes = fs::read(&path).unwrap();
    let record = 16 + event_json(0).len() + 31; // header, packed event (see above)
    bytes[4 * record + 16 + 10] ^= 0x20;
    fs::write(&path, &bytes).unwrap();

    let finished = forward_from_journal(&dir, &receiver, 9);
    finished.assert_exit(4);
    finished.assert_log(&format!("is damaged at byte {}", 4 * record));
    finished.assert_log("forward: lost 1 events (4 to 4)");
    let bodies: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    let expected: Vec<String> = (0..10).filter(|&i| i != 4).map(event_json).collect();
    assert_eq!(bodies, expected, "every other event, once, in order");
}

#[test]
fn a_run_without_an_output_keeps_its_events_for_it() {
    let _guard = watchdog(60);
    let dir = TempDir::new();
    let receiver = Receiver::start(None);
    receiver.set(Mode::Down);
    keep_in_journal(&dir, &receiver, 0, 5);
    // stdout only: forward's five events stay, and the start says so.
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(5, 2));
    let mut cmd = cli_in(&mock, &dir);
    cmd.args(["--spool", "journal", "--max-events", "2"]);
    let finished = start(cmd.stdout(Stdio::piped())).wait(20.0);
    finished.assert_exit(0);
    finished
        .assert_log("the journal holds 5 events for forward, which is not an output of this run");
    // Then forward runs again and gets all seven, in order.
    forward_from_journal(&dir, &receiver, 7).assert_exit(0);
    let bodies: Vec<String> = receiver.received().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, (0..7).map(event_json).collect::<Vec<_>>());
}

/// Mounts a small tmpfs; unmounted (and removed) when dropped.
struct Tmpfs(TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = TempDir::new();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir.0)
            .stderr(Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => Some(Tmpfs(dir)),
            _ => None,
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0.0).status();
    }
}

#[test]
fn a_full_disk_drops_the_oldest_counted_and_exits_4() {
    let _guard = watchdog(120);
    let Some(disk) = Tmpfs::mount("1m") else {
        println!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let receiver = Receiver::start(None);
    receiver.set(Mode::Down);
    let mock = MockZoom::start();
    // About 2.4 MB of events for a 1 MiB disk.
    mock.plan(Plan::new().events(0, 3000));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.args([
        "--quiet",
        "--spool-max",
        "64M",
        "--max-events",
        "3000",
        "--forward",
    ])
    .arg(receiver.url())
    .arg("--spool")
    .arg(disk.0.join("journal"));
    let finished = start(&mut cmd).wait(60.0);
    finished.assert_exit(4);
    finished.assert_log("dropped its oldest");
    let line = finished
        .stderr
        .lines()
        .find(|l| l.contains("summary forward:"))
        .unwrap()
        .to_string();
    let figure = |after: &str| -> u64 {
        let at = line.find(after).unwrap();
        line[..at]
            .split_whitespace()
            .last()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (dropped, kept) = (figure(" dropped"), figure(" kept in the journal"));
    // The one the worker held when its segment was dropped is lost at exit.
    let lost = figure(" lost at exit");
    assert!(dropped > 0, "{line}");
    assert_eq!(
        dropped + kept + lost,
        3000,
        "every event counted once: {line}"
    );
}

#[test]
fn a_second_instance_on_one_journal_exits_2_at_once_naming_the_lock() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let dir = TempDir::new();
    let first = start(
        cli_in(&mock, &dir)
            .args(["--spool", "journal"])
            .stdout(Stdio::null()),
    );
    let until = Instant::now() + Duration::from_secs(10);
    while !dir.join("journal").join("lock").exists() {
        assert!(Instant::now() < until, "no lock");
        thread::sleep(Duration::from_millis(10));
    }
    let asked = Instant::now();
    let second = start(
        cli_in(&mock, &dir)
            .args(["--spool", "journal"])
            .stdout(Stdio::null()),
    )
    .wait(10.0);
    assert!(asked.elapsed() < Duration::from_secs(2));
    second.assert_exit(2);
    second.assert_log("is in use by another process (it holds the lock");
    second.assert_log("journal/lock");
    first.signal(libc::SIGTERM, 10.0).assert_exit(0);
}

#[test]
fn a_file_or_a_foreign_directory_is_refused_and_left_untouched() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let dir = TempDir::new();
    fs::write(dir.join("notes.txt"), "my notes\n").unwrap();
    let finished = start(cli_in(&mock, &dir).args(["--spool", "notes.txt"])).wait(10.0);
    finished.assert_exit(2);
    finished.assert_log("is an existing file, not a directory");
    assert_eq!(
        fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "my notes\n"
    );

    fs::create_dir(dir.join("photos")).unwrap();
    fs::write(dir.join("photos").join("cat.jpg"), "jpeg").unwrap();
    let mut cmd = cli_in(&mock, &dir);
    let finished = start(cmd.env("ZOOM_SPOOL_DIR", "photos")).wait(10.0);
    finished.assert_exit(2);
    finished.assert_log("is not part of a zoom-ws journal");
    assert_eq!(journal_files(&dir.join("photos")), ["cat.jpg"]);
    assert_eq!(mock.connections(), 0, "refused before connecting");
}

#[test]
fn a_symlink_planted_in_the_journal_is_refused_and_never_followed() {
    let _guard = watchdog(60);
    let dir = TempDir::new();
    let receiver = Receiver::start(None);
    receiver.set(Mode::Down);
    keep_in_journal(&dir, &receiver, 0, 3);
    let journal = dir.join("journal");
    let victim = dir.join("victim.txt");
    fs::write(&victim, "precious\n").unwrap();
    for name in ["cursor-forward", "lock"] {
        let planted = journal.join(name);
        let saved = dir.join("saved");
        fs::rename(&planted, &saved).unwrap();
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let mock = MockZoom::start();
        let mut cmd = cli_in(&mock, &dir);
        cmd.args([
            "--quiet",
            "--spool",
            "journal",
            "--forward",
            &receiver.url(),
        ]);
        let finished = start(&mut cmd).wait(10.0);
        finished.assert_exit(2);
        finished.assert_log("is a symbolic link or not a regular file");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        fs::remove_file(&planted).unwrap();
        fs::rename(&saved, &planted).unwrap();
    }
    // --spool naming a link to the journal: refused too, the target's mode left alone.
    fs::set_permissions(&journal, fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink(&journal, dir.join("link")).unwrap();
    let mock = MockZoom::start();
    let finished = start(cli_in(&mock, &dir).args([
        "--quiet",
        "--spool",
        "link",
        "--forward",
        &receiver.url(),
    ]))
    .wait(10.0);
    finished.assert_exit(2);
    finished.assert_log("is a symbolic link or not a regular file");
    assert_eq!(
        fs::metadata(&journal).unwrap().permissions().mode() & 0o777,
        0o750
    );
    // --spool-forget without a journal is a usage error too.
    let finished = start(cli_in(&mock, &dir).args(["--spool-forget", "exec"])).wait(10.0);
    finished.assert_exit(2);
    finished.assert_log("--spool-forget needs a journal");
    // Put back, the journal still holds its three events.
    receiver.set(Mode::Up);
    let mock = MockZoom::start();
    let mut cmd = cli_in(&mock, &dir);
    cmd.args([
        "--quiet",
        "--spool",
        "journal",
        "--forward",
        &receiver.url(),
    ]);
    let running = start(&mut cmd);
    receiver.wait_for(3, 20.0);
    running.signal(libc::SIGTERM, 10.0).assert_exit(0);
}

#[test]
fn under_umask_022_the_journal_is_0700_and_its_files_0600() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 2));
    let dir = TempDir::new();
    let exe = env!("CARGO_BIN_EXE_zoom-ws");
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_SPOOL_DIR", "journal").env("ZOOM_EXE", exe);
    let mut sh = Command::new("sh");
    sh.args(["-c", "umask 022; exec \"$ZOOM_EXE\" --max-events 2"])
        .current_dir(&dir.0)
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .stdin(Stdio::null());
    let finished = start(sh.stdout(Stdio::null())).wait(20.0);
    finished.assert_exit(0);
    let journal = dir.join("journal");
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&journal), 0o700);
    let files = journal_files(&journal);
    assert!(files.iter().any(|f| f.starts_with("seg-")), "{files:?}");
    assert!(files.iter().any(|f| f == "cursor-stdout"), "{files:?}");
    for file in files {
        assert_eq!(mode(&journal.join(&file)), 0o600, "{file}");
    }
}

/// `cmd` run under strace, every `fdatasync` held for 400 ms (a disk that stalls, as an SD card
/// does under write-back pressure); `None` where strace cannot run.
fn under_stalled_fdatasync(cmd: &Command) -> Option<Command> {
    let probe = Command::new("strace")
        .args(["-o", "/dev/null", "true"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return None;
    }
    let mut traced = Command::new("strace");
    traced
        .args(["-f", "--seccomp-bpf", "-e", "trace=fdatasync"])
        .args([
            "-e",
            "inject=fdatasync:delay_enter=400000",
            "-o",
            "/dev/null",
        ])
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .env_clear()
        .current_dir(cmd.get_current_dir().unwrap());
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            traced.env(k, v);
        }
    }
    Some(traced)
}

#[test]
fn a_stalled_disk_delays_no_heartbeat_and_loses_nothing() {
    let _guard = watchdog(120);
    let mock = MockZoom::start();
    mock.plan(Plan::new().then(Action::Paced(0, 80, Duration::from_millis(40))));
    let dir = TempDir::new();
    let mut cmd = cli_in(&mock, &dir);
    cmd.env("ZOOM_HEARTBEAT_INTERVAL", "0.25").args([
        "--spool",
        "journal",
        "--max-events",
        "80",
        "--grace",
        "30",
    ]);
    let Some(mut traced) = under_stalled_fdatasync(&cmd) else {
        println!("skipped: strace is missing or cannot trace here (apt-get install -y strace)");
        return;
    };
    let finished = start(traced.stdout(Stdio::piped())).wait(90.0);
    finished.assert_exit(0);
    assert_eq!(seqs(finished.lines()), (0..80).collect::<Vec<_>>());
    let beats = mock.heartbeats();
    let gaps: Vec<_> = beats.windows(2).map(|w| w[1] - w[0]).collect();
    println!("heartbeat gaps with every fdatasync stalled 400 ms: {gaps:?}");
    assert_heartbeats_on_time(&mock, Duration::from_millis(250), 8);
}
