//! Helpers for the integration tests: a watchdog, a client on a thread, a scratch directory.
//! (The helpers that run the CLI are in the CLI package's `tests/mock`.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Fails the whole test process if a test hangs: drop the guard to disarm.
pub struct Watchdog(Arc<AtomicBool>);

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

pub fn watchdog(secs: u64) -> Watchdog {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let name = thread::current().name().unwrap_or("test").to_string();
    thread::spawn(move || {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if flag.load(Ordering::SeqCst) {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        eprintln!("watchdog: {name} still running after {secs} s; failing the run");
        std::process::exit(101);
    });
    Watchdog(done)
}

/// A client running on its own thread, its events and state changes on channels.
pub struct Running {
    pub stop: zoom_ws::StopHandle,
    pub events: std::sync::mpsc::Receiver<zoom_ws::Event>,
    pub states: std::sync::mpsc::Receiver<zoom_ws::StateChange>,
    pub stats: Arc<zoom_ws::Stats>,
    /// Every state change with the moment the client reported it.
    pub timeline: Arc<Mutex<Vec<(Instant, zoom_ws::StateChange)>>>,
    join: Option<thread::JoinHandle<zoom_ws::Result<()>>>,
}

pub fn spawn_client(config: zoom_ws::Config) -> Running {
    let mut client = zoom_ws::Client::new(config).expect("valid config");
    let (event_tx, events) = std::sync::mpsc::channel();
    let (state_tx, states) = std::sync::mpsc::channel();
    let timeline = Arc::new(Mutex::new(Vec::new()));
    let record = timeline.clone();
    client.on_state(move |change| {
        record
            .lock()
            .unwrap()
            .push((Instant::now(), change.clone()));
        let _ = state_tx.send(change.clone());
    });
    let stop = client.stop_handle();
    let stats = client.stats();
    let join = thread::spawn(move || {
        client.run(|event| {
            let _ = event_tx.send(event.clone());
        })
    });
    Running {
        stop,
        events,
        states,
        stats,
        timeline,
        join: Some(join),
    }
}

impl Running {
    /// The next `n` events, failing the test if they take longer than `secs`.
    pub fn take(&self, n: usize, secs: f64) -> Vec<zoom_ws::Event> {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let left = until.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(e) => out.push(e),
                Err(_) => panic!("got {} of {n} events within {secs} s", out.len()),
            }
        }
        out
    }

    /// Waits for a state change that matches `pred`, returning it.
    pub fn wait_state(
        &self,
        secs: f64,
        pred: impl Fn(&zoom_ws::StateChange) -> bool,
    ) -> zoom_ws::StateChange {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.states.recv_timeout(left) {
                Ok(s) if pred(&s) => return s,
                Ok(_) => {}
                Err(_) => panic!("no matching state change within {secs} s"),
            }
        }
    }

    /// The state changes so far, without their times.
    pub fn changes(&self) -> Vec<zoom_ws::StateChange> {
        self.timeline
            .lock()
            .unwrap()
            .iter()
            .map(|(_, c)| c.clone())
            .collect()
    }

    /// Stops the client and returns what `run` returned and how long stopping took.
    pub fn stop(mut self) -> (zoom_ws::Result<()>, Duration) {
        let start = Instant::now();
        self.stop.stop();
        let result = self
            .join
            .take()
            .unwrap()
            .join()
            .expect("client thread panicked");
        (result, start.elapsed())
    }

    /// Stops a client that is failing over and over, checking that `run` returns promptly and
    /// `Ok`.
    pub fn stop_promptly(self) {
        let (result, took) = self.stop();
        result.unwrap();
        assert!(took < Duration::from_secs(2), "stop took {took:?}");
    }

    /// The reason of the first failed attempt, after checking that the client tried again.
    pub fn first_failure_then_retry(&self) -> String {
        use zoom_ws::StateChange;
        let reason = match self.wait_state(20.0, |s| matches!(s, StateChange::Disconnected { .. }))
        {
            StateChange::Disconnected { reason, .. } => reason,
            _ => unreachable!(),
        };
        self.wait_state(20.0, |s| matches!(s, StateChange::BackingOff { .. }));
        self.wait_state(
            20.0,
            |s| matches!(s, StateChange::Connecting { attempt } if *attempt >= 2),
        );
        reason
    }

    /// Waits for `run` to return by itself.
    pub fn join(mut self, secs: f64) -> zoom_ws::Result<()> {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        let join = self.join.take().unwrap();
        while !join.is_finished() {
            assert!(
                Instant::now() < until,
                "run() did not return within {secs} s"
            );
            thread::sleep(Duration::from_millis(10));
        }
        join.join().expect("client thread panicked")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// The sequence numbers of events made by [`event_json`].
pub fn seq(event: &zoom_ws::Event) -> u64 {
    event.payload().expect("a JSON payload")["object"]["seq"]
        .as_u64()
        .expect("seq")
}

/// A fresh empty directory for a CLI run (so no stray `.env` is read).
pub fn temp_dir() -> std::path::PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "zoom-ws-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `ws://` URL on 127.0.0.1 where nothing listens: every connection is refused.
pub fn refused_ws_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("ws://127.0.0.1:{port}/ws")
}
