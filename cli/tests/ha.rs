//! High availability against a real etcd (see `etcd/mod.rs`) and the mock Zoom, which closes a
//! subscription's open connection when a new one opens (a "knock-off"), as Zoom does, and sends
//! events on a clock to whichever connection is open. Two or three `zoom-ws` instances with the
//! same settings; in every test each instance's events arrive in order and once, no event reaches
//! two instances, no connection knocks another off except a planned handover, and the takeover
//! times are printed.
#![cfg(all(unix, feature = "ha"))]

mod etcd;
mod mock;

use std::io::{BufRead, BufReader};
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use etcd::Cluster;
use mock::{MockZoom, notified_until};

/// The first notification that starts with `want`.
fn notified(socket: &UnixDatagram, want: &str, secs: u64) -> String {
    let seen = notified_until(socket, want, |m| m.starts_with(want), secs);
    seen.last().cloned().unwrap_or_default()
}

/// The lease in these tests: a crashed leader is replaced within about this.
const TTL: u64 = 2;
/// Events of the mock's stream: one every `EVERY`.
const EVERY: Duration = Duration::from_millis(20);

/// One `zoom-ws` instance, its stdout (event numbers per subscription) and stderr collected.
struct Instance {
    name: &'static str,
    child: Child,
    events: Arc<Mutex<Vec<usize>>>,
    log: Arc<Mutex<String>>,
}

impl Instance {
    fn start(mock: &MockZoom, urls: &str, name: &'static str, subs: &str) -> Instance {
        Instance::start_with(mock, urls, name, subs, &[])
    }

    fn start_with(
        mock: &MockZoom,
        urls: &str,
        name: &'static str,
        subs: &str,
        env: &[(&str, &std::path::Path)],
    ) -> Instance {
        let mut child = mock::cli(mock)
            .envs(env.iter().copied())
            .env("ZOOM_SUBSCRIPTION_ID", subs)
            .env("ZOOM_HA_ETCD", urls)
            .env("ZOOM_HA_TTL", TTL.to_string())
            .env("ZOOM_HA_NAME", name)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn zoom-ws");
        let events = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::new(Mutex::new(String::new()));
        let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
        let sink = Arc::clone(&events);
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let v: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
                let seq = v["payload"]["object"]["seq"].as_u64().expect("seq") as usize;
                sink.lock().unwrap().push(seq);
            }
        });
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Instance {
            name,
            child,
            events,
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log holds `text`; fails with the log after `secs`.
    fn wait_log(&self, text: &str, secs: u64) -> Instant {
        let until = Instant::now() + Duration::from_secs(secs);
        while !self.log().contains(text) {
            assert!(
                Instant::now() < until,
                "{} never logged {text:?}:\n{}",
                self.name,
                self.log()
            );
            thread::sleep(Duration::from_millis(10));
        }
        Instant::now()
    }

    /// The event numbers of `sub`, in the order received (the mock numbers sub-b's from 1000).
    fn events(&self, sub: &str) -> Vec<usize> {
        let events = self.events.lock().unwrap();
        let of_b = sub == "sub-b";
        events
            .iter()
            .copied()
            .filter(|&i| (i >= 1000) == of_b)
            .collect()
    }

    fn signal(&self, signal: libc::c_int) {
        mock::signal(&self.child, signal);
    }

    /// Stops at once (two SIGTERMs: the first hands over, the second stops): the exit status.
    fn stop(mut self) -> (i32, Self) {
        self.signal(libc::SIGTERM);
        thread::sleep(Duration::from_millis(200));
        self.signal(libc::SIGTERM);
        let status = mock::wait_exit(&mut self.child, 20.0);
        thread::sleep(Duration::from_millis(100));
        (status.code().unwrap_or(-1), self)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// The subscription's events: each instance's in order and once, none in two instances.
/// Returns all of them, sorted.
fn check_events(sub: &str, instances: &[&Instance]) -> Vec<usize> {
    let mut all = Vec::new();
    for instance in instances {
        let events = instance.events(sub);
        assert!(
            events.windows(2).all(|w| w[0] < w[1]),
            "{}: events of {sub} out of order or repeated: {events:?}",
            instance.name
        );
        all.extend(events);
    }
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count, "an event of {sub} reached two instances");
    all
}

/// Waits until the mock has accepted `n` connections: when.
fn wait_connections(mock: &MockZoom, n: u64, secs: u64) -> Instant {
    let until = Instant::now() + Duration::from_secs(secs);
    while mock.connections() < n {
        assert!(Instant::now() < until, "connection {n} never came");
        thread::sleep(Duration::from_millis(5));
    }
    Instant::now()
}

/// Two instances on one etcd member: `a` leads and is connected, `b` stands by.
fn leader_and_standby(mock: &MockZoom, etcd: &Cluster) -> (Instance, Instance) {
    let a = Instance::start(mock, &etcd.urls(), "a", "mock-sub");
    a.wait_log("this instance (a) leads", 20);
    wait_connections(mock, 1, 20);
    let b = Instance::start(mock, &etcd.urls(), "b", "mock-sub");
    b.wait_log("standing by; a leads", 20);
    (a, b)
}

#[test]
fn a_killed_leader_is_replaced_within_the_ttl_and_a_connection() {
    let Some(binary) = etcd::binary() else { return };
    let etcd = Cluster::start(binary, 1);
    let mock = MockZoom::start();
    let (mut a, b) = leader_and_standby(&mock, &etcd);
    assert_eq!(
        mock.token_requests().len(),
        1,
        "the standby asked Zoom for a token"
    );
    let stream = mock.stream("mock-sub", (0, 400), EVERY);
    thread::sleep(Duration::from_secs(2));
    a.child.kill().unwrap();
    let killed = Instant::now();
    let taken = wait_connections(&mock, 2, 30);
    let takeover = taken - killed;
    println!(
        "crash takeover (kill -9 to the standby's connection): {} ms",
        takeover.as_millis()
    );
    b.wait_log("this instance (b) leads", 5);
    stream.join().unwrap();
    thread::sleep(Duration::from_millis(300));
    let (status, b) = b.stop();
    assert_eq!(status, 0, "{}", b.log());
    let got = check_events("mock-sub", &[&a, &b]);
    let missed = mock.missed();
    println!("events missed while no one was connected: {}", missed.len());
    assert_eq!(
        got.len() + missed.len(),
        400 - lost_in_flight(&mock, &got, &missed)
    );
    assert!(
        takeover < Duration::from_secs(TTL + 8),
        "takeover took {takeover:?}"
    );
    assert_eq!(mock.knock_offs(), 0, "{}", b.log());
    assert_eq!(mock.connections(), 2);
}

/// Events the mock wrote to the killed leader's socket that it never read (in flight when it
/// died): written, yet in no instance's output.
fn lost_in_flight(mock: &MockZoom, got: &[usize], missed: &[usize]) -> usize {
    let streamed = mock.streamed();
    let lost = streamed.iter().filter(|i| !got.contains(i)).count();
    assert!(
        lost <= 50,
        "{lost} events written but not delivered ({missed:?})"
    );
    lost
}

#[test]
fn a_leader_stopped_as_asked_hands_over_without_losing_an_event() {
    let Some(binary) = etcd::binary() else { return };
    let etcd = Cluster::start(binary, 1);
    let mock = MockZoom::start();
    let (mut a, b) = leader_and_standby(&mock, &etcd);
    let stream = mock.stream("mock-sub", (0, 300), EVERY);
    thread::sleep(Duration::from_secs(2));
    a.signal(libc::SIGTERM);
    let asked = Instant::now();
    let connected = wait_connections(&mock, 2, 20);
    let status = mock::wait_exit(&mut a.child, 20.0);
    let exited = Instant::now();
    println!(
        "planned handover: the standby connected {} ms after SIGTERM, the old leader exited \
         after {} ms",
        (connected - asked).as_millis(),
        (exited - asked).as_millis()
    );
    assert_eq!(status.code(), Some(0), "{}", a.log());
    assert!(a.log().contains("lease given up"), "{}", a.log());
    if connected - asked > Duration::from_secs(1) {
        println!("slow handover; the logs:\n{}\n{}", a.log(), b.log());
    }
    stream.join().unwrap();
    thread::sleep(Duration::from_millis(300));
    let (status, b) = b.stop();
    assert_eq!(status, 0, "{}", b.log());
    let got = check_events("mock-sub", &[&a, &b]);
    assert_eq!(
        mock.missed(),
        Vec::<usize>::new(),
        "events fell between the two"
    );
    assert_eq!(got, (0..300).collect::<Vec<_>>(), "an event is missing");
    assert!(!a.events("mock-sub").is_empty() && !b.events("mock-sub").is_empty());
    assert_eq!(mock.knock_offs(), 1, "exactly the one planned knock-off");
}

#[test]
fn a_frozen_etcd_neither_drops_the_connection_nor_makes_two_consumers() {
    let Some(binary) = etcd::binary() else { return };
    let etcd = Cluster::start(binary, 1);
    let mock = MockZoom::start();
    let (a, b) = leader_and_standby(&mock, &etcd);
    let stream = mock.stream("mock-sub", (0, 500), EVERY);
    thread::sleep(Duration::from_secs(1));
    etcd.freeze(0);
    a.wait_log("etcd unreachable", 10);
    thread::sleep(Duration::from_secs(3 * TTL));
    assert_eq!(mock.connections(), 1, "a connection opened without etcd");
    etcd.thaw(0);
    let thawed = Instant::now();
    let until = Instant::now() + Duration::from_secs(15);
    while !a.log().contains("etcd answers again") || !b.log().contains("etcd answers again") {
        assert!(Instant::now() < until, "etcd never answered again");
        thread::sleep(Duration::from_millis(20));
    }
    println!(
        "etcd answered again {} ms after SIGCONT",
        thawed.elapsed().as_millis()
    );
    stream.join().unwrap();
    thread::sleep(Duration::from_millis(300));
    let (knocked, connections) = (mock.knock_offs(), mock.connections());
    let (_, b) = b.stop();
    let (_, a) = a.stop();
    let got = check_events("mock-sub", &[&a, &b]);
    assert_eq!(mock.missed(), Vec::<usize>::new(), "events missed");
    assert_eq!(got.len(), 500);
    // After the thaw, either the old leader renews its lease in time and keeps its connection,
    // or its lease expired and the standby won and connected, which closed the old connection
    // (Zoom's rule is the fence): never two consumers, nothing lost either way.
    println!(
        "after the thaw: {}",
        if knocked == 0 {
            "the leader kept the lease"
        } else {
            "the standby took over"
        }
    );
    assert!(knocked <= 1 && connections == 1 + knocked, "{}", a.log());
}

#[test]
fn losing_one_member_of_three_changes_nothing() {
    let Some(binary) = etcd::binary() else { return };
    let mut etcd = Cluster::start(binary, 3);
    let mock = MockZoom::start();
    let (a, b) = leader_and_standby(&mock, &etcd);
    let stream = mock.stream("mock-sub", (0, 300), EVERY);
    thread::sleep(Duration::from_secs(1));
    // Both instances talk to the first member until it fails.
    etcd.kill(0);
    stream.join().unwrap();
    thread::sleep(Duration::from_millis(300));
    let log_a = a.log();
    let (knocked, connections) = (mock.knock_offs(), mock.connections());
    let (_, b) = b.stop();
    let (_, a) = a.stop();
    let got = check_events("mock-sub", &[&a, &b]);
    assert_eq!(got.len(), 300, "{log_a}");
    assert!(b.events("mock-sub").is_empty(), "the standby took over");
    assert_eq!(knocked, 0, "{log_a}");
    assert_eq!(connections, 1, "{log_a}");
    assert!(!log_a.contains("ran out"), "{log_a}");
}

#[test]
fn with_etcd_down_at_start_both_stand_by_until_it_comes() {
    let Some(binary) = etcd::binary() else { return };
    let mut etcd = Cluster::reserve(binary, 1);
    let mock = MockZoom::start();
    let a = Instance::start(&mock, &etcd.urls(), "a", "mock-sub");
    let b = Instance::start(&mock, &etcd.urls(), "b", "mock-sub");
    let warning = format!("etcd unreachable (tried {})", etcd.urls());
    a.wait_log(&warning, 10);
    b.wait_log(&warning, 10);
    thread::sleep(Duration::from_secs(1));
    assert!(
        a.log().contains("WARN") && a.log().contains("standing by"),
        "{}",
        a.log()
    );
    assert_eq!(
        mock.token_requests().len(),
        0,
        "a standby asked Zoom for a token"
    );
    assert_eq!(mock.connections(), 0);
    let started = Instant::now();
    etcd.launch();
    let connected = wait_connections(&mock, 1, 20);
    println!(
        "etcd down at start: connected {} ms after etcd was started",
        (connected - started).as_millis()
    );
    let stream = mock.stream("mock-sub", (0, 100), EVERY);
    stream.join().unwrap();
    thread::sleep(Duration::from_millis(300));
    let (knocked, connections) = (mock.knock_offs(), mock.connections());
    let leads = |i: &Instance| {
        i.log()
            .contains(&format!("this instance ({}) leads", i.name))
    };
    assert!(leads(&a) != leads(&b), "{}\n{}", a.log(), b.log());
    let (leader, standby) = if leads(&a) { (a, b) } else { (b, a) };
    let (_, standby) = standby.stop();
    let (_, leader) = leader.stop();
    let got = check_events("mock-sub", &[&leader, &standby]);
    assert_eq!(got.len(), 100);
    assert!(standby.events("mock-sub").is_empty());
    assert_eq!(connections, 1);
    assert_eq!(knocked, 0);
}

#[test]
fn two_subscriptions_over_two_instances_each_with_one_consumer() {
    let Some(binary) = etcd::binary() else { return };
    let etcd = Cluster::start(binary, 1);
    let mock = MockZoom::start();
    let a = Instance::start(&mock, &etcd.urls(), "a", "sub-a,sub-b");
    let b = Instance::start(&mock, &etcd.urls(), "b", "sub-a,sub-b");
    wait_connections(&mock, 2, 20);
    for sub in ["sub-a", "sub-b"] {
        let led = |i: &Instance| i.wait_log(&format!("subscription {sub}: "), 20);
        led(&a);
        led(&b);
    }
    let streams = [
        mock.stream("sub-a", (0, 200), EVERY),
        mock.stream("sub-b", (1000, 200), EVERY),
    ];
    thread::sleep(Duration::from_secs(1));
    // The instance that leads sub-a stops as asked: the other one takes over what it led.
    let a_leads = a
        .log()
        .contains("subscription sub-a: this instance (a) leads");
    let (first, second) = if a_leads { (a, b) } else { (b, a) };
    first.signal(libc::SIGTERM);
    let mut first = first;
    let status = mock::wait_exit(&mut first.child, 20.0);
    assert_eq!(status.code(), Some(0), "{}", first.log());
    for s in streams {
        s.join().unwrap();
    }
    thread::sleep(Duration::from_millis(300));
    let knocked = mock.knock_offs();
    let (_, second) = second.stop();
    for sub in ["sub-a", "sub-b"] {
        let got = check_events(sub, &[&first, &second]);
        let base = if sub == "sub-b" { 1000 } else { 0 };
        assert_eq!(
            got,
            (base..base + 200).collect::<Vec<_>>(),
            "{sub}: {}",
            first.log()
        );
    }
    assert_eq!(mock.missed(), Vec::<usize>::new());
    let handed_over = first.log().matches("lease given up").count() as u64;
    println!("two subscriptions: the first instance handed {handed_over} over");
    assert!(handed_over >= 1);
    assert_eq!(knocked, handed_over, "only planned knock-offs");
}

/// Waits until the file at `path` holds `text`.
fn wait_file(path: &std::path::Path, text: &str, secs: u64) {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        let now = std::fs::read_to_string(path).unwrap_or_default();
        if now.contains(text) {
            return;
        }
        assert!(
            Instant::now() < until,
            "{} never held {text:?}:\n{now}",
            path.display()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn leader_and_standby_say_so_to_systemd_and_in_the_metrics() {
    let Some(binary) = etcd::binary() else { return };
    let etcd = Cluster::start(binary, 1);
    let mock = MockZoom::start();
    let dir = mock::temp_dir();
    let mut sockets = Vec::new();
    let mut instances = Vec::new();
    for name in ["a", "b"] {
        let path = dir.join(format!("{name}.sock"));
        let socket = UnixDatagram::bind(&path).unwrap();
        let metrics = dir.join(format!("{name}.prom"));
        let env = [
            ("NOTIFY_SOCKET", path.as_path()),
            ("ZOOM_METRICS_FILE", &metrics),
        ];
        let instance = Instance::start_with(&mock, &etcd.urls(), name, "mock-sub", &env);
        if name == "a" {
            instance.wait_log("this instance (a) leads", 20);
            wait_connections(&mock, 1, 20);
        }
        notified(&socket, "READY=1", 20);
        sockets.push(socket);
        instances.push((instance, metrics));
    }
    // READY=1 came before the election decided (b) or once connected (a): the status says which.
    notified(
        &sockets[0],
        "STATUS=connected 1/1, 0 events, 0 gaps, leader of 1/1",
        10,
    );
    notified(
        &sockets[1],
        "STATUS=connected 0/1, 0 events, 0 gaps, standby",
        10,
    );
    wait_file(
        &instances[0].1,
        "zoom_ws_leader{subscription=\"mock-sub\"} 1",
        10,
    );
    wait_file(
        &instances[1].1,
        "zoom_ws_leader{subscription=\"mock-sub\"} 0",
        10,
    );
    assert_eq!(
        mock.token_requests().len(),
        1,
        "the standby asked Zoom for a token"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_election_settings_exit_2_before_anything_is_sent() {
    let mock = MockZoom::start();
    for (env, args, names) in [
        (
            ("ZOOM_HA_ETCD", "ftp://127.0.0.1:2379"),
            &[][..],
            "ZOOM_HA_ETCD",
        ),
        (
            ("ZOOM_HA_ETCD", "http://10.1.2.3:2379"),
            &[],
            "ZOOM_ALLOW_INSECURE",
        ),
        (("ZOOM_HA_ETCD", " , "), &[], "ZOOM_HA_ETCD"),
        (
            ("ZOOM_HA_TTL", "1"),
            &["--ha-etcd", "http://127.0.0.1:9"],
            "ZOOM_HA_TTL",
        ),
        (
            ("ZOOM_HA_NAME", "a b"),
            &["--ha-etcd", "http://127.0.0.1:9"],
            "ZOOM_HA_NAME",
        ),
        (
            ("ZOOM_HA_ETCD", "http://127.0.0.1:9"),
            &["--ha-ttl", "soon"],
            "--ha-ttl",
        ),
    ] {
        let out = mock::cli(&mock)
            .env(env.0, env.1)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{env:?} {args:?}: {stderr}");
        assert!(stderr.contains(names), "{env:?} {args:?}: {stderr}");
    }
    assert_eq!(mock.token_requests().len(), 0);
    assert_eq!(mock.connections(), 0);
}

#[test]
fn a_leader_cut_off_from_etcd_is_replaced_and_zoom_closes_its_connection() {
    let Some(binary) = etcd::binary() else { return };
    let etcd = Cluster::start(binary, 1);
    let path = etcd::Path::to(&etcd.urls());
    let mock = MockZoom::start();
    let a = Instance::start(&mock, &path.url(), "a", "mock-sub");
    a.wait_log("this instance (a) leads", 20);
    wait_connections(&mock, 1, 20);
    let b = Instance::start(&mock, &etcd.urls(), "b", "mock-sub");
    b.wait_log("standing by; a leads", 20);
    let stream = mock.stream("mock-sub", (0, 400), EVERY);
    thread::sleep(Duration::from_secs(1));
    path.cut(true);
    let cut = Instant::now();
    let taken = wait_connections(&mock, 2, 30);
    println!(
        "leader cut off from etcd: the standby connected {} ms after the cut",
        (taken - cut).as_millis()
    );
    a.wait_log("the lease ran out without etcd", 10);
    thread::sleep(Duration::from_secs(1));
    path.cut(false);
    a.wait_log("standing by; b leads", 20);
    stream.join().unwrap();
    thread::sleep(Duration::from_millis(300));
    let (knocked, connections) = (mock.knock_offs(), mock.connections());
    let (_, a) = a.stop();
    let (_, b) = b.stop();
    let got = check_events("mock-sub", &[&a, &b]);
    assert_eq!(mock.missed(), Vec::<usize>::new(), "events missed");
    assert_eq!(got, (0..400).collect::<Vec<_>>());
    assert_eq!(knocked, 1, "{}\n{}", a.log(), b.log());
    assert_eq!(connections, 2, "the old leader reconnected: {}", a.log());
}
