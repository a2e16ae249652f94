//! One subscription's election: a lease kept alive, and one etcd transaction every tick that
//! either takes the subscription's key (create-if-absent, attached to the lease) or reads who
//! holds it. The key is gone as soon as its holder revokes the lease (a planned stop) or the
//! lease expires (a crash), so a standby that asks every tick takes over within a tick of that.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use zoom_ws::StopHandle;

use super::etcd::{Etcd, Holder};
use crate::health::Health;
use crate::sync::lock;

/// How often a standby asks whether the key is free (and a leader whether it still holds it).
/// Polling the key rather than watching it: one short request instead of a long-lived stream
/// whose silence would need its own timeout, and a takeover at most this much later.
const TICK: Duration = Duration::from_millis(250);

/// How long a leader that stops as asked keeps reading for its successor to connect (Zoom
/// then closes the old connection); with no successor, it stops after this.
const HANDOVER_BOUND: Duration = Duration::from_secs(5);

/// What the election thread was asked to do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Run,
    /// A stop request: give the lease up, let the connection run until Zoom closes it.
    HandOver,
    /// The client returned: give the lease up and end.
    Quit,
}

/// What the election shares with the client's gate and with the signal handler.
pub struct Seat {
    /// Until when this instance leads: the end of its lease by our clock, counted from when the
    /// last renewal was sent, so it ends before etcd can let anyone else take the key.
    leader_until: Mutex<Option<Instant>>,
    ask: Mutex<Ask>,
    wake: Condvar,
}

impl Seat {
    pub fn new() -> Arc<Seat> {
        Arc::new(Seat {
            leader_until: Mutex::new(None),
            ask: Mutex::new(Ask::Run),
            wake: Condvar::new(),
        })
    }

    /// The client's gate: only the leader may connect, and only while its lease lasts.
    pub fn is_leader(&self) -> bool {
        lock(&self.leader_until).is_some_and(|until| Instant::now() < until)
    }

    fn lead_until(&self, until: Option<Instant>) {
        *lock(&self.leader_until) = until;
    }

    /// Asks the election thread to hand over or to quit (a quit stays).
    pub fn tell(&self, ask: Ask) {
        let mut current = lock(&self.ask);
        if *current != Ask::Quit {
            *current = ask;
        }
        self.wake.notify_all();
    }

    /// Waits up to `d` unless asked something other than `Run`; returns what is asked.
    fn wait(&self, d: Duration, past: Ask) -> Ask {
        *crate::sync::wait_while(&self.wake, lock(&self.ask), d, |ask| *ask == past)
    }
}

/// A lease this instance holds, by etcd's word: renewed before a third of its time is out,
/// valid (by our clock, counted from when the last renewal was sent) until `valid_until`.
pub struct Lease {
    id: i64,
    renew_at: Instant,
    valid_until: Instant,
}

/// One subscription's election, run on a thread of its own.
pub struct Election {
    pub(super) etcd: Etcd,
    pub(super) subscription: String,
    pub(super) key: String,
    pub(super) name: String,
    pub(super) ttl: Duration,
    pub(super) seat: Arc<Seat>,
    pub(super) client: StopHandle,
    pub(super) health: Arc<Health>,
    pub(super) index: usize,
    pub(super) lease: Option<Lease>,
    /// The last holder logged, and whether etcd was unreachable at the last tick.
    pub(super) shown: Option<Holder>,
    pub(super) unreachable: bool,
}

impl Election {
    /// Campaigns every tick until asked to stop; then gives the lease up.
    pub fn run(mut self) {
        self.health.set_leader(self.index, false);
        let ask = loop {
            self.tick(Instant::now());
            match self.seat.wait(TICK, Ask::Run) {
                Ask::Run => {}
                other => break other,
            }
        };
        let was_leader = self.seat.is_leader();
        self.resign();
        if ask == Ask::HandOver && was_leader {
            log::info!(
                "subscription {}: lease given up for a successor; reading until Zoom closes this \
                 connection (at most {} s)",
                self.label(),
                HANDOVER_BOUND.as_secs()
            );
            self.client.stop_after_connection();
            if self.seat.wait(HANDOVER_BOUND, Ask::HandOver) == Ask::HandOver {
                log::info!(
                    "subscription {}: no successor connected within {} s; stopping",
                    self.label(),
                    HANDOVER_BOUND.as_secs()
                );
            }
        }
        self.client.stop();
    }

    fn label(&self) -> String {
        zoom_ws::check::escaped(&self.subscription).to_string()
    }

    /// One look at etcd: keep the lease, take the key or learn who holds it.
    fn tick(&mut self, now: Instant) {
        let outcome = self.keep_lease(now).and_then(|lease| {
            let (key, name) = (self.key.clone(), self.name.clone());
            self.etcd.campaign(&key, &name, lease)
        });
        match outcome {
            Ok(holder) => {
                if self.unreachable {
                    log::info!("etcd answers again ({})", self.etcd.urls());
                    self.unreachable = false;
                }
                self.set(holder);
            }
            Err(problem) => self.etcd_failed(now, &problem),
        }
    }

    /// The lease's id: renewed when due, granted anew when etcd has let it expire.
    fn keep_lease(&mut self, now: Instant) -> Result<i64, String> {
        if let Some(lease) = &self.lease {
            if now < lease.renew_at {
                return Ok(lease.id);
            }
            let id = lease.id;
            if now < lease.valid_until && self.etcd.keep_alive(id)? {
                self.lease = Some(self.lease_from(id, now));
                return Ok(id);
            }
            self.lease = None;
        }
        let id = self.etcd.grant(self.ttl.as_secs())?;
        self.lease = Some(self.lease_from(id, now));
        Ok(id)
    }

    fn lease_from(&self, id: i64, sent: Instant) -> Lease {
        Lease {
            id,
            renew_at: sent + self.ttl / 3,
            valid_until: sent + self.ttl,
        }
    }

    /// etcd did not answer: a leader stays one while its lease lasts by our clock (its
    /// connection stays open either way; only a new one needs the lease).
    fn etcd_failed(&mut self, now: Instant, problem: &str) {
        if !self.unreachable {
            let doing = if self.seat.is_leader() {
                "keeping the open connection; no new one without the lease"
            } else {
                "standing by"
            };
            log::warn!(
                "subscription {}: etcd unreachable (tried {}): {}; {doing}",
                self.label(),
                self.etcd.urls(),
                zoom_ws::check::escaped(problem)
            );
            self.unreachable = true;
        }
        if self.lease.as_ref().is_none_or(|l| now >= l.valid_until) {
            self.lease = None;
        }
        if self.shown == Some(Holder::Us) && !self.seat.is_leader() {
            log::warn!(
                "subscription {}: the lease ran out without etcd; standing by (the open \
                 connection stays until Zoom closes it)",
                self.label()
            );
            self.health.set_leader(self.index, false);
            self.shown = None;
        }
    }

    fn set(&mut self, holder: Holder) {
        let leader = holder == Holder::Us;
        let until = self.lease.as_ref().map(|l| l.valid_until);
        self.seat.lead_until(until.filter(|_| leader));
        self.health.set_leader(self.index, leader);
        if self.shown.as_ref() == Some(&holder) {
            return;
        }
        match &holder {
            Holder::Us => log::info!(
                "subscription {}: this instance ({}) leads",
                self.label(),
                zoom_ws::check::escaped(&self.name)
            ),
            Holder::Other(name) => log::info!(
                "subscription {}: standing by; {} leads",
                self.label(),
                zoom_ws::check::escaped(name)
            ),
        }
        self.shown = Some(holder);
    }

    /// Gives the lease up, so that a standby takes over at once rather than after the TTL.
    fn resign(&mut self) {
        self.seat.lead_until(None);
        self.health.set_leader(self.index, false);
        if let Some(lease) = self.lease.take() {
            if let Err(problem) = self.etcd.revoke(lease.id) {
                log::warn!(
                    "subscription {}: could not give the lease up ({}); a standby takes over \
                     when it expires",
                    self.label(),
                    zoom_ws::check::escaped(&problem)
                );
            }
        }
    }
}
