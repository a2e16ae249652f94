//! What happened to the connection, as told to [`Client::on_state`](crate::Client::on_state).

use std::time::{Duration, SystemTime};

/// What happened to the connection, for callers that must know when they were not listening (Zoom
/// does not replay events missed while disconnected).
///
/// ```no_run
/// use zoom_ws::{Client, Config, StateChange};
///
/// let mut client = Client::new(Config::from_env()?)?;
/// client.on_state(|change| {
///     if let StateChange::Reconnected { gap_start, gap_end } = change {
///         // Ask Zoom's REST API for what happened between the two.
///         eprintln!("missed events between {gap_start:?} and {gap_end:?}");
///     }
/// });
/// # Ok::<(), zoom_ws::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateChange {
    /// Opening a connection; `attempt` counts from 1 since the last healthy connection.
    Connecting {
        /// Attempt number.
        attempt: u32,
    },
    /// Zoom accepted the subscription; events flow.
    Connected,
    /// The connection ended.
    Disconnected {
        /// Why, in a few words.
        reason: String,
    },
    /// Waiting before the next attempt.
    BackingOff {
        /// How long.
        delay: Duration,
    },
    /// Connected again after a gap: events sent by Zoom between `gap_start` (the last frame
    /// received) and `gap_end` (the new connection) were missed.
    Reconnected {
        /// When the previous connection last received anything.
        gap_start: SystemTime,
        /// When the new connection was accepted.
        gap_end: SystemTime,
    },
}
