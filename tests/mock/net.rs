//! The network around the mock: the test CA, an HTTP CONNECT proxy that records what it tunnels,
//! and servers that accept TCP and then never answer. All on 127.0.0.1; the proxy refuses to
//! tunnel anywhere but loopback.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// The mock's TLS identity: a certificate for `localhost` and `127.0.0.1` signed by the test CA.
pub fn test_identity() -> native_tls::Identity {
    native_tls::Identity::from_pkcs8(
        include_bytes!("../certs/server.pem"),
        include_bytes!("../certs/server.key"),
    )
    .expect("test identity")
}

/// `tests/certs` of the repository, whichever of its packages runs the tests (the library at the
/// root, the CLI in `cli/`).
pub fn certs_dir() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let here = manifest.join("tests/certs");
    if here.is_dir() {
        here
    } else {
        manifest.join("../tests/certs")
    }
}

/// The test CA, as a path for `ZOOM_CA_FILE`.
pub fn test_ca_file() -> PathBuf {
    certs_dir().join("ca.pem")
}

/// How the proxy answers a CONNECT.
#[derive(Clone, Debug)]
pub enum ProxyMode {
    /// 200, then splice bytes both ways.
    Tunnel,
    /// Answer with this status and close.
    Answer(u16),
    /// Read the CONNECT, then never answer.
    Stall,
}

/// One CONNECT the proxy received.
#[derive(Clone, Debug)]
pub struct ProxyRequest {
    /// `host:port` of the CONNECT line.
    pub target: String,
    /// The `Proxy-Authorization` header, if any.
    pub authorization: Option<String>,
    /// The status the proxy answered (none when it stalled).
    pub status: Option<u16>,
}

struct ProxyState {
    mode: ProxyMode,
    /// When set, CONNECTs without exactly this `Proxy-Authorization` get 407.
    required_authorization: Option<String>,
    requests: Mutex<Vec<ProxyRequest>>,
    connections: AtomicU64,
    shutdown: AtomicBool,
}

/// An HTTP CONNECT proxy on 127.0.0.1. Stops accepting when dropped.
pub struct ConnectProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        TcpStream::connect(self.addr).ok();
    }
}

impl ConnectProxy {
    /// A proxy that tunnels every CONNECT to a loopback target.
    pub fn start() -> ConnectProxy {
        Self::start_with(ProxyMode::Tunnel, None)
    }

    /// A proxy that tunnels only with `Proxy-Authorization: Basic base64(user:password)`.
    pub fn requiring(user: &str, password: &str) -> ConnectProxy {
        use base64::Engine as _;
        let credentials =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        Self::start_with(ProxyMode::Tunnel, Some(format!("Basic {credentials}")))
    }

    pub fn start_with(mode: ProxyMode, required_authorization: Option<String>) -> ConnectProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState {
            mode,
            required_authorization,
            requests: Mutex::default(),
            connections: AtomicU64::new(0),
            shutdown: AtomicBool::new(false),
        });
        let shared = state.clone();
        thread::spawn(move || {
            for conn in listener.incoming() {
                if shared.shutdown.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let state = shared.clone();
                thread::spawn(move || serve_connect(conn, &state));
            }
        });
        ConnectProxy { addr, state }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The proxy as a `zoom_ws::ProxyConfig`.
    pub fn config(&self) -> zoom_ws::ProxyConfig {
        zoom_ws::ProxyConfig::parse(&self.url()).unwrap()
    }

    /// Every CONNECT received so far, in order.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The targets of the CONNECTs received so far.
    pub fn targets(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.target).collect()
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

/// Reads an HTTP head one byte at a time, so nothing after it is consumed.
fn read_head(conn: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte)? == 0 || head.len() > 16 * 1024 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn serve_connect(mut conn: TcpStream, state: &ProxyState) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let Ok(head) = read_head(&mut conn) else {
        return;
    };
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (request_line.next(), request_line.next().unwrap_or_default());
    let authorization = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, value)| value.trim().to_string());
    let status = if method != Some("CONNECT") {
        Some(405)
    } else if state
        .required_authorization
        .as_ref()
        .is_some_and(|required| authorization.as_ref() != Some(required))
    {
        Some(407)
    } else {
        match state.mode {
            ProxyMode::Answer(status) => Some(status),
            ProxyMode::Stall => None,
            ProxyMode::Tunnel => Some(200),
        }
    };
    state.requests.lock().unwrap().push(ProxyRequest {
        target: target.to_string(),
        authorization,
        status,
    });
    match status {
        None => hold(&mut conn, &state.shutdown),
        Some(200) => match connect_loopback(target) {
            Some(upstream) => {
                if conn
                    .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    .is_ok()
                {
                    splice(conn, upstream);
                }
            }
            None => {
                let _ = conn.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
            }
        },
        Some(status) => {
            let extra = if status == 407 {
                "Proxy-Authenticate: Basic realm=\"test\"\r\n"
            } else {
                ""
            };
            let _ = write!(
                conn,
                "HTTP/1.1 {status} Refused\r\n{extra}content-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    }
}

/// Connects to `host:port` if it resolves to loopback: nothing leaves the machine.
fn connect_loopback(target: &str) -> Option<TcpStream> {
    target
        .to_socket_addrs()
        .ok()?
        .filter(|addr| addr.ip().is_loopback())
        .find_map(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok())
}

/// Copies bytes both ways until either side closes.
fn splice(client: TcpStream, upstream: TcpStream) {
    client.set_read_timeout(None).ok();
    let (Ok(mut client_read), Ok(mut upstream_write)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let forward = thread::spawn(move || {
        let _ = io::copy(&mut client_read, &mut upstream_write);
        upstream_write.shutdown(Shutdown::Write).ok();
    });
    let (mut upstream_read, mut client_write) = (upstream, client);
    let _ = io::copy(&mut upstream_read, &mut client_write);
    client_write.shutdown(Shutdown::Both).ok();
    let _ = forward.join();
}

/// Reads and drops whatever comes, never writing, until the peer closes or the server stops.
fn hold(conn: &mut TcpStream, shutdown: &AtomicBool) {
    conn.set_read_timeout(Some(Duration::from_millis(50))).ok();
    let mut sink = [0u8; 4096];
    while !shutdown.load(Ordering::SeqCst) {
        match conn.read(&mut sink) {
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

/// A server that accepts TCP and then never says a word: TLS and WebSocket handshakes and HTTP
/// requests sent to it wait forever unless the client bounds them.
pub struct Staller {
    addr: SocketAddr,
    accepted: Arc<AtomicU64>,
    shutdown: Arc<AtomicBool>,
}

impl Drop for Staller {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        TcpStream::connect(self.addr).ok();
    }
}

impl Staller {
    pub fn start() -> Staller {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicU64::new(0));
        let shutdown = Arc::new(AtomicBool::new(false));
        let (count, stop) = (accepted.clone(), shutdown.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let stop = stop.clone();
                thread::spawn(move || hold(&mut conn, &stop));
            }
        });
        Staller {
            addr,
            accepted,
            shutdown,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// A listener whose accept queue is full and never drained: the kernel drops further SYNs, so a
/// TCP connect to it hangs until the client's own bound ends it. Loopback only.
pub struct FullBacklog {
    addr: SocketAddr,
    _listener: TcpListener,
    _queued: Vec<TcpStream>,
}

impl FullBacklog {
    /// `None` when this system does not drop SYNs to a full queue.
    pub fn start() -> Option<FullBacklog> {
        use std::os::fd::AsRawFd;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        // SAFETY: listen(2) on a live socket: shrinks the accept queue to its minimum.
        unsafe {
            libc::listen(listener.as_raw_fd(), 0);
        }
        let addr = listener.local_addr().unwrap();
        let mut queued = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(stream) => queued.push(stream),
                Err(_) => {
                    return Some(FullBacklog {
                        addr,
                        _listener: listener,
                        _queued: queued,
                    });
                }
            }
        }
        None
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A server that reads the client's first bytes, then answers `bytes` one at a time with `gap`
/// between them: every read the client makes succeeds, yet the answer takes forever. Only a
/// bound on the whole phase ends it.
pub struct Trickler {
    addr: SocketAddr,
    shutdown: Arc<AtomicBool>,
}

impl Drop for Trickler {
    fn drop(&mut self) {
        self.shutdown.store(true, Ordering::SeqCst);
        TcpStream::connect(self.addr).ok();
    }
}

impl Trickler {
    pub fn start(bytes: Vec<u8>, gap: Duration) -> Trickler {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let shutdown = Arc::new(AtomicBool::new(false));
        let stop = shutdown.clone();
        let bytes = Arc::new(bytes);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let (stop, bytes) = (stop.clone(), bytes.clone());
                thread::spawn(move || {
                    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
                    let mut request = [0u8; 4096];
                    if !matches!(conn.read(&mut request), Ok(n) if n > 0) {
                        return;
                    }
                    for byte in bytes.iter() {
                        if stop.load(Ordering::SeqCst) || conn.write_all(&[*byte]).is_err() {
                            return;
                        }
                        thread::sleep(gap);
                    }
                    hold(&mut conn, &stop);
                });
            }
        });
        Trickler { addr, shutdown }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}
