//! The rules between connections, with no I/O: how long to wait before the next attempt, what a
//! refused token means, and which gap in the event stream to report.

use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::error::{Error, Phase, Secs};
use crate::escape::escaped;
use crate::session::End;

/// What to do after a connection ended or an attempt failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum After {
    /// `run` returns `Ok`.
    Stop,
    /// `run` returns this error: retrying cannot fix it.
    Fatal(Error),
    /// Try again after `delay`.
    Retry(Retry),
}

/// The next attempt, and what to say about the last one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Retry {
    /// How long to wait first.
    pub(crate) delay: Duration,
    /// Throw the token away: the next attempt fetches a new one.
    pub(crate) drop_token: bool,
    /// For [`StateChange::Disconnected`](crate::StateChange::Disconnected): in words, and the
    /// cause when the attempt failed.
    pub(crate) reason: String,
    pub(crate) error: Option<Error>,
    /// How loud the disconnection is: an error that may need a fix (warn or error) or an
    /// ordinary disconnection (info).
    pub(crate) level: log::Level,
    /// A log line before the one about the disconnection: what becomes of a refused token
    /// (info), or a likely cause when the last connections ended alike (a warning the first
    /// time, then a debug line with the count).
    pub(crate) note: Option<(log::Level, String)>,
}

/// The state kept across connections.
#[derive(Debug)]
pub(crate) struct Reconnect {
    backoff: Backoff,
    failures: u32,
    /// When the stream last had a listener: the last message of the last accepted connection.
    gap_start: Option<Instant>,
    idle: IdleEnds,
    /// Since when no connection has been accepted (the start, or the end of the last accepted
    /// one), and how long that may last ([`Config::give_up_after`](crate::Config::give_up_after)).
    down_since: Instant,
    give_up_after: Option<Duration>,
}

impl Reconnect {
    /// `heartbeat_interval` is the one in force.
    pub(crate) fn new(backoff: Backoff, heartbeat_interval: Duration) -> Reconnect {
        Reconnect {
            backoff,
            failures: 0,
            gap_start: None,
            idle: IdleEnds::new(heartbeat_interval),
            down_since: Instant::now(),
            give_up_after: None,
        }
    }

    /// Gives up (the verdict turns fatal) once no connection has been accepted for `limit`.
    pub(crate) fn give_up_after(mut self, limit: Option<Duration>) -> Reconnect {
        self.give_up_after = limit;
        self
    }

    /// The number of the coming attempt, from 1 since the last healthy connection.
    pub(crate) fn attempt(&self) -> u32 {
        self.failures + 1
    }

    /// Zoom accepted a connection: the gap to report, when an earlier one had been accepted.
    pub(crate) fn accepted(&mut self) -> Option<Instant> {
        self.gap_start.take()
    }

    /// Another instance was in charge meanwhile (the client's gate was closed): whatever this
    /// client missed is not a gap of the stream.
    pub(crate) fn forget_gap(&mut self) {
        self.gap_start = None;
    }

    /// The verdict on an attempt. `token_fresh` says whether its token was fetched for it.
    ///
    /// A refused token is thrown away. One that had aged in the cache is replaced at once (no
    /// back-off: the next one is fresh, and a fresh one refused again backs off, so this cannot
    /// loop). A fresh one refused before acceptance means the app or the subscription is wrong:
    /// reported as an error, and paced by back-off.
    pub(crate) fn after(&mut self, outcome: Result<End, Error>, token_fresh: bool) -> After {
        match self.verdict(outcome, token_fresh) {
            After::Retry(Retry {
                error: Some(error), ..
            }) if self
                .give_up_after
                .is_some_and(|limit| self.down_since.elapsed() >= limit) =>
            {
                After::Fatal(error)
            }
            verdict => verdict,
        }
    }

    fn verdict(&mut self, outcome: Result<End, Error>, token_fresh: bool) -> After {
        let end = match outcome {
            Ok(end) => end,
            Err(e) if e.is_fatal() => return After::Fatal(e),
            Err(e) => return After::Retry(self.failed(e, false)),
        };
        match end {
            End::Stopped => After::Stop,
            End::Lost {
                reason,
                accepted_for,
                last_received,
                quiet_for,
            } => {
                let delay = self.delay_after(accepted_for, last_received, false);
                let (note, error) = match accepted_for {
                    Some(_) => (self.idle.ended_after(quiet_for), None),
                    // Ended before Zoom said yes: a failed attempt.
                    None => (
                        None,
                        Some(Error::connect(Phase::WebSocketHandshake, &reason)),
                    ),
                };
                After::Retry(Retry {
                    delay,
                    drop_token: false,
                    error,
                    reason,
                    level: log::Level::Info,
                    note,
                })
            }
            End::TokenRefused {
                content,
                accepted_for: None,
                ..
            } if token_fresh => {
                let error = Error::Rejected {
                    reason: format!("{content} (with a token fetched just now)"),
                };
                After::Retry(self.failed(error, true))
            }
            End::TokenRefused {
                content,
                accepted_for,
                last_received,
            } => {
                // Zoom's words, escaped: a line break in them cannot forge a log line.
                let shown = escaped(&content);
                let token_note = match accepted_for {
                    None => format!("Zoom refused the cached token ({shown}); fetching a new one"),
                    Some(_) => format!("token refused: {shown}; fetching a new token"),
                };
                let delay = self.delay_after(accepted_for, last_received, !token_fresh);
                After::Retry(Retry {
                    delay,
                    drop_token: true,
                    reason: format!("token refused: {shown}"),
                    error: Some(Error::Rejected { reason: content }),
                    level: log::Level::Info,
                    note: Some((log::Level::Info, token_note)),
                })
            }
        }
    }

    /// After a connection: at once when it had been healthy (or its token had only aged), else
    /// the next back-off step. An accepted connection opens a gap at its last message.
    fn delay_after(
        &mut self,
        accepted_for: Option<Duration>,
        last_received: Instant,
        token_aged: bool,
    ) -> Duration {
        if accepted_for.is_some() {
            self.gap_start.get_or_insert(last_received);
            self.down_since = Instant::now();
        }
        if accepted_for.is_some_and(|d| d >= self.backoff.reset_after) {
            self.failures = 0;
            Duration::ZERO
        } else if token_aged {
            Duration::ZERO
        } else {
            self.next_delay()
        }
    }

    /// A failed attempt: the next back-off step, or longer if the server asked (`Retry-After`).
    fn failed(&mut self, error: Error, drop_token: bool) -> Retry {
        let delay = self.next_delay();
        let delay = match &error {
            Error::Token {
                retry_after: Some(after),
                ..
            } => delay.max(*after),
            _ => delay,
        };
        Retry {
            delay,
            drop_token,
            level: match &error {
                Error::Rejected { .. } => log::Level::Error,
                _ => log::Level::Warn,
            },
            reason: error.to_string(),
            error: Some(error),
            note: None,
        }
    }

    /// Doubling up to the cap, each delay drawn from the upper half of the nominal value (see
    /// [`Backoff`]).
    fn next_delay(&mut self) -> Duration {
        let nominal = self
            .backoff
            .initial
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.backoff.max);
        self.failures = self.failures.saturating_add(1);
        // Integer arithmetic: no floating point in the binary for one random draw.
        let nanos = u64::try_from(nominal.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(nanos / 2..=nanos))
    }
}

/// Connections that keep ending after about the same quiet time, shorter than the heartbeat
/// interval, point at something in between (a proxy, a NAT, a load balancer) that closes idle
/// connections sooner than our heartbeats keep them busy.
#[derive(Debug)]
struct IdleEnds {
    interval: Duration,
    /// The quiet times of the last accepted connections that ended, newest last.
    recent: Vec<Duration>,
    /// How many times the pattern was found since it was first said (0: not said yet).
    repeats: u32,
}

impl IdleEnds {
    /// How many alike endings in a row make a pattern.
    const STREAK: usize = 3;

    fn new(interval: Duration) -> IdleEnds {
        IdleEnds {
            interval,
            recent: Vec::with_capacity(Self::STREAK),
            repeats: 0,
        }
    }

    /// Records an accepted connection that ended after `quiet_for` without traffic; when the
    /// last few all ended that way, within a second or a tenth of each other: a warning the first
    /// time, a debug line with the count after that (one diagnosis, not one per reconnect).
    fn ended_after(&mut self, quiet_for: Duration) -> Option<(log::Level, String)> {
        if quiet_for >= self.interval || quiet_for.is_zero() {
            self.recent.clear();
            return None;
        }
        if self.recent.len() == Self::STREAK {
            self.recent.remove(0);
        }
        self.recent.push(quiet_for);
        let shortest = *self.recent.iter().min()?;
        let longest = *self.recent.iter().max()?;
        let alike = longest - shortest <= (shortest / 10).max(Duration::from_secs(1));
        if self.recent.len() < Self::STREAK || !alike {
            return None;
        }
        self.repeats += 1;
        if self.repeats > 1 {
            let again = format!(
                "connections keep ending about {} after the last frame (idle timeout in \
                 between, warned about above; seen {} times)",
                Secs(shortest),
                self.repeats
            );
            return Some((log::Level::Debug, again));
        }
        Some((
            log::Level::Warn,
            format!(
                "the last {} connections each ended about {} after the last frame received, \
                 sooner than the heartbeat interval ({}): a proxy, NAT or load balancer in \
                 between probably closes idle connections; set ZOOM_HEARTBEAT_INTERVAL below {} \
                 (or raise that idle timeout)",
                Self::STREAK,
                Secs(shortest),
                Secs(self.interval),
                Secs(shortest)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn lost(accepted_for: Option<Duration>, last_received: Instant) -> Result<End, Error> {
        Ok(End::Lost {
            reason: "connection reset".into(),
            accepted_for,
            last_received,
            quiet_for: 40 * SECOND,
        })
    }

    fn refused(accepted_for: Option<Duration>, last_received: Instant) -> Result<End, Error> {
        Ok(End::TokenRefused {
            content: "Invalid Token".into(),
            accepted_for,
            last_received,
        })
    }

    fn retry(after: After) -> Retry {
        match after {
            After::Retry(retry) => retry,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn backoff_doubles_to_the_cap_with_bounded_jitter() {
        let mut r = Reconnect::new(Backoff::default(), 30 * SECOND);
        let nominal = [1u64, 2, 4, 8, 16, 32, 60, 60, 60, 60];
        for n in nominal {
            let d = r.next_delay();
            let n = Duration::from_secs(n);
            assert!(d >= n / 2 && d <= n, "{d:?} vs {n:?}");
        }
        // A healthy connection resets the delay, and the next attempt goes at once.
        let t0 = Instant::now();
        assert_eq!(
            retry(r.after(lost(Some(30 * SECOND), t0), false)).delay,
            Duration::ZERO
        );
        assert_eq!(r.attempt(), 1);
        assert!(r.next_delay() <= SECOND);
    }

    #[test]
    fn at_most_eight_attempts_in_the_first_minute() {
        // Worst case: every delay at the bottom of its range.
        for _ in 0..1000 {
            let mut r = Reconnect::new(Backoff::default(), 30 * SECOND);
            let mut t = Duration::ZERO;
            let mut attempts = 0;
            while t <= Duration::from_secs(60) {
                attempts += 1;
                t += r.next_delay();
            }
            assert!(attempts <= 8, "{attempts}");
        }
    }

    #[test]
    fn gap_runs_from_the_last_message_of_an_accepted_connection() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(Backoff::default(), 30 * SECOND);
        // Never accepted: no gap.
        retry(r.after(lost(None, t0), false));
        assert_eq!(r.accepted(), None);
        retry(r.after(lost(Some(SECOND), t0 + SECOND), false));
        // A failed attempt in between keeps the earlier start.
        retry(r.after(Err(Error::connect(crate::Phase::Tls, "reset")), false));
        retry(r.after(lost(Some(SECOND), t0 + 9 * SECOND), false));
        assert_eq!(r.accepted(), Some(t0 + SECOND));
        assert_eq!(r.accepted(), None, "reported once");
    }

    #[test]
    fn aged_token_is_replaced_at_once_and_a_fresh_refused_one_backs_off() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(Backoff::default(), 30 * SECOND);
        // A cached token refused when connecting: a new one at once.
        let aged = retry(r.after(refused(None, t0), false));
        assert!(aged.drop_token && aged.delay.is_zero());
        assert_eq!(aged.reason, "token refused: Invalid Token");
        assert!(aged.note.unwrap().1.contains("cached token"));
        // Zoom's words cannot start a log line of their own.
        let forged = Ok(End::TokenRefused {
            content: "Invalid\nINFO forged".into(),
            accepted_for: Some(SECOND),
            last_received: t0,
        });
        let forged = retry(Reconnect::new(Backoff::default(), 30 * SECOND).after(forged, false));
        assert_eq!(forged.reason, "token refused: Invalid\\nINFO forged");
        assert!(!forged.note.unwrap().1.contains('\n'));
        // A token fetched for this attempt and refused: an error, paced by back-off.
        let fresh = retry(r.after(refused(None, t0), true));
        assert!(fresh.drop_token && !fresh.delay.is_zero());
        assert_eq!(fresh.level, log::Level::Error);
        assert!(fresh.reason.contains("with a token fetched just now"));
        // Refused after acceptance: an aged token goes at once, a fresh one backs off.
        let later = retry(r.after(refused(Some(SECOND), t0), false));
        assert!(later.drop_token && later.delay.is_zero());
        let later = retry(r.after(refused(Some(SECOND), t0), true));
        assert!(later.drop_token && !later.delay.is_zero());
    }

    #[test]
    fn fatal_errors_end_the_run_and_retry_after_is_honoured() {
        let mut r = Reconnect::new(Backoff::default(), 30 * SECOND);
        let fatal = Error::config("ZOOM_CLIENT_ID", "is empty");
        assert_eq!(r.after(Err(fatal.clone()), false), After::Fatal(fatal));
        let busy = Error::Token {
            status: Some(429),
            detail: "slow down".into(),
            retry_after: Some(90 * SECOND),
        };
        let busy = retry(r.after(Err(busy), false));
        assert_eq!((busy.delay, busy.level), (90 * SECOND, log::Level::Warn));
        assert_eq!(r.after(Ok(End::Stopped), false), After::Stop);
    }

    #[test]
    fn connections_ending_alike_when_quiet_name_an_idle_timeout() {
        let mut idle = IdleEnds::new(30 * SECOND);
        let ms = Duration::from_millis;
        assert_eq!(idle.ended_after(ms(20_100)), None);
        assert_eq!(idle.ended_after(ms(19_800)), None);
        let (level, warning) = idle.ended_after(ms(20_400)).expect("a pattern");
        assert_eq!(level, log::Level::Warn);
        assert!(warning.contains("about 19.8 s"), "{warning}");
        assert!(
            warning.contains("ZOOM_HEARTBEAT_INTERVAL below 19.8 s"),
            "{warning}"
        );
        // Said once, then counted.
        let (level, again) = idle.ended_after(ms(20_000)).expect("counted");
        assert_eq!(level, log::Level::Debug);
        assert!(again.contains("seen 2 times"), "{again}");
        // Endings at scattered times are no pattern; one as long as the interval breaks it.
        let mut idle = IdleEnds::new(30 * SECOND);
        for quiet in [ms(5_000), ms(20_000), ms(12_000)] {
            assert_eq!(idle.ended_after(quiet), None);
        }
        for quiet in [ms(20_000), ms(20_000), ms(40_000), ms(20_000)] {
            assert_eq!(idle.ended_after(quiet), None);
        }
    }

    #[test]
    fn the_idle_rule_sees_only_accepted_connections() {
        let t0 = Instant::now();
        let mut r = Reconnect::new(Backoff::default(), 30 * SECOND);
        let quiet = |accepted_for| {
            Ok(End::Lost {
                reason: "connection closed".into(),
                accepted_for,
                last_received: t0,
                quiet_for: 20 * SECOND,
            })
        };
        for _ in 0..3 {
            assert_eq!(retry(r.after(quiet(None), false)).note, None);
        }
        let found: Vec<_> = (0..3)
            .map(|_| retry(r.after(quiet(Some(SECOND)), false)).note)
            .collect();
        assert!(found[0].is_none() && found[1].is_none() && found[2].is_some());
    }
}
