//! A capturing TCP server on 127.0.0.1:0 for the settings tests: it records every connection and
//! every byte. Silent, it answers nothing (to prove that nothing was sent); answering, it plays a
//! token endpoint (any `POST`), an HTTP proxy (`CONNECT`, then the tunnelled requests) and a socket
//! endpoint that refuses the upgrade, so a client sends each of its requests once.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use zoom_ws::Config;

#[derive(Default)]
struct State {
    connections: AtomicUsize,
    bytes: Mutex<Vec<u8>>,
    requests: Mutex<Vec<Vec<u8>>>,
}

pub struct Capture {
    addr: SocketAddr,
    state: Arc<State>,
    done: Arc<AtomicBool>,
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.done.store(true, Ordering::SeqCst);
    }
}

impl Capture {
    /// Records and never answers.
    pub fn silent() -> Capture {
        Self::start(false)
    }

    /// Answers token requests, CONNECT and socket upgrades (refused with 400).
    pub fn answering() -> Capture {
        Self::start(true)
    }

    fn start(answer: bool) -> Capture {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let done = Arc::new(AtomicBool::new(false));
        let (s, d) = (state.clone(), done.clone());
        thread::spawn(move || {
            while !d.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        s.connections.fetch_add(1, Ordering::SeqCst);
                        let (s, d) = (s.clone(), d.clone());
                        thread::spawn(move || serve(tcp, &s, &d, answer));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Capture { addr, state, done }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Every byte received so far, all connections together.
    pub fn received(&self) -> Vec<u8> {
        self.state.bytes.lock().unwrap().clone()
    }

    /// The requests received so far (head and body each), in order; clears the list.
    pub fn take_requests(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.state.requests.lock().unwrap())
    }

    /// Waits until a request whose head contains `needle` has arrived.
    pub fn wait_for(&self, needle: &str, secs: f64) -> bool {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < until {
            let requests = self.state.requests.lock().unwrap();
            if requests.iter().any(|r| contains(r, needle.as_bytes())) {
                return true;
            }
            drop(requests);
            thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// Fails unless not a single connection or byte arrived.
    pub fn assert_nothing_received(&self) {
        // A client that was about to send gets a moment to do it.
        thread::sleep(Duration::from_millis(100));
        assert_eq!(self.connections(), 0, "connections to the capture server");
        assert!(
            self.received().is_empty(),
            "received {:?}",
            String::from_utf8_lossy(&self.received())
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn serve(mut tcp: TcpStream, state: &State, done: &AtomicBool, answer: bool) {
    tcp.set_read_timeout(Some(Duration::from_millis(50))).ok();
    let mut pending = Vec::new();
    let mut buf = [0u8; 8192];
    let idle_until = Instant::now() + Duration::from_secs(10);
    while !done.load(Ordering::SeqCst) && Instant::now() < idle_until {
        match tcp.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                state.bytes.lock().unwrap().extend_from_slice(&buf[..n]);
                pending.extend_from_slice(&buf[..n]);
            }
            Err(_) => {}
        }
        if !answer {
            continue;
        }
        while let Some(request) = take_request(&mut pending) {
            let head = String::from_utf8_lossy(&request).to_string();
            state.requests.lock().unwrap().push(request);
            let reply = if head.starts_with("CONNECT ") {
                "HTTP/1.1 200 Connection established\r\n\r\n".to_string()
            } else if head.starts_with("POST ") {
                let body = r#"{"access_token":"tok","token_type":"bearer","expires_in":3600}"#;
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
            } else {
                let _ = tcp.write_all(
                    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                return;
            };
            if tcp.write_all(reply.as_bytes()).is_err() {
                return;
            }
        }
    }
}

/// One whole request (head and `Content-Length` body) from the front of `pending`.
fn take_request(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = pending.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
    let body = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if pending.len() < end + body {
        return None;
    }
    Some(pending.drain(..end + body).collect())
}

/// A `Config` read from `pairs` as if they were the environment.
pub fn from(pairs: &[(&str, String)]) -> zoom_ws::Result<Config> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

/// Working settings aimed at `port` on 127.0.0.1, with `changes` on top.
pub fn settings(port: u16, changes: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut pairs: Vec<(&'static str, String)> = vec![
        ("ZOOM_CLIENT_ID", "mock-client-id".into()),
        ("ZOOM_CLIENT_SECRET", "mock-client-secret".into()),
        ("ZOOM_SUBSCRIPTION_ID", "mock-sub".into()),
        (
            "ZOOM_OAUTH_URL",
            format!("http://127.0.0.1:{port}/oauth/token"),
        ),
        ("ZOOM_WS_URL", format!("ws://127.0.0.1:{port}/ws")),
    ];
    for (name, value) in changes {
        pairs.retain(|(n, _)| n != name);
        let name: &'static str = Box::leak(name.to_string().into_boxed_str());
        pairs.push((name, value.to_string()));
    }
    pairs
}
