//! URLs: the strict parser ([`url`], in `parse`), the socket URL (a secret: it carries the token), percent-encoding
//! through the `percent-encoding` crate that ureq already brings.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

mod parse;
pub(crate) use parse::{Url, check_host, cleartext, host_port as authority, url};

/// The socket URL: the configured one plus `subscriptionId` (unless it is already there) and the
/// token. The result is a secret.
pub(crate) fn socket_url(base: &str, subscription_id: &str, token: &str) -> String {
    let (without_fragment, _) = base.split_once('#').unwrap_or((base, ""));
    let mut url = without_fragment.to_string();
    let query = url.split_once('?').map(|(_, q)| q.to_string());
    let has_subscription = query.as_deref().is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("subscriptionId"))
    });
    let mut separator = match &query {
        None => '?',
        Some(q) if q.is_empty() || q.ends_with('&') => '\0',
        Some(_) => '&',
    };
    let mut push = |url: &mut String, key: &str, value: &str| {
        if separator != '\0' {
            url.push(separator);
        }
        url.push_str(key);
        url.push('=');
        url.push_str(&percent_encode(value));
        separator = '&';
    };
    if !has_subscription {
        push(&mut url, "subscriptionId", subscription_id);
    }
    push(&mut url, "access_token", token);
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
    let bytes = text.as_bytes();
    let broken = bytes.iter().enumerate().any(|(i, b)| {
        *b == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if broken {
        return None;
    }
    Some(percent_decode_str(text).decode_utf8().ok()?.into_owned())
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
}
