//! Strict URL parsing: the parts a request is built from, and nothing a request line could not
//! carry.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::escape::{escaped, escaped_char};
use crate::error::{Error, Result};

/// Longest URL accepted (the token is added to the socket URL on top of this).
pub const MAX_URL_LEN: usize = 2048;

/// A URL that passed [`url`]: its parts, borrowed from the setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url<'a> {
    /// The scheme, lowercase, without `://`.
    pub scheme: String,
    /// The host, without IPv6 brackets.
    pub host: &'a str,
    /// The port, defaulted by scheme.
    pub port: u16,
    /// Path, query and fragment (may be empty).
    pub rest: &'a str,
}

impl<'a> Url<'a> {
    /// The query, without `?` and fragment.
    pub fn query(&self) -> Option<&'a str> {
        let (before, _) = self.rest.split_once('#').unwrap_or((self.rest, ""));
        before.split_once('?').map(|(_, q)| q)
    }

    /// True for `http` and `ws`.
    pub fn is_cleartext(&self) -> bool {
        matches!(self.scheme.as_str(), "http" | "ws")
    }
}

/// Parses `value` strictly: one of `schemes` (`"wss"`, …), a host, an optional port, and a path of
/// printable ASCII. Errors name `setting` and never quote the value.
pub fn url<'a>(setting: &str, value: &'a str, schemes: &[&str]) -> Result<Url<'a>> {
    let listed = schemes
        .iter()
        .map(|s| format!("{s}://"))
        .collect::<Vec<_>>();
    let example = if schemes.contains(&"wss") {
        "wss://ws.zoom.us/ws"
    } else {
        "https://zoom.us/oauth/token"
    };
    let fail = |problem: String| {
        Error::config(
            setting,
            format!("{problem}; a valid one looks like {example}"),
        )
    };
    if value.len() > MAX_URL_LEN {
        return Err(fail(format!(
            "is {} bytes long; at most {MAX_URL_LEN} are accepted",
            value.len()
        )));
    }
    printable(value).map_err(fail)?;
    let (scheme, rest) = value
        .split_once("://")
        .filter(|(s, _)| schemes.iter().any(|k| s.eq_ignore_ascii_case(k)))
        .ok_or_else(|| fail(format!("must start with {}", listed.join(" or "))))?;
    let scheme = scheme.to_ascii_lowercase();
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err(fail(
            "must not hold user info (user:password@): it is never sent; the credentials go in \
             ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"
                .into(),
        ));
    }
    let default_port = if matches!(scheme.as_str(), "https" | "wss") {
        443
    } else {
        80
    };
    let (host, port) = host_port(authority, default_port).map_err(fail)?;
    if let Some((i, c)) = path.char_indices().find(|&(_, c)| !url_char(c)) {
        return Err(fail(format!(
            "holds {} at byte {i}, which a URL cannot carry as it is; percent-encode it ({})",
            escaped_char(c),
            percent(c)
        )));
    }
    if let Some(i) = broken_escape(path) {
        return Err(fail(format!(
            "has a % at byte {} that is not followed by two hex digits; write %25 for a %",
            end + i
        )));
    }
    Ok(Url {
        scheme,
        host,
        port,
        rest: path,
    })
}

/// Refuses control characters, spaces and non-ASCII, naming the first and where it is.
fn printable(value: &str) -> std::result::Result<(), String> {
    match value.char_indices().find(|&(_, c)| !c.is_ascii_graphic()) {
        None => Ok(()),
        Some((i, c)) if c.is_control() => Err(format!(
            "holds the control character {} at byte {i}",
            escaped_char(c)
        )),
        Some((i, c)) if c.is_ascii() || c.is_whitespace() => Err(format!(
            "holds a space at byte {i}; percent-encode it ({})",
            percent(c)
        )),
        Some((i, c)) => Err(format!(
            "holds the non-ASCII character {} at byte {i}; percent-encode it ({}), or write a \
             host name in its xn-- form",
            escaped_char(c),
            percent(c)
        )),
    }
}

/// RFC 3986 characters allowed after the authority: unreserved, sub-delims, `:@/?#%`.
fn url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@/?#%".contains(c)
}

/// The byte offset of a `%` not followed by two hex digits.
fn broken_escape(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| {
        bytes[i] == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

/// `host[:port]` or `[v6][:port]`, strictly.
fn host_port(authority: &str, default_port: u16) -> std::result::Result<(&str, u16), String> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(inner) => {
            let (host, after) = inner
                .split_once(']')
                .ok_or("has a [ without its ] around an IPv6 address")?;
            host.parse::<Ipv6Addr>()
                .map_err(|_| "has something other than an IPv6 address in [ ]")?;
            match after {
                "" => (host, None),
                _ => (
                    host,
                    Some(after.strip_prefix(':').ok_or("has text after the ]")?),
                ),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if !authority.starts_with('[') {
        check_host(host)?;
    }
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&n| n > 0 && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or("has a port that is not a number from 1 to 65535")?,
    };
    Ok((host, port))
}

/// A host name of letters, digits, `.`, `-` and `_`, or an IP address.
pub(crate) fn check_host(host: &str) -> std::result::Result<(), String> {
    if host.is_empty() {
        return Err("has no host".into());
    }
    if host.len() > 253 {
        return Err("has a host name longer than 253 characters".into());
    }
    if host.parse::<Ipv6Addr>().is_ok() {
        return Err("has an IPv6 address without [ ] around it".into());
    }
    match host
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "-._".contains(c)))
    {
        Some(c) => Err(format!(
            "has {} in its host name; a host is letters, digits, '.', '-' and '_', or an IP \
             address",
            escaped_char(c)
        )),
        None => Ok(()),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`: traffic that never leaves this machine.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a cleartext URL to a host that is not loopback, unless `allow_insecure`.
pub fn cleartext(setting: &str, url: &Url<'_>, allow_insecure: bool, what: &str) -> Result<()> {
    if !url.is_cleartext() || allow_insecure || is_loopback(url.host) {
        return Ok(());
    }
    Err(Error::config(
        setting,
        format!(
            "is {}:// to {}, which is not this machine: {what} would cross the network in clear; \
             use {}s://, or set ZOOM_ALLOW_INSECURE=1 to allow it",
            url.scheme,
            escaped(url.host),
            url.scheme
        ),
    ))
}

/// A character percent-encoded as UTF-8: `%C3%A9`.
fn percent(c: char) -> String {
    let mut buf = [0; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::allow_insecure;

    #[test]
    fn strict_urls() {
        let ok = |v| url("X", v, &["ws", "wss"]).unwrap();
        let u = ok("wss://ws.zoom.us/ws?subscriptionId=a");
        assert_eq!(
            (u.host, u.port, u.query()),
            ("ws.zoom.us", 443, Some("subscriptionId=a"))
        );
        assert_eq!(ok("ws://[::1]:9/x").host, "::1");
        assert_eq!(ok("WS://127.0.0.1:8080").port, 8080);
        let bad = |v: &str| url("X", v, &["ws", "wss"]).unwrap_err().to_string();
        for (value, says) in [
            (
                "ws://evil.example\r\nX-Injected: yes\r\nFoo: bar:80/ws",
                "control character '\\r'",
            ),
            ("wss://h/a b", "space"),
            ("wss://h/é", "%C3%A9"),
            ("wss://user:pass@h/ws", "user info"),
            ("https://h/ws", "must start with ws:// or wss://"),
            ("wss://h:0/", "port"),
            ("wss://h:99999/", "port"),
            ("wss://:443/", "no host"),
            ("wss://h/<x>", "'<'"),
            ("wss://h/%zz", "two hex digits"),
            ("wss://[nope]/", "IPv6"),
            ("wss://h\u{0}/", "control"),
        ] {
            let text = bad(value);
            assert!(
                text.starts_with("X ") && text.contains(says),
                "{value:?}: {text}"
            );
            assert!(!text.contains('\r') && !text.contains('\n'), "{text}");
        }
        assert!(bad(&format!("wss://h/{}", "a".repeat(MAX_URL_LEN))).contains("2048"));
    }

    #[test]
    fn cleartext_only_to_loopback() {
        let parse = |v| url("X", v, &["http", "https"]).unwrap();
        for host in [
            "http://127.0.0.1:1/t",
            "http://localhost/t",
            "http://[::1]/t",
            "https://a/",
        ] {
            assert!(cleartext("X", &parse(host), false, "it").is_ok(), "{host}");
        }
        let err = cleartext("X", &parse("http://zoom.us/t"), false, "the secret").unwrap_err();
        assert!(
            err.to_string()
                .contains("the secret would cross the network in clear")
        );
        assert!(cleartext("X", &parse("http://zoom.us/t"), true, "it").is_ok());
        assert!(allow_insecure(Some("1")).unwrap());
        assert!(!allow_insecure(None).unwrap());
        assert!(allow_insecure(Some("yes please")).is_err());
    }
}
