//! The "may I connect now?" hook ([`Client::gate`](crate::Client::gate)): something outside the
//! client (an election among several hosts, say) decides when it may ask Zoom for a token and
//! connect. Asked before each attempt, never during a connection: a connection that is open stays
//! open until it ends by itself.

use std::time::Duration;

use crate::stop::Shared;

/// How often a closed gate is asked again (on the stop handle's condition variable, so a stop
/// request still ends the wait at once).
const RECHECK: Duration = Duration::from_millis(100);

/// The caller's answer to "may this client connect now?".
pub(crate) type Gate = Box<dyn FnMut() -> bool + Send>;

/// Waits until `gate` (if any) opens: `None` when stopped first, else whether it had to wait.
pub(crate) fn wait(gate: &mut Option<Gate>, shared: &Shared) -> Option<bool> {
    let Some(gate) = gate.as_mut() else {
        return Some(false);
    };
    let mut waited = false;
    loop {
        if shared.is_stopped() || shared.is_finishing() {
            return None;
        }
        if gate() {
            return Some(waited);
        }
        if !waited {
            log::debug!("not connecting: the gate is closed");
        }
        waited = true;
        shared.sleep(RECHECK);
    }
}
