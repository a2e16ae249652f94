//! Zoom's webhook signature, and a blocking sender that delivers events the way Zoom's webhooks
//! arrive, so a handler written for Zoom's webhooks accepts them unchanged.
//!
//! Zoom signs each webhook with `x-zm-signature: v0=HEX`, where `HEX` is the HMAC-SHA256 of
//! `v0:{timestamp}:{body}` under the app's secret token, and sends the timestamp (Unix seconds) in
//! `x-zm-request-timestamp`.
//!
//! ```
//! use zoom_ws::webhook;
//! let body = r#"{"event":"meeting.started","event_ts":1764500000000,"payload":{}}"#;
//! let signature = webhook::signature("secret-token", 1764500000, body);
//! assert!(signature.starts_with("v0="));
//! assert!(webhook::verify("secret-token", "1764500000", body, &signature));
//! assert!(!webhook::verify("other-token", "1764500000", body, &signature));
//! ```

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::hmac::hmac_sha256;
use crate::secret::Secret;

/// The largest answer body read from a receiver; the rest is not needed.
const MAX_ANSWER: u64 = 64 * 1024;

/// `v0=` followed by the lowercase hex HMAC-SHA256 of `v0:{timestamp}:{body}` under `secret`.
pub fn signature(secret: &str, timestamp: u64, body: &str) -> String {
    sign(secret, &timestamp.to_string(), body)
}

fn sign(secret: &str, timestamp: &str, body: &str) -> String {
    let parts: [&[u8]; 4] = [b"v0:", timestamp.as_bytes(), b":", body.as_bytes()];
    let tag = hmac_sha256(secret.as_bytes(), &parts);
    let mut out = String::with_capacity(67);
    out.push_str("v0=");
    for byte in tag {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Checks an `x-zm-signature` header against the body and the `x-zm-request-timestamp` header, in
/// time that does not depend on where the two differ. (Checking that the timestamp is recent is
/// the receiver's business.)
pub fn verify(secret: &str, timestamp: &str, body: &str, header: &str) -> bool {
    let expected = sign(secret, timestamp, body);
    let difference = (header.bytes().zip(expected.bytes())).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    header.len() == expected.len() && std::hint::black_box(difference) == 0
}

/// What came of one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// The receiver answered 2xx.
    Accepted,
    /// The receiver refused the event for good (3xx, or 4xx other than 408 and 429): sending it
    /// again cannot help.
    Refused {
        /// The HTTP status.
        status: u16,
    },
    /// The receiver is down, overloaded or slow (network error, timeout, 408, 429, 5xx): try
    /// again later.
    Retry {
        /// What went wrong, without the URL's path or query.
        reason: String,
    },
}

/// Sends events to one webhook URL: `POST` with the event JSON as the body, `content-type:
/// application/json`, `x-zm-request-timestamp` and, with a secret token, `x-zm-signature`.
///
/// Blocking, on the caller's thread: each post opens a connection of its own (none is kept idle,
/// see `http::agent_for`), whose DNS lookup runs on a short-lived thread bounded by
/// `connect_timeout`.
pub struct Forwarder {
    url: String,
    host: String,
    secret: Option<Secret>,
    timeout: Duration,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forwarder")
            .field("host", &self.host)
            .field("signed", &self.secret.is_some())
            .finish_non_exhaustive()
    }
}

impl Forwarder {
    /// A sender to `url` (`http://` or `https://`), signing with `secret` when given. TLS trusts
    /// the same roots as the token request; each post is bounded by `config.connect_timeout`.
    pub fn new(url: &str, secret: Option<Secret>, config: &Config) -> Result<Forwarder> {
        let url = url.trim();
        // The strict parser of every URL here; its example is the token endpoint's, so ours.
        let parsed = crate::url::url("the forward URL", url, &["https", "http"]).map_err(|_| {
            Error::config(
                "the forward URL",
                "needs an http:// or https:// URL, such as https://hooks.example.com/zoom",
            )
        })?;
        if secret.as_ref().is_some_and(Secret::is_empty) {
            return Err(Error::config("ZOOM_WEBHOOK_SECRET_TOKEN", "is empty"));
        }
        let trust = crate::trust::Trust::load(config.ca_file.as_deref())?;
        Ok(Forwarder {
            url: url.to_string(),
            host: parsed.authority(),
            secret,
            timeout: config.connect_timeout,
            agent: crate::http::agent_for(config, url, "the forward URL", &trust)?,
        })
    }

    /// The receiver's host (the URL's path and query may hold a secret and are never shown).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether posts carry `x-zm-signature`.
    pub fn signs(&self) -> bool {
        self.secret.is_some()
    }

    /// Posts `body` once, stamped with the current time; `timeout` shortens the usual bound.
    pub fn post(&self, body: &str, timeout: Option<Duration>) -> Delivery {
        let timestamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let bound = timeout.map_or(self.timeout, |t| t.min(self.timeout));
        let mut request = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(bound))
            .build()
            .content_type("application/json")
            .header("x-zm-request-timestamp", timestamp.to_string());
        if let Some(secret) = &self.secret {
            request = request.header(
                "x-zm-signature",
                signature(secret.expose(), timestamp, body),
            );
        }
        match request.send(body) {
            Ok(mut response) => {
                // Read the (small) answer so the connection can carry the next post.
                let _ = response
                    .body_mut()
                    .with_config()
                    .limit(MAX_ANSWER)
                    .read_to_vec();
                classify(response.status().as_u16())
            }
            Err(e) => Delivery::Retry {
                reason: self.describe(e, bound),
            },
        }
    }

    /// A `ureq` error in words, without the URL (whose path or query may hold a secret).
    fn describe(&self, error: ureq::Error, bound: Duration) -> String {
        let host = &self.host;
        if let Some(e) = crate::http::ours(&error) {
            return e.to_string();
        }
        match error {
            ureq::Error::Timeout(_) => {
                format!("{host} did not answer within {}", crate::error::Secs(bound))
            }
            ureq::Error::Io(e) => format!("{host}: {}", crate::error::describe_io(&e)),
            other => {
                let text = other.to_string();
                if text.contains(&self.url) || text.contains("://") {
                    format!("request to {host} failed")
                } else {
                    format!("request to {host} failed: {text}")
                }
            }
        }
    }
}

/// Sorts a receiver's HTTP status into accepted, refused for good, or worth retrying.
pub fn classify(status: u16) -> Delivery {
    match status {
        200..=299 => Delivery::Accepted,
        408 | 429 | 500..=599 => Delivery::Retry {
            reason: format!("the receiver answered HTTP {status}"),
        },
        _ => Delivery::Refused { status },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_an_independent_computation() {
        // HMAC-SHA256("secret", "v0:1:{}") computed with OpenSSL:
        // printf 'v0:1:{}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", 1, "{}"),
            "v0=72947d217adec3a1867ba95783f65b308b2419ed224a5751b0b81e0b9a8c6851"
        );
    }

    #[test]
    fn verify_accepts_only_the_exact_signature() {
        let body = r#"{"event":"x"}"#;
        let good = signature("s3cret", 1_764_500_000, body);
        assert!(verify("s3cret", "1764500000", body, &good));
        assert!(!verify("s3cret", "1764500001", body, &good));
        assert!(!verify("s3cret", "1764500000", "{}", &good));
        assert!(!verify("s3cret", "1764500000", body, &good[..66]));
        assert!(!verify("s3cret", "1764500000", body, &good.to_uppercase()));
        assert!(!verify("s3cret", "1764500000", body, ""));
    }

    #[test]
    fn statuses() {
        assert_eq!(classify(200), Delivery::Accepted);
        assert_eq!(classify(204), Delivery::Accepted);
        for status in [408, 429, 500, 502, 503] {
            assert!(
                matches!(classify(status), Delivery::Retry { .. }),
                "{status}"
            );
        }
        for status in [301, 400, 401, 404, 413] {
            assert_eq!(classify(status), Delivery::Refused { status });
        }
    }

    #[test]
    fn bad_urls_name_the_option() {
        let config = Config::new("id", "secret", "sub");
        for url in ["", "ftp://x", "http://", "hooks.example.com"] {
            let err = Forwarder::new(url, None, &config).unwrap_err();
            assert!(
                err.to_string().starts_with("the forward URL needs"),
                "{url}"
            );
        }
        let forwarder = Forwarder::new(
            "https://hooks.example.com/zoom?key=abc",
            Some("tok".into()),
            &config,
        )
        .unwrap();
        assert_eq!(forwarder.host(), "hooks.example.com");
        assert!(!format!("{forwarder:?}").contains("key=abc"));
        assert!(!format!("{forwarder:?}").contains("tok"));
    }
}
