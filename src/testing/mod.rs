//! A mock Zoom on 127.0.0.1, to test your own event handler without a Zoom account (feature
//! `testing`): the OAuth token endpoint and the event socket on one ephemeral port, plain or TLS.
//!
//! ```
//! use zoom_ws::testing::MockZoom;
//!
//! let zoom = MockZoom::start()?;
//! let mut client = zoom_ws::Client::new(zoom.config())?; // reaches the mock, valid credentials
//! let stop = client.stop_handle();
//! zoom.send_event(r#"{"event":"meeting.started","event_ts":1,"payload":{"object":{"id":"1"}}}"#);
//! let mut seen = Vec::new();
//! client.run(|event| {
//!     seen.push(event.name().to_string()); // your handler here
//!     stop.stop();
//! })?;
//! assert_eq!(seen, ["meeting.started"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The faults a handler meets: [`MockZoom::close`] (Zoom closes the connection),
//! [`MockZoom::reset`] (the connection breaks), [`MockZoom::refuse`] (Zoom refuses the
//! subscription: the client reports [`Error::Rejected`](crate::Error::Rejected)). Finer scripts
//! go through [`MockZoom::plan`]: each socket connection plays a [`Plan`] (the next queued one,
//! or the default: accept, answer heartbeats, stay open). Everything the client sends is
//! recorded, so tests assert on what a real server would have seen. Like Zoom, a new connection
//! for a subscription closes the one that is open (a "knock-off", counted); [`MockZoom::stream`]
//! sends events on a clock to whichever connection is open, as Zoom does, and drops those due
//! while none is. The project's own tests, examples and benchmark use the same mock.
#![allow(dead_code, missing_docs, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The heartbeat answer Zoom sends.
pub const HEARTBEAT_ACK: &str =
    r#"{"module":"heartbeat","success":true,"content":"live","header":{}}"#;

const HEARTBEAT: &str = r#"{"module":"heartbeat"}"#;

/// One step of a socket connection's script.
#[derive(Clone, Debug)]
pub enum Action {
    /// `build_connection` with this success flag and content.
    BuildConnection(bool, String),
    /// A text frame, as is.
    Text(String),
    /// Raw bytes on the wire (a partial frame, a binary frame, anything).
    Raw(Vec<u8>),
    /// Bytes in chunks of `chunk`, with `pause` between chunks. Heartbeat answers wait until the
    /// last chunk is out, so they never land inside the trickled bytes.
    Trickle(Vec<u8>, usize, Duration),
    /// The same bytes `count` times, as fast as the client reads (for floods).
    Repeat(Arc<Vec<u8>>, usize),
    /// Events `first..first+count`, one every `gap`, reading the client in between.
    Paced(usize, usize, Duration),
    /// Wait, still answering heartbeats.
    Sleep(Duration),
    /// A ping frame.
    Ping(Vec<u8>),
    /// A close frame with this code and reason, then close the TCP connection.
    Close(u16, String),
    /// Reset the TCP connection (RST).
    Reset,
    /// Close the TCP connection without a close frame.
    End,
    /// From now on, do not answer heartbeats.
    StopAnswering,
    /// From now on, neither read nor write; keep the socket open until the client goes.
    Freeze,
}

/// The script of one socket connection. Unless [`Plan::raw`], it starts with a successful
/// `build_connection`; unless it ends by itself, it then stays open, answering heartbeats.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub no_greeting: bool,
}

impl Plan {
    pub fn new() -> Self {
        Plan::default()
    }
    /// Without the automatic `build_connection`.
    pub fn raw() -> Self {
        Plan {
            no_greeting: true,
            ..Plan::default()
        }
    }
    pub fn then(mut self, action: Action) -> Self {
        self.actions.push(action);
        self
    }
    /// Events `first..first+count` (see [`event_json`]), back to back.
    pub fn events(mut self, first: usize, count: usize) -> Self {
        for i in first..first + count {
            self.actions
                .push(Action::Text(message_frame(&event_json(i))));
        }
        self
    }
    pub fn text(self, text: impl Into<String>) -> Self {
        self.then(Action::Text(text.into()))
    }
    pub fn sleep(self, secs: f64) -> Self {
        self.then(Action::Sleep(Duration::from_secs_f64(secs)))
    }
}

/// A scripted answer of the token endpoint.
#[derive(Clone, Debug)]
pub struct TokenAnswer {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering (a slow or hung endpoint).
    pub delay: Duration,
}

impl TokenAnswer {
    pub fn status(status: u16, body: &str) -> Self {
        TokenAnswer {
            status,
            body: body.to_string(),
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }
    /// The same answer, sent only after `delay`.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A request the token endpoint received.
#[derive(Clone, Debug)]
pub struct TokenRequest {
    /// When the request arrived.
    pub at: Instant,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl TokenRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    plans: Mutex<VecDeque<Plan>>,
    default_plan: Mutex<Plan>,
    token_answers: Mutex<VecDeque<TokenAnswer>>,
    token_requests: Mutex<Vec<TokenRequest>>,
    token_lifetime: AtomicU64,
    /// Tokens issued and still valid, with the moment each expires.
    issued: Mutex<HashMap<String, Instant>>,
    reject_tokens: AtomicBool,
    /// What the test asked for while connections are open ([`MockZoom::send_event`] and the
    /// faults), played by the open connection (or the next one) after its plan.
    live: Mutex<VecDeque<Action>>,
    socket_queries: Mutex<Vec<String>>,
    heartbeats: Mutex<Vec<Instant>>,
    client_frames: Mutex<Vec<(u8, Vec<u8>)>>,
    connections: AtomicU64,
    closed_by_client: AtomicU64,
    next_token: AtomicU64,
    shutdown: AtomicBool,
    /// The open connection of each subscription id.
    open: Mutex<HashMap<String, Arc<Live>>>,
    knock_offs: AtomicU64,
    /// Events of [`MockZoom::stream`] written to a connection, and those that found none.
    streamed: Mutex<Vec<usize>>,
    missed: Mutex<Vec<usize>>,
}

/// One subscription's open connection: replaced when a newer one opens; the stream's events for it.
struct Live {
    replaced: AtomicBool,
    events: mpsc::Sender<usize>,
}

/// A running mock Zoom. Stops when dropped.
pub struct MockZoom {
    addr: SocketAddr,
    state: Arc<State>,
    tls: Option<Arc<native_tls::TlsAcceptor>>,
}

impl Drop for MockZoom {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        TcpStream::connect(self.addr).ok();
    }
}

impl MockZoom {
    /// A plain-HTTP/`ws://` mock on an ephemeral port of 127.0.0.1. Stops when dropped.
    pub fn start() -> io::Result<MockZoom> {
        Self::start_with(None)
    }

    /// A mock that speaks TLS (`https://`, `wss://`) with this identity; the client must trust
    /// its CA ([`Config::ca_file`](crate::Config::ca_file)).
    pub fn start_tls(identity: native_tls::Identity) -> io::Result<MockZoom> {
        let acceptor = native_tls::TlsAcceptor::new(identity).map_err(io::Error::other)?;
        Self::start_with(Some(Arc::new(acceptor)))
    }

    fn start_with(tls: Option<Arc<native_tls::TlsAcceptor>>) -> io::Result<MockZoom> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        state.token_lifetime.store(3599, Ordering::SeqCst);
        let mock = MockZoom {
            addr,
            state: state.clone(),
            tls: tls.clone(),
        };
        thread::spawn(move || {
            for conn in listener.incoming() {
                if state.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let state = state.clone();
                let tls = tls.clone();
                thread::spawn(move || serve(conn, state, tls));
            }
        });
        Ok(mock)
    }

    /// Sends one event, as Zoom does (its JSON double-encoded in a `message` frame), on the open
    /// connection once its plan is played, or on the next connection.
    pub fn send_event(&self, event_json: &str) {
        self.live(Action::Text(message_frame(event_json)));
    }

    /// Zoom closes the open connection (Close frame 1001): the client reconnects.
    pub fn close(&self) {
        self.live(Action::Close(1001, "going away".into()));
    }

    /// The open connection breaks (TCP reset): the client reconnects.
    pub fn reset(&self) {
        self.live(Action::Reset);
    }

    /// From now on (until `refuse(false)`), Zoom refuses the subscription at every new
    /// connection (the open one stays; [`close`](Self::close) ends it). The client reports
    /// [`Error::Rejected`](crate::Error::Rejected) and retries, or gives up after
    /// [`Config::give_up_after`](crate::Config::give_up_after).
    pub fn refuse(&self, refuse: bool) {
        self.reject_all_tokens(refuse);
    }

    fn live(&self, action: Action) {
        self.state.live.lock().unwrap().push_back(action);
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn scheme(&self, plain: &str, secure: &str) -> String {
        let scheme = if self.tls.is_some() { secure } else { plain };
        format!("{scheme}://{}", self.addr)
    }

    pub fn oauth_url(&self) -> String {
        self.scheme("http", "https") + "/oauth/token"
    }

    pub fn ws_url(&self) -> String {
        self.scheme("ws", "wss") + "/ws"
    }

    /// A client configuration that reaches this mock with credentials it accepts, with a short
    /// heartbeat (0.5 s) and quick retries.
    pub fn config(&self) -> zoom_ws::Config {
        let mut config = zoom_ws::Config::new("mock-client-id", "mock-client-secret", "mock-sub");
        config.oauth_url = self.oauth_url();
        config.ws_url = self.ws_url();
        config.heartbeat_interval = Duration::from_millis(500);
        config.connect_timeout = Duration::from_secs(5);
        config.backoff =
            zoom_ws::Backoff::new(Duration::from_millis(50), Duration::from_millis(400));
        config
    }

    /// Queues plans for the next socket connections, in order.
    pub fn plan(&self, plan: Plan) -> &Self {
        self.state.plans.lock().unwrap().push_back(plan);
        self
    }

    /// The plan for connections after the queued ones.
    pub fn set_default_plan(&self, plan: Plan) {
        *self.state.default_plan.lock().unwrap() = plan;
    }

    /// Queues answers for the next token requests; after them, tokens are issued.
    pub fn token_answer(&self, answer: TokenAnswer) -> &Self {
        self.state.token_answers.lock().unwrap().push_back(answer);
        self
    }

    pub fn set_token_lifetime(&self, secs: u64) {
        self.state.token_lifetime.store(secs, Ordering::SeqCst);
    }

    /// Makes every token issued so far invalid (as if it expired). Tokens also expire by
    /// themselves when their lifetime ([`set_token_lifetime`](Self::set_token_lifetime)) is over.
    pub fn expire_tokens(&self) {
        self.state.issued.lock().unwrap().clear();
    }

    /// Refuses every token at `build_connection` (a wrong subscription, say).
    pub fn reject_all_tokens(&self, reject: bool) {
        self.state.reject_tokens.store(reject, Ordering::SeqCst);
    }

    pub fn token_requests(&self) -> Vec<TokenRequest> {
        self.state.token_requests.lock().unwrap().clone()
    }

    /// The query strings of the socket requests (they hold the tokens).
    pub fn socket_queries(&self) -> Vec<String> {
        self.state.socket_queries.lock().unwrap().clone()
    }

    /// Tokens issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        let n = self.state.next_token.load(Ordering::SeqCst);
        (1..=n).map(token_value).collect()
    }

    /// When each heartbeat arrived.
    pub fn heartbeats(&self) -> Vec<Instant> {
        self.state.heartbeats.lock().unwrap().clone()
    }

    /// Frames the client sent other than heartbeats: (opcode, payload).
    pub fn client_frames(&self) -> Vec<(u8, Vec<u8>)> {
        self.state.client_frames.lock().unwrap().clone()
    }

    /// Socket connections accepted (upgraded) so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Connections closed because a newer one opened for the same subscription.
    pub fn knock_offs(&self) -> u64 {
        self.state.knock_offs.load(Ordering::SeqCst)
    }

    /// Sends events `first..first + count` of subscription `sub`, one every `every`, each to the
    /// connection open at its time; one due while no connection is open is missed (Zoom never
    /// replays). The thread ends when the last is due.
    pub fn stream(
        &self,
        sub: &str,
        (first, count): (usize, usize),
        every: Duration,
    ) -> thread::JoinHandle<()> {
        let state = self.state.clone();
        let sub = sub.to_string();
        thread::spawn(move || {
            let start = Instant::now();
            for (k, i) in (first..first + count).enumerate() {
                let due = start + every * k as u32;
                thread::sleep(due.saturating_duration_since(Instant::now()));
                // Under the lock a newer connection takes to replace the open one: an event goes
                // to the old one only before it is replaced, and it sends all of them first.
                let open = state.open.lock().unwrap();
                let sent = open
                    .get(&sub)
                    .is_some_and(|live| live.events.send(i).is_ok());
                if !sent {
                    state.missed.lock().unwrap().push(i);
                }
            }
        })
    }

    /// The events of [`stream`](Self::stream) written to a connection, in order.
    pub fn streamed(&self) -> Vec<usize> {
        self.state.streamed.lock().unwrap().clone()
    }

    /// The events of [`stream`](Self::stream) that no connection took.
    pub fn missed(&self) -> Vec<usize> {
        self.state.missed.lock().unwrap().clone()
    }

    /// Connections the client ended with a Close frame.
    pub fn closed_by_client(&self) -> u64 {
        self.state.closed_by_client.load(Ordering::SeqCst)
    }
}

fn token_value(n: u64) -> String {
    format!("mock-access-token-{n:04}-9f8e7d6c")
}

/// The event JSON the mock sends for index `i`: about 800 bytes, like a real `meeting.started`.
pub fn event_json(i: usize) -> String {
    let padding = "x".repeat(520);
    format!(
        r#"{{"event":"meeting.started","event_ts":{},"payload":{{"account_id":"AbCdEfGhIjKlMnOpQrSt","object":{{"id":"{}","uuid":"4444AAAiAAAAAiAiAiiAii==","host_id":"x1yCzABCDEfg23HiJKl4mN","topic":"My Meeting","type":2,"start_time":"2026-11-30T13:00:00Z","timezone":"America/Los_Angeles","duration":60,"seq":{},"note":"{}"}}}}}}"#,
        1_764_500_000_000u64 + i as u64,
        8_000_000_000u64 + i as u64,
        i,
        padding
    )
}

/// A `message` frame carrying `event` double-encoded, as Zoom sends it.
pub fn message_frame(event: &str) -> String {
    let content = serde_json::Value::String(event.to_string()).to_string();
    format!(r#"{{"module":"message","success":true,"content":{content},"header":{{}}}}"#)
}

/// A server-to-client WebSocket frame (unmasked).
pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n <= 0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

pub fn text_frame(text: &str) -> Vec<u8> {
    frame(0x1, text.as_bytes())
}

// ---- the server -----------------------------------------------------------------------------

enum Conn {
    Plain(TcpStream),
    Tls(Box<native_tls::TlsStream<TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

struct Head {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    rest: Vec<u8>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_head(conn: &mut Conn) -> io::Result<Head> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(pos) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos;
        }
        if buf.len() > 64 * 1024 {
            return Err(io::Error::other("head too large"));
        }
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buf[..end]).to_string();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Head {
        method,
        target,
        headers,
        rest: buf[end + 4..].to_vec(),
    })
}

fn serve(tcp: TcpStream, state: Arc<State>, tls: Option<Arc<native_tls::TlsAcceptor>>) {
    if state.shutdown.load(Ordering::SeqCst) {
        return;
    }
    tcp.set_nodelay(true).ok();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut conn = match tls {
        Some(acceptor) => match acceptor.accept(tcp) {
            Ok(s) => Conn::Tls(Box::new(s)),
            Err(_) => return,
        },
        None => Conn::Plain(tcp),
    };
    // Keep-alive: serve requests on this connection until it is upgraded or closed.
    loop {
        let Ok(head) = read_head(&mut conn) else {
            return;
        };
        let is_upgrade = head
            .header("upgrade")
            .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
        if head.method == "POST" && head.target.starts_with("/oauth/token") {
            if serve_token(&mut conn, &head, &state).is_err() {
                return;
            }
        } else if head.method == "GET" && is_upgrade {
            serve_socket(conn, head, &state);
            return;
        } else {
            let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        }
    }
}

fn serve_token(conn: &mut Conn, head: &Head, state: &State) -> io::Result<()> {
    let length: usize = head
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = head.rest.clone();
    while body.len() < length {
        let mut chunk = vec![0u8; length - body.len()];
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    state.token_requests.lock().unwrap().push(TokenRequest {
        at: Instant::now(),
        path: head.target.clone(),
        headers: head.headers.clone(),
        body: String::from_utf8_lossy(&body).to_string(),
    });
    let answer = state.token_answers.lock().unwrap().pop_front();
    let answer = answer.unwrap_or_else(|| {
        let n = state.next_token.fetch_add(1, Ordering::SeqCst) + 1;
        let token = token_value(n);
        let lifetime = state.token_lifetime.load(Ordering::SeqCst);
        state
            .issued
            .lock()
            .unwrap()
            .insert(token.clone(), Instant::now() + Duration::from_secs(lifetime));
        TokenAnswer::status(
            200,
            &format!(
                r#"{{"access_token":"{token}","token_type":"bearer","expires_in":{lifetime},"scope":"marketplace:read:list_event_subscriptions"}}"#
            ),
        )
    });
    thread::sleep(answer.delay);
    let mut response = format!(
        "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        answer.status,
        answer.body.len()
    );
    for (name, value) in &answer.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str("\r\n");
    response.push_str(&answer.body);
    conn.write_all(response.as_bytes())?;
    conn.flush()
}

fn serve_socket(mut conn: Conn, head: Head, state: &Arc<State>) {
    let query = head
        .target
        .split_once('?')
        .map_or("", |(_, q)| q)
        .to_string();
    state.socket_queries.lock().unwrap().push(query.clone());
    let key = head
        .header("sec-websocket-key")
        .unwrap_or_default()
        .to_string();
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if conn.write_all(response.as_bytes()).is_err() {
        return;
    }
    state.connections.fetch_add(1, Ordering::SeqCst);
    let token = query
        .split('&')
        .find_map(|p| p.strip_prefix("access_token="))
        .unwrap_or_default()
        .to_string();
    let plan = state.plans.lock().unwrap().pop_front();
    let plan = plan.unwrap_or_else(|| state.default_plan.lock().unwrap().clone());
    let sub = query
        .split('&')
        .find_map(|p| p.strip_prefix("subscriptionId="))
        .unwrap_or_default()
        .to_string();
    let (events, stream) = mpsc::channel();
    let live = Arc::new(Live {
        replaced: AtomicBool::new(false),
        events,
    });
    let mut session = Session {
        conn,
        state: state.clone(),
        input: head.rest,
        answering: true,
        answers_held: None,
        client_gone: false,
        sub,
        live,
        stream,
        knocked: false,
    };
    session.play(plan, &token);
    session.leave();
}

struct Session {
    conn: Conn,
    state: Arc<State>,
    input: Vec<u8>,
    answering: bool,
    /// While a frame is being trickled: the heartbeat answers owed, sent after its last byte.
    answers_held: Option<usize>,
    client_gone: bool,
    /// The subscription id in the request, and this connection's place as its open one.
    sub: String,
    live: Arc<Live>,
    stream: mpsc::Receiver<usize>,
    /// Closed because a newer connection opened.
    knocked: bool,
}

impl Session {
    fn play(&mut self, plan: Plan, token: &str) {
        if !plan.no_greeting && !self.greet(token) {
            return;
        }
        self.take_over();
        // The plan, then what the test sends live; meanwhile answer heartbeats.
        let mut actions: VecDeque<Action> = plan.actions.into();
        loop {
            if self.client_gone || self.state.shutdown.load(Ordering::SeqCst) {
                return;
            }
            let live = || self.state.live.lock().unwrap().pop_front();
            let Some(action) = actions.pop_front().or_else(live) else {
                self.poll(Some(Duration::from_millis(20)));
                continue;
            };
            let result = match action {
                Action::BuildConnection(ok, content) => self.send(&text_frame(&format!(
                    r#"{{"module":"build_connection","success":{ok},"content":"{content}","header":{{}}}}"#
                ))),
                Action::Text(text) => self.send(&text_frame(&text)),
                Action::Raw(bytes) => self.send(&bytes),
                Action::Trickle(bytes, chunk, pause) => self.trickle(&bytes, chunk, pause),
                Action::Repeat(bytes, count) => self.repeat(&bytes, count),
                Action::Paced(first, count, gap) => self.paced(first, count, gap),
                Action::Sleep(d) => {
                    self.poll_for(d);
                    Ok(())
                }
                Action::Ping(payload) => self.send(&frame(0x9, &payload)),
                Action::Close(code, reason) => {
                    let mut payload = code.to_be_bytes().to_vec();
                    payload.extend_from_slice(reason.as_bytes());
                    let _ = self.send(&frame(0x8, &payload));
                    self.linger_then_close();
                    return;
                }
                Action::Reset => {
                    reset(self.conn.tcp());
                    return;
                }
                Action::End => {
                    let _ = self.conn.tcp().shutdown(Shutdown::Both);
                    return;
                }
                Action::StopAnswering => {
                    self.answering = false;
                    Ok(())
                }
                Action::Freeze => {
                    self.freeze();
                    return;
                }
            };
            if result.is_err() {
                return;
            }
        }
    }

    /// The `build_connection` answer: accepted for a valid token; false when refused (and closed).
    fn greet(&mut self, token: &str) -> bool {
        let valid = !self.state.reject_tokens.load(Ordering::SeqCst)
            && self
                .state
                .issued
                .lock()
                .unwrap()
                .get(token)
                .is_some_and(|expires| Instant::now() < *expires);
        let greeting = if token.is_empty() {
            (false, "token is empty")
        } else if valid {
            (true, "conn_id_5a6b7c")
        } else {
            (false, "Invalid Token")
        };
        let text = format!(
            r#"{{"module":"build_connection","success":{},"content":"{}","header":{{}}}}"#,
            greeting.0, greeting.1
        );
        if self.send(&text_frame(&text)).is_err() {
            return false;
        }
        if !greeting.0 {
            let _ = self.send(&frame(0x8, &1008u16.to_be_bytes()));
            self.linger_then_close();
            return false;
        }
        true
    }

    /// Bytes in chunks with pauses; heartbeat answers wait until the last chunk is out.
    fn trickle(&mut self, bytes: &[u8], chunk: usize, pause: Duration) -> io::Result<()> {
        let mut result = Ok(());
        self.answers_held = Some(0);
        for piece in bytes.chunks(chunk.max(1)) {
            result = self.send(piece);
            if result.is_err() {
                break;
            }
            self.poll_for(pause);
        }
        for _ in 0..self.answers_held.take().unwrap_or(0) {
            if result.is_ok() {
                result = self.send(&text_frame(HEARTBEAT_ACK));
            }
        }
        result
    }

    /// Events `first..first+count`, one every `gap`, reading the client in between.
    fn paced(&mut self, first: usize, count: usize, gap: Duration) -> io::Result<()> {
        for i in first..first + count {
            self.send(&text_frame(&message_frame(&event_json(i))))?;
            self.poll_for(gap);
        }
        Ok(())
    }

    /// Becomes the subscription's open connection; the one open until now is closed (Zoom's rule).
    fn take_over(&mut self) {
        let mut open = self.state.open.lock().unwrap();
        if let Some(old) = open.insert(self.sub.clone(), self.live.clone()) {
            old.replaced.store(true, Ordering::SeqCst);
        }
    }

    /// The connection ends: no longer the open one; the stream's events it still held are missed.
    fn leave(&mut self) {
        let mut open = self.state.open.lock().unwrap();
        if open
            .get(&self.sub)
            .is_some_and(|l| Arc::ptr_eq(l, &self.live))
        {
            open.remove(&self.sub);
        }
        drop(open);
        self.state
            .missed
            .lock()
            .unwrap()
            .extend(self.stream.try_iter());
    }

    /// Writes the stream's events queued for this connection.
    fn send_streamed(&mut self) {
        while !self.client_gone {
            let Ok(i) = self.stream.try_recv() else { break };
            if self
                .send(&text_frame(&message_frame(&event_json(i))))
                .is_ok()
            {
                self.state.streamed.lock().unwrap().push(i);
            } else {
                self.state.missed.lock().unwrap().push(i);
                self.client_gone = true;
            }
        }
    }

    /// A newer connection opened: the events queued for this one, then a Close frame.
    fn knock_off(&mut self) {
        self.knocked = true;
        self.state.knock_offs.fetch_add(1, Ordering::SeqCst);
        self.send_streamed();
        let mut payload = 1000u16.to_be_bytes().to_vec();
        payload.extend_from_slice(b"replaced by a new connection");
        let _ = self.send(&frame(0x8, &payload));
        self.linger_then_close();
        self.client_gone = true;
    }

    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.conn.write_all(bytes)?;
        self.conn.flush()
    }

    /// Writes `bytes` `count` times in large batches, reading the client in between.
    fn repeat(&mut self, bytes: &[u8], count: usize) -> io::Result<()> {
        let per_batch = (256 * 1024 / bytes.len().max(1)).max(1);
        let batch: Vec<u8> = bytes.repeat(per_batch.min(count.max(1)));
        let mut left = count;
        while left > 0 {
            let n = per_batch.min(left);
            self.send(&batch[..n * bytes.len()])?;
            left -= n;
            self.poll(None);
            if self.client_gone {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
        }
        Ok(())
    }

    /// Reads and answers the client for `d`.
    fn poll_for(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while !self.client_gone {
            let now = Instant::now();
            if now >= until {
                break;
            }
            self.poll(Some((until - now).min(Duration::from_millis(20))));
        }
    }

    /// One read of the client's bytes: `None` does not wait. Handles every complete frame.
    fn poll(&mut self, wait: Option<Duration>) {
        if !self.knocked && !self.client_gone && self.live.replaced.load(Ordering::SeqCst) {
            self.knock_off();
            return;
        }
        self.send_streamed();
        let tcp = self.conn.tcp();
        match wait {
            None => tcp.set_nonblocking(true).ok(),
            Some(d) => {
                tcp.set_nonblocking(false).ok();
                tcp.set_read_timeout(Some(d.max(Duration::from_millis(1))))
                    .ok()
            }
        };
        let mut chunk = [0u8; 4096];
        let read = self.conn.read(&mut chunk);
        self.conn.tcp().set_nonblocking(false).ok();
        match read {
            Ok(0) => self.client_gone = true,
            Ok(n) => self.input.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => self.client_gone = true,
        }
        while let Some((opcode, payload, used)) = parse_client_frame(&self.input) {
            self.input.drain(..used);
            self.handle(opcode, payload);
        }
    }

    fn handle(&mut self, opcode: u8, payload: Vec<u8>) {
        if opcode == 0x1 && payload == HEARTBEAT.as_bytes() {
            self.state.heartbeats.lock().unwrap().push(Instant::now());
            match (&mut self.answers_held, self.answering) {
                (_, false) => {}
                (Some(owed), true) => *owed += 1,
                (None, true) => {
                    let _ = self.send(&text_frame(HEARTBEAT_ACK));
                }
            }
            return;
        }
        if opcode == 0x8 && !self.knocked {
            self.state.closed_by_client.fetch_add(1, Ordering::SeqCst);
            let _ = self.send(&frame(0x8, &payload[..payload.len().min(2)]));
            self.client_gone = true;
        }
        self.state
            .client_frames
            .lock()
            .unwrap()
            .push((opcode, payload));
    }

    /// After our close frame: wait briefly for the client's, then close.
    fn linger_then_close(&mut self) {
        self.poll_for(Duration::from_millis(200));
        let _ = self.conn.tcp().shutdown(Shutdown::Both);
    }

    /// Holds the socket open and answers nothing until the client closes it. What the client
    /// sends is read and thrown away, as a hung peer's kernel would still acknowledge it.
    fn freeze(&mut self) {
        self.conn
            .tcp()
            .set_read_timeout(Some(Duration::from_millis(50)))
            .ok();
        let mut sink = [0u8; 4096];
        while !self.state.shutdown.load(Ordering::SeqCst) {
            if self.live.replaced.load(Ordering::SeqCst) {
                self.state.knock_offs.fetch_add(1, Ordering::SeqCst);
                let _ = self.conn.tcp().shutdown(Shutdown::Both);
                return;
            }
            match self.conn.read(&mut sink) {
                Ok(0) => return,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    }
}

/// Parses one masked client frame: (opcode, unmasked payload, bytes used).
fn parse_client_frame(buf: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7f {
        126 => (
            u16::from_be_bytes(buf.get(2..4)?.try_into().ok()?) as usize,
            4,
        ),
        127 => (
            u64::from_be_bytes(buf.get(2..10)?.try_into().ok()?) as usize,
            10,
        ),
        n => (n as usize, 2),
    };
    let mask: [u8; 4] = if masked {
        let m = buf.get(at..at + 4)?.try_into().ok()?;
        at += 4;
        m
    } else {
        [0; 4]
    };
    let payload = buf.get(at..at + len)?;
    let unmasked = payload
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    Some((opcode, unmasked, at + len))
}

/// Closes with RST instead of FIN (SO_LINGER with a zero timeout).
#[cfg(unix)]
#[allow(unsafe_code)]
fn reset(tcp: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt on a live socket with a correctly sized, initialised `linger`.
    unsafe {
        libc::setsockopt(
            tcp.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    // The caller drops the socket next: with a zero linger, close() sends RST.
}

/// Elsewhere: an abrupt close.
#[cfg(not(unix))]
fn reset(tcp: &TcpStream) {
    let _ = tcp.shutdown(Shutdown::Both);
}
