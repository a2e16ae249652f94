//! A string that must never be shown: the client secret, tokens, proxy passwords, the socket URL.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A string that must never be shown: `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The `Authorization` value `Basic base64(user:password)` (RFC 7617), for the token request
    /// and the proxy alike.
    pub(crate) fn basic(user: &str, password: &str) -> Secret {
        let pair = format!("{user}:{password}");
        Secret(format!("Basic {}", STANDARD.encode(pair)))
    }

    /// True when no value was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}
