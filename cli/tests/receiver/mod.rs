//! A webhook receiver on 127.0.0.1 for the relay tests.
//!
//! It checks every request the way Zoom's sample webhook handler does: `x-zm-signature` must be
//! `v0=` + hex(HMAC-SHA256(secret, `v0:{x-zm-request-timestamp}:{body}`)), compared in constant
//! time. The HMAC comes from the `hmac` and `sha2` crates, not from zoom-ws, so the check is
//! independent of the code under test. It records what it accepted and can be told to be down
//! (connections refused), to fail (answer a status), to be slow, or to be up.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use hmac::{KeyInit, Mac};

/// How the receiver behaves from now on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    /// Accept and answer 200.
    Up,
    /// Refuse connections (nothing listens on the port).
    Down,
    /// Answer this status without accepting the event.
    Status(u16),
    /// Wait this long, then accept.
    Slow(Duration),
}

/// A request the receiver accepted (answered 2xx).
#[derive(Clone, Debug)]
pub struct Received {
    pub body: String,
    pub timestamp: String,
    pub content_type: String,
    pub path: String,
    pub at: Instant,
}

#[derive(Default)]
struct State {
    secret: Option<String>,
    mode: Mutex<Option<Mode>>,
    /// Held for reading while a request is handled, for writing to go down, so that going down
    /// never cuts a request between "recorded" and "answered".
    handling: RwLock<()>,
    received: Mutex<Vec<Received>>,
    bad_signatures: Mutex<Vec<String>>,
    refused: AtomicU64,
    connections: AtomicU64,
    open: Mutex<Vec<TcpStream>>,
    accepting: AtomicBool,
}

pub struct Receiver {
    addr: SocketAddr,
    state: Arc<State>,
}

/// `v0=` + hex(HMAC-SHA256(secret, `v0:{ts}:{body}`)), with the `hmac` crate.
pub fn expected_signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("v0={hex}")
}

/// Equality in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Receiver {
    /// A receiver that checks signatures with `secret` (or expects none).
    pub fn start(secret: Option<&str>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            secret: secret.map(str::to_string),
            mode: Mutex::new(Some(Mode::Up)),
            ..State::default()
        });
        let receiver = Receiver { addr, state };
        receiver.accept_on(listener);
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://{}/zoom/webhook", self.addr)
    }

    fn accept_on(&self, listener: TcpListener) {
        let state = self.state.clone();
        state.accepting.store(true, Ordering::SeqCst);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if !state.accepting.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                state.connections.fetch_add(1, Ordering::SeqCst);
                if let Ok(clone) = conn.try_clone() {
                    state.open.lock().unwrap().push(clone);
                }
                let state = state.clone();
                thread::spawn(move || serve(conn, state));
            }
            // The listener is dropped here: the port refuses connections until `set(Up)`.
        });
    }

    pub fn set(&self, mode: Mode) {
        let was_down = self.mode() == Mode::Down;
        if mode == Mode::Down && !was_down {
            let _quiet = self.state.handling.write().unwrap();
            *self.state.mode.lock().unwrap() = Some(Mode::Down);
            self.state.accepting.store(false, Ordering::SeqCst);
            TcpStream::connect(self.addr).ok(); // wake the accept loop so it drops the listener
            for conn in self.state.open.lock().unwrap().drain(..) {
                conn.shutdown(Shutdown::Both).ok();
            }
            // Wait until the port refuses connections.
            let until = Instant::now() + Duration::from_secs(5);
            while TcpStream::connect(self.addr).is_ok() {
                assert!(Instant::now() < until, "the receiver did not go down");
                thread::sleep(Duration::from_millis(5));
            }
            return;
        }
        if was_down && mode != Mode::Down {
            let until = Instant::now() + Duration::from_secs(5);
            let listener = loop {
                match TcpListener::bind(self.addr) {
                    Ok(listener) => break listener,
                    Err(e) if Instant::now() < until => {
                        eprintln!("receiver: rebinding {}: {e}", self.addr);
                        thread::sleep(Duration::from_millis(20));
                    }
                    Err(e) => panic!("cannot listen on {} again: {e}", self.addr),
                }
            };
            self.accept_on(listener);
        }
        *self.state.mode.lock().unwrap() = Some(mode);
    }

    pub fn mode(&self) -> Mode {
        self.state.mode.lock().unwrap().unwrap_or(Mode::Up)
    }

    /// What was accepted, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Bodies of requests whose signature did not verify (answered 401).
    pub fn bad_signatures(&self) -> Vec<String> {
        self.state.bad_signatures.lock().unwrap().clone()
    }

    /// Requests answered with a failure status because of [`Mode::Status`].
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Waits until `n` events were accepted, failing after `secs`.
    pub fn wait_for(&self, n: usize, secs: f64) -> Vec<Received> {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < until,
                "the receiver got {} of {n} events within {secs} s",
                received.len()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

struct Request {
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    assert_eq!(method, "POST", "the relay must POST");
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().expect("content-length"))
        .expect("the relay sends content-length");
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        path,
        headers,
        body: String::from_utf8(body).expect("UTF-8 body"),
    })
}

fn serve(conn: TcpStream, state: Arc<State>) {
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    while let Some(request) = read_request(&mut reader) {
        let _handling = state.handling.read().unwrap();
        let mode = state.mode.lock().unwrap().unwrap_or(Mode::Up);
        let answer = match mode {
            Mode::Down => return,
            Mode::Status(status) => {
                state.refused.fetch_add(1, Ordering::SeqCst);
                status
            }
            Mode::Slow(pause) => {
                thread::sleep(pause);
                accept(&request, &state)
            }
            Mode::Up => accept(&request, &state),
        };
        let reply = format!("HTTP/1.1 {answer} X\r\ncontent-length: 2\r\n\r\nok");
        if writer.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// Verifies and records a request; returns the status to answer.
fn accept(request: &Request, state: &State) -> u16 {
    let timestamp = request
        .header("x-zm-request-timestamp")
        .unwrap_or_default()
        .to_string();
    if let Some(secret) = &state.secret {
        let expected = expected_signature(secret, &timestamp, &request.body);
        let given = request.header("x-zm-signature").unwrap_or_default();
        if !constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            state
                .bad_signatures
                .lock()
                .unwrap()
                .push(request.body.clone());
            return 401;
        }
    }
    state.received.lock().unwrap().push(Received {
        body: request.body.clone(),
        timestamp,
        content_type: request.header("content-type").unwrap_or_default().into(),
        path: request.path.clone(),
        at: Instant::now(),
    });
    200
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[test]
fn the_verifier_itself_passes_rfc_4231() {
    // RFC 4231 test case 2, through the same code path as the signature check.
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"Jefe").unwrap();
    mac.update(b"what do ya want for nothing?");
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // And Zoom's message layout: HMAC("secret", "v0:1:{}"), computed with OpenSSL.
    assert_eq!(
        expected_signature("secret", "1", "{}"),
        "v0=72947d217adec3a1867ba95783f65b308b2419ed224a5751b0b81e0b9a8c6851"
    );
    assert!(constant_time_eq(b"v0=ab", b"v0=ab"));
    assert!(!constant_time_eq(b"v0=ab", b"v0=ac"));
    assert!(!constant_time_eq(b"v0=ab", b"v0=a"));
}
