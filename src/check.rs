//! The rules every setting passes before anything is sent: pure functions, no I/O.
//!
//! A value that reaches a request line, a header or a host lookup must not be able to add a line
//! of its own, so URLs are parsed strictly and ids keep to a small character set. Zoom documents
//! no limits for its ids and secrets; the bounds here are generous (Zoom's own values are 20 to 40
//! characters) and only stop values that cannot be right:
//!
//! | setting | rule |
//! |---|---|
//! | `ZOOM_OAUTH_URL`, `ZOOM_WS_URL` | at most [`MAX_URL_LEN`] characters, printable ASCII only (percent-encode the rest), no user info, a host of letters, digits, `.`, `-`, `_` or an IP address, port 1-65535 |
//! | `ZOOM_CLIENT_ID`, `ZOOM_ACCOUNT_ID`, each subscription id | 1 to [`MAX_ID_LEN`] letters, digits, `-`, `_`, `.` |
//! | `ZOOM_CLIENT_SECRET` | 1 to [`MAX_SECRET_LEN`] printable ASCII characters, no spaces |
//! | `ZOOM_SUBSCRIPTION_ID` | up to [`MAX_SUBSCRIPTIONS`] ids, comma-separated, each once |
//! | `HTTPS_PROXY` | a host as above; user name and password up to [`MAX_SECRET_LEN`] bytes each |
//!
//! `http://` and `ws://` reach only loopback hosts unless `ZOOM_ALLOW_INSECURE=1`.

use std::fmt::{self, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::config::Config;
use crate::error::{Error, Result};

/// Longest URL accepted (the token is added to the socket URL on top of this).
pub const MAX_URL_LEN: usize = 2048;
/// Longest client id, account id or subscription id accepted.
pub const MAX_ID_LEN: usize = 128;
/// Longest client secret accepted.
pub const MAX_SECRET_LEN: usize = 256;
/// Most subscriptions one `ZOOM_SUBSCRIPTION_ID` may list (one connection and thread each).
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// Every `ZOOM_*` name zoom-ws reads (or sets, for `--exec`), for the unknown-name warning.
pub const KNOWN_SETTINGS: &[&str] = &[
    "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET",
    "ZOOM_SUBSCRIPTION_ID",
    "ZOOM_ACCOUNT_ID",
    "ZOOM_OAUTH_URL",
    "ZOOM_WS_URL",
    "ZOOM_HEARTBEAT_INTERVAL",
    "ZOOM_DEAD_PEER_TIMEOUT",
    "ZOOM_CONNECT_TIMEOUT",
    "ZOOM_BACKOFF_INITIAL",
    "ZOOM_BACKOFF_MAX",
    "ZOOM_MAX_MESSAGE_SIZE",
    "ZOOM_CA_FILE",
    "ZOOM_ALLOW_INSECURE",
    "ZOOM_WEBHOOK_SECRET_TOKEN",
    "ZOOM_EVENT",
    "ZOOM_EVENT_TS",
];

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
fn check_host(host: &str) -> std::result::Result<(), String> {
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

/// `ZOOM_ALLOW_INSECURE`: unset or `0` refuses cleartext to other hosts, `1` allows it.
pub fn allow_insecure(value: Option<&str>) -> Result<bool> {
    match value.map(str::trim) {
        None | Some("" | "0" | "false") => Ok(false),
        Some("1" | "true") => Ok(true),
        Some(_) => Err(Error::config(
            "ZOOM_ALLOW_INSECURE",
            "must be 1 (allow http:// and ws:// to any host) or 0 (only to this machine)",
        )),
    }
}

/// A client id, account id or subscription id: 1 to [`MAX_ID_LEN`] of `[A-Za-z0-9._-]`.
pub fn id(setting: &str, value: &str) -> Result<()> {
    let fail = |problem: String| {
        Error::config(
            setting,
            format!(
                "{problem}; an id is 1 to {MAX_ID_LEN} letters, digits, '-', '_' or '.', as \
                 shown in the Zoom Marketplace (e.g. Fc5-c8kqSzO2yj6Zyvce1A)"
            ),
        )
    };
    if value.is_empty() {
        return Err(fail("is empty".into()));
    }
    if value.len() > MAX_ID_LEN {
        return Err(fail(format!("is {} bytes long", value.len())));
    }
    match value
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        Some((i, c)) => Err(fail(format!("holds {} at byte {i}", escaped_char(c)))),
        None => Ok(()),
    }
}

/// A client secret: 1 to [`MAX_SECRET_LEN`] printable ASCII characters. Errors never show it.
pub fn secret(setting: &str, value: &str) -> Result<()> {
    let rule = format!(
        "a secret is 1 to {MAX_SECRET_LEN} printable ASCII characters without spaces, as shown \
         in the Zoom Marketplace (Zoom's are 32 letters and digits)"
    );
    if value.len() > MAX_SECRET_LEN {
        let problem = format!("is {} bytes long; {rule}", value.len());
        return Err(Error::config(setting, problem));
    }
    match value.bytes().position(|b| !b.is_ascii_graphic()) {
        Some(i) => Err(Error::config(
            setting,
            format!("holds a space, control or non-ASCII character at byte {i}; {rule}"),
        )),
        None if value.is_empty() => Err(Error::config(setting, format!("is empty; {rule}"))),
        None => Ok(()),
    }
}

/// The ids of a `ZOOM_SUBSCRIPTION_ID`: one, or several separated by commas, each checked, none
/// twice.
pub fn subscription_ids(value: &str) -> Result<Vec<&str>> {
    const SETTING: &str = "ZOOM_SUBSCRIPTION_ID";
    // Only spaces are trimmed: a line break or tab is refused with the id around it.
    let ids: Vec<&str> = value
        .split(',')
        .map(|id| id.trim_matches(' '))
        .filter(|id| !id.is_empty())
        .collect();
    if ids.is_empty() {
        return Err(Error::config(
            SETTING,
            "holds no subscription id; give one, or several separated by commas",
        ));
    }
    if ids.len() > MAX_SUBSCRIPTIONS {
        let problem = format!("lists {} ids; at most {MAX_SUBSCRIPTIONS}", ids.len());
        return Err(Error::config(SETTING, problem));
    }
    for (i, sub) in ids.iter().enumerate() {
        id(SETTING, sub)?;
        if ids[..i].contains(sub) {
            return Err(Error::config(
                SETTING,
                format!("lists {sub} twice; one subscription should have one consumer"),
            ));
        }
    }
    Ok(ids)
}

/// The `subscriptionId` in a socket URL's query, checked like the setting; refuses a second one
/// and an `access_token` (the client adds a fresh one).
pub fn url_subscription<'a>(ws: &Url<'a>) -> Result<Option<&'a str>> {
    let Some(query) = ws.query() else {
        return Ok(None);
    };
    let mut found = None;
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "access_token" => {
                return Err(Error::config(
                    "ZOOM_WS_URL",
                    "must not hold access_token: zoom-ws adds a fresh token itself, e.g. \
                     wss://ws.zoom.us/ws?subscriptionId=Fc5-c8kqSzO2yj6Zyvce1A",
                ));
            }
            "subscriptionId" if found.is_some() => {
                return Err(Error::config(
                    "ZOOM_WS_URL",
                    "holds subscriptionId twice; give it once",
                ));
            }
            "subscriptionId" => found = Some(value),
            _ => {}
        }
    }
    if let Some(sub) = found {
        id("ZOOM_WS_URL", sub).map_err(|e| match e {
            Error::Config { setting, problem } => {
                Error::config(setting, format!("has a subscriptionId that {problem}"))
            }
            other => other,
        })?;
    }
    Ok(found)
}

/// The subscription setting in force: `ZOOM_SUBSCRIPTION_ID` when given (agreement with the URL is
/// checked by [`config`]), else the `subscriptionId` of `ws_url`.
pub fn subscription_in_force(ws_url: &str, setting: &str) -> Result<String> {
    if !setting.trim().is_empty() {
        return Ok(setting.to_string());
    }
    let ws = url("ZOOM_WS_URL", ws_url, &["ws", "wss"])?;
    match url_subscription(&ws)? {
        Some(sub) => Ok(sub.to_string()),
        None => Err(Error::config(
            "ZOOM_SUBSCRIPTION_ID",
            "is not set (nor SUBSCRIPTION_ID, nor ?subscriptionId= in ZOOM_WS_URL); add it to \
             .env",
        )),
    }
}

/// Every rule above, over a whole configuration. [`Config::validate`] calls it.
pub fn config(c: &Config) -> Result<()> {
    let oauth = url("ZOOM_OAUTH_URL", &c.oauth_url, &["http", "https"])?;
    let sent = "the client id and secret, and the token Zoom answers with,";
    cleartext("ZOOM_OAUTH_URL", &oauth, c.allow_insecure, sent)?;
    let ws = url("ZOOM_WS_URL", &c.ws_url, &["ws", "wss"])?;
    cleartext("ZOOM_WS_URL", &ws, c.allow_insecure, "the access token")?;
    id("ZOOM_CLIENT_ID", &c.client_id)?;
    secret("ZOOM_CLIENT_SECRET", c.client_secret.expose())?;
    if let Some(account) = &c.account_id {
        id("ZOOM_ACCOUNT_ID", account)?;
    }
    let ids = subscription_ids(&c.subscription_id)?;
    if let Some(in_url) = url_subscription(&ws)? {
        if ids != [in_url] {
            return Err(Error::config(
                "ZOOM_SUBSCRIPTION_ID",
                format!(
                    "({}) and the subscriptionId in ZOOM_WS_URL ({in_url}) differ; give the id \
                     in one of them, or the same one in both",
                    ids.join(",")
                ),
            ));
        }
    }
    if let Some(proxy) = &c.proxy {
        let (user, password) = (proxy.username.expose(), proxy.password.expose());
        if user.len().max(password.len()) > MAX_SECRET_LEN {
            return Err(Error::config(
                "HTTPS_PROXY",
                format!("has a user name or password over {MAX_SECRET_LEN} bytes long"),
            ));
        }
        let host = proxy.host.as_str();
        if host.parse::<Ipv6Addr>().is_err() {
            check_host(host).map_err(|p| {
                Error::config(
                    "HTTPS_PROXY",
                    format!("{p}, e.g. http://proxy.example.com:3128"),
                )
            })?;
        }
    }
    Ok(())
}

/// The `ZOOM_*` names among `names` that zoom-ws does not know, each once, in order, with the
/// nearest known name when one is close (a typo such as `ZOOM_CLIENTID`).
pub fn unknown_settings<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<(&'a str, Option<&'static str>)> {
    let mut unknown: Vec<(&str, Option<&'static str>)> = Vec::new();
    for name in names {
        let upper = name.to_ascii_uppercase();
        let known = KNOWN_SETTINGS.contains(&name);
        if !upper.starts_with("ZOOM_") || known || unknown.iter().any(|(n, _)| *n == name) {
            continue;
        }
        unknown.push((name, nearest(&upper)));
    }
    unknown
}

/// The known name closest to `name` (uppercase), when at most a third of it differs.
fn nearest(name: &str) -> Option<&'static str> {
    if name.len() > 64 {
        return None;
    }
    KNOWN_SETTINGS
        .iter()
        .map(|known| (edit_distance(name, known), *known))
        .filter(|&(d, _)| d <= 3.max(name.len() / 6) && d * 3 <= name.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, known)| known)
}

/// Levenshtein distance over bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// A value for a log line: control and invisible characters (and `\`) written as escapes, so a
/// value can never start a line of its own or hide text.
pub fn escaped(value: &str) -> Escaped<'_> {
    Escaped(value)
}

/// See [`escaped`].
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' => f.write_str("\\\\")?,
                c if c.is_control() || invisible(c) => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// Zero-width, line-separator and bidirectional-control characters: they can disguise a line.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// One character, quoted and escaped: `'\r'`, `'é'`.
fn escaped_char(c: char) -> String {
    let mut buf = [0; 4];
    format!("'{}'", escaped(c.encode_utf8(&mut buf)))
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
        assert_eq!(allow_insecure(Some("1")).unwrap(), true);
        assert_eq!(allow_insecure(None).unwrap(), false);
        assert!(allow_insecure(Some("yes please")).is_err());
    }

    #[test]
    fn ids_and_secrets() {
        assert!(id("X", "Fc5-c8kqSzO2yj6Zyvce1A").is_ok());
        assert!(id("X", "a b").is_err());
        assert!(id("X", &"a".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(secret("X", "s3cr!t~").is_ok());
        let err = secret("X", "hunter2\r\nX: y").unwrap_err().to_string();
        assert!(err.contains("byte 7") && !err.contains("hunter2"), "{err}");
        assert!(secret("X", &"s".repeat(100_000)).is_err());
        assert_eq!(subscription_ids(" a, b ,,c ").unwrap(), ["a", "b", "c"]);
        assert!(subscription_ids(" , ").is_err());
        assert!(
            subscription_ids("a,b,a")
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
    }

    #[test]
    fn subscription_in_the_url() {
        let ws = |v| url("ZOOM_WS_URL", v, &["ws", "wss"]).unwrap();
        assert_eq!(
            url_subscription(&ws("wss://h/ws?x=1&subscriptionId=real")).unwrap(),
            Some("real")
        );
        assert_eq!(url_subscription(&ws("wss://h/ws")).unwrap(), None);
        assert!(url_subscription(&ws("wss://h/ws?subscriptionId=a&subscriptionId=b")).is_err());
        assert!(url_subscription(&ws("wss://h/ws?access_token=x")).is_err());
        assert!(url_subscription(&ws("wss://h/ws?subscriptionId=")).is_err());
        assert_eq!(
            subscription_in_force("wss://h/ws?subscriptionId=u", "").unwrap(),
            "u"
        );
        assert_eq!(
            subscription_in_force("wss://h/ws?subscriptionId=u", "a,b").unwrap(),
            "a,b"
        );
        let err = subscription_in_force("wss://h/ws", " ")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("ZOOM_SUBSCRIPTION_ID is not set"), "{err}");
    }

    #[test]
    fn unknown_names_and_their_nearest() {
        let found = unknown_settings([
            "ZOOM_CLIENTID",
            "ZOOM_ACOUNT_ID",
            "zoom_ws_url",
            "ZOOM_CLIENT_ID",
            "PATH",
            "ZOOM_SOMETHING_ELSE_ENTIRELY",
            "ZOOM_CLIENTID",
        ]);
        assert_eq!(
            found,
            [
                ("ZOOM_CLIENTID", Some("ZOOM_CLIENT_ID")),
                ("ZOOM_ACOUNT_ID", Some("ZOOM_ACCOUNT_ID")),
                ("zoom_ws_url", Some("ZOOM_WS_URL")),
                ("ZOOM_SOMETHING_ELSE_ENTIRELY", None),
            ]
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn escaping_for_logs() {
        let shown = escaped("s\r\nX-Inj: 3\t\\ \u{1b}[31m \u{202e}é").to_string();
        assert_eq!(shown, "s\\r\\nX-Inj: 3\\t\\\\ \\u{1b}[31m \\u{202e}é");
    }
}
