//! Counters of a client, readable from any thread while it runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::skip::Skip;

/// Counters, readable from any thread while [`Client::run`](crate::Client::run) goes on.
#[derive(Debug, Default)]
pub struct Stats {
    connections: AtomicU64,
    reconnects: AtomicU64,
    events: AtomicU64,
    pub(crate) heartbeats_sent: AtomicU64,
    pub(crate) heartbeats_answered: AtomicU64,
    pub(crate) token_fetches: AtomicU64,
    pub(crate) slow_callbacks: AtomicU64,
    skipped: [AtomicU64; Skip::ALL.len()],
    live: AtomicBool,
    gaps: AtomicU64,
    /// Milliseconds of the gaps that ended.
    gap_ms: AtomicU64,
    /// Milliseconds since the epoch when the open gap started, 0 when there is none.
    gap_since_ms: AtomicU64,
    /// Milliseconds since the epoch of the last event, 0 before the first.
    last_event_ms: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Connections that Zoom accepted.
    pub connections: u64,
    /// Accepted connections after the first.
    pub reconnects: u64,
    /// Events handed to the callback.
    pub events: u64,
    /// Heartbeats sent.
    pub heartbeats_sent: u64,
    /// Heartbeat answers received.
    pub heartbeats_answered: u64,
    /// Token requests sent by this client.
    pub token_fetches: u64,
    /// Calls of the event closure that took longer than a quarter of the heartbeat interval
    /// (each one delays the heartbeat; see [`Client::run`](crate::Client::run)).
    pub slow_callbacks: u64,
    /// Frames skipped, by reason.
    pub skipped_by_reason: Vec<(Skip, u64)>,
    /// A connection Zoom accepted is open (false again once [`Client::run`](crate::Client::run)
    /// returns).
    pub live: bool,
    /// Times an accepted connection ended other than by a stop, counted when it ends (so an
    /// alert fires during an outage, not after it): events may be lost (Zoom never replays).
    pub gaps: u64,
    /// Time without a connection after one had been accepted: each gap that ended, as told by
    /// [`StateChange::Reconnected`](crate::StateChange::Reconnected), and the open one so far.
    /// A gap ends without its wait counted when the client's [gate](crate::Client::gate)
    /// closes (another instance is in charge).
    pub gap_time: Duration,
    /// When the last event was handed to the callback; `None` before the first.
    pub last_event: Option<SystemTime>,
}

impl StatsSnapshot {
    /// All skipped frames, whatever the reason.
    pub fn skipped_total(&self) -> u64 {
        self.skipped_by_reason.iter().map(|(_, n)| n).sum()
    }

    /// Frames skipped for `reason`.
    pub fn skipped(&self, reason: Skip) -> u64 {
        self.skipped_by_reason
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let open = match get(&self.gap_since_ms) {
            0 => 0,
            since => now_ms().saturating_sub(since),
        };
        let last_event = get(&self.last_event_ms);
        StatsSnapshot {
            connections: get(&self.connections),
            reconnects: get(&self.reconnects),
            events: get(&self.events),
            heartbeats_sent: get(&self.heartbeats_sent),
            heartbeats_answered: get(&self.heartbeats_answered),
            token_fetches: get(&self.token_fetches),
            slow_callbacks: get(&self.slow_callbacks),
            skipped_by_reason: Skip::ALL
                .iter()
                .zip(&self.skipped)
                .map(|(r, c)| (*r, get(c)))
                .collect(),
            live: self.live.load(Ordering::Relaxed),
            gaps: get(&self.gaps),
            gap_time: Duration::from_millis(get(&self.gap_ms) + open),
            last_event: (last_event > 0).then(|| UNIX_EPOCH + Duration::from_millis(last_event)),
        }
    }

    /// Adds one; returns the count before.
    pub(crate) fn add(counter: &AtomicU64) -> u64 {
        counter.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn skip(&self, reason: Skip) {
        let index = Skip::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        Stats::add(&self.skipped[index]);
    }

    /// Zoom accepted a connection: counted (a reconnect after the first), and live.
    pub(crate) fn accepted(&self) {
        if Stats::add(&self.connections) > 0 {
            Stats::add(&self.reconnects);
        }
        self.live.store(true, Ordering::Relaxed);
    }

    /// The connection ended; when it had been accepted and `run` goes on, a gap opens now.
    pub(crate) fn ended(&self, gap: bool) {
        if self.live.swap(false, Ordering::Relaxed) && gap {
            Stats::add(&self.gaps);
            self.gap_since_ms.store(now_ms(), Ordering::Relaxed);
        }
    }

    /// The open gap, if any, ended: it lasted `exact` (from the last frame to the new
    /// connection), or, without it, until now.
    pub(crate) fn gap_closed(&self, exact: Option<Duration>) {
        let since = self.gap_since_ms.swap(0, Ordering::Relaxed);
        if since > 0 {
            let ms = exact.map_or(now_ms().saturating_sub(since), |d| d.as_millis() as u64);
            self.gap_ms.fetch_add(ms, Ordering::Relaxed);
        }
    }

    pub(crate) fn event(&self) {
        Stats::add(&self.events);
        self.last_event_ms.store(now_ms(), Ordering::Relaxed);
    }
}

/// Milliseconds since the epoch, now (0 for a clock set before 1970).
fn now_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH);
    now.map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_is_counted_when_a_live_connection_ends_and_its_time_grows_until_it_closes() {
        let stats = Stats::default();
        stats.ended(true); // an attempt that failed before acceptance: no gap
        assert_eq!(stats.snapshot().gaps, 0);
        stats.accepted();
        assert!(stats.snapshot().live);
        stats.ended(true);
        let open = stats.snapshot();
        assert_eq!((open.live, open.gaps), (false, 1));
        std::thread::sleep(Duration::from_millis(20));
        assert!(stats.snapshot().gap_time >= Duration::from_millis(20));
        // Reconnected: the exact gap replaces the estimate, and the clock stops.
        stats.accepted();
        stats.gap_closed(Some(Duration::from_millis(3250)));
        let back = stats.snapshot();
        assert_eq!((back.gaps, back.gap_time), (1, Duration::from_millis(3250)));
        // A stop ends the connection without a gap; a closed gate ends no gap that is not open.
        stats.ended(false);
        stats.gap_closed(None);
        let stopped = stats.snapshot();
        assert_eq!((stopped.live, stopped.gaps), (false, 1));
        assert_eq!(stopped.gap_time, Duration::from_millis(3250));
        assert_eq!(stopped.last_event, None);
        // A gap the client's closed gate ended: its time until then, and no more.
        stats.accepted();
        stats.ended(true);
        std::thread::sleep(Duration::from_millis(20));
        stats.gap_closed(None);
        let gated = stats.snapshot().gap_time;
        assert!(gated >= Duration::from_millis(3270), "{gated:?}");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(stats.snapshot().gap_time, gated);
        stats.event();
        assert!(stats.snapshot().last_event.is_some());
    }
}
