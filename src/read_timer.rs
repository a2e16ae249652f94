//! The socket read timeout for a deadline, with no I/O: the loop sets what this returns.

use std::time::{Duration, Instant};

/// The socket read timeout that makes the next read return by a deadline.
///
/// Linux rounds long socket timeouts up to its timer wheel's granularity (a 30 s timeout was seen
/// firing 1.6 s late; the error is at most 1/8 of the value). So we aim at 7/8 of the time left and
/// re-arm for the rest when it fires, until 200 ms are left: about four wake-ups per 30 s
/// heartbeat, each heartbeat within about 12 ms of its due time (measured). Stopping the
/// refinement at 500 ms instead would save half a wake-up and cost up to 32 ms of lateness (HZ
/// 250). The timeout changes only when the armed one would overshoot the deadline or fire far too
/// early, so a busy stream costs no extra system calls.
#[derive(Debug, Default)]
pub(crate) struct ReadTimer {
    armed: Option<Duration>,
}

impl ReadTimer {
    const MIN: Duration = Duration::from_millis(1);
    const REFINE_DOWN_TO: Duration = Duration::from_millis(200);

    /// The timeout to set now, or `None` when the armed one still fits.
    pub(crate) fn arm(&mut self, now: Instant, deadline: Instant) -> Option<Duration> {
        let left = deadline.saturating_duration_since(now).max(Self::MIN);
        let aim = if left > Self::REFINE_DOWN_TO {
            left - left / 8
        } else {
            left
        };
        // Re-arm when the armed timeout would fire after the deadline, or far too early (the
        // deadline moved later, e.g. after a heartbeat went out).
        let stale = self
            .armed
            .is_none_or(|armed| armed > left || armed < aim / 2);
        stale.then(|| {
            self.armed = Some(aim);
            aim
        })
    }

    /// Setting the timeout failed: the next `arm` tries again.
    pub(crate) fn failed(&mut self) {
        self.armed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn read_timer_aims_early_and_rearms_only_when_needed() {
        let t0 = Instant::now();
        let mut timer = ReadTimer::default();
        let deadline = t0 + 30 * SECOND;
        // 7/8 of 30 s, then 7/8 of what is left when it fires early.
        assert_eq!(timer.arm(t0, deadline), Some(Duration::from_millis(26_250)));
        assert_eq!(timer.arm(t0 + SECOND, deadline), None, "still fits");
        let fired = t0 + Duration::from_millis(26_250);
        assert_eq!(
            timer.arm(fired, deadline),
            Some(Duration::from_millis(3_281_250) / 1000)
        );
        // Under 200 ms left: aim at the deadline itself.
        let close = deadline - Duration::from_millis(150);
        assert_eq!(timer.arm(close, deadline), Some(Duration::from_millis(150)));
        // Past the deadline: the smallest timeout, never zero (zero means "block forever").
        let mut fresh = ReadTimer::default();
        assert_eq!(
            fresh.arm(deadline + SECOND, deadline),
            Some(Duration::from_millis(1))
        );
        // The deadline moved later (a heartbeat went out): re-arm for the new one.
        assert!(timer.arm(close, close + 30 * SECOND).is_some());
        timer.failed();
        assert!(timer.arm(close, close + 30 * SECOND).is_some());
    }
}
