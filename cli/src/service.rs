//! Running under a service manager: what each subscription's connection is doing ([`Health`],
//! fed by the clients' state changes), and one thread that turns it into systemd notifications
//! (`READY=1`, `STATUS=`, `WATCHDOG=1`, `STOPPING=1`), the Prometheus textfile
//! (`--metrics-file`) and the supervisor's exit (`--give-up-after`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zoom_ws::{StateChange, Stats};

use crate::metrics::{self, Snapshot};
use crate::notify::Notifier;
use crate::outputs::Watch;
use crate::sink::StopAll;

/// How often the metrics file is replaced while running.
const METRICS_EVERY: Duration = Duration::from_secs(5);
/// The longest the service thread sleeps between two looks.
const TICK: Duration = Duration::from_millis(250);

/// One subscription's connection, as the state changes tell it.
pub struct Sub {
    id: String,
    up: AtomicBool,
    /// With `--ha-etcd`: 1 standby, 2 leader (0 without an election).
    role: AtomicU8,
    /// Gaps, counted when they start; the milliseconds of those that ended.
    gaps: AtomicU64,
    gap_ms: AtomicU64,
    /// Milliseconds since the epoch when the open gap started, 0 when there is none.
    down_since_ms: AtomicU64,
    /// Milliseconds since the epoch of the last event, 0 before the first.
    last_event_ms: AtomicU64,
    /// Why the last connection ended or failed, for `--give-up-after`'s error.
    last_problem: Mutex<Option<String>>,
    stats: Mutex<Option<Arc<Stats>>>,
}

/// Every subscription's [`Sub`], shared by the client threads and the service thread.
pub struct Health {
    subs: Vec<Sub>,
}

impl Health {
    /// One entry per subscription id, in order.
    pub fn new(ids: &[String]) -> Arc<Health> {
        let subs = ids
            .iter()
            .map(|id| Sub {
                id: id.clone(),
                up: AtomicBool::new(false),
                role: AtomicU8::new(0),
                gaps: AtomicU64::new(0),
                gap_ms: AtomicU64::new(0),
                down_since_ms: AtomicU64::new(0),
                last_event_ms: AtomicU64::new(0),
                last_problem: Mutex::new(None),
                stats: Mutex::new(None),
            })
            .collect();
        Arc::new(Health { subs })
    }

    /// Subscription `i`'s client counters (heartbeats, events, reconnects).
    pub fn attach(&self, i: usize, stats: Arc<Stats>) {
        *lock(&self.subs[i].stats) = Some(stats);
    }

    /// Subscription `i`'s client said `change`. A gap is counted when a live connection ends
    /// (so an alert fires during an outage, not after it), and its time grows while it lasts;
    /// when the connection is back, the library's exact gap replaces the estimate.
    pub fn change(&self, i: usize, change: &StateChange) {
        let sub = &self.subs[i];
        match change {
            StateChange::Connected => sub.up.store(true, Ordering::Relaxed),
            StateChange::Disconnected { reason, .. } => {
                if sub.up.swap(false, Ordering::Relaxed) {
                    sub.gaps.fetch_add(1, Ordering::Relaxed);
                    sub.down_since_ms.store(now_ms(), Ordering::Relaxed);
                }
                *lock(&sub.last_problem) = Some(reason.clone());
            }
            StateChange::Reconnected { gap_start, gap_end } => {
                let gap = gap_end.duration_since(*gap_start).unwrap_or_default();
                sub.down_since_ms.store(0, Ordering::Relaxed);
                sub.gap_ms
                    .fetch_add(gap.as_millis() as u64, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// Subscription `i`'s election: this instance leads it, or stands by.
    #[cfg_attr(not(feature = "ha"), allow(dead_code))]
    pub fn set_leader(&self, i: usize, leader: bool) {
        self.subs[i]
            .role
            .store(1 + u8::from(leader), Ordering::Relaxed);
    }

    /// Subscriptions live, or standing by for another instance (ready for systemd either way).
    fn settled(&self) -> usize {
        let standby = |s: &Sub| s.role.load(Ordering::Relaxed) == 1;
        self.subs
            .iter()
            .filter(|s| s.up.load(Ordering::Relaxed) || standby(s))
            .count()
    }

    /// Subscription `i` delivered an event now.
    pub fn event(&self, i: usize) {
        self.subs[i]
            .last_event_ms
            .store(now_ms(), Ordering::Relaxed);
    }

    fn live(&self) -> usize {
        self.subs
            .iter()
            .filter(|s| s.up.load(Ordering::Relaxed))
            .count()
    }

    fn answered(&self) -> u64 {
        self.subs
            .iter()
            .map(|s| snapshot_of(s).heartbeats_answered)
            .sum()
    }

    /// The last problem any subscription reported, for an error line.
    fn last_problem(&self) -> String {
        self.subs
            .iter()
            .find_map(|s| lock(&s.last_problem).clone())
            .unwrap_or_else(|| "no connection was accepted".to_string())
    }

    /// The figures of every subscription, for the metrics file and `STATUS=`.
    fn subscriptions(&self) -> Vec<metrics::Subscription> {
        self.subs
            .iter()
            .map(|s| {
                let stats = snapshot_of(s);
                let last = s.last_event_ms.load(Ordering::Relaxed);
                metrics::Subscription {
                    id: s.id.clone(),
                    up: s.up.load(Ordering::Relaxed),
                    leader: match s.role.load(Ordering::Relaxed) {
                        0 => None,
                        role => Some(role == 2),
                    },
                    events: stats.events,
                    reconnects: stats.reconnects,
                    gaps: s.gaps.load(Ordering::Relaxed),
                    gap_time: Duration::from_millis(gap_ms(s)),
                    heartbeats_sent: stats.heartbeats_sent,
                    heartbeats_answered: stats.heartbeats_answered,
                    last_event: (last > 0).then(|| UNIX_EPOCH + Duration::from_millis(last)),
                }
            })
            .collect()
    }
}

/// Milliseconds since the epoch, now.
fn now_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    now.unwrap_or_default().as_millis() as u64
}

/// The gap time of `sub`: the gaps that ended, and the open one so far.
fn gap_ms(sub: &Sub) -> u64 {
    let ended = sub.gap_ms.load(Ordering::Relaxed);
    match sub.down_since_ms.load(Ordering::Relaxed) {
        0 => ended,
        since => ended + now_ms().saturating_sub(since),
    }
}

fn snapshot_of(sub: &Sub) -> zoom_ws::StatsSnapshot {
    lock(&sub.stats)
        .as_ref()
        .map(|s| s.snapshot())
        .unwrap_or_default()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the service thread was asked to do.
pub struct Settings {
    pub metrics_file: Option<PathBuf>,
    pub give_up_after: Option<Duration>,
    /// The journal's directory, whose size the metrics show.
    pub spool: Option<PathBuf>,
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
    pub fn start(health: Arc<Health>, watch: Watch, settings: Settings, stop: StopAll) -> Service {
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
            std::thread::spawn(move || state.run(&done))
        });
        Service {
            done,
            gave_up,
            thread,
        }
    }

    /// Stops the thread after its last look (`STOPPING=1`, the final metrics file). Returns the
    /// `--give-up-after` error when that is why the run ended.
    pub fn finish(mut self) -> Option<String> {
        self.done.store(true, Ordering::SeqCst);
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
    settings: Settings,
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
    fn run(&mut self, done: &AtomicBool) {
        let stopping_sent = loop {
            if done.load(Ordering::SeqCst) {
                break false;
            }
            if self.stop.is_stopped() {
                self.notify(Notifier::stopping);
                break true;
            }
            self.look(Instant::now());
            std::thread::sleep(self.tick());
        };
        if !stopping_sent {
            self.notify(Notifier::stopping);
        }
        self.write_metrics();
    }

    fn tick(&self) -> Duration {
        let watchdog = self.notifier.as_ref().and_then(Notifier::watchdog_interval);
        watchdog.map_or(TICK, |w| (w / 4).min(TICK))
    }

    /// One look: readiness, status, watchdog, metrics, give-up.
    fn look(&mut self, now: Instant) {
        let live = self.health.live();
        let total = self.health.subs.len();
        let settled = self.health.settled();
        if settled > 0 {
            self.last_live = now;
        }
        if !self.ready && settled == total {
            self.ready = true;
            self.notify(Notifier::ready);
        }
        self.status_line(live, total);
        self.watchdog(now, live, total);
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

    fn status_line(&mut self, live: usize, total: usize) {
        let subs = self.health.subscriptions();
        let events: u64 = subs.iter().map(|s| s.events).sum();
        let gaps: u64 = subs.iter().map(|s| s.gaps).sum();
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
    fn watchdog(&mut self, now: Instant, live: usize, total: usize) {
        let Some(interval) = self.notifier.as_ref().and_then(Notifier::watchdog_interval) else {
            return;
        };
        if now - self.last_ping < interval / 2 {
            return;
        }
        let answered = self.health.answered();
        let progress = answered > self.answered || live == 0 || !self.ready && live < total;
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
