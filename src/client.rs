//! The loop: connect, read with a timeout, send heartbeats on time, notice a dead peer, reconnect
//! with back-off, stop on request. The only place that owns a socket.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tungstenite::{Message, WebSocket};

use crate::auth::{Token, TokenSource};
use crate::config::{Backoff, Config};
use crate::error::{Error, Result, Secs};
use crate::net::{self, Connector, Stream};
use crate::protocol::{self, Event, Frame, Skip};

/// What happened to the connection, for callers that must know when they were not listening (Zoom
/// does not replay events missed while disconnected).
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

/// Counters, readable from any thread while [`Client::run`] goes on.
#[derive(Debug, Default)]
pub struct Stats {
    connections: AtomicU64,
    reconnects: AtomicU64,
    events: AtomicU64,
    heartbeats_sent: AtomicU64,
    heartbeats_answered: AtomicU64,
    token_fetches: AtomicU64,
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
    /// Frames skipped, by reason.
    pub skipped: Vec<(Skip, u64)>,
}

impl StatsSnapshot {
    /// All skipped frames, whatever the reason.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.iter().map(|(_, n)| n).sum()
    }

    /// Frames skipped for `reason`.
    pub fn skipped(&self, reason: Skip) -> u64 {
        self.skipped
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
            skipped: Skip::ALL
                .iter()
                .zip(&self.skipped)
                .map(|(r, c)| (*r, get(c)))
                .collect(),
        }
    }

    fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn skip(&self, reason: Skip) {
        let index = Skip::ALL.iter().position(|r| *r == reason).unwrap_or(0);
        Stats::add(&self.skipped[index]);
    }
}

/// The stop flag and the socket it must interrupt, shared with every [`StopHandle`].
#[derive(Debug, Default)]
struct Shared {
    stopped: AtomicBool,
    socket: Mutex<Option<TcpStream>>,
    wake: Condvar,
}

impl Shared {
    fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<TcpStream>> {
        self.socket.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers the current connection's socket, so `stop` can interrupt a blocked read.
    fn register(&self, tcp: &TcpStream) {
        let mut socket = self.lock();
        *socket = tcp.try_clone().ok();
        if self.is_stopped() {
            tcp.shutdown(Shutdown::Read).ok();
        }
    }

    fn unregister(&self) {
        *self.lock() = None;
    }

    /// Sleeps for `delay` unless stopped first.
    fn sleep(&self, delay: Duration) {
        let deadline = Instant::now() + delay;
        let mut socket = self.lock();
        while !self.is_stopped() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            socket = match self.wake.wait_timeout(socket, deadline - now) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let socket = self.lock();
        if let Some(tcp) = socket.as_ref() {
            // Wakes a blocked read() at once; the write half stays open for the Close frame.
            tcp.shutdown(Shutdown::Read).ok();
        }
        self.wake.notify_all();
    }
}

/// Ends a running [`Client::run`] from any thread: it returns within moments, after sending a
/// Close frame when connected.
#[derive(Clone, Debug)]
pub struct StopHandle(Arc<Shared>);

impl StopHandle {
    /// Asks the client to stop. Safe to call more than once, before or during `run`.
    pub fn stop(&self) {
        self.0.stop();
    }

    /// True once [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }
}

type StateCallback = Box<dyn FnMut(&StateChange) + Send>;

/// A Zoom event-subscription client. See the crate docs for an example.
pub struct Client {
    config: Config,
    tokens: Arc<TokenSource>,
    connector: Connector,
    shared: Arc<Shared>,
    stats: Arc<Stats>,
    on_state: Option<StateCallback>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}

/// How one connection ended.
enum End {
    Stopped,
    Lost {
        reason: String,
        connected_for: Option<Duration>,
        last_received: SystemTime,
        /// Zoom refused a token it had accepted before (it expired or was revoked): throw it
        /// away and reconnect at once with a new one, nothing to report.
        token_refused: bool,
    },
}

impl Client {
    /// A client for `config`. Checks the configuration; connects only in [`run`](Self::run).
    pub fn new(config: Config) -> Result<Client> {
        config.validate()?;
        let tokens = Arc::new(TokenSource::new(&config)?);
        Client::with_tokens(config, tokens)
    }

    /// A client that shares `tokens` with others (several subscriptions of one app need one
    /// token, not one each).
    pub fn with_tokens(config: Config, tokens: Arc<TokenSource>) -> Result<Client> {
        config.validate()?;
        Ok(Client {
            connector: Connector::new(&config)?,
            config,
            tokens,
            shared: Arc::default(),
            stats: Arc::default(),
            on_state: None,
        })
    }

    /// A handle that ends [`run`](Self::run) from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.shared.clone())
    }

    /// The counters, live.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Calls `f` on every change of the connection's state (connected, disconnected, gaps).
    pub fn on_state(&mut self, f: impl FnMut(&StateChange) + Send + 'static) {
        self.on_state = Some(Box::new(f));
    }

    fn tell(&mut self, change: StateChange) {
        if let Some(f) = self.on_state.as_mut() {
            f(&change);
        }
    }

    /// Connects and hands every event to `on_event`, reconnecting as needed, until stopped
    /// (returns `Ok`) or until an error that retrying cannot fix (wrong credentials, bad settings).
    pub fn run(&mut self, mut on_event: impl FnMut(&Event)) -> Result<()> {
        let mut retry = Retry::new(self.config.backoff.clone());
        let mut gap_start: Option<SystemTime> = None;
        while !self.shared.is_stopped() {
            self.tell(StateChange::Connecting {
                attempt: retry.failures + 1,
            });
            log::info!(
                "connecting to {} (subscription {})",
                self.connector.target().host,
                self.config.subscription_id
            );
            let delay = match self.connect_and_read(&mut on_event, &mut gap_start) {
                Ok(End::Stopped) => break,
                Ok(End::Lost {
                    reason,
                    connected_for,
                    last_received,
                    token_refused,
                }) => {
                    log::info!("disconnected: {reason}");
                    self.tell(StateChange::Disconnected { reason });
                    if connected_for.is_some() {
                        gap_start.get_or_insert(last_received);
                    }
                    if connected_for.is_some_and(|d| d >= self.config.backoff.reset_after) {
                        retry.reset();
                        Duration::ZERO
                    } else if token_refused {
                        // An aged token: the next attempt brings a fresh one, and a fresh one
                        // refused again is an error that backs off, so going at once cannot loop.
                        Duration::ZERO
                    } else {
                        retry.next_delay()
                    }
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => self.failed_attempt(e, &mut retry),
            };
            if !delay.is_zero() && !self.shared.is_stopped() {
                log::info!("backing off for {} ms", delay.as_millis());
                self.tell(StateChange::BackingOff { delay });
                self.shared.sleep(delay);
            }
        }
        Ok(())
    }

    /// Logs a failed attempt and says how long to wait before the next.
    fn failed_attempt(&mut self, error: Error, retry: &mut Retry) -> Duration {
        let delay = retry.next_delay();
        match &error {
            Error::Rejected { .. } => log::error!("{error}"),
            _ => log::warn!("{error}"),
        }
        let delay = match &error {
            Error::Token {
                retry_after: Some(after),
                ..
            } => delay.max(*after),
            _ => delay,
        };
        self.tell(StateChange::Disconnected {
            reason: error.to_string(),
        });
        delay
    }

    /// One connection from token to end.
    fn connect_and_read(
        &mut self,
        on_event: &mut impl FnMut(&Event),
        gap_start: &mut Option<SystemTime>,
    ) -> Result<End> {
        let token = self.tokens.token()?;
        if token.fresh {
            Stats::add(&self.stats.token_fetches);
        }
        let url = net::socket_url(
            &self.config.ws_url,
            &self.config.subscription_id,
            token.value.expose(),
        );
        let shared = self.shared.clone();
        let opened = self.connector.open(url, |tcp| shared.register(tcp));
        let result = match opened {
            Ok(mut socket) => {
                let end = self.read_loop(&mut socket, on_event, gap_start);
                if matches!(end, Ok(End::Stopped)) {
                    // The read half is shut; the write half still carries the Close frame.
                    // RFC 6455 wants a masking key the server cannot predict.
                    let frame = protocol::close_frame((random_seed() as u32).to_le_bytes());
                    let stream = socket.get_mut();
                    stream.write_all(&frame).and_then(|()| stream.flush()).ok();
                }
                end
            }
            Err(e) if self.shared.is_stopped() => {
                log::debug!("stopped while connecting ({e})");
                Ok(End::Stopped)
            }
            Err(e) => Err(e),
        };
        self.shared.unregister();
        match result {
            Err(Error::Rejected { reason }) => self.token_refused(&token, &reason),
            Ok(End::Lost {
                token_refused: true,
                reason,
                connected_for,
                last_received,
            }) => {
                log::info!("{reason}; fetching a new token");
                self.tokens.invalidate(&token.value);
                // Reconnect at once only for a token that had aged in the cache: a token fetched
                // for this very connection and then refused goes through back-off, never a loop.
                Ok(End::Lost {
                    reason,
                    connected_for,
                    last_received,
                    token_refused: !token.fresh,
                })
            }
            other => other,
        }
    }

    /// Zoom refused the token when connecting. A cached one may just have aged: drop it and
    /// fetch another. A fresh one means the app or the subscription is wrong: report it (the
    /// error's message says what to check), and let back-off pace the retries.
    fn token_refused(&mut self, token: &Token, reason: &str) -> Result<End> {
        self.tokens.invalidate(&token.value);
        if token.fresh {
            Err(Error::Rejected {
                reason: format!("{reason} (with a token fetched just now)"),
            })
        } else {
            log::info!("Zoom refused the cached token ({reason}); fetching a new one");
            Ok(End::Lost {
                reason: format!("token refused: {reason}"),
                connected_for: Some(Duration::ZERO),
                last_received: SystemTime::now(),
                token_refused: true,
            })
        }
    }

    /// Reads frames until the connection ends, sending heartbeats on time.
    fn read_loop(
        &mut self,
        socket: &mut WebSocket<Stream>,
        on_event: &mut impl FnMut(&Event),
        gap_start: &mut Option<SystemTime>,
    ) -> Result<End> {
        let interval = self.config.heartbeat_interval;
        let dead_after = self.config.dead_peer_timeout();
        let started = Instant::now();
        let mut connected_at: Option<Instant> = None;
        let mut next_beat = started + interval;
        let mut last_received = started;
        // Set after a read returns a frame and turned into a time at the top of the loop: one
        // clock read per frame, not three.
        let mut received = false;
        let mut timer = ReadTimer::default();
        let tcp = socket.get_ref().tcp().try_clone().ok();

        let lost = |reason: String, connected_at: Option<Instant>, last: Instant| {
            Ok(End::Lost {
                reason,
                connected_for: connected_at.map(|t| t.elapsed()),
                last_received: wall_time(last),
                token_refused: false,
            })
        };
        // Before Zoom accepted the connection, a refused token is an answer to this attempt;
        // afterwards it means the token aged or was revoked while in use.
        let refused =
            |content: String, connected_at: Option<Instant>, last: Instant| match connected_at {
                None => Err(Error::Rejected { reason: content }),
                Some(at) => Ok(End::Lost {
                    reason: format!("token refused: {content}"),
                    connected_for: Some(at.elapsed()),
                    last_received: wall_time(last),
                    token_refused: true,
                }),
            };

        loop {
            if self.shared.is_stopped() {
                return Ok(End::Stopped);
            }
            let now = Instant::now();
            if received {
                last_received = now;
                received = false;
            }
            if now >= next_beat {
                if let Err(e) = socket.send(Message::text(protocol::HEARTBEAT)) {
                    let reason = format!("heartbeat not sent: {}", net::describe_ws_error(&e));
                    return lost(reason, connected_at, last_received);
                }
                Stats::add(&self.stats.heartbeats_sent);
                log::debug!("heartbeat sent");
                next_beat = now + interval;
            }
            let silent_for = now.saturating_duration_since(last_received);
            if silent_for >= dead_after {
                let reason = format!(
                    "nothing received for {}; the connection is dead",
                    Secs(silent_for)
                );
                return lost(reason, connected_at, last_received);
            }
            let wake = next_beat.min(last_received + dead_after);
            if let Some(tcp) = &tcp {
                timer.arm(tcp, now, wake);
            }
            socket.get_mut().wake_by(wake);

            let message = match socket.read() {
                Ok(message) => message,
                Err(tungstenite::Error::Io(e)) if net::is_timeout(&e) => continue,
                Err(e) => {
                    if self.shared.is_stopped() {
                        return Ok(End::Stopped);
                    }
                    if let tungstenite::Error::Capacity(_) = e {
                        self.stats.skip(Skip::TooLarge);
                        log::warn!(
                            "a message exceeded the maximum of {} bytes (ZOOM_MAX_MESSAGE_SIZE); \
                             dropping the connection",
                            self.config.max_message_size
                        );
                    }
                    return lost(net::describe_ws_error(&e), connected_at, last_received);
                }
            };
            received = true;

            let text = match message {
                Message::Text(text) => text,
                Message::Binary(data) => {
                    self.stats.skip(Skip::Binary);
                    log::warn!("skipped a binary frame of {} bytes", data.len());
                    continue;
                }
                Message::Ping(_) => {
                    // tungstenite queued the pong; send it now rather than with the next heartbeat.
                    socket.flush().ok();
                    continue;
                }
                Message::Close(frame) => {
                    // Send tungstenite's answer and go: a server that closes may keep the TCP
                    // connection open, and every moment spent waiting is lost events.
                    socket.flush().ok();
                    let reason = match frame {
                        Some(f) if f.reason.is_empty() => {
                            format!("server closed the connection (code {})", u16::from(f.code))
                        }
                        Some(f) => format!(
                            "server closed the connection (code {}: {})",
                            u16::from(f.code),
                            f.reason
                        ),
                        None => "server closed the connection".to_string(),
                    };
                    return lost(reason, connected_at, last_received);
                }
                Message::Pong(_) | Message::Frame(_) => continue,
            };

            match protocol::decode_frame(&text) {
                Ok(Frame::Event(event)) => {
                    if connected_at.is_none() {
                        self.connected(&mut connected_at, gap_start);
                    }
                    Stats::add(&self.stats.events);
                    on_event(&event);
                }
                Ok(Frame::BuildConnection { success: true, .. }) => {
                    self.connected(&mut connected_at, gap_start);
                }
                Ok(Frame::BuildConnection {
                    success: false,
                    content,
                }) => return refused(content, connected_at, last_received),
                Ok(Frame::Heartbeat { success, content }) => {
                    if !success && protocol::says_token_invalid(&content) {
                        return refused(content, connected_at, last_received);
                    }
                    Stats::add(&self.stats.heartbeats_answered);
                    log::debug!("heartbeat answered");
                }
                Ok(Frame::Other {
                    module,
                    success,
                    content,
                }) => {
                    if protocol::says_token_invalid(&content) {
                        return refused(content, connected_at, last_received);
                    }
                    if module == "message" && !success {
                        log::warn!("Zoom reported a failure: {}", shorten(&content));
                    } else {
                        self.stats.skip(Skip::UnknownModule);
                        log::info!("skipped a frame of unknown module {:?}", shorten(module));
                    }
                }
                Err(skip) => {
                    self.stats.skip(skip);
                    log::warn!("skipped a frame: {skip} ({} bytes)", text.len());
                    log::debug!("skipped frame starts with {:?}", shorten(&text));
                }
            }
        }
    }

    /// Marks the connection as accepted, counts it, and reports the gap if there was one.
    fn connected(
        &mut self,
        connected_at: &mut Option<Instant>,
        gap_start: &mut Option<SystemTime>,
    ) {
        if connected_at.is_some() {
            return;
        }
        *connected_at = Some(Instant::now());
        let previous = self.stats.connections.fetch_add(1, Ordering::Relaxed);
        log::info!(
            "connected; subscription {} is live",
            self.config.subscription_id
        );
        self.tell(StateChange::Connected);
        if previous > 0 {
            Stats::add(&self.stats.reconnects);
        }
        if let Some(start) = gap_start.take() {
            let end = SystemTime::now();
            let gap = end.duration_since(start).unwrap_or_default();
            log::info!("reconnected after a gap of {}", Secs(gap));
            self.tell(StateChange::Reconnected {
                gap_start: start,
                gap_end: end,
            });
        }
    }
}

/// The wall-clock time of an earlier instant (for gap reports; the loop keeps only instants).
fn wall_time(instant: Instant) -> SystemTime {
    SystemTime::now()
        .checked_sub(instant.elapsed())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// The first characters of a text, for logs.
fn shorten(text: &str) -> &str {
    match text.char_indices().nth(80) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

/// Sets the socket's read timeout so that the next read returns by a deadline.
///
/// Linux rounds long socket timeouts up to its timer wheel's granularity (a 30 s timeout was seen
/// firing 1.6 s late; the error is at most 1/8 of the value). So we aim at 7/8 of the time left and
/// re-arm for the rest when it fires, until 200 ms are left: about four wake-ups per 30 s
/// heartbeat, each heartbeat within about 12 ms of its due time (measured). Stopping the
/// refinement at 500 ms saves half a wake-up and costs up to 32 ms of lateness (HZ 250). The timeout is changed only when the armed one would overshoot the deadline
/// or the deadline is close, so a busy stream costs no extra system calls.
#[derive(Default)]
struct ReadTimer {
    armed: Option<Duration>,
}

impl ReadTimer {
    const MIN: Duration = Duration::from_millis(1);

    fn arm(&mut self, tcp: &TcpStream, now: Instant, deadline: Instant) {
        let left = deadline.saturating_duration_since(now).max(Self::MIN);
        let aim = if left > Duration::from_millis(200) {
            left - left / 8
        } else {
            left
        };
        // Re-arm when the armed timeout would fire after the deadline, or far too early (the
        // deadline moved later, e.g. after a heartbeat went out).
        let stale = self
            .armed
            .is_none_or(|armed| armed > left || armed < aim / 2);
        if stale && tcp.set_read_timeout(Some(aim)).is_ok() {
            self.armed = Some(aim);
        }
    }
}

/// 64 unpredictable bits: std's `RandomState` keys come from the OS, and each new one differs.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Delays between attempts: doubling up to a cap, each drawn from the upper half of the nominal
/// value (see [`Backoff`]).
struct Retry {
    policy: Backoff,
    failures: u32,
    rng: u64,
}

impl Retry {
    fn new(policy: Backoff) -> Self {
        Retry {
            policy,
            failures: 0,
            rng: random_seed() | 1,
        }
    }

    fn reset(&mut self) {
        self.failures = 0;
    }

    /// xorshift64: uniform enough for jitter and masks, no extra crate.
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn next_delay(&mut self) -> Duration {
        let nominal = self
            .policy
            .initial
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.policy.max);
        self.failures = self.failures.saturating_add(1);
        // Integer arithmetic: no floating point in the binary for one random draw.
        let half = nominal.as_nanos() / 2;
        let jitter = u128::from(self.next_random()) % (half + 1);
        Duration::from_nanos(u64::try_from(half + jitter).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_bounded_jitter() {
        let mut retry = Retry::new(Backoff::default());
        let delays: Vec<Duration> = (0..10).map(|_| retry.next_delay()).collect();
        let nominal = [1u64, 2, 4, 8, 16, 32, 60, 60, 60, 60];
        for (d, n) in delays.iter().zip(nominal) {
            let n = Duration::from_secs(n);
            assert!(*d >= n / 2 && *d <= n, "{d:?} vs {n:?}");
        }
        retry.reset();
        assert!(retry.next_delay() <= Duration::from_secs(1));
    }

    #[test]
    fn at_most_eight_attempts_in_the_first_minute() {
        // Worst case: every delay at the bottom of its range.
        for _ in 0..1000 {
            let mut retry = Retry::new(Backoff::default());
            let mut t = Duration::ZERO;
            let mut attempts = 0;
            while t <= Duration::from_secs(60) {
                attempts += 1;
                t += retry.next_delay();
            }
            assert!(attempts <= 8, "{attempts}");
        }
    }

    #[test]
    fn public_types_are_send() {
        fn send<T: Send>() {}
        fn sync<T: Send + Sync>() {}
        send::<Client>();
        sync::<StopHandle>();
        sync::<Stats>();
    }
}
