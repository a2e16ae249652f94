//! The end of a run as the outputs see it: running, then draining until a deadline (the grace
//! period), which a second signal moves to now.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Shared by the main thread (begins the drain), the signal thread (cuts it short) and the
/// workers (finish by the deadline; a pause between retries ends when the drain begins).
#[derive(Default)]
pub struct Shutdown {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// Set when the drain begins: the outputs may go on until then.
    deadline: Option<Instant>,
    /// A second stop request came: no grace at all.
    cut: bool,
}

impl Shutdown {
    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Starts the drain: the outputs have `grace` (none if it was already cut short).
    pub fn begin(&self, grace: Duration) -> Instant {
        let mut st = self.lock();
        let now = Instant::now();
        let start = if st.cut { now } else { now + grace };
        let deadline = *st.deadline.get_or_insert(start);
        self.changed.notify_all();
        deadline
    }

    /// Cuts the grace period short, now or as soon as it begins.
    pub fn cut(&self) {
        let mut st = self.lock();
        st.cut = true;
        let now = Instant::now();
        st.deadline = st.deadline.map(|d| d.min(now));
        self.changed.notify_all();
    }

    /// The end of the grace period, once the drain has begun.
    pub fn deadline(&self) -> Option<Instant> {
        self.lock().deadline
    }

    /// Whether the drain has begun.
    pub fn draining(&self) -> bool {
        self.deadline().is_some()
    }

    /// Waits up to `pause`, less if the drain begins or is cut short meanwhile.
    pub fn sleep(&self, pause: Duration) {
        let st = self.lock();
        let seen = (st.deadline, st.cut);
        drop(crate::sync::wait_while(&self.changed, st, pause, |st| {
            (st.deadline, st.cut) == seen
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_cut_before_or_during_the_drain_leaves_no_grace() {
        let s = Shutdown::default();
        assert!(!s.draining());
        let d = s.begin(Duration::from_secs(5));
        assert!(d > Instant::now() + Duration::from_secs(4));
        s.cut();
        assert!(s.deadline().unwrap() <= Instant::now());

        let s = Shutdown::default();
        s.cut();
        assert!(s.begin(Duration::from_secs(5)) <= Instant::now());
    }

    #[test]
    fn a_pause_ends_when_the_drain_begins() {
        let s = Arc::new(Shutdown::default());
        let t = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                let start = Instant::now();
                s.sleep(Duration::from_secs(20));
                start.elapsed()
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        s.begin(Duration::from_secs(1));
        assert!(t.join().unwrap() < Duration::from_secs(10));
    }
}
