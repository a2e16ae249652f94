//! URLs: the one strict parser ([`url`]) and its [`Url`], the socket URL (a secret: it carries
//! the token), percent-encoding through the `percent-encoding` crate that ureq already brings.
//! Only the parts a request is built from are accepted, nothing a request line could not carry.

use std::net::{Ipv4Addr, Ipv6Addr};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::error::{Error, Result};
use crate::escape::{escaped, escaped_char};

/// Longest URL accepted (the token is added to the socket URL on top of this).
pub(crate) const MAX_URL_LEN: usize = 2048;

/// A URL that passed [`url`]: its parts, borrowed from the setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Url<'a> {
    /// The scheme, lowercase, without `://`.
    pub scheme: &'static str,
    /// The host, without IPv6 brackets.
    pub host: &'a str,
    /// The port, defaulted by scheme.
    pub port: u16,
    /// Path, query and fragment (may be empty).
    pub rest: &'a str,
}

impl<'a> Url<'a> {
    /// The query, without `?` and fragment.
    pub(crate) fn query(&self) -> Option<&'a str> {
        let (before, _) = self.rest.split_once('#').unwrap_or((self.rest, ""));
        before.split_once('?').map(|(_, q)| q)
    }

    /// `host[:port]` as a message shows it: the port only when it is not the scheme's own.
    pub(crate) fn authority(&self) -> String {
        let default = if self.scheme.ends_with('s') { 443 } else { 80 };
        match self.port {
            port if port == default => bracketed(self.host),
            port => host_port(self.host, port),
        }
    }

    /// True for `http` and `ws`.
    pub(crate) fn is_cleartext(&self) -> bool {
        matches!(self.scheme, "http" | "ws")
    }
}

/// Parses `value` strictly: one of `schemes` (`"wss"`, …), a host, an optional port, and a path of
/// printable ASCII. Errors name `setting` and never quote the value.
pub(crate) fn url<'a>(setting: &str, value: &'a str, schemes: &[&'static str]) -> Result<Url<'a>> {
    let fail = |problem: String| {
        let example = if schemes.contains(&"wss") {
            "wss://ws.zoom.us/ws"
        } else {
            "https://zoom.us/oauth/token"
        };
        Error::config(
            setting,
            format!("{problem}; a valid one looks like {example}"),
        )
    };
    if value.len() > MAX_URL_LEN {
        let problem = format!(
            "is {} bytes long; at most {MAX_URL_LEN} are accepted",
            value.len()
        );
        return Err(fail(problem));
    }
    if let Some(i) = value.bytes().position(|b| !b.is_ascii_graphic()) {
        return Err(fail(bad_char(value, i)));
    }
    let (scheme, rest) = value
        .split_once("://")
        .and_then(|(s, rest)| Some((*schemes.iter().find(|k| s.eq_ignore_ascii_case(k))?, rest)))
        .ok_or_else(|| {
            fail(format!(
                "must start with {}:// or {}://",
                schemes[0], schemes[1]
            ))
        })?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err(fail(
            "must not hold user info (user:password@): it is never sent; the credentials go in \
             ZOOM_CLIENT_ID and ZOOM_CLIENT_SECRET"
                .into(),
        ));
    }
    let default_port = if scheme.ends_with('s') { 443 } else { 80 };
    let (host, port) = split_authority(authority, default_port).map_err(fail)?;
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?#%".contains(&b);
    if let Some(i) = path.bytes().position(|b| !allowed(b)) {
        return Err(fail(bad_char(path, i)));
    }
    if let Some(i) = broken_escape(path) {
        let problem = format!(
            "has a % at byte {} that is not followed by two hex digits; write %25 for a %",
            end + i
        );
        return Err(fail(problem));
    }
    Ok(Url {
        scheme,
        host,
        port,
        rest: path,
    })
}

/// What is wrong with the character at byte `i` of `text`, and how to write it instead.
#[cold]
#[inline(never)]
pub(crate) fn bad_char(text: &str, i: usize) -> String {
    let c = text[i..].chars().next().unwrap_or(' ');
    let mut buf = [0; 4];
    let encoded = utf8_percent_encode(c.encode_utf8(&mut buf), NON_ALPHANUMERIC);
    let (what, hint) = match c {
        ' ' => ("a space", ""),
        c if c.is_control() => ("the control character", ""),
        c if c.is_ascii() => ("the character", ", which a URL cannot carry as it is"),
        _ => ("the non-ASCII character", " (a host name: its xn-- form)"),
    };
    let shown = if c == ' ' {
        String::new()
    } else {
        format!(" {}", escaped_char(c))
    };
    format!("holds {what}{shown} at byte {i}{hint}; percent-encode it ({encoded})")
}

/// `host[:port]` or `[v6][:port]`, strictly.
pub(crate) fn split_authority(
    authority: &str,
    default_port: u16,
) -> std::result::Result<(&str, u16), String> {
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
    let bad = host
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b"-._".contains(&b)));
    match bad.and_then(|i| host[i..].chars().next()) {
        Some(c) => Err(format!(
            "has {} in its host name; a host is letters, digits, '.', '-' and '_', or an IP \
             address",
            escaped_char(c)
        )),
        None => Ok(()),
    }
}

/// True for `localhost`, 127.0.0.0/8 and `::1`: traffic that never leaves this machine.
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
        || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
}

/// Refuses a cleartext URL to a host that is not loopback, unless `allow_insecure`.
pub(crate) fn cleartext(
    setting: &str,
    url: &Url<'_>,
    allow_insecure: bool,
    what: &str,
) -> Result<()> {
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

/// The socket URL: the configured one plus `subscriptionId` (unless it is already there) and the
/// token. The result is a secret.
pub(crate) fn socket_url(base: &str, subscription_id: &str, token: &str) -> String {
    let base = base
        .split('#')
        .next()
        .unwrap_or(base)
        .trim_end_matches(['?', '&']);
    let query = base.split_once('?').map_or("", |(_, query)| query);
    let mut url = base.to_string();
    let mut push = |key: &str, value: &str| {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(key);
        url.push('=');
        url.push_str(&percent_encode(value));
    };
    if !(query.split('&')).any(|pair| pair.split('=').next() == Some("subscriptionId")) {
        push("subscriptionId", subscription_id);
    }
    push("access_token", token);
    url
}

/// Everything but RFC 3986's unreserved characters is escaped: right for a query value and for an
/// `application/x-www-form-urlencoded` value alike.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a query or form value.
pub(crate) fn percent_encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// Decodes `%XX` escapes; `None` when an escape is broken or the result is not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    // The crate leaves a broken escape as it is; we refuse it, as a typo in a password.
    if broken_escape(text).is_some() {
        return None;
    }
    Some(percent_decode_str(text).decode_utf8().ok()?.into_owned())
}

/// Where the first `%` that is not followed by two hex digits stands.
fn broken_escape(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
    (0..bytes.len()).find(|&i| bytes[i] == b'%' && !(hex(i + 1) && hex(i + 2)))
}

/// `host:port`, with brackets around an IPv6 host.
pub(crate) fn host_port(host: &str, port: u16) -> String {
    format!("{}:{port}", bracketed(host))
}

/// A host as it goes into a URL: IPv6 addresses in brackets.
pub(crate) fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::allow_insecure;

    #[test]
    fn socket_url_with_and_without_subscription() {
        assert_eq!(
            socket_url("wss://ws.zoom.us/ws", "S1", "t.o-k"),
            "wss://ws.zoom.us/ws?subscriptionId=S1&access_token=t.o-k"
        );
        assert_eq!(
            socket_url("wss://ws.zoom.us/ws?subscriptionId=S2", "S1", "tok"),
            "wss://ws.zoom.us/ws?subscriptionId=S2&access_token=tok"
        );
        assert_eq!(
            socket_url("wss://ws.zoom.us/ws?", "S 1", "a/b"),
            "wss://ws.zoom.us/ws?subscriptionId=S%201&access_token=a%2Fb"
        );
    }

    #[test]
    fn authority_shows_the_port_when_not_the_schemes() {
        let shown = |v| url("X", v, &["https", "http"]).unwrap().authority();
        assert_eq!(shown("https://zoom.us/oauth/token?x=1"), "zoom.us");
        assert_eq!(shown("http://h:1/x"), "h:1");
        assert_eq!(shown("https://[::1]:8443/"), "[::1]:8443");
    }

    #[test]
    fn percent_decoding_refuses_broken_escapes() {
        assert_eq!(percent_decode("p%40ss%20w").as_deref(), Some("p@ss w"));
        assert_eq!(percent_decode("a%zz"), None);
        assert_eq!(percent_decode("a%4"), None);
        assert_eq!(percent_decode("%ff"), None, "not UTF-8");
        assert_eq!(percent_encode("a b/é~"), "a%20b%2F%C3%A9~");
    }

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
