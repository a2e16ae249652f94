//! The back-off policy between connection attempts (the rules that apply it are in `reconnect`).

use std::time::Duration;

/// How long to wait between connection attempts.
///
/// The delay doubles after each failed attempt, from `initial` up to `max`, and is drawn at random
/// from the upper half of that value ("equal jitter"): many clients restarted together spread out,
/// yet a client can never retry faster than half the nominal delay, so a server that refuses every
/// connection sees at most 8 attempts in the first minute with the defaults. After a connection
/// that stayed up for `reset_after`, the next attempt is immediate and the delay starts again at
/// `initial`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// The first delay (default 1 s).
    pub initial: Duration,
    /// The largest delay (default 60 s).
    pub max: Duration,
    /// A connection that lasted this long counts as healthy and resets the delay (default 30 s).
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            reset_after: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    /// A policy with the given first and largest delay and the default reset time.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            ..Backoff::default()
        }
    }
}
