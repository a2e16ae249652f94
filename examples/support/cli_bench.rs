//! `bench --cli`: zoom-ws through its command line against the naive blocking client that
//! prints every event (`println!`), on the same flood from the mock, in one run, each in a
//! fresh process timed from spawn to exit: stdout to a file and to /dev/null, zoom-ws with and
//! without `--spool`. Then a burst into `--exec` and into `--forward`.
//!
//! Lossless or no figure: every run must exit 0 and every event must be counted at the output
//! (the lines of the file; zoom-ws's summary for /dev/null; the command's file; the receiver's
//! posts), else the bench panics without printing a ratio.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use super::{realistic_event, stats};
use zoom_ws::testing::{Action, MockZoom, Plan, message_frame, text_frame};

/// What each round runs: (label, zoom-ws with `--spool`?).
const RUNS: [(&str, Option<bool>); 3] = [
    ("naive (println!)", None),
    ("zoom-ws", Some(false)),
    ("zoom-ws --spool", Some(true)),
];

pub fn main(args: Vec<String>) {
    let mut events = 200_000usize;
    let mut rounds = 3usize;
    let exe = std::env::current_exe().expect("current exe");
    let mut bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("zoom-ws");
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value");
        match arg.as_str() {
            "--events" => events = value().parse().expect("--events N"),
            "--rounds" => rounds = value().parse().expect("--rounds N"),
            "--bin" => bin = PathBuf::from(value()),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(
        bin.exists(),
        "{} is missing: cargo build --release -p zoom-ws-cli",
        bin.display()
    );
    let frame = text_frame(&message_frame(&realistic_event()));
    let zoom = MockZoom::start().expect("mock Zoom on 127.0.0.1");
    zoom.set_default_plan(Plan::new().then(Action::Repeat(Arc::new(frame.clone()), events)));
    let dir = std::env::temp_dir().join(format!("zoom-ws-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    println!(
        "flood: {events} frames of {} bytes, {rounds} rounds, zoom-ws {}",
        frame.len(),
        bin.display()
    );
    for target in ["file", "/dev/null"] {
        let mut secs = vec![Vec::new(); RUNS.len()];
        for _ in 0..rounds {
            for (i, (_, spool)) in RUNS.iter().enumerate() {
                secs[i].push(timed(&exe, &bin, &zoom, &dir, *spool, target, events));
            }
        }
        println!("\nstdout to {target}:");
        for (i, (label, _)) in RUNS.iter().enumerate() {
            let eps: Vec<f64> = secs[i].iter().map(|s| events as f64 / s).collect();
            let (med, min, max) = stats(&eps);
            let ratio: Vec<f64> = (0..rounds).map(|k| secs[0][k] / secs[i][k]).collect();
            let (r, rmin, rmax) = stats(&ratio);
            println!(
                "  {label:<18} {:>6.0}k events/s ({:.0}k-{:.0}k)   x naive {r:.2} ({rmin:.2}-{rmax:.2})",
                med / 1e3,
                min / 1e3,
                max / 1e3
            );
        }
    }
    burst(&bin, &dir, 3_000);
    std::fs::remove_dir_all(&dir).ok();
}

/// One run, checked: its wall time in seconds.
fn timed(
    exe: &Path,
    bin: &Path,
    zoom: &MockZoom,
    dir: &Path,
    spool: Option<bool>,
    target: &str,
    n: usize,
) -> f64 {
    let out_path = dir.join("out.jsonl");
    let out = match target {
        "file" => std::fs::File::create(&out_path).expect("out file"),
        _ => std::fs::File::create("/dev/null").expect("/dev/null"),
    };
    let mut cmd = match spool {
        None => {
            let mut cmd = Command::new(exe);
            cmd.args([
                "--child",
                "p",
                &zoom.oauth_url(),
                &zoom.ws_url(),
                &n.to_string(),
            ]);
            cmd
        }
        Some(spool) => {
            let mut cmd = cli(bin, zoom);
            cmd.args(["--max-events", &n.to_string(), "--grace", "600"]);
            if spool {
                std::fs::remove_dir_all(dir.join("spool")).ok();
                cmd.arg("--spool").arg(dir.join("spool"));
            }
            cmd
        }
    };
    let started = Instant::now();
    let output = cmd
        .stdout(out)
        .stderr(Stdio::piped())
        .output()
        .expect("run");
    let took = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{cmd:?} failed ({}):\n{stderr}",
        output.status
    );
    if target == "file" {
        let lines = BufReader::new(std::fs::File::open(&out_path).expect("out"))
            .lines()
            .count();
        assert_eq!(lines, n, "{cmd:?}: {lines} of {n} lines");
    }
    if spool.is_some() {
        let summary = format!("summary stdout: {n} delivered, 0 failed, 0 retries, 0 dropped");
        assert!(
            stderr.contains(&summary),
            "{cmd:?}: no {summary:?} in\n{stderr}"
        );
    }
    took
}

/// zoom-ws against `zoom`, with nothing but the settings it needs.
fn cli(bin: &Path, zoom: &MockZoom) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .env("ZOOM_CLIENT_ID", "bench-id")
        .env("ZOOM_CLIENT_SECRET", "bench-secret")
        .env("ZOOM_SUBSCRIPTION_ID", "bench-sub")
        .env("ZOOM_OAUTH_URL", zoom.oauth_url())
        .env("ZOOM_WS_URL", zoom.ws_url())
        .env("ZOOM_HEARTBEAT_INTERVAL", "1")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null());
    cmd
}

/// `n` events at once into `--exec` and into `--forward`: all delivered, exit 0; prints the
/// time and the longest gap between heartbeats (1 s interval) the mock saw.
fn burst(bin: &Path, dir: &Path, n: usize) {
    println!("\nburst of {n} events:");
    let frame = text_frame(&message_frame(&realistic_event()));
    let (url, posts) = receiver();
    let log = dir.join("exec.log");
    let runs: [(&str, Vec<String>); 2] = [
        (
            "--exec",
            vec!["--exec".into(), format!("cat >> {}", log.display())],
        ),
        ("--forward", vec!["--forward".into(), url]),
    ];
    for (label, args) in runs {
        let zoom = MockZoom::start().expect("mock Zoom on 127.0.0.1");
        zoom.set_default_plan(Plan::new().then(Action::Repeat(Arc::new(frame.clone()), n)));
        let started = Instant::now();
        let child = cli(bin, &zoom)
            .args(["--quiet", "--grace", "600"])
            .args(&args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        let delivered = || match label {
            "--exec" => std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()),
            _ => posts.load(Ordering::SeqCst),
        };
        while delivered() < n && started.elapsed().as_secs() < 600 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let took = started.elapsed().as_secs_f64();
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{label} failed:\n{stderr}");
        let got = delivered();
        assert_eq!(got, n, "{label}: {got} of {n} delivered\n{stderr}");
        let beats = zoom.heartbeats();
        let gap = beats
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default();
        println!(
            "  {label:<10} {n} of {n} delivered in {took:.2} s ({:.0}/s), {} heartbeats, longest gap {:?}",
            n as f64 / took,
            beats.len(),
            gap
        );
    }
}

/// A webhook receiver on 127.0.0.1 answering 200 to every post; counts them.
fn receiver() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let posts = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&posts);
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let count = Arc::clone(&count);
            std::thread::spawn(move || serve(conn, &count));
        }
    });
    (url, posts)
}

fn serve(conn: std::net::TcpStream, count: &AtomicUsize) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut conn = conn;
    loop {
        let mut length = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        count.fetch_add(1, Ordering::SeqCst);
        let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
        if conn.write_all(ok).is_err() {
            return;
        }
    }
}
