//! What happened to the connection, as told to [`Client::on_state`](crate::Client::on_state).

use std::time::{Duration, SystemTime};

use crate::error::Error;

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
///     if let StateChange::Disconnected { error: Some(zoom_ws::Error::Rejected { reason }), .. } = change {
///         eprintln!("Zoom refused the subscription: {reason}");
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
    /// The connection ended, or an attempt failed.
    Disconnected {
        /// Why, in a few words (for a log line).
        reason: String,
        /// The cause as a value, when the attempt failed (`None` when a connection Zoom had
        /// accepted simply ended): [`Error::Rejected`] when Zoom refused the subscription or the
        /// token, [`Error::Connect`] or [`Error::Timeout`] when it could not be reached,
        /// [`Error::Token`] when the token request failed. A program can stop on the one it
        /// cannot wait out (see also [`Config::give_up_after`](crate::Config::give_up_after)).
        error: Option<Error>,
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
