//! Start-up time and idle cost of the `zoom-ws` binary against the mock Zoom on 127.0.0.1.
//!
//!     cargo build --release && cargo run --release --example idle -- [--seconds 60] [--starts 20]
//!
//! 1. Start-up: spawns the CLI `--starts` times over plain `ws://` and times exec → connected (the
//!    mock has answered the WebSocket upgrade), next to exec → exit of `true` as the floor of
//!    process creation on this machine.
//! 2. Idle: one connected CLI with the default 30 s heartbeat for `--seconds`: CPU time used,
//!    resident and anonymous memory (`RssAnon`), wake-ups (voluntary context switches of every
//!    thread) per heartbeat and per minute, and how late each heartbeat arrived at the mock
//!    compared with its due time.
//!
//! `--tls`: the mock serves `wss://` and `https://`, and the CLI trusts the system's CA bundle
//! plus the test CA through `SSL_CERT_FILE` (a real bundle's worth of roots, no `ZOOM_CA_FILE`).
//! `--service`: with `--metrics-file` and `NOTIFY_SOCKET` (a datagram socket of ours, watchdog
//! 3 min as in contrib/zoom-ws.service), as a systemd unit runs it.

// The test CA and the mock's TLS identity (the rest of the file is for the tests).
#[allow(dead_code)]
#[path = "../tests/mock/net.rs"]
mod net;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use net::{test_ca_file, test_identity};
use zoom_ws::testing::MockZoom;

/// What the idle run turns on.
#[derive(Clone, Copy, Default)]
struct Extras {
    tls: bool,
    service: bool,
}

/// `--smaps FILE`: where to copy the idle process's /proc/PID/smaps before it is killed.
static SMAPS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// `--system-bundle FILE`: the bundle standing for the system's (to compare with a small one).
static SYSTEM: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn main() {
    let mut args = std::env::args().skip(1);
    let mut seconds = 60u64;
    let mut starts = 20usize;
    let mut binary = "target/release/zoom-ws".to_string();
    let mut extras = Extras::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value");
        match arg.as_str() {
            "--seconds" => seconds = value().parse().expect("--seconds N"),
            "--starts" => starts = value().parse().expect("--starts N"),
            "--bin" => binary = value(),
            "--tls" => extras.tls = true,
            "--service" => extras.service = true,
            "--smaps" => SMAPS.set(value()).expect("one --smaps"),
            "--system-bundle" => SYSTEM.set(value()).expect("one --system-bundle"),
            other => panic!("unknown argument {other}"),
        }
    }
    let binary = std::fs::canonicalize(&binary)
        .unwrap_or_else(|e| panic!("{binary}: {e}; run cargo build --release first"));
    let binary = binary.to_str().expect("path");
    if starts > 0 {
        startup(binary, starts);
    }
    idle(binary, seconds, extras);
}

fn cli(binary: &str, zoom: &MockZoom) -> Command {
    let mut cmd = Command::new(binary);
    cmd.env_clear()
        .env("ZOOM_CLIENT_ID", "idle-id")
        .env("ZOOM_CLIENT_SECRET", "idle-secret")
        .env("ZOOM_SUBSCRIPTION_ID", "idle-sub")
        .env("ZOOM_OAUTH_URL", zoom.oauth_url())
        .env("ZOOM_WS_URL", zoom.ws_url())
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn startup(binary: &str, starts: usize) {
    let zoom = MockZoom::start().expect("mock Zoom on 127.0.0.1");
    let mut connect_ms = Vec::new();
    let mut floor_ms = Vec::new();
    for _ in 0..starts {
        let t = Instant::now();
        Command::new("true").status().expect("true");
        floor_ms.push(t.elapsed().as_secs_f64() * 1e3);

        let before = zoom.connections();
        let t = Instant::now();
        let mut child = cli(binary, &zoom).spawn().expect("spawn zoom-ws");
        while zoom.connections() == before {
            assert!(t.elapsed() < Duration::from_secs(10), "no connection");
            std::thread::sleep(Duration::from_micros(50));
        }
        connect_ms.push(t.elapsed().as_secs_f64() * 1e3);
        child.kill().ok();
        child.wait().ok();
    }
    let (connect, floor) = (median(&mut connect_ms), median(&mut floor_ms));
    println!(
        "start-up, exec to connected (ws://, {starts} runs): median {connect:.2} ms \
         (min {:.2}, max {:.2}); exec to exit of `true`: {floor:.2} ms; ratio {:.1}",
        connect_ms[0],
        connect_ms[connect_ms.len() - 1],
        connect / floor
    );
}

/// utime + stime of a process, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// A field of /proc/PID/status (the main thread's view).
fn status_field(pid: u32, name: &str) -> u64 {
    task_status_field(&format!("/proc/{pid}/status"), name)
}

/// Voluntary context switches summed over every thread: each one is a wake-up after sleeping.
fn wakeups(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .filter_map(|task| task.ok())
        .map(|task| {
            let path = task.path().join("status");
            task_status_field(path.to_str().expect("path"), "voluntary_ctxt_switches")
        })
        .sum()
}

fn task_status_field(path: &str, name: &str) -> u64 {
    std::fs::read_to_string(path)
        .expect("status")
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The system's CA bundle with the test CA appended: what `SSL_CERT_FILE` points at.
fn bundle() -> std::path::PathBuf {
    let system = SYSTEM
        .get()
        .map(String::as_str)
        .into_iter()
        .chain([
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
        ])
        .find_map(|p| std::fs::read(p).ok())
        .expect("a system CA bundle");
    let mut pem = system;
    pem.extend(std::fs::read(test_ca_file()).expect("test CA"));
    let path = std::env::temp_dir().join(format!("zoom-ws-idle-bundle-{}.pem", std::process::id()));
    std::fs::write(&path, pem).expect("write the bundle");
    path
}

fn idle(binary: &str, seconds: u64, extras: Extras) {
    let zoom = if extras.tls {
        MockZoom::start_tls(test_identity())
    } else {
        MockZoom::start()
    }
    .expect("mock Zoom on 127.0.0.1");
    let mut cmd = cli(binary, &zoom);
    let dir = std::env::temp_dir().join(format!("zoom-ws-idle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    if extras.tls {
        cmd.env("SSL_CERT_FILE", bundle());
    }
    let _notify = extras.service.then(|| {
        let socket = dir.join("notify.sock");
        let listener = std::os::unix::net::UnixDatagram::bind(&socket).expect("notify socket");
        cmd.env("NOTIFY_SOCKET", &socket)
            .env("WATCHDOG_USEC", "180000000")
            .arg("--metrics-file")
            .arg(dir.join("zoom-ws.prom"));
        // Drains what the CLI sends, so its datagrams never fill the socket's buffer.
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while listener.recv(&mut buf).is_ok() {}
        })
    });
    let mut child = cmd.spawn().expect("spawn zoom-ws");
    let pid = child.id();
    let t = Instant::now();
    while zoom.connections() == 0 {
        assert!(t.elapsed() < Duration::from_secs(10), "no connection");
        std::thread::sleep(Duration::from_millis(1));
    }
    let connected = Instant::now();
    std::thread::sleep(Duration::from_millis(500));
    let (cpu0, switches0) = (cpu_ticks(pid), wakeups(pid));
    let measured_from = Instant::now();
    std::thread::sleep(Duration::from_secs(seconds));
    let (cpu1, switches1) = (cpu_ticks(pid), wakeups(pid));
    let minutes = measured_from.elapsed().as_secs_f64() / 60.0;
    let rss = status_field(pid, "VmRSS");
    let anon = status_field(pid, "RssAnon");
    let peak = status_field(pid, "VmHWM");
    if let Some(path) = SMAPS.get() {
        std::fs::copy(format!("/proc/{pid}/smaps"), path).expect("copy smaps");
    }
    child.kill().ok();
    child.wait().ok();

    let beats = zoom.heartbeats();
    let interval = 30.0;
    // Each heartbeat is due one interval after the one before (the first, after connecting).
    let mut previous = connected;
    let mut lateness_ms: Vec<f64> = Vec::new();
    for beat in &beats {
        lateness_ms.push((beat.duration_since(previous).as_secs_f64() - interval) * 1e3);
        previous = *beat;
    }
    let worst = lateness_ms.iter().cloned().fold(f64::MIN, f64::max);
    let best = lateness_ms.iter().cloned().fold(f64::MAX, f64::min);
    let ms_per_minute = (cpu1 - cpu0) as f64 * 10.0 / minutes;
    println!(
        "idle for {seconds} s: {} heartbeats; each one {best:.1} to {worst:.1} ms after its due time",
        beats.len()
    );
    let wakeups = (switches1 - switches0) as f64;
    println!(
        "idle CPU: {ms_per_minute:.2} ms per minute (clock-tick resolution 10 ms over {minutes:.1} min); \
         wake-ups: {:.1} per heartbeat, {:.1} per minute; RSS {:.2} MiB, RssAnon {:.2} MiB, \
         peak {:.2} MiB ({}{})",
        wakeups / beats.len().max(1) as f64,
        wakeups / minutes,
        rss as f64 / 1024.0,
        anon as f64 / 1024.0,
        peak as f64 / 1024.0,
        if extras.tls {
            "TLS, system bundle"
        } else {
            "ws://"
        },
        if extras.service {
            ", --metrics-file and NOTIFY_SOCKET"
        } else {
            ""
        },
    );
    std::fs::remove_dir_all(&dir).ok();
}
