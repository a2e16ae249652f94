//! `--forward URL`: posts each event as a Zoom webhook (the library's `Forwarder`).

use std::time::Instant;

use zoom_ws::webhook::{Delivery, Forwarder};

use super::shutdown::Shutdown;
use super::worker::{Deliver, Outcome};
use crate::feed::Item;

/// Posts each event's exact content, signed when a secret token is set.
pub struct Forward {
    forwarder: Forwarder,
}

impl Forward {
    /// An output posting through `forwarder`.
    pub fn new(forwarder: Forwarder) -> Forward {
        Forward { forwarder }
    }
}

impl Deliver for Forward {
    fn deliver(&mut self, items: &[Item], shutdown: &Shutdown) -> Outcome {
        // During the drain a post may take only what is left of the grace period.
        let timeout = shutdown
            .deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        if timeout.is_some_and(|t| t.is_zero()) {
            return Outcome::Retry("no time left before exit".into());
        }
        match self.forwarder.post(items[0].content(), timeout) {
            Delivery::Accepted => Outcome::Done(1),
            Delivery::Refused { status } => Outcome::Failed(format!(
                "{} refused it with HTTP {status}; not retried",
                self.forwarder.host()
            )),
            Delivery::Retry { reason } => Outcome::Retry(reason),
            _ => Outcome::Retry("unexpected answer".into()),
        }
    }
}
