//! HTTP proxies: the settings (`HTTPS_PROXY`, `NO_PROXY`), the rule "through the proxy or direct",
//! and the CONNECT tunnel (of the socket and the HTTP requests alike, see `net::Dial`).
//!
//! A proxy URL may carry a user name and password, so it is split into parts as soon as it is
//! read and never kept or shown whole: messages name the proxy by `host:port` only.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::error::{Error, Phase, Result, describe_io, is_timeout};
use crate::secret::Secret;
use crate::url::{host_port, percent_decode, split_authority};

/// The variables a proxy is read from, first match wins. `HTTP_PROXY` is not among them: both of
/// Zoom's endpoints are `https://`/`wss://`, and a CGI program can have `HTTP_PROXY` set by a
/// request header ("httpoxy").
pub(crate) const PROXY_VARIABLES: [&str; 4] =
    ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"];

/// The variables the bypass list is read from, first match wins.
pub(crate) const NO_PROXY_VARIABLES: [&str; 2] = ["NO_PROXY", "no_proxy"];

/// The largest CONNECT answer head we read; real ones are under 200 bytes.
const MAX_HEAD: usize = 16 * 1024;

/// An `http://` proxy. The token request and the socket both reach Zoom through it, each in a
/// CONNECT tunnel with TLS inside; `Debug` never shows the credentials (they are [`Secret`]s).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyConfig {
    /// Host name or IP address of the proxy.
    pub host: String,
    /// Its port (default 80).
    pub port: u16,
    /// User name for `Proxy-Authorization: Basic` (empty: none is sent).
    pub username: Secret,
    /// Password for `Proxy-Authorization: Basic`.
    pub password: Secret,
}

impl ProxyConfig {
    /// A proxy at `host:port` without credentials.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        ProxyConfig {
            host: host.into(),
            port,
            username: Secret::default(),
            password: Secret::default(),
        }
    }

    /// Parses `http://[user[:password]@]host[:port][/]`; the scheme may be left out. User name and
    /// password may be percent-encoded (`p%40ss` for `p@ss`).
    pub fn parse(url: &str) -> Result<Self> {
        Self::parse_setting("HTTPS_PROXY", url)
    }

    /// Like [`parse`](Self::parse), with errors naming `setting`. Errors never quote the value:
    /// it may hold a password.
    pub(crate) fn parse_setting(setting: &str, url: &str) -> Result<Self> {
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => {
                return Err(Error::config(
                    setting,
                    "must be an http:// proxy URL (https:// and SOCKS proxies are not supported)",
                ));
            }
            None => url,
        };
        // The last '@' ends the credentials, so a password may hold '@', '/' or '#' unencoded.
        let (userinfo, location) = match rest.rsplit_once('@') {
            Some((userinfo, location)) => (Some(userinfo), location),
            None => (None, rest),
        };
        let (host, port) = split_authority(authority_of(location), 80).map_err(|p| {
            Error::config(setting, format!("{p}, e.g. http://proxy.example.com:3128"))
        })?;
        let mut proxy = ProxyConfig::new(host, port);
        if let Some(userinfo) = userinfo {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |part: &str| {
                percent_decode(part).map(Secret::new).ok_or_else(|| {
                    Error::config(
                        setting,
                        "has credentials that are not valid percent-encoded UTF-8",
                    )
                })
            };
            proxy.username = decode(user)?;
            proxy.password = decode(password)?;
        }
        Ok(proxy)
    }

    /// `host:port`, the proxy's name in messages (IPv6 hosts in brackets).
    pub fn address(&self) -> String {
        host_port(&self.host, self.port)
    }

    /// True when a `Proxy-Authorization` header is sent.
    pub fn has_credentials(&self) -> bool {
        !self.username.is_empty() || !self.password.is_empty()
    }

    /// `Basic base64(user:password)`, when there are credentials.
    fn authorization(&self) -> Option<Secret> {
        (self.has_credentials())
            .then(|| Secret::basic(self.username.expose(), self.password.expose()))
    }
}

/// The `host[:port]` of a proxy URL's location.
fn authority_of(location: &str) -> &str {
    location.split(['/', '?', '#']).next().unwrap_or_default()
}

/// Splits a `NO_PROXY` value into entries: comma- or space-separated, empty ones dropped.
pub(crate) fn parse_no_proxy(value: &str) -> Vec<String> {
    value
        .split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_string)
        .collect()
}

/// True when `host:port` is to be reached directly. Each entry is `*` (everything), or a host
/// name or IP address with an optional `:port`. A name matches itself and every name below it
/// (`example.com` and `.example.com` both match `example.com` and `ws.example.com`); a leading
/// `*.` is the same as a leading dot. Case does not matter. CIDR ranges are not supported.
pub(crate) fn bypasses(no_proxy: &[String], host: &str, port: u16) -> bool {
    let host = normalize_host(host);
    no_proxy.iter().any(|entry| {
        let entry = entry.trim();
        if entry == "*" {
            return true;
        }
        let (pattern, entry_port) = split_entry(entry);
        if entry_port.is_some_and(|p| p != port) {
            return false;
        }
        let pattern = normalize_host(pattern.trim_start_matches("*.").trim_start_matches('.'));
        !pattern.is_empty()
            && (host == pattern
                || host
                    .strip_suffix(&pattern)
                    .is_some_and(|above| above.ends_with('.')))
    })
}

/// `host[:port]` of one `NO_PROXY` entry; a bare IPv6 address (several colons) has no port.
fn split_entry(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match entry.split_once(':') {
        Some((host, port)) if !port.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            // An entry with a port that is not a number matches nothing.
            Err(_) => ("", None),
        },
        _ => (entry, None),
    }
}

fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// The CONNECT request for `host:port`. It may hold the credentials, so it is a `Secret`.
fn connect_request(proxy: &ProxyConfig, host: &str, port: u16) -> Secret {
    let target = host_port(host, port);
    let mut request = format!(
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\nUser-Agent: zoom-ws/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(authorization) = proxy.authorization() {
        request.push_str("Proxy-Authorization: ");
        request.push_str(authorization.expose());
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    Secret::new(request)
}

/// The status code of an HTTP answer head (`HTTP/1.1 200 Connection established`), read by
/// `httparse` (already in the tree through ureq and tungstenite).
fn parse_status(head: &[u8]) -> Option<u16> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => response.code.filter(|s| (100..600).contains(s)),
        _ => None,
    }
}

/// Opens a tunnel to `host:port` through `proxy` on `tcp` (already connected to the proxy). The
/// whole exchange ends within `timeout`, however slowly the proxy answers. The answer head is read
/// one byte at a time: the tunnel's first bytes must stay in the socket for TLS to read.
pub(crate) fn tunnel(
    tcp: &mut TcpStream,
    proxy: &ProxyConfig,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let failed = |detail: &str| {
        Error::connect(
            Phase::Proxy,
            format!("the proxy {} {detail}", proxy.address()),
        )
    };
    let broke = |e: io::Error| match is_timeout(&e) {
        true => Error::Timeout {
            phase: Phase::Proxy,
            after: timeout,
        },
        false => {
            let detail = format!(
                "the proxy {} broke off the CONNECT exchange: {}",
                proxy.address(),
                describe_io(&e)
            );
            Error::io(Phase::Proxy, detail, e)
        }
    };
    tcp.set_write_timeout(Some(timeout)).ok();
    let request = connect_request(proxy, host, port);
    tcp.write_all(request.expose().as_bytes()).map_err(broke)?;
    let mut head = Vec::with_capacity(256);
    #[allow(clippy::unbuffered_bytes)] // on purpose: a buffer would take the tunnel's bytes
    let mut bytes = (&*tcp).bytes();
    while !(head.ends_with(b"\r\n\r\n") || head.ends_with(b"\n\n")) {
        if head.len() > MAX_HEAD {
            return Err(failed(&format!(
                "sent an answer head over {MAX_HEAD} bytes"
            )));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(broke(io::ErrorKind::TimedOut.into()));
        }
        tcp.set_read_timeout(Some(left)).ok();
        match bytes.next() {
            Some(byte) => head.push(byte.map_err(broke)?),
            None => {
                let detail = "closed the connection without answering CONNECT";
                return Err(failed(detail));
            }
        }
    }
    match parse_status(&head) {
        Some(status) if (200..300).contains(&status) => Ok(()),
        Some(status) => Err(refused(proxy, status, host, port)),
        None => {
            let detail = "answered CONNECT with something that is not HTTP";
            Err(failed(detail))
        }
    }
}

/// The error for a proxy that answered CONNECT with `status`: what it means and what to change.
/// Names the proxy and the target, never the credentials.
fn refused(proxy: &ProxyConfig, status: u16, host: &str, port: u16) -> Error {
    let address = proxy.address();
    let detail = match status {
        // 407 is the proxy's own "who are you?"; some proxies answer 401 instead.
        401 | 407 if proxy.has_credentials() => format!(
            "the proxy {address} refused the user name and password in HTTPS_PROXY (HTTP \
             {status}); check them (special characters percent-encoded, e.g. %40 for @)"
        ),
        401 | 407 => format!(
            "the proxy {address} asks for credentials (HTTP {status}); put them in the proxy URL: \
             HTTPS_PROXY=http://USER:PASSWORD@{address}"
        ),
        _ => format!(
            "the proxy {address} answered HTTP {status} to CONNECT {}; it could not or would not \
             open a tunnel there (if the host should be reached directly, add it to NO_PROXY)",
            host_port(host, port)
        ),
    };
    Error::connect(Phase::Proxy, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn list(entries: &str) -> Vec<String> {
        parse_no_proxy(entries)
    }

    #[test]
    fn proxy_urls() {
        let p = ProxyConfig::parse("http://proxy.corp:3128").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 3128));
        assert!(!p.has_credentials());
        let p = ProxyConfig::parse("proxy.corp").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("proxy.corp", 80));
        let p = ProxyConfig::parse("HTTP://alice:p%40ss%20word@10.0.0.1:8080/").unwrap();
        assert_eq!(p.address(), "10.0.0.1:8080");
        assert_eq!(p.username.expose(), "alice");
        assert_eq!(p.password.expose(), "p@ss word");
        let p = ProxyConfig::parse("http://bob:raw@pass/word@[::1]:3128").unwrap();
        assert_eq!(p.password.expose(), "raw@pass/word");
        assert_eq!(p.address(), "[::1]:3128");
        assert_eq!(
            p.authorization().unwrap().expose(),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("bob:raw@pass/word")
            )
        );
    }

    #[test]
    fn bad_proxy_urls_name_the_variable_and_hide_the_value() {
        for (url, words) in [
            (
                "https://u:hunter2@proxy:443",
                "must be an http:// proxy URL",
            ),
            (
                "socks5://u:hunter2@proxy:1080",
                "must be an http:// proxy URL",
            ),
            ("http://u:hunter2@proxy:99999", "port that is not a number"),
            ("http://u:hunter2@:8080", "has no host"),
            ("http://u:hunter2%zz@proxy:8080", "percent-encoded"),
        ] {
            let err = ProxyConfig::parse_setting("ALL_PROXY", url)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("ALL_PROXY "), "{err}");
            assert!(err.contains(words), "{err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn debug_hides_credentials() {
        let p = ProxyConfig::parse("http://alice:hunter2@proxy:3128").unwrap();
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("alice"),
            "{shown}"
        );
        assert!(shown.contains("proxy") && shown.contains("***"), "{shown}");
    }

    #[test]
    fn no_proxy_rules() {
        let l = list("localhost, .corp.example,*.internal , zoom.us:8443,10.1.2.3,[::1]:443");
        assert!(bypasses(&l, "localhost", 80));
        assert!(bypasses(&l, "LOCALHOST.", 80));
        assert!(!bypasses(&l, "notlocalhost", 80));
        assert!(bypasses(&l, "corp.example", 443));
        assert!(bypasses(&l, "ws.corp.example", 443));
        assert!(bypasses(&l, "a.b.internal", 443));
        assert!(!bypasses(&l, "xinternal", 443));
        assert!(bypasses(&l, "zoom.us", 8443));
        assert!(bypasses(&l, "ws.zoom.us", 8443));
        assert!(!bypasses(&l, "zoom.us", 443), "the port must match");
        assert!(bypasses(&l, "10.1.2.3", 1));
        assert!(!bypasses(&l, "10.1.2.30", 1));
        assert!(bypasses(&l, "::1", 443));
        assert!(!bypasses(&l, "::1", 80));
        assert!(bypasses(&list("::1"), "::1", 80), "bare IPv6 entry");
        assert!(bypasses(&list("*"), "anything", 1));
        assert!(!bypasses(&list(""), "anything", 1));
        assert!(!bypasses(&list("host:port"), "host", 1));
    }

    #[test]
    fn connect_requests() {
        let mut proxy = ProxyConfig::new("proxy", 3128);
        assert_eq!(
            connect_request(&proxy, "ws.zoom.us", 443).expose(),
            format!(
                "CONNECT ws.zoom.us:443 HTTP/1.1\r\nHost: ws.zoom.us:443\r\nUser-Agent: zoom-ws/{}\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        proxy.username = "u".into();
        proxy.password = "p".into();
        let request = connect_request(&proxy, "::1", 8443);
        assert!(
            request
                .expose()
                .starts_with("CONNECT [::1]:8443 HTTP/1.1\r\n")
        );
        assert!(
            request
                .expose()
                .contains("\r\nProxy-Authorization: Basic dTpw\r\n")
        );
    }

    #[test]
    fn statuses() {
        assert_eq!(
            parse_status(b"HTTP/1.1 200 Connection established\r\n\r\n"),
            Some(200)
        );
        assert_eq!(parse_status(b"HTTP/1.0 407 Auth\r\n\r\n"), Some(407));
        assert_eq!(parse_status(b"SSH-2.0-OpenSSH\r\n\r\n"), None);
        assert_eq!(parse_status(b"HTTP/1.1 200 OK\nVia: x\n\n"), Some(200));
    }

    #[test]
    fn refusals_say_what_to_do() {
        let mut proxy = ProxyConfig::new("proxy", 3128);
        let text = refused(&proxy, 407, "ws.zoom.us", 443).to_string();
        assert!(text.contains("asks for credentials"), "{text}");
        assert!(
            text.contains("HTTPS_PROXY=http://USER:PASSWORD@proxy:3128"),
            "{text}"
        );
        proxy.username = "alice".into();
        proxy.password = "hunter2".into();
        let text = refused(&proxy, 407, "ws.zoom.us", 443).to_string();
        assert!(
            text.contains("refused the user name and password"),
            "{text}"
        );
        // A proxy that answers 401 instead of 407 means the same.
        let text = refused(&proxy, 401, "ws.zoom.us", 443).to_string();
        assert!(
            text.contains("refused the user name and password in HTTPS_PROXY (HTTP 401)"),
            "{text}"
        );
        let text = refused(&proxy, 502, "ws.zoom.us", 443).to_string();
        assert!(text.contains("proxy:3128 answered HTTP 502 to CONNECT ws.zoom.us:443"));
        for status in [401, 407, 502] {
            let text = refused(&proxy, status, "h", 1).to_string();
            assert!(
                !text.contains("hunter2") && !text.contains("alice"),
                "{text}"
            );
        }
    }
}
