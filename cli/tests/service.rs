//! Running under a service manager, through the binary against the mock: systemd's notify
//! protocol (a Unix datagram socket stands in for systemd), the Prometheus textfile, and
//! `--give-up-after` for supervisors.

mod mock;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mock::{MockZoom, Plan, cli, notified_until, signal, temp_dir, wait_exit, watchdog};

/// Notifications until exactly `want`.
fn read_until(socket: &UnixDatagram, want: &str, secs: u64) -> Vec<String> {
    notified_until(socket, want, |m| m == want, secs)
}

#[test]
fn systemd_hears_ready_status_watchdog_and_stopping() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 3));
    let dir = temp_dir();
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut child = cli(&mock)
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "600000")
        .env("ZOOM_HEARTBEAT_INTERVAL", "0.2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = read_until(&socket, "READY=1", 10);
    // Two pings: the second needs an answered heartbeat since the first.
    let mut pings = 0;
    let mut seen_more = Vec::new();
    while pings < 2 {
        let more = read_until(&socket, "WATCHDOG=1", 10);
        pings += 1;
        seen_more.extend(more);
    }
    signal(&child, libc::SIGTERM);
    let stopping = read_until(&socket, "STOPPING=1", 10);
    assert_eq!(wait_exit(&mut child, 15.0).code(), Some(0));
    let all: Vec<String> = seen.into_iter().chain(seen_more).chain(stopping).collect();
    assert!(
        all.iter().any(|m| m.starts_with("STATUS=connected 1/1")),
        "{all:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

/// Voluntary context switches (wake-ups after sleeping) of the process's thread named `name`.
fn wakeups_of(pid: u32, name: &str) -> u64 {
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap();
            let line = status
                .lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches"));
            return line
                .unwrap()
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse()
                .unwrap();
        }
    }
    panic!("no thread named {name}");
}

#[test]
#[cfg(target_os = "linux")]
fn the_idle_service_thread_sleeps_until_something_is_due() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    let dir = temp_dir();
    let path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut child = cli(&mock)
        .env("NOTIFY_SOCKET", &path)
        .env("WATCHDOG_USEC", "180000000")
        .arg("--metrics-file")
        .arg(dir.join("zoom-ws.prom"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    read_until(&socket, "READY=1", 10);
    let before = wakeups_of(child.id(), "service");
    std::thread::sleep(Duration::from_secs(4));
    let woke = wakeups_of(child.id(), "service") - before;
    // Nothing is due in these 4 s but at most one metrics file (every 10 s, two wake-ups: the
    // look and the file system); a 250 ms tick would be 16.
    assert!(woke <= 4, "the service thread woke {woke} times in 4 s");
    signal(&child, libc::SIGTERM);
    read_until(&socket, "STOPPING=1", 10);
    assert_eq!(wait_exit(&mut child, 15.0).code(), Some(0));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_metrics_file_counts_what_happened_and_is_left_at_exit() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 5));
    let dir = temp_dir();
    let path = dir.join("zoom-ws.prom");
    let output = cli(&mock)
        .args(["--max-events", "5", "--metrics-file"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let text = std::fs::read_to_string(&path).unwrap();
    for line in [
        "zoom_ws_events_total{subscription=\"mock-sub\"} 5",
        "zoom_ws_gaps_total{subscription=\"mock-sub\"} 0",
        "zoom_ws_dropped_total{output=\"stdout\"} 0",
        "# TYPE zoom_ws_up gauge",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
    assert!(text.contains("zoom_ws_last_event_timestamp_seconds{subscription=\"mock-sub\"} 1"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn give_up_after_exits_1_naming_what_kept_failing() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.reject_all_tokens(true);
    let started = Instant::now();
    let output = cli(&mock)
        .args(["--give-up-after", "1.5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("--give-up-after") && last.contains("last problem"),
        "{stderr}"
    );
    assert!(mock.connections() >= 1);
}

#[test]
fn give_up_after_zero_is_a_usage_error() {
    let mock = MockZoom::start();
    let output = cli(&mock).args(["--give-up-after", "0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(mock.connections(), 0);
}
