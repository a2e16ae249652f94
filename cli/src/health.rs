//! What each subscription's connection is doing: the client's own counters ([`Stats`]: live,
//! gaps, events, heartbeats) and what only the command line knows (the election's role, the
//! last problem for `--give-up-after`). Read by the service room (systemd notifications,
//! metrics, `--give-up-after`), which sleeps until [`Health::wake`] rings or something is due.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use zoom_ws::{StateChange, Stats};

use crate::sync::lock;

/// One subscription: its client's counters, and what the command line adds.
pub struct Sub {
    #[cfg_attr(not(feature = "service"), allow(dead_code))]
    pub id: String,
    pub stats: Arc<Stats>,
    /// With `--ha-etcd`: 1 standby, 2 leader (0 without an election).
    pub role: AtomicU8,
    /// Why the last connection ended or failed, for `--give-up-after`'s error.
    pub last_problem: Mutex<Option<String>>,
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
    /// One entry per subscription: its id and its client's counters, in order.
    pub fn new(subs: impl IntoIterator<Item = (String, Arc<Stats>)>) -> Arc<Health> {
        let subs = subs
            .into_iter()
            .map(|(id, stats)| Sub {
                id,
                stats,
                role: AtomicU8::new(0),
                last_problem: Mutex::new(None),
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

    /// Subscription `i`'s client said `change` (its counters already tell the gap).
    pub fn change(&self, i: usize, change: &StateChange) {
        match change {
            StateChange::Connected | StateChange::Reconnected { .. } => {}
            StateChange::Disconnected { reason, .. } => {
                *lock(&self.subs[i].last_problem) = Some(reason.clone());
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
}
