//! OAuth access tokens: one blocking request, a cache, and the sorting of failures into "fix your
//! credentials" (fatal) and "try again later" (retried).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;

use crate::config::Config;
use crate::error::{Error, Phase, Result, describe_io};
use crate::json::{fields, string};
use crate::secret::Secret;
use crate::trust::Trust;
use crate::url::percent_encode;

/// A token is thrown away this long before Zoom says it expires, so a connection never starts
/// with a token about to lapse.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// The largest token answer we read; Zoom's are under 2 KiB.
const MAX_BODY: u64 = 64 * 1024;

/// An access token and whether it was fetched just now (a fresh token that Zoom refuses means the
/// app or subscription is wrong, not that the token aged).
#[derive(Clone, Debug)]
pub struct Token {
    /// The token itself.
    pub value: Secret,
    /// True when this call fetched it; false when it came from the cache.
    pub fresh: bool,
}

struct Cached {
    value: Secret,
    renew_at: Instant,
}

/// Fetches tokens with the client-credentials or account-credentials grant and caches them until
/// shortly before they expire. Shareable between threads (one cache for several subscriptions).
pub struct TokenSource {
    oauth_url: String,
    /// The token endpoint's host (and port), for errors (the URL holds no secret).
    host: String,
    authorization: Secret,
    body: String,
    timeout: Duration,
    agent: ureq::Agent,
    cache: Mutex<Option<Cached>>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource")
            .field("oauth_url", &self.oauth_url)
            .field("fetches", &self.fetches())
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A token source for these credentials. Sends nothing yet.
    pub fn new(config: &Config) -> Result<Self> {
        // Nothing is sent for settings that could not work (or could inject a header).
        config.validate()?;
        let authorization = Secret::basic(&config.client_id, config.client_secret.expose());
        let oauth = crate::url::url("ZOOM_OAUTH_URL", &config.oauth_url, &["http", "https"])?;
        let host = oauth.authority();
        let trust = Trust::load(config.ca_file.as_deref())?;
        let agent = crate::http::agent_for(config, &config.oauth_url, "ZOOM_OAUTH_URL", &trust)?;
        Ok(TokenSource {
            oauth_url: config.oauth_url.clone(),
            host,
            authorization,
            body: grant_body(config.account_id.as_deref()),
            timeout: config.connect_timeout,
            agent,
            cache: Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// The cached token, unless there is none or it expires within a minute. Sends nothing.
    pub(crate) fn cached(&self) -> Option<Token> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .as_ref()
            .filter(|c| Instant::now() < c.renew_at)
            .map(|c| Token {
                value: c.value.clone(),
                fresh: false,
            })
    }

    /// A cached token, or a new one when there is none or it expires within a minute.
    pub fn token(&self) -> Result<Token> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(cached) = cache.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(Token {
                value: cached.value.clone(),
                fresh: false,
            });
        }
        let (value, expires_in) = self.fetch()?;
        // A token that lives less than twice the margin is used for half its life.
        let keep = expires_in
            .checked_sub(EXPIRY_MARGIN)
            .filter(|_| expires_in > EXPIRY_MARGIN * 2)
            .unwrap_or(expires_in / 2);
        *cache = Some(Cached {
            value: value.clone(),
            renew_at: Instant::now() + keep,
        });
        Ok(Token { value, fresh: true })
    }

    /// Forgets `token` if it is the cached one, so the next [`token`](Self::token) fetches anew.
    pub fn invalidate(&self, token: &Secret) {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.as_ref().is_some_and(|c| &c.value == token) {
            *cache = None;
        }
    }

    /// How many token requests were sent so far.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Sends one token request and returns the token with its lifetime.
    pub(crate) fn fetch(&self) -> Result<(Secret, Duration)> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        log::debug!("requesting an access token");
        let response = self
            .agent
            .post(&self.oauth_url)
            .header("Authorization", self.authorization.expose())
            .content_type("application/x-www-form-urlencoded")
            .send(self.body.as_str());
        let mut response = response.map_err(|e| self.http_error(e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_string()
            .map_err(|e| self.http_error(e))?;
        classify_answer(status, &body, retry_after)
    }
}

/// The form body: the grant and, for Server-to-Server apps, the account. RFC 6749 puts these in
/// the body; Zoom has started refusing them in the query string.
fn grant_body(account_id: Option<&str>) -> String {
    match account_id {
        Some(account) => format!(
            "grant_type=account_credentials&account_id={}",
            percent_encode(account)
        ),
        None => "grant_type=client_credentials".to_string(),
    }
}

/// Sorts an answer of the token endpoint into a token, a fatal credentials error, or a retryable
/// failure.
pub(crate) fn classify_answer(
    status: u16,
    body: &str,
    retry_after: Option<Duration>,
) -> Result<(Secret, Duration)> {
    // Read in one pass like events (json.rs): no map of the whole answer is built.
    let names = [
        "access_token",
        "expires_in",
        "error",
        "reason",
        "error_description",
    ];
    let [token, expires_in, error, reason, description] = fields(body, names).unwrap_or_default();
    let field = |raw: Option<&RawValue>| raw.and_then(string).map(|text| text.into_owned());
    match status {
        200..=299 => {
            let token = field(token).filter(|t| !t.is_empty());
            let expires_in = expires_in.and_then(|raw| raw.get().parse().ok());
            let expires_in = expires_in.unwrap_or(3600);
            match token {
                Some(token) => Ok((Secret::new(token), Duration::from_secs(expires_in))),
                None => Err(Error::Token {
                    status: Some(status),
                    detail: "the answer holds no access_token".into(),
                    retry_after: None,
                }),
            }
        }
        // 408 and 429 say "not now"; every other 4xx says the request itself is wrong, and sending
        // it again cannot help.
        400..=499 if status != 408 && status != 429 => Err(Error::Credentials {
            status,
            error: field(error).unwrap_or_else(|| format!("HTTP {status}")),
            reason: field(reason)
                .or_else(|| field(description))
                .unwrap_or_else(|| printable_snippet(body)),
        }),
        _ => Err(Error::Token {
            status: Some(status),
            detail: field(reason)
                .or_else(|| field(error))
                .unwrap_or_else(|| printable_snippet(body)),
            retry_after,
        }),
    }
}

/// The start of a body, on one line, for an error message.
fn printable_snippet(body: &str) -> String {
    let line: String = body
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect();
    if line.trim().is_empty() {
        "(empty body)".to_string()
    } else {
        line.trim().to_string()
    }
}

impl TokenSource {
    /// Turns a `ureq` error into ours. The token endpoint's URL holds no secret, so naming its
    /// host is safe; the request's headers and body, and the proxy's credentials, never are.
    fn http_error(&self, error: ureq::Error) -> Error {
        // Connecting failed: said by net's code, as for the socket.
        if let Some(e) = crate::http::ours(&error) {
            return e;
        }
        match error {
            ureq::Error::Timeout(_) => Error::Timeout {
                phase: Phase::TokenRequest,
                after: self.timeout,
            },
            ureq::Error::Io(e) => {
                let detail = format!("{}: {}", self.host, describe_io(&e));
                Error::io(Phase::TokenRequest, detail, e)
            }
            other => Error::Token {
                status: None,
                detail: other.to_string(),
                retry_after: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_bodies() {
        assert_eq!(grant_body(None), "grant_type=client_credentials");
        assert_eq!(
            grant_body(Some("a b&c")),
            "grant_type=account_credentials&account_id=a%20b%26c"
        );
    }

    #[test]
    fn token_answer() {
        let (token, life) =
            classify_answer(200, r#"{"access_token":"abc","expires_in":3599}"#, None).unwrap();
        assert_eq!(token.expose(), "abc");
        assert_eq!(life, Duration::from_secs(3599));
    }

    #[test]
    fn token_answer_fields_read_as_serde_json_would() {
        let answer = r#"{"scope":["x"],"access_token":"a\/b","expires_in":"60"}"#;
        let (token, life) = classify_answer(200, answer, None).unwrap();
        assert_eq!(token.expose(), "a/b");
        assert_eq!(
            life,
            Duration::from_secs(3600),
            "a non-number is the default"
        );
        let body = r#"{"error":7,"error_description":"Bad \u0041ccount","x":{"y":[1.5]}}"#;
        let said = classify_answer(401, body, None).unwrap_err().to_string();
        assert!(said.contains("HTTP 401: Bad Account"), "{said}");
        let said = classify_answer(401, r#"["not","an object"]"#, None).unwrap_err();
        assert!(
            said.to_string().contains(r#"["not","an object"]"#),
            "{said}"
        );
    }

    #[test]
    fn wrong_credentials_are_fatal_and_quote_zoom() {
        let body = r#"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#;
        for status in [400, 401] {
            let err = classify_answer(status, body, None).unwrap_err();
            assert!(err.is_fatal());
            assert!(
                err.to_string()
                    .contains("invalid_client: Invalid client_id or client_secret")
            );
        }
        let err = classify_answer(
            400,
            r#"{"reason":"Account does not exist","error":"invalid_request"}"#,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("Account does not exist"));
    }

    #[test]
    fn transient_failures_are_retryable() {
        let err = classify_answer(429, "slow down", Some(Duration::from_secs(7))).unwrap_err();
        assert!(!err.is_fatal());
        assert!(matches!(err, Error::Token { retry_after: Some(d), .. } if d.as_secs() == 7));
        assert!(!classify_answer(503, "<html>", None).unwrap_err().is_fatal());
        assert!(!classify_answer(200, "<html>", None).unwrap_err().is_fatal());
        assert!(
            !classify_answer(200, r#"{"token":"x"}"#, None)
                .unwrap_err()
                .is_fatal()
        );
    }
}
