//! One error type for the whole crate.
//!
//! Every message says what went wrong and what to do about it, and none of them carries a secret:
//! the client secret, the access token and the socket URL (which holds the token) are never put into
//! an `Error`. Errors from `ureq` and `tungstenite` are turned into text here, after the parts that
//! could hold a URL have been dropped.

use std::fmt;

use crate::check::escaped;
use std::time::Duration;

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
    /// Zoom refused the subscription in its `build_connection` answer.
    Rejected {
        /// Zoom's `content` text, e.g. `Invalid Token`.
        reason: String,
    },
}

/// A duration shown as seconds with one decimal (`2.5 s`), for messages. Written with integers,
/// so the binary carries no floating-point formatting.
#[derive(Clone, Copy, Debug)]
pub struct Secs(pub Duration);

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
        Error::Connect {
            phase,
            detail: detail.into(),
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
            Error::Token {
                status: Some(status),
                detail,
                ..
            } => write!(
                f,
                "token request failed with HTTP {status}: {}",
                escaped(detail)
            ),
            Error::Token {
                status: None,
                detail,
                ..
            } => write!(f, "token request failed: {}", escaped(detail)),
            Error::Connect { phase, detail } => write!(f, "{phase} failed: {}", escaped(detail)),
            Error::Timeout { phase, after } => {
                write!(f, "{phase} timed out after {}", Secs(*after))
            }
            Error::UntrustedCertificate { host, detail } => write!(
                f,
                "the TLS certificate of {} is not trusted ({}); if a gateway or proxy re-signs \
                 TLS, put its CA certificate in a PEM file and set ZOOM_CA_FILE to it",
                escaped(host),
                escaped(detail)
            ),
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

impl std::error::Error for Error {}

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
