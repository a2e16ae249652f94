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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    #[test]
    fn a_closed_gate_is_asked_again_until_it_opens_or_the_client_stops() {
        let shared = Arc::new(Shared::default());
        assert_eq!(wait(&mut None, &shared), Some(false));
        let mut asked = 0;
        let mut opens: Option<Gate> = Some(Box::new(move || {
            asked += 1;
            asked >= 3
        }));
        let started = Instant::now();
        assert_eq!(wait(&mut opens, &shared), Some(true));
        assert!(started.elapsed() >= RECHECK * 2);
        let mut closed: Option<Gate> = Some(Box::new(|| false));
        let stopper = Arc::clone(&shared);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            stopper.stop();
        });
        assert_eq!(wait(&mut closed, &shared), None);
    }
}
