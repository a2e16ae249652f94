//! Opening the socket: TCP with a timeout, a CONNECT tunnel when a proxy is configured, TLS
//! through the shared connector (system roots plus `ZOOM_CA_FILE`), the WebSocket handshake. Each
//! phase ends within `Config::connect_timeout` with an error that names it.
//!
//! The socket URL carries the access token, so it is built here at the moment of connecting, handed
//! straight to tungstenite, and never stored, logged or put into an error: errors name the host and
//! the phase only.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tungstenite::WebSocket;
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::protocol::WebSocketConfig;

use crate::config::Config;
use crate::error::{Error, Phase, Result, describe_io, describe_ws_error, is_timeout};
use crate::proxy::{self, ProxyConfig};
use crate::trust::{Handshake, TlsStream, Trust};
use crate::url::host_port;

/// A TCP stream that, while it has a deadline, gives every read and write only the time left
/// before it: a handshake is bounded as a whole, even against a server that answers a byte now
/// and then. Past the deadline, reads and writes fail with `WouldBlock`, which TLS and
/// tungstenite report as an interrupted handshake.
///
/// After the handshakes, `wake_by` plays the same part for the event loop: a read that would start
/// after it fails with `WouldBlock` at once, so a frame trickling in byte by byte (each piece
/// before the read timeout) cannot keep tungstenite reading past the next heartbeat.
#[derive(Debug)]
pub(crate) struct Timed {
    tcp: TcpStream,
    deadline: Option<Instant>,
    wake_by: Option<Instant>,
    /// Set by a stop, which shuts the read half: an end of stream then means "nothing yet".
    stopped: Option<Arc<AtomicBool>>,
}

impl Timed {
    fn before_io(&self) -> io::Result<()> {
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            self.tcp.set_read_timeout(Some(left))?;
            self.tcp.set_write_timeout(Some(left))?;
        }
        Ok(())
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

impl Read for Timed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.before_io()?;
        if self.wake_by.is_some_and(|t| Instant::now() >= t) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        match self.tcp.read(buf) {
            // After a stop shut the read half, a read no longer waits: what arrives is still
            // read (Linux), and "none yet" must not end tungstenite's closing handshake.
            Ok(0)
                if self
                    .stopped
                    .as_ref()
                    .is_some_and(|s| s.load(Ordering::SeqCst)) =>
            {
                std::thread::sleep(Duration::from_millis(2));
                Err(io::ErrorKind::WouldBlock.into())
            }
            other => other,
        }
    }
}

impl Write for Timed {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.before_io()?;
        self.tcp.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// A TCP stream, with or without TLS on top.
#[derive(Debug)]
pub(crate) enum Stream {
    Plain(Timed),
    Tls(Box<TlsStream<Timed>>),
}

impl Stream {
    /// The TCP socket underneath, for timeouts and shutdown.
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.timed().tcp
    }

    /// Reads see a stop (`flag`) and its shut read half as "nothing yet" (see [`Timed`]).
    pub(crate) fn stop_on(&mut self, flag: Arc<AtomicBool>) {
        self.timed_mut().stopped = Some(flag);
    }

    /// Makes reads that would start after `at` return `WouldBlock` (see [`Timed`]).
    pub(crate) fn wake_by(&mut self, at: Instant) {
        self.timed_mut().wake_by = Some(at);
    }

    fn timed(&self) -> &Timed {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }

    fn timed_mut(&mut self) -> &mut Timed {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_mut(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// Where the socket goes, parsed from the configured URL (which holds no token yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub secure: bool,
    pub host: String,
    pub port: u16,
}

impl Target {
    /// The target of `url`, one of `schemes`; `setting` names the variable that holds it.
    pub(crate) fn parse(setting: &str, url: &str, schemes: &[&'static str]) -> Result<Target> {
        let url = crate::url::url(setting, url, schemes)?;
        Ok(Target {
            secure: !url.is_cleartext(),
            host: url.host.to_string(),
            port: url.port,
        })
    }
}

/// How a client reaches a host, for the socket and the HTTP requests (src/http.rs) alike: the
/// proxy decided for that host (after `NO_PROXY`), the shared TLS roots, and the setting that
/// holds the host's URL, named in errors.
#[derive(Debug)]
pub(crate) struct Dial {
    pub proxy: Option<ProxyConfig>,
    pub trust: Arc<Trust>,
    pub setting: &'static str,
}

impl Dial {
    /// The way to `target`: through the proxy unless `NO_PROXY` exempts its host. The socket and
    /// the token request both decide here, so they always agree.
    pub(crate) fn new(
        config: &Config,
        target: &Target,
        trust: Arc<Trust>,
        setting: &'static str,
    ) -> Dial {
        let direct = proxy::bypasses(&config.no_proxy, &target.host, target.port);
        let proxy = config.proxy.clone().filter(|_| !direct);
        Dial {
            proxy,
            trust,
            setting,
        }
    }

    /// TCP to `target` (or to the proxy, then a CONNECT tunnel), then TLS when it is secure; each
    /// phase within `timeout`. `on_tcp` sees the TCP stream as soon as it exists, so a stop request
    /// can shut it down even during the handshakes.
    pub(crate) fn open(
        &self,
        target: &Target,
        timeout: Duration,
        on_tcp: impl FnOnce(&TcpStream),
    ) -> Result<Stream> {
        let mut tcp = match &self.proxy {
            Some(proxy) => {
                log::debug!(
                    "through the proxy {} to {}",
                    proxy.address(),
                    host_port(&target.host, target.port)
                );
                tcp_connect(&proxy.host, proxy.port, "the proxy ", timeout)?
            }
            None => {
                let what = format!("the host of {}, ", self.setting);
                tcp_connect(&target.host, target.port, &what, timeout)?
            }
        };
        tcp.set_nodelay(true).ok();
        on_tcp(&tcp);
        if let Some(proxy) = &self.proxy {
            proxy::tunnel(&mut tcp, proxy, &target.host, target.port, timeout)?;
        }
        let timed = Timed {
            tcp,
            deadline: None,
            wake_by: None,
            stopped: None,
        };
        Ok(match target.secure {
            true => Stream::Tls(Box::new(self.tls_handshake(
                &target.host,
                timed,
                timeout,
            )?)),
            false => Stream::Plain(timed),
        })
    }

    fn tls_handshake(
        &self,
        host: &str,
        mut timed: Timed,
        timeout: Duration,
    ) -> Result<TlsStream<Timed>> {
        timed.deadline = Some(Instant::now() + timeout);
        let mut result = self.trust.connect(host, timed);
        loop {
            match result {
                Ok(mut stream) => {
                    stream.get_mut().deadline = None;
                    return Ok(stream);
                }
                Err(Handshake::Failed(e)) => return Err(e),
                // As for the WebSocket handshake: the bound is on the whole phase.
                Err(Handshake::Blocked(mid)) => {
                    if mid.get_ref().past_deadline() {
                        return Err(Error::Timeout {
                            phase: Phase::Tls,
                            after: timeout,
                        });
                    }
                    result = crate::trust::resume(host, mid);
                }
            }
        }
    }
}

/// TCP to `host:port`, trying each address in turn; `what` (which setting's host) goes into
/// messages, so that a typo in a host name points at the setting to fix. The lookup runs on a
/// short-lived thread, so that it too ends within `timeout`.
fn tcp_connect(host: &str, port: u16, what: &str, timeout: Duration) -> Result<TcpStream> {
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    let name = host.to_string();
    std::thread::spawn(move || {
        let found = (name.as_str(), port).to_socket_addrs();
        sender.send(found.map(Iterator::collect::<Vec<_>>)).ok();
    });
    let addrs = match receiver.recv_timeout(timeout) {
        Ok(found) => found.map_err(|e| {
            let detail = format!("{what}{host}: {}", describe_io(&e));
            Error::io(Phase::Resolve, detail, e)
        })?,
        Err(_) => {
            return Err(Error::Timeout {
                phase: Phase::Resolve,
                after: timeout,
            });
        }
    };
    let mut last = Error::connect(Phase::Resolve, format!("{what}{host} has no address"));
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => return Ok(stream),
            Err(e) if is_timeout(&e) => {
                last = Error::Timeout {
                    phase: Phase::TcpConnect,
                    after: timeout,
                }
            }
            Err(e) => {
                let detail = format!("{what}{}: {}", host_port(host, port), describe_io(&e));
                last = Error::io(Phase::TcpConnect, detail, e)
            }
        }
    }
    Err(last)
}

/// Opens sockets for one client, with the trust roots it shares with its token source.
pub(crate) struct Connector {
    target: Target,
    /// The way to the socket's host: decided once, like the token request's.
    dial: Dial,
    timeout: Duration,
    ws_config: WebSocketConfig,
}

impl Connector {
    pub(crate) fn new(config: &Config, trust: Arc<Trust>) -> Result<Connector> {
        let target = Target::parse("ZOOM_WS_URL", &config.ws_url, &["ws", "wss"])?;
        Ok(Connector {
            dial: Dial::new(config, &target, trust, "ZOOM_WS_URL"),
            target,
            timeout: config.connect_timeout,
            // tungstenite zero-fills its whole read buffer (128 KiB by default) before each read,
            // so that much stays resident while idle; 16 KiB is a TLS record, the most one TLS
            // read returns, and a larger frame grows the buffer to its length anyway.
            ws_config: WebSocketConfig::default()
                .read_buffer_size(16 << 10)
                .max_message_size(Some(config.max_message_size))
                .max_frame_size(Some(config.max_message_size)),
        })
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// The trust roots this connector uses.
    #[cfg(test)]
    pub(crate) fn trust(&self) -> &Arc<Trust> {
        &self.dial.trust
    }

    /// Connects, upgrades, and returns the socket. `on_tcp` sees the TCP stream as soon as it
    /// exists, so a stop request can shut it down even during the handshakes.
    pub(crate) fn open(
        &self,
        url: String,
        on_tcp: impl FnOnce(&TcpStream),
    ) -> Result<WebSocket<Stream>> {
        let mut stream = self.dial.open(&self.target, self.timeout, on_tcp)?;
        let request = url
            .into_client_request()
            .map_err(|_| Error::config("ZOOM_WS_URL", "is not a valid URL"))?;
        let timed_out = Error::Timeout {
            phase: Phase::WebSocketHandshake,
            after: self.timeout,
        };
        stream.timed_mut().deadline = Some(Instant::now() + self.timeout);
        let mut result =
            tungstenite::client::client_with_config(request, stream, Some(self.ws_config));
        loop {
            match result {
                Ok((mut socket, _response)) => {
                    // From here on, writes keep the full bound; the client's loop sets the read
                    // timeout itself.
                    let timed = socket.get_mut().timed_mut();
                    timed.deadline = None;
                    timed.tcp.set_write_timeout(Some(self.timeout)).ok();
                    timed.tcp.set_read_timeout(Some(self.timeout)).ok();
                    return Ok(socket);
                }
                // A read or write found no time left, or a socket timeout fired a little early.
                Err(HandshakeError::Interrupted(mid)) => {
                    if mid.get_ref().get_ref().timed().past_deadline() {
                        return Err(timed_out);
                    }
                    result = mid.handshake();
                }
                Err(HandshakeError::Failure(e)) => return Err(handshake_error(e, self.timeout)),
            }
        }
    }
}

/// A handshake failure, described without the request (whose URL holds the token).
fn handshake_error(error: tungstenite::Error, timeout: Duration) -> Error {
    use tungstenite::Error as E;
    match error {
        E::Http(response) => {
            let status = response.status().as_u16();
            if status == 401 || status == 403 {
                Error::Rejected {
                    reason: format!("HTTP {status} at the WebSocket handshake"),
                }
            } else {
                Error::connect(
                    Phase::WebSocketHandshake,
                    format!("the server answered HTTP {status} instead of upgrading"),
                )
            }
        }
        E::Io(e) if is_timeout(&e) => Error::Timeout {
            phase: Phase::WebSocketHandshake,
            after: timeout,
        },
        other => Error::connect(Phase::WebSocketHandshake, describe_ws_error(&other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse(
            "ZOOM_WS_URL",
            "wss://ws.zoom.us/ws?subscriptionId=x",
            &["ws", "wss"],
        )
        .unwrap();
        assert_eq!(
            t,
            Target {
                secure: true,
                host: "ws.zoom.us".into(),
                port: 443
            }
        );
        let t = Target::parse("ZOOM_WS_URL", "ws://127.0.0.1:8080/ws", &["ws", "wss"]).unwrap();
        assert_eq!((t.secure, t.port), (false, 8080));
        let t = Target::parse("ZOOM_WS_URL", "ws://[::1]:9/ws", &["ws", "wss"]).unwrap();
        assert_eq!(t.host, "::1");
        assert!(Target::parse("ZOOM_WS_URL", "http://x", &["ws", "wss"]).is_err());
        assert!(Target::parse("ZOOM_WS_URL", "ws://:80/", &["ws", "wss"]).is_err());
    }
}
