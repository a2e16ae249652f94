//! What each subscription's connection is doing, fed by the clients' state changes: read by
//! the service room (systemd notifications, metrics, `--give-up-after`), which sleeps until
//! [`Health::wake`] rings or something is due.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use zoom_ws::{StateChange, Stats};

/// One subscription's connection, as the state changes tell it.
pub struct Sub {
    #[cfg_attr(not(feature = "service"), allow(dead_code))]
    pub id: String,
    pub up: AtomicBool,
    /// With `--ha-etcd`: 1 standby, 2 leader (0 without an election).
    pub role: AtomicU8,
    /// Gaps, counted when they start; the milliseconds of those that ended.
    pub gaps: AtomicU64,
    pub gap_ms: AtomicU64,
    /// Milliseconds since the epoch when the open gap started, 0 when there is none.
    pub down_since_ms: AtomicU64,
    /// Milliseconds since the epoch of the last event, 0 before the first.
    pub last_event_ms: AtomicU64,
    /// Why the last connection ended or failed, for `--give-up-after`'s error.
    pub last_problem: Mutex<Option<String>>,
    pub stats: Mutex<Option<Arc<Stats>>>,
}

/// Every subscription's [`Sub`], shared by the client threads and the service thread, which
/// sleeps until something is due or [`Health::wake`] rings.
pub struct Health {
    pub subs: Vec<Sub>,
    /// How many times the bell rang: the service thread looks again when it moved.
    pub rings: Mutex<u64>,
    pub bell: Condvar,
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
        Arc::new(Health {
            subs,
            rings: Mutex::new(0),
            bell: Condvar::new(),
        })
    }

    /// Something changed that the service thread must act on now (a connection, a stop).
    pub fn wake(&self) {
        *lock(&self.rings) += 1;
        self.bell.notify_all();
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
            _ => return,
        }
        self.wake();
    }

    /// Subscription `i`'s election: this instance leads it, or stands by.
    #[cfg_attr(not(feature = "ha"), allow(dead_code))]
    pub fn set_leader(&self, i: usize, leader: bool) {
        let role = 1 + u8::from(leader);
        if self.subs[i].role.swap(role, Ordering::Relaxed) != role {
            self.wake();
        }
    }

    /// Subscriptions live, or standing by for another instance (ready for systemd either way).
    #[cfg_attr(not(feature = "service"), allow(dead_code))]
    pub fn settled(&self) -> usize {
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
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    now.unwrap_or_default().as_millis() as u64
}

/// The gap time of `sub`: the gaps that ended, and the open one so far.
#[cfg_attr(not(feature = "service"), allow(dead_code))]
pub fn gap_ms(sub: &Sub) -> u64 {
    let ended = sub.gap_ms.load(Ordering::Relaxed);
    match sub.down_since_ms.load(Ordering::Relaxed) {
        0 => ended,
        since => ended + now_ms().saturating_sub(since),
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
