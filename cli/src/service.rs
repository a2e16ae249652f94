//! Running under a service manager: one thread that turns the subscriptions' [`Health`] into
//! systemd notifications (`READY=1`, `STATUS=`, `WATCHDOG=1`, `STOPPING=1`), the Prometheus
//! textfile (`--metrics-file`) and the supervisor's exit (`--give-up-after`). It sleeps until
//! the next of these is due or a connection changes, so an idle process stays asleep.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::health::Health;
use crate::metrics::{self, Snapshot, Subscription};
use crate::notify::Notifier;
use crate::outputs::Watch;
use crate::settings::Delivery;
use crate::sink::StopAll;
use crate::sync::{lock, wait_while};

/// How often the metrics file is replaced while running: fresher than any scrape (node_exporter's
/// are 15 s or more), and two wake-ups each (the look, the file system), 12 a minute.
const METRICS_EVERY: Duration = Duration::from_secs(10);
/// The longest the service thread sleeps when nothing is due (it wakes earlier for a change).
const LONGEST: Duration = Duration::from_secs(3600);
/// What is due this soon is done now, rather than after one more wake-up.
const SLACK: Duration = Duration::from_millis(10);

impl Health {
    /// Sleeps until `until`, or until the bell rings past `seen`; returns the rings now. (A
    /// timer may fire a hair early: what is due is looked at with [`SLACK`].)
    fn sleep(&self, seen: u64, until: Instant) -> u64 {
        let left = until.saturating_duration_since(Instant::now());
        *wait_while(&self.bell, lock(&self.rings), left, |rings| *rings == seen)
    }

    /// The last problem any subscription reported, for an error line.
    fn last_problem(&self) -> String {
        self.subs
            .iter()
            .find_map(|s| lock(&s.last_problem).clone())
            .unwrap_or_else(|| "no connection was accepted".to_string())
    }

    /// The figures of every subscription, for the metrics file and `STATUS=`.
    fn subscriptions(&self) -> Vec<Subscription> {
        self.subs
            .iter()
            .map(|s| Subscription {
                id: s.id.clone(),
                leader: match s.role.load(Ordering::Relaxed) {
                    0 => None,
                    role => Some(role == 2),
                },
                stats: s.stats.snapshot(),
            })
            .collect()
    }
}

/// The running service thread.
pub struct Service {
    done: Arc<AtomicBool>,
    gave_up: Arc<Mutex<Option<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Starts the thread (it does nothing at all without a notify socket, a metrics file or a
    /// give-up bound).
    pub fn start(health: Arc<Health>, watch: Watch, delivery: &Delivery, stop: StopAll) -> Service {
        let settings = delivery.clone();
        let done = Arc::new(AtomicBool::new(false));
        let gave_up = Arc::new(Mutex::new(None));
        let notifier = Notifier::from_env();
        let idle = notifier.is_none()
            && settings.metrics_file.is_none()
            && settings.give_up_after.is_none();
        let thread = (!idle).then(|| {
            let mut state = Looker {
                health,
                watch,
                settings,
                stop,
                notifier,
                gave_up: Arc::clone(&gave_up),
                ready: false,
                status: String::new(),
                answered: 0,
                last_ping: Instant::now(),
                last_metrics: None,
                last_live: Instant::now(),
            };
            let done = Arc::clone(&done);
            let thread = std::thread::Builder::new().name("service".into());
            // As std::thread::spawn does: a process that cannot start a thread cannot go on.
            (thread.spawn(move || state.run(&done))).expect("starting the service thread")
        });
        Service {
            done,
            gave_up,
            thread,
        }
    }

    /// Stops the thread after its last look (`STOPPING=1`, the final metrics file). Returns the
    /// `--give-up-after` error when that is why the run ended.
    pub fn finish(mut self, health: &Health) -> Option<String> {
        self.done.store(true, Ordering::SeqCst);
        health.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        lock(&self.gave_up).take()
    }
}

/// The service thread's own state.
struct Looker {
    health: Arc<Health>,
    watch: Watch,
    /// `metrics_file`, `give_up_after`, and `spool`, whose size the metrics show.
    settings: Delivery,
    stop: StopAll,
    notifier: Option<Notifier>,
    gave_up: Arc<Mutex<Option<String>>>,
    ready: bool,
    status: String,
    answered: u64,
    last_ping: Instant,
    last_metrics: Option<Instant>,
    last_live: Instant,
}

impl Looker {
    /// Looks, then sleeps until the next thing is due or the bell rings (a state change, a
    /// stop), until the run is over.
    fn run(&mut self, done: &AtomicBool) {
        let mut seen = 0;
        while !done.load(Ordering::SeqCst) && !self.stop.is_stopped() {
            let now = Instant::now() + SLACK;
            self.look(now);
            seen = self.health.sleep(seen, self.next_due(now));
        }
        self.notify(Notifier::stopping);
        self.write_metrics();
    }

    /// When the next look is due: the metrics file, a watchdog ping (a while after its due time
    /// again while no heartbeat was answered), the give-up bound.
    fn next_due(&self, now: Instant) -> Instant {
        let mut due = now + LONGEST;
        if self.settings.metrics_file.is_some() {
            due = due.min(self.last_metrics.map_or(now, |t| t + METRICS_EVERY));
        }
        if let Some(w) = self.notifier.as_ref().and_then(Notifier::watchdog_interval) {
            due = due.min((self.last_ping + w / 2).max(now + w / 16));
        }
        if let Some(bound) = self.settings.give_up_after {
            due = due.min((self.last_live + bound).max(now + Duration::from_millis(10)));
        }
        due
    }

    /// One look: readiness, status, watchdog, metrics, give-up.
    fn look(&mut self, now: Instant) {
        let subs = self.health.subscriptions();
        let total = subs.len();
        let live = subs.iter().filter(|s| s.stats.live).count();
        // Live, or standing by for another instance: ready for systemd either way.
        let settled = subs
            .iter()
            .filter(|s| s.stats.live || s.leader == Some(false));
        let settled = settled.count();
        if settled > 0 {
            self.last_live = now;
        }
        if !self.ready && settled == total {
            self.ready = true;
            self.notify(Notifier::ready);
        }
        self.status_line(&subs, live);
        self.watchdog(now, &subs, live);
        if self.last_metrics.is_none_or(|t| now - t >= METRICS_EVERY) {
            self.last_metrics = Some(now);
            self.write_metrics();
        }
        if let Some(bound) = self.settings.give_up_after {
            if now - self.last_live >= bound && lock(&self.gave_up).is_none() {
                let message = format!(
                    "no subscription has been live for {} s (--give-up-after); the last problem: {}",
                    bound.as_secs(),
                    zoom_ws::check::escaped(&self.health.last_problem())
                );
                *lock(&self.gave_up) = Some(message);
                self.stop.stop();
            }
        }
    }

    fn status_line(&mut self, subs: &[Subscription], live: usize) {
        let total = subs.len();
        let events: u64 = subs.iter().map(|s| s.stats.events).sum();
        let gaps: u64 = subs.iter().map(|s| s.stats.gaps).sum();
        let mut status = format!("connected {live}/{total}, {events} events, {gaps} gaps");
        let leading = subs.iter().filter(|s| s.leader == Some(true)).count();
        if subs.iter().any(|s| s.leader.is_some()) {
            status += &match leading {
                0 => ", standby".to_string(),
                n => format!(", leader of {n}/{total}"),
            };
        }
        if status != self.status {
            self.notify(|n| n.status(&status));
            self.status = status;
        }
    }

    /// `WATCHDOG=1` at half the manager's interval, only while the connections make progress:
    /// a heartbeat was answered since the last ping, or no connection is up (reconnecting is
    /// the client's own business; `--give-up-after` bounds it). A connection that is up but whose
    /// heartbeats go unanswered (a hung loop) stops the pings, and the manager restarts us.
    fn watchdog(&mut self, now: Instant, subs: &[Subscription], live: usize) {
        let Some(interval) = self.notifier.as_ref().and_then(Notifier::watchdog_interval) else {
            return;
        };
        if now - self.last_ping < interval / 2 {
            return;
        }
        let answered = subs.iter().map(|s| s.stats.heartbeats_answered).sum();
        let progress = answered > self.answered || live == 0 || !self.ready && live < subs.len();
        if progress {
            self.answered = answered;
            self.last_ping = now;
            self.notify(Notifier::watchdog);
        }
    }

    fn notify(&self, send: impl FnOnce(&Notifier) -> std::io::Result<()>) {
        if let Some(notifier) = &self.notifier {
            if let Err(e) = send(notifier) {
                log::warn!("NOTIFY_SOCKET: {e}");
            }
        }
    }

    fn write_metrics(&self) {
        let Some(path) = &self.settings.metrics_file else {
            return;
        };
        let snapshot = Snapshot {
            subscriptions: self.health.subscriptions(),
            outputs: self
                .watch
                .counts()
                .into_iter()
                .map(|(name, c)| metrics::Output {
                    name,
                    dropped: c.dropped,
                })
                .collect(),
            journal_bytes: self.settings.spool.as_deref().map(dir_bytes),
        };
        if let Err(e) = metrics::write_atomic(path, &metrics::render(&snapshot)) {
            log::warn!(
                "--metrics-file {}: {e}",
                zoom_ws::check::escaped(&path.display().to_string())
            );
        }
    }
}

/// The bytes of the files in the journal's directory (not followed into anything else).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
