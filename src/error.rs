//! One error type for the whole crate.
//!
//! Every message says what went wrong and what to do about it, and none of them carries a secret:
//! the client secret, the access token and the socket URL (which holds the token) are never put into
//! an `Error`. Errors from `tungstenite` are turned into text here (ureq's, where connecting did not
//! already fail with one of ours, by auth and webhook), after the parts that could hold a URL have
//! been dropped.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use crate::escape::escaped;

/// Which step of setting up a connection failed or timed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Resolving the host name.
    Resolve,
    /// Opening the TCP connection.
    TcpConnect,
    /// Setting up the tunnel through an HTTP proxy.
    Proxy,
    /// The TLS handshake.
    Tls,
    /// The WebSocket upgrade request and response.
    WebSocketHandshake,
    /// The OAuth token request.
    TokenRequest,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Resolve => "DNS lookup",
            Phase::TcpConnect => "TCP connect",
            Phase::Proxy => "proxy tunnel",
            Phase::Tls => "TLS handshake",
            Phase::WebSocketHandshake => "WebSocket handshake",
            Phase::TokenRequest => "token request",
        })
    }
}

/// Everything that can go wrong in `zoom_ws`.
///
/// `run()` returns only the errors that retrying cannot fix ([`Error::Config`],
/// [`Error::Credentials`]); the others are logged and retried with back-off, and are public so that
/// a caller of the lower-level functions can tell them apart.
///
/// ```no_run
/// use zoom_ws::{Client, Config, Error};
///
/// let mut client = Client::new(Config::from_env()?)?;
/// match client.run(|event| println!("{}", event.json_line())) {
///     Ok(()) => {} // stopped through a StopHandle
///     Err(Error::Credentials { error, .. }) => eprintln!("Zoom refused the app ({error})"),
///     Err(other) => eprintln!("{other}"), // a setting to fix; the message names it
/// }
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A setting is missing or has a value that cannot work. `setting` names the environment
    /// variable (or `Config` field) to fix.
    Config {
        /// The variable or field to fix, e.g. `ZOOM_CLIENT_ID`.
        setting: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Zoom's OAuth endpoint rejected the client id, secret or account id. Retrying cannot help.
    Credentials {
        /// HTTP status of the answer.
        status: u16,
        /// Zoom's `error` field, e.g. `invalid_client`.
        error: String,
        /// Zoom's `reason` field, e.g. `Invalid client_id or client_secret`.
        reason: String,
    },
    /// The token request failed in a way that may pass: 429, 5xx, a network error, a body that is
    /// not a token. Retried with back-off.
    Token {
        /// HTTP status, when an answer came back.
        status: Option<u16>,
        /// What went wrong, without secrets.
        detail: String,
        /// How long the server asked us to wait (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// Setting up the connection failed at `phase`.
    Connect {
        /// The step that failed.
        phase: Phase,
        /// What went wrong, without secrets.
        detail: String,
        /// The I/O or TLS error behind it, when there is one (also [`source`](std::error::Error::source)).
        source: Option<Cause>,
    },
    /// A step of setting up the connection took longer than its bound.
    Timeout {
        /// The step that timed out.
        phase: Phase,
        /// The bound that was exceeded.
        after: Duration,
    },
    /// The server did not accept the TLS certificate chain of `host`.
    UntrustedCertificate {
        /// The host whose certificate failed.
        host: String,
        /// The TLS library's words.
        detail: String,
    },
    /// An event's payload could not be read into the type asked for
    /// ([`Event::payload_as`](crate::Event::payload_as)).
    Payload {
        /// The event's name, e.g. `meeting.started`.
        event: String,
        /// serde_json's words, with the line and column.
        detail: String,
        /// serde_json's error.
        source: Option<Cause>,
    },
    /// Zoom refused the subscription in its `build_connection` answer.
    Rejected {
        /// Zoom's `content` text, e.g. `Invalid Token`.
        reason: String,
    },
}

/// The lower-level error behind an [`Error`] (an I/O, TLS or JSON error), as returned by
/// [`source`](std::error::Error::source). Its words are already in the error's message, and it
/// holds no secret: errors that could carry the socket URL are never kept. Two causes always
/// compare equal, so errors compare by what they say.
#[derive(Clone)]
pub struct Cause(Arc<dyn std::error::Error + Send + Sync>);

impl Cause {
    pub(crate) fn new(error: impl std::error::Error + Send + Sync + 'static) -> Option<Cause> {
        Some(Cause(Arc::new(error)))
    }
}

impl PartialEq for Cause {
    fn eq(&self, _: &Cause) -> bool {
        true
    }
}

impl Eq for Cause {}

impl fmt::Debug for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A duration shown as seconds with one decimal (`2.5 s`), for messages. Written with integers,
/// so the binary carries no floating-point formatting.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Secs(pub(crate) Duration);

impl fmt::Display for Secs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0.as_millis() + 50) / 100;
        write!(f, "{}.{} s", tenths / 10, tenths % 10)
    }
}

/// The crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn config(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Error::Config {
            setting: setting.into(),
            problem: problem.into(),
        }
    }

    pub(crate) fn connect(phase: Phase, detail: impl Into<String>) -> Self {
        Error::failed(phase, detail.into(), None)
    }

    /// A failed step with the I/O error behind it.
    pub(crate) fn io(phase: Phase, detail: impl Into<String>, cause: io::Error) -> Self {
        Error::failed(phase, detail.into(), Cause::new(cause))
    }

    fn failed(phase: Phase, detail: String, source: Option<Cause>) -> Self {
        Error::Connect {
            phase,
            detail,
            source,
        }
    }

    /// True when retrying cannot help: the configuration or the credentials must change first.
    pub fn is_fatal(&self) -> bool {
        matches!(self, Error::Config { .. } | Error::Credentials { .. })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { setting, problem } => write!(f, "{setting} {problem}"),
            Error::Credentials {
                status,
                error,
                reason,
            } => {
                // Zoom's words are shown escaped: a line break in them cannot forge a log line.
                write!(
                    f,
                    "Zoom rejected the credentials (HTTP {status}, {}",
                    escaped(error)
                )?;
                if !reason.is_empty() {
                    write!(f, ": {}", escaped(reason))?;
                }
                f.write_str(
                    "); check ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET and, for a Server-to-Server \
                     app, ZOOM_ACCOUNT_ID",
                )
            }
            Error::Token { status, detail, .. } => {
                f.write_str("token request failed")?;
                if let Some(status) = status {
                    write!(f, " with HTTP {status}")?;
                }
                write!(f, ": {}", escaped(detail))
            }
            Error::Connect { phase, detail, .. } => {
                write!(f, "{phase} failed: {}", escaped(detail))
            }
            Error::Timeout { phase, after } => {
                write!(f, "{phase} timed out after {}", Secs(*after))
            }
            Error::UntrustedCertificate { host, detail, .. } => write!(
                f,
                "the TLS certificate of {} is not trusted ({}); if a gateway or proxy re-signs \
                 TLS, put its CA certificate in a PEM file and set ZOOM_CA_FILE to it",
                escaped(host),
                escaped(detail)
            ),
            Error::Payload { event, detail, .. } => {
                write!(
                    f,
                    "the payload of the {event:?} event does not fit: {}",
                    escaped(detail)
                )
            }
            Error::Rejected { reason } => write!(
                f,
                "Zoom refused the connection: {}; check that the subscription id belongs to this \
                 app and that the app is activated",
                escaped(reason)
            ),
        }
    }
}

/// `Debug` shows the same sentence as `Display`, so `fn main() -> Result<(), Error>` prints
/// something a user can act on.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } | Error::Payload { source, .. } => {
                source.as_ref().map(|c| &*c.0 as _)
            }
            _ => None,
        }
    }
}

/// A failed TLS handshake, sorted by OpenSSL's words so the message can say what to do: a
/// certificate issued for another name is not a trust problem (ZOOM_CA_FILE cannot fix it); other
/// verification failures are.
pub(crate) fn tls_error(host: &str, detail: String) -> Error {
    let lower = detail.to_ascii_lowercase();
    let detail = if lower.contains("hostname mismatch") || lower.contains("ip address mismatch") {
        format!(
            "{host}: the server's certificate is for another name ({detail}); check the URL, and \
             the proxy or gateway in between"
        )
    } else if lower.contains("certificate") || lower.contains("verify") {
        let host = host.to_string();
        return Error::UntrustedCertificate { host, detail };
    } else {
        format!("{host}: {detail}")
    };
    Error::connect(Phase::Tls, detail)
}

/// A few words about a tungstenite error. URL errors are not quoted: they carry the URL.
pub(crate) fn describe_ws_error(error: &tungstenite::Error) -> String {
    use tungstenite::Error as E;
    use tungstenite::error::ProtocolError as P;
    match error {
        E::ConnectionClosed | E::AlreadyClosed => "connection closed".into(),
        E::Io(e) => describe_io(e),
        E::Protocol(P::ResetWithoutClosingHandshake) => {
            "connection reset without a closing handshake".into()
        }
        E::Capacity(e) => format!("message too large ({e})"),
        E::Url(_) => "invalid socket URL".into(),
        E::Http(response) => format!("HTTP {}", response.status().as_u16()),
        E::HttpFormat(_) => "malformed HTTP".into(),
        E::Tls(e) => format!("TLS: {e}"),
        E::Protocol(e) => format!("protocol error: {e}"),
        E::Utf8(_) => "text frame is not valid UTF-8".into(),
        E::WriteBufferFull(_) => "write buffer full".into(),
        E::AttackAttempt => "attack attempt detected".into(),
    }
}

/// True for the two ways platforms report an expired socket timeout.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// An I/O error in a few words.
pub(crate) fn describe_io(e: &io::Error) -> String {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => "connection refused".into(),
        K::ConnectionReset => "connection reset by peer".into(),
        K::ConnectionAborted => "connection aborted".into(),
        K::UnexpectedEof => "connection closed in the middle of a message".into(),
        K::BrokenPipe => "connection closed by peer".into(),
        K::WouldBlock | K::TimedOut => "timed out".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_to_fix() {
        let e = Error::config("ZOOM_CLIENT_ID", "is not set");
        assert_eq!(e.to_string(), "ZOOM_CLIENT_ID is not set");
        assert_eq!(format!("{e:?}"), e.to_string());
        let e = Error::Credentials {
            status: 400,
            error: "invalid_client".into(),
            reason: "Invalid client_id or client_secret".into(),
        };
        let text = e.to_string();
        assert!(text.contains("invalid_client: Invalid client_id or client_secret"));
        assert!(text.contains("ZOOM_CLIENT_SECRET"));
        assert!(e.is_fatal());
        assert!(!Error::connect(Phase::Tls, "reset").is_fatal());
    }

    #[test]
    fn tls_failures_say_what_to_fix() {
        let mismatch = tls_error(
            "ws.zoom.us",
            "error:0A000086:SSL routines::certificate verify failed (Hostname mismatch)".into(),
        );
        assert!(
            mismatch.to_string().contains("for another name"),
            "{mismatch}"
        );
        assert!(!mismatch.to_string().contains("ZOOM_CA_FILE"));
        let untrusted = tls_error(
            "ws.zoom.us",
            "certificate verify failed (unable to get local issuer certificate)".into(),
        );
        assert!(matches!(untrusted, Error::UntrustedCertificate { .. }));
        assert!(untrusted.to_string().contains("ZOOM_CA_FILE"));
    }

    #[test]
    fn causes_are_sources_and_do_not_change_equality() {
        use std::error::Error as _;
        let refused = || io::Error::from(io::ErrorKind::ConnectionRefused);
        let e = Error::io(Phase::TcpConnect, "h:1: connection refused", refused());
        let source = e.source().expect("the io error");
        assert_eq!(source.to_string(), refused().to_string());
        assert_eq!(
            e,
            Error::io(Phase::TcpConnect, "h:1: connection refused", refused())
        );
        assert!(Error::connect(Phase::Tls, "reset").source().is_none());
        assert!(
            Error::config("ZOOM_CLIENT_ID", "is empty")
                .source()
                .is_none()
        );
    }

    #[test]
    fn seconds_with_one_decimal() {
        let s = |ms| Secs(Duration::from_millis(ms)).to_string();
        assert_eq!(s(0), "0.0 s");
        assert_eq!(s(28), "0.0 s");
        assert_eq!(s(51), "0.1 s");
        assert_eq!(s(2_449), "2.4 s");
        assert_eq!(s(65_000), "65.0 s");
    }

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Error>();
    }
}
