//! The loop: connect, then read and write what the session asks, reconnect as the reconnect rules
//! say, stop on request. The only place that owns a socket; every decision is made in
//! `session` and `reconnect`, which do no I/O.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::state::StateChange;

use log::Level;
use tungstenite::{Message, WebSocket};

use crate::auth::{Token, TokenSource};
use crate::config::Config;
use crate::error::{Error, Result, Secs, describe_ws_error, is_timeout};
use crate::escape::escaped;
use crate::event::Event;
use crate::gate::{self, Gate};
use crate::net::{Connector, Stream};
use crate::protocol::HEARTBEAT;
use crate::read_timer::ReadTimer;
use crate::reconnect::{After, Reconnect};
use crate::session::{End, Next, Session, Step, shorten};
use crate::skip::Skip;
use crate::stats::Stats;
use crate::stop::{Shared, StopHandle};
use crate::trust::Trust;

type StateCallback = Box<dyn FnMut(&StateChange) + Send>;
type Full = Box<dyn Fn() -> bool + Send>;

/// How long a stopped client waits for Zoom to answer its Close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// How often a paused loop asks again whether the consumer has room.
const PAUSE_STEP: Duration = Duration::from_millis(1);

/// A Zoom event-subscription client: one subscription, one connection at a time.
///
/// Several subscriptions of one app share one token (one [`TokenSource`]), one thread each:
///
/// ```no_run
/// use std::sync::Arc;
/// use zoom_ws::{Client, Config, TokenSource};
///
/// let base = Config::from_env()?;
/// let tokens = Arc::new(TokenSource::new(&base)?);
/// let threads: Vec<_> = ["SUB_A", "SUB_B"]
///     .into_iter()
///     .map(|subscription| {
///         let mut config = base.clone();
///         config.subscription_id = subscription.to_string();
///         let mut client = Client::with_tokens(config, tokens.clone())?;
///         Ok(std::thread::spawn(move || {
///             client.run(|event| println!("{subscription} {}", event.name()))
///         }))
///     })
///     .collect::<Result<_, zoom_ws::Error>>()?;
/// for thread in threads {
///     thread.join().expect("no panic")?;
/// }
/// # Ok::<(), zoom_ws::Error>(())
/// ```
pub struct Client {
    config: Config,
    tokens: Arc<TokenSource>,
    connector: Connector,
    shared: Arc<Shared>,
    stats: Arc<Stats>,
    on_state: Option<StateCallback>,
    full: Option<Full>,
    gate: Option<Gate>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `config`. Checks the configuration; connects only in [`run`](Self::run).
    pub fn new(config: Config) -> Result<Client> {
        // TokenSource::new checks the configuration: once per client, not twice.
        let tokens = Arc::new(TokenSource::new(&config)?);
        Client::build(config, tokens)
    }

    /// A client that shares `tokens` with others (several subscriptions of one app need one
    /// token, not one each). The trust roots are shared too when `ca_file` is the same.
    pub fn with_tokens(config: Config, tokens: Arc<TokenSource>) -> Result<Client> {
        config.validate()?;
        Client::build(config, tokens)
    }

    fn build(config: Config, tokens: Arc<TokenSource>) -> Result<Client> {
        let trust = Trust::load(config.ca_file.as_deref())?;
        Ok(Client {
            connector: Connector::new(&config, trust)?,
            config,
            tokens,
            shared: Arc::default(),
            stats: Arc::default(),
            on_state: None,
            full: None,
            gate: None,
        })
    }

    /// A handle that ends [`run`](Self::run) from another thread, e.g. a signal handler's.
    ///
    /// ```no_run
    /// let mut client = zoom_ws::Client::new(zoom_ws::Config::from_env()?)?;
    /// let stop = client.stop_handle();
    /// std::thread::spawn(move || {
    ///     // Wait for SIGTERM here (signal-hook, a pipe, a channel…), then:
    ///     stop.stop();
    /// });
    /// client.run(|event| println!("{}", event.json_line()))?; // returns soon after stop()
    /// # Ok::<(), zoom_ws::Error>(())
    /// ```
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

    /// Backpressure: before each read the loop asks `full`; while it says true, the loop does
    /// not read (TCP and Zoom's side hold what comes), sleeps in 1 ms steps, still sends every
    /// heartbeat on time, and does not count the silence against Zoom (the dead-peer bound
    /// starts again when reading resumes). For a consumer that is slower than the socket for a
    /// while, e.g. a bounded queue in front of a writer; decide yourself when waiting has lasted
    /// too long and return false (then drop, or grow).
    pub fn pause_while(&mut self, full: impl Fn() -> bool + Send + 'static) {
        self.full = Some(Box::new(full));
    }

    /// Asks `may_connect` before each attempt (its token request and its connection); while it
    /// answers `false`, the client asks Zoom for nothing and asks again every 100 ms. An open
    /// connection is never closed for it. For an election among several hosts, where only the
    /// leader may connect (Zoom closes a subscription's connection when another one opens).
    pub fn gate(&mut self, mut may_connect: impl FnMut() -> bool + Send + 'static) {
        let stats = Arc::clone(&self.stats);
        self.gate = Some(Box::new(move || {
            let open = may_connect();
            if !open {
                stats.gap_closed(None); // another instance is in charge: not a gap of ours
            }
            open
        }));
    }

    fn tell(&mut self, change: StateChange) {
        if let Some(f) = self.on_state.as_mut() {
            f(&change);
        }
    }

    /// Connects and hands every event to `on_event`, reconnecting as needed, until stopped
    /// (returns `Ok`) or until an error that retrying cannot fix (wrong credentials, bad settings).
    ///
    /// `on_event` runs on the loop that also sends the heartbeats: it must return well within
    /// the heartbeat interval. A call that takes longer than a quarter of it is logged and
    /// counted ([`StatsSnapshot::slow_callbacks`](crate::StatsSnapshot::slow_callbacks)); one
    /// that blocks for long gets the connection dropped as dead. Hand slow work to a thread of
    /// yours through a bounded channel, without waiting when it is full (see
    /// `examples/bounded_channel.rs`).
    pub fn run(&mut self, mut on_event: impl FnMut(&Event)) -> Result<()> {
        let mut reconnect =
            Reconnect::new(self.config.backoff.clone(), self.config.heartbeat_interval)
                .give_up_after(self.config.give_up_after);
        let mut result = Ok(());
        while !self.shared.is_stopped() && !self.shared.is_finishing() {
            match gate::wait(&mut self.gate, &self.shared) {
                None => break,
                Some(true) => reconnect.forget_gap(),
                Some(false) => {}
            }
            self.tell(StateChange::Connecting {
                attempt: reconnect.attempt(),
            });
            log::info!(
                "connecting to {} (subscription {})",
                self.connector.target().host,
                self.config.subscription_id
            );
            let (outcome, token) = self.connect_and_read(&mut on_event, &mut reconnect);
            let fresh = token.as_ref().is_some_and(|t| t.fresh);
            let retry = match reconnect.after(outcome, fresh) {
                After::Stop => break,
                After::Fatal(error) => {
                    result = Err(error);
                    break;
                }
                After::Retry(retry) => retry,
            };
            if retry.drop_token {
                if let Some(token) = &token {
                    self.tokens.invalidate(&token.value);
                }
            }
            if let Some((level, note)) = &retry.note {
                log::log!(*level, "{note}");
            }
            match retry.level {
                Level::Info => log::info!("disconnected: {}", retry.reason),
                level => log::log!(level, "{}", retry.reason),
            }
            self.stats.ended(true);
            self.tell(StateChange::Disconnected {
                reason: retry.reason,
                error: retry.error,
            });
            let delay = retry.delay;
            if !delay.is_zero() && !self.shared.is_stopped() {
                log::info!("backing off for {} ms", delay.as_millis());
                self.tell(StateChange::BackingOff { delay });
                self.shared.sleep(delay);
            }
        }
        self.stats.ended(false); // a stop or a fatal error: no gap
        result
    }

    /// One connection from token to end, with the token it used (when one was got).
    fn connect_and_read(
        &mut self,
        on_event: &mut impl FnMut(&Event),
        reconnect: &mut Reconnect,
    ) -> (Result<End>, Option<Token>) {
        let token = match self.token() {
            Ok(Some(token)) => token,
            Ok(None) => return (Ok(End::Stopped), None),
            Err(e) => return (Err(e), None),
        };
        if token.fresh {
            Stats::add(&self.stats.token_fetches);
        }
        let url = crate::url::socket_url(
            &self.config.ws_url,
            &self.config.subscription_id,
            token.value.expose(),
        );
        let shared = self.shared.clone();
        let outcome = match self.connector.open(url, |tcp| shared.register(tcp)) {
            Ok(mut socket) => Ok(self.read_loop(&mut socket, on_event, reconnect)),
            Err(e) if self.shared.is_stopped() => {
                log::debug!("stopped while connecting ({e})");
                Ok(End::Stopped)
            }
            // A 401 or 403 at the handshake: the token, like a refusal in the first frame.
            Err(Error::Rejected { reason }) => Ok(End::TokenRefused {
                content: reason,
                accepted_for: None,
                last_received: Instant::now(),
            }),
            Err(e) => Err(e),
        };
        self.shared.unregister();
        (outcome, Some(token))
    }

    /// The token for the next connection (`None` once stopped). A request is sent from a helper
    /// thread, so that a stop cuts it short: the loop waits on the stop handle, not on the
    /// request, which ends by its own timeout and is then dropped.
    fn token(&self) -> Result<Option<Token>> {
        if let Some(token) = self.tokens.cached() {
            return Ok(Some(token));
        }
        let slot = Arc::new(Mutex::new(None));
        let (tokens, shared, out) = (self.tokens.clone(), self.shared.clone(), slot.clone());
        let spawned = std::thread::Builder::new()
            .name("zoom-ws-token".into())
            .spawn(move || {
                let token = tokens.token();
                *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(token);
                shared.notify();
            });
        if spawned.is_err() {
            return self.tokens.token().map(Some);
        }
        let lock = || slot.lock().unwrap_or_else(|e| e.into_inner());
        // The request ends by its own timeout (ZOOM_CONNECT_TIMEOUT); a stop ends the wait.
        let far = Instant::now() + Duration::from_secs(86_400);
        self.shared.wait_until(far, || lock().is_some());
        lock().take().transpose()
    }

    /// Reads until the connection ends, doing what the session asks. After a stop: sends a
    /// Close frame and goes on reading (every event that arrives is handed on) until Zoom's
    /// Close or [`CLOSE_WAIT`], so nothing read by the kernel is left unaccounted for.
    fn read_loop(
        &mut self,
        socket: &mut WebSocket<Stream>,
        on_event: &mut impl FnMut(&Event),
        reconnect: &mut Reconnect,
    ) -> End {
        let mut session = Session::new(
            Instant::now(),
            self.config.heartbeat_interval,
            self.config.effective_dead_peer_timeout(),
        );
        let mut timer = ReadTimer::default();
        socket.get_mut().stop_on(self.shared.flag());
        let mut closing = None;
        loop {
            let now = Instant::now();
            if closing.is_none() && self.shared.is_stopped() {
                // Close, then read until Zoom's Close: tungstenite still hands on what comes.
                if socket.close(None).and_then(|()| socket.flush()).is_err() {
                    return End::Stopped;
                }
                closing = Some(now + CLOSE_WAIT);
            }
            let until = match closing {
                Some(deadline) if now >= deadline => {
                    log::warn!(
                        "Zoom did not answer the Close frame within {}; what it sent since is \
                         not known",
                        Secs(CLOSE_WAIT)
                    );
                    return End::Stopped;
                }
                Some(deadline) => deadline,
                None => match self.poll(&mut session, socket, now) {
                    Ok(until) => until,
                    Err(end) => return end,
                },
            };
            if closing.is_none() && self.full.as_ref().is_some_and(|full| full()) {
                session.hold(now);
                self.shared.sleep(PAUSE_STEP.min(until - now));
                continue;
            }
            read_by(socket, &mut timer, now, until);
            let step = match socket.read() {
                Ok(message) => session.message(message),
                Err(tungstenite::Error::Io(e)) if is_timeout(&e) => continue,
                Err(_) if closing.is_some() => return End::Stopped,
                Err(e) => return self.read_failed(&session, &e),
            };
            if let Some(end) = self.act(
                step,
                socket,
                &session,
                closing.is_some(),
                on_event,
                reconnect,
            ) {
                return end;
            }
        }
    }

    /// Does what a message read means; the end of the connection when it ends it.
    fn act(
        &mut self,
        step: Step,
        socket: &mut WebSocket<Stream>,
        session: &Session,
        closing: bool,
        on_event: &mut impl FnMut(&Event),
        reconnect: &mut Reconnect,
    ) -> Option<End> {
        match step {
            Step::Event { event, accepts } => {
                if accepts {
                    self.accepted(reconnect);
                }
                self.deliver(&event, on_event, self.config.heartbeat_interval);
            }
            Step::Accepted => self.accepted(reconnect),
            Step::Flush => {
                socket.flush().ok();
            }
            Step::Closed(_) if closing => {
                log::info!("closed: Zoom answered the Close frame; every event before it was read");
                return Some(End::Stopped);
            }
            Step::Closed(end) => {
                socket.flush().ok();
                return Some(end);
            }
            Step::End(end) => return Some(end),
            other => self.note(other, session),
        }
        None
    }

    /// Sends a heartbeat when one is due; the time the next read must return by, or the end.
    fn poll(
        &self,
        session: &mut Session,
        socket: &mut WebSocket<Stream>,
        now: Instant,
    ) -> std::result::Result<Instant, End> {
        loop {
            match session.poll(now) {
                Next::Heartbeat => {
                    if let Err(e) = socket.send(Message::text(HEARTBEAT)) {
                        let reason = format!("heartbeat not sent: {}", describe_ws_error(&e));
                        return Err(session.lost(now, reason));
                    }
                    Stats::add(&self.stats.heartbeats_sent);
                    log::debug!("heartbeat sent");
                }
                Next::Dead(end) => return Err(end),
                Next::Read { until } => return Ok(until),
            }
        }
    }

    /// A read failed: stopped, a message over the size limit, or the connection broke.
    fn read_failed(&self, session: &Session, error: &tungstenite::Error) -> End {
        if self.shared.is_stopped() {
            return End::Stopped;
        }
        if let tungstenite::Error::Capacity(_) = error {
            self.stats.skip(Skip::TooLarge);
            log::warn!(
                "a message exceeded the maximum of {} bytes (ZOOM_MAX_MESSAGE_SIZE); dropping the \
                 connection",
                self.config.max_message_size
            );
        }
        session.lost(Instant::now(), describe_ws_error(error))
    }

    /// Hands an event to the caller's closure, and says so when the closure was slow.
    fn deliver(&self, event: &Event, on_event: &mut impl FnMut(&Event), interval: Duration) {
        self.stats.event();
        let started = Instant::now();
        on_event(event);
        let took = started.elapsed();
        if took > interval / 4 {
            Stats::add(&self.stats.slow_callbacks);
            log::warn!(
                "the event callback took {} (more than a quarter of the {} heartbeat interval), \
                 which delays heartbeats; hand slow work to another thread",
                Secs(took),
                Secs(interval)
            );
        }
    }

    /// Logs and counts what the loop does not act on.
    fn note(&self, step: Step, session: &Session) {
        match step {
            Step::HeartbeatAnswered => {
                Stats::add(&self.stats.heartbeats_answered);
                match session.round_trip(Instant::now()) {
                    Some(rtt) => log::debug!("heartbeat answered in {} ms", rtt.as_millis()),
                    None => log::debug!("heartbeat answered"),
                }
            }
            // Zoom's words, escaped: a line break in them cannot forge a log line.
            Step::Failure(content) => {
                log::warn!("Zoom reported a failure: {}", escaped(shorten(&content)))
            }
            Step::Skipped {
                reason,
                note,
                start,
            } => {
                self.stats.skip(reason);
                // An unknown module is likely one Zoom added since: said, not warned about.
                let unknown = reason == Skip::UnknownModule;
                log::log!(if unknown { Level::Info } else { Level::Warn }, "{note}");
                if let Some(start) = start {
                    log::debug!("skipped frame starts with {start:?}");
                }
            }
            _ => {}
        }
    }

    /// Zoom accepted the connection: count it, say so, and report the gap if there was one.
    fn accepted(&mut self, reconnect: &mut Reconnect) {
        self.stats.accepted();
        log::info!(
            "connected; subscription {} is live",
            self.config.subscription_id
        );
        self.tell(StateChange::Connected);
        if let Some(start) = reconnect.accepted() {
            let end = SystemTime::now();
            let start = end.checked_sub(start.elapsed()).unwrap_or(end);
            let gap = end.duration_since(start).unwrap_or_default();
            log::info!("reconnected after a gap of {}", Secs(gap));
            self.stats.gap_closed(Some(gap));
            self.tell(StateChange::Reconnected {
                gap_start: start,
                gap_end: end,
            });
        }
    }
}

/// Makes the next read return by `until`: the socket's timeout (see [`ReadTimer`]) for a wait,
/// the stream's own check for a frame that trickles in.
fn read_by(socket: &mut WebSocket<Stream>, timer: &mut ReadTimer, now: Instant, until: Instant) {
    if let Some(timeout) = timer.arm(now, until) {
        if socket
            .get_ref()
            .tcp()
            .set_read_timeout(Some(timeout))
            .is_err()
        {
            timer.failed();
        }
    }
    socket.get_mut().wake_by(until);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send() {
        fn send<T: Send>() {}
        fn sync<T: Send + Sync>() {}
        send::<Client>();
        sync::<StopHandle>();
        sync::<Stats>();
    }

    #[test]
    fn the_process_shares_one_trust_per_ca_file() {
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs/ca.pem");
        let config = Config::new("id", "secret", "sub")
            .oauth_url("http://127.0.0.1:9/oauth/token")
            .ws_url("ws://127.0.0.1:9/ws")
            .ca_file(ca);
        let tokens = Arc::new(TokenSource::new(&config).unwrap());
        let a = Client::with_tokens(config.clone(), tokens.clone()).unwrap();
        let b = Client::with_tokens(config.clone(), tokens.clone()).unwrap();
        assert!(Arc::ptr_eq(a.connector.trust(), b.connector.trust()));
        // Another CA file: its own roots.
        let other = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs/other-ca.pem");
        let c = Client::with_tokens(config.ca_file(other), tokens.clone()).unwrap();
        assert!(!Arc::ptr_eq(c.connector.trust(), a.connector.trust()));
    }
}
