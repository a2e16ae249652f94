//! Counters of a client, readable from any thread while it runs.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::skip::Skip;

/// Counters, readable from any thread while [`Client::run`](crate::Client::run) goes on.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) connections: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) heartbeats_sent: AtomicU64,
    pub(crate) heartbeats_answered: AtomicU64,
    pub(crate) token_fetches: AtomicU64,
    pub(crate) slow_callbacks: AtomicU64,
    skipped: [AtomicU64; Skip::ALL.len()],
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
}
