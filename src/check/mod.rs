//! The rules every setting passes before anything is sent: pure functions, no I/O.
//!
//! A value that reaches a request line, a header or a host lookup must not be able to add a line
//! of its own, so URLs are parsed strictly and ids keep to a small character set. Zoom documents
//! no limits for its ids and secrets; the bounds here are generous (Zoom's own values are 20 to 40
//! characters) and only stop values that cannot be right:
//!
//! | setting | rule |
//! |---|---|
//! | `ZOOM_OAUTH_URL`, `ZOOM_WS_URL` | at most `MAX_URL_LEN` characters, printable ASCII only (percent-encode the rest), no user info, a host of letters, digits, `.`, `-`, `_` or an IP address, port 1-65535 |
//! | `ZOOM_CLIENT_ID`, `ZOOM_ACCOUNT_ID`, `ZOOM_SUBSCRIPTION_ID` (one id, no comma) | 1 to `MAX_ID_LEN` letters, digits, `-`, `_`, `.` |
//! | `ZOOM_CLIENT_SECRET` | 1 to `MAX_SECRET_LEN` printable ASCII characters, no spaces |
//! | `HTTPS_PROXY` | a host as above; user name and password up to `MAX_SECRET_LEN` bytes each |
//!
//! `http://` and `ws://` reach only loopback hosts unless `ZOOM_ALLOW_INSECURE=1`.
//!
//! Public only for the zoom-ws command line (hidden from the docs): [`escaped`] for its log
//! lines, [`seconds`] for its own durations. An embedder gets every rule above through
//! [`Config::validate`](crate::Config::validate), which [`Client::new`](crate::Client::new) runs.

pub use crate::escape::{Escaped, escaped};
pub(crate) use crate::url::{Url, cleartext, url};

use std::time::Duration;

use crate::error::{Error, Result};
use crate::escape::escaped_char;
pub(crate) use crate::url::check_host;

/// Longest client id, account id or subscription id accepted.
pub(crate) const MAX_ID_LEN: usize = 128;
/// Longest client secret accepted.
pub(crate) const MAX_SECRET_LEN: usize = 256;

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

/// A client id, account id or subscription id: 1 to `MAX_ID_LEN` of `[A-Za-z0-9._-]`.
pub(crate) fn id(setting: &str, value: &str) -> Result<()> {
    let rule = "letters, digits, '-', '_' or '.', as shown in the Zoom Marketplace (e.g. \
                Fc5-c8kqSzO2yj6Zyvce1A)";
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
    shaped(setting, value, ("an id", MAX_ID_LEN, rule), allowed, None)
}

/// A client secret: 1 to `MAX_SECRET_LEN` printable ASCII characters. Errors never show it.
pub(crate) fn secret(setting: &str, value: &str) -> Result<()> {
    let rule = "printable ASCII characters without spaces, as shown in the Zoom Marketplace \
                (Zoom's are 32 letters and digits)";
    let hidden = Some("a space, control or non-ASCII character");
    shaped(
        setting,
        value,
        ("a secret", MAX_SECRET_LEN, rule),
        |b| b.is_ascii_graphic(),
        hidden,
    )
}

/// `value` is 1 to `max` bytes, each `allowed`; else an error saying so, which names the first
/// byte refused and shows it unless `hidden` says what to call it instead.
fn shaped(
    setting: &str,
    value: &str,
    (noun, max, rule): (&str, usize, &str),
    allowed: impl Fn(u8) -> bool,
    hidden: Option<&str>,
) -> Result<()> {
    let bad = value.bytes().position(|b| !allowed(b));
    let problem = match bad {
        None if !value.is_empty() && value.len() <= max => return Ok(()),
        Some(i) if value.len() <= max => match hidden {
            Some(what) => format!("holds {what} at byte {i}"),
            None => format!(
                "holds {} at byte {i}",
                escaped_char(value[i..].chars().next().unwrap_or(' '))
            ),
        },
        _ if value.is_empty() => "is empty".into(),
        _ => format!("is {} bytes long", value.len()),
    };
    let problem = format!("{problem}; {noun} is 1 to {max} {rule}");
    Err(Error::config(setting, problem))
}

/// A URL setting (`ZOOM_OAUTH_URL`, and the command line's own `--forward`, `--ha-etcd`): parsed
/// strictly, and cleartext only to loopback unless `allow_insecure` (`sent` says what would cross
/// the network in clear).
pub fn endpoint(
    setting: &str,
    value: &str,
    schemes: &[&'static str],
    allow_insecure: bool,
    sent: &str,
) -> Result<()> {
    let parsed = url(setting, value, schemes)?;
    cleartext(setting, &parsed, allow_insecure, sent)
}

/// Parses a number of seconds, fractions allowed ("30", "0.2", ".5"), to the nanosecond. Written
/// with integers: the binary then carries no floating-point parser. The one parser of durations,
/// the command line's own settings included.
pub fn seconds(setting: &str, value: &str) -> Result<Duration> {
    let problem = || {
        Error::config(
            setting,
            format!("must be a number of seconds, not \"{}\"", escaped(value)),
        )
    };
    let (whole, fraction) = value.trim().split_once('.').unwrap_or((value.trim(), ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return Err(problem());
    }
    let secs: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| problem())?
    };
    if secs > 1_000_000_000 {
        return Err(problem());
    }
    let nanos = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(9)
        .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    Ok(Duration::new(secs, nanos))
}

/// The `subscriptionId` in a socket URL's query, checked like the setting; refuses a second one
/// and an `access_token` (the client adds a fresh one).
pub(crate) fn url_subscription<'a>(ws: &Url<'a>) -> Result<Option<&'a str>> {
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
        id("ZOOM_WS_URL", sub).map_err(|_| {
            Error::config(
                "ZOOM_WS_URL",
                "has a subscriptionId that is not 1 to 128 letters, digits, '-', '_' or '.', \
                 e.g. wss://ws.zoom.us/ws?subscriptionId=Fc5-c8kqSzO2yj6Zyvce1A",
            )
        })?;
    }
    Ok(found)
}

/// The subscription setting in force: `ZOOM_SUBSCRIPTION_ID` when given (agreement with the URL is
/// checked by [`Config::validate`](crate::Config::validate)), else the `subscriptionId` of `ws_url`.
pub(crate) fn subscription_in_force(ws_url: &str, setting: &str) -> Result<String> {
    if !setting.trim().is_empty() {
        return Ok(setting.to_string());
    }
    let ws = url("ZOOM_WS_URL", ws_url, &["ws", "wss"])?;
    match url_subscription(&ws)? {
        Some(sub) => Ok(sub.to_string()),
        None => Err(Error::config(
            "ZOOM_SUBSCRIPTION_ID",
            "is not set in the environment (nor SUBSCRIPTION_ID, nor ?subscriptionId= in \
             ZOOM_WS_URL)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_secrets() {
        assert!(id("X", "Fc5-c8kqSzO2yj6Zyvce1A").is_ok());
        assert!(id("X", "a b").is_err());
        assert!(id("X", &"a".repeat(MAX_ID_LEN + 1)).is_err());
        assert!(secret("X", "s3cr!t~").is_ok());
        let err = secret("X", "hunter2\r\nX: y").unwrap_err().to_string();
        assert!(err.contains("byte 7") && !err.contains("hunter2"), "{err}");
        assert!(secret("X", &"s".repeat(100_000)).is_err());
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
}
