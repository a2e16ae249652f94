//! The property: no setting value can put a CR or LF into a request zoom-ws sends. Random
//! configurations, their values laced with line breaks, controls, spaces, non-ASCII and URL
//! syntax, are either refused with the name of a setting that was changed, or their token request
//! and socket upgrade (and CONNECT, through a proxy) are sent to a capturing server on 127.0.0.1,
//! which checks that each is a request line and known headers split by CRLF, and nothing else.
//! `ZOOM_FUZZ_CASES` and `ZOOM_FUZZ_SEED` change the number of cases and the seed.

mod capture;
mod mock;

use std::sync::Arc;
use std::time::Duration;

use capture::{Capture, from, settings};
use mock::watchdog;
use zoom_ws::{Client, Error, TokenSource};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// What may be inserted anywhere: line breaks and other controls, spaces, non-ASCII, URL syntax.
const ANYWHERE: &[&str] = &[
    "\r",
    "\n",
    "\r\n",
    "\r\nX-Injected: yes\r\n",
    "\0",
    " ",
    "\t",
    "\x7f",
    "\u{85}",
    "é",
    "\u{2028}",
    "%",
    "%0d%0a",
    "%zz",
    "%41",
    "@",
    ":",
    "/",
    "?",
    "#",
    "&",
    "=",
    "[",
    "]",
    "<",
    "\"",
    "\\",
    "~",
    "-",
    "_",
    ".",
    ",",
    "a",
    "Z",
    "9",
    "?subscriptionId=mock-sub",
    "&subscriptionId=x",
    "&access_token=t",
    "&q=1",
];
/// What may be inserted into a URL's host and port: all of it must be refused (anything else could
/// aim the client at another port or host).
const AUTHORITY: &[&str] = &[
    "\r",
    "\n",
    "\r\nX-Injected: yes\r\n",
    "\0",
    " ",
    "\t",
    "\x7f",
    "é",
    "\u{2028}",
    "@",
    "[",
    "]",
    "<",
    "\"",
    "\\",
    "%0d%0a",
];

fn mutate(rng: &mut Rng, value: &str, from: usize, pool: &[&str]) -> String {
    let mut out = value.to_string();
    for _ in 0..=rng.below(3) {
        let at = from + rng.below(out.len() - from + 1);
        if out.is_char_boundary(at) {
            out.insert_str(at, rng.pick(pool));
        }
    }
    if rng.below(20) == 0 {
        out = out.repeat(3000);
    }
    out
}

/// The settings of one case and the names whose errors are acceptable.
fn random_case(rng: &mut Rng, port: u16) -> (Vec<(&'static str, String)>, Vec<&'static str>) {
    let mut pairs = settings(port, &[]);
    if rng.below(2) == 0 {
        pairs.push(("ZOOM_ACCOUNT_ID", "acc-1".into()));
    }
    if rng.below(3) == 0 {
        pairs.push(("HTTPS_PROXY", format!("http://user:pass@127.0.0.1:{port}")));
    }
    let mut blamed = Vec::new();
    for _ in 0..=rng.below(2) {
        let i = rng.below(pairs.len());
        let (name, value) = pairs[i].clone();
        let authority_end = value.find("/oauth").or_else(|| value.find("/ws"));
        let new = match (name, authority_end) {
            // The proxy's user and password: inside "http://user:pass@".
            ("HTTPS_PROXY", _) => mutate(rng, &value[..16], 7, ANYWHERE) + &value[16..],
            (_, Some(end)) if rng.below(4) == 0 => {
                mutate(
                    rng,
                    &value[..end],
                    value.find("://").unwrap() + 3,
                    AUTHORITY,
                ) + &value[end..]
            }
            (_, Some(end)) => mutate(rng, &value, end, ANYWHERE),
            (_, None) => mutate(rng, &value, 0, ANYWHERE),
        };
        pairs[i].1 = new;
        blamed.push(name);
        if name == "ZOOM_WS_URL" {
            blamed.push("ZOOM_SUBSCRIPTION_ID");
        }
    }
    (pairs, blamed)
}

/// A request as a server reads it: a request line and headers split by CRLF, nothing else.
fn assert_clean_request(request: &[u8], case: &[(&str, String)]) {
    let text = String::from_utf8(request.to_vec()).expect("requests are ASCII");
    let (head, body) = text.split_once("\r\n\r\n").expect("a complete head");
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap();
    let parts: Vec<&str> = request_line.split(' ').collect();
    assert!(
        parts.len() == 3
            && ["GET", "POST", "CONNECT"].contains(&parts[0])
            && parts[1].bytes().all(|b| b.is_ascii_graphic())
            && parts[2] == "HTTP/1.1",
        "request line {request_line:?} for {case:?}"
    );
    const HEADERS: &[&str] = &[
        "host",
        "authorization",
        "proxy-authorization",
        "content-type",
        "content-length",
        "user-agent",
        "accept",
        "accept-encoding",
        "connection",
        "upgrade",
        "sec-websocket-key",
        "sec-websocket-version",
        "proxy-connection",
    ];
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .unwrap_or_else(|| panic!("{line:?} in {text:?}"));
        assert!(
            HEADERS.contains(&name.to_ascii_lowercase().as_str()),
            "header {line:?} for {case:?}"
        );
        assert!(!value.contains(['\r', '\n', '\0']), "{line:?}");
    }
    assert!(!body.contains(['\r', '\n']), "body {body:?} for {case:?}");
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn no_setting_value_puts_a_line_break_into_a_request() {
    let cases = env_number("ZOOM_FUZZ_CASES", 400);
    let _w = watchdog(60 + cases / 2);
    let mut rng = Rng(env_number("ZOOM_FUZZ_SEED", 0x5e77_1265) | 1);
    let server = Capture::answering();
    let (mut accepted, mut sent) = (0, 0);
    for _ in 0..cases {
        let (pairs, blamed) = random_case(&mut rng, server.port());
        let config = match from(&pairs) {
            Ok(config) => config,
            Err(Error::Config { setting, problem }) => {
                assert!(
                    blamed.contains(&setting.as_str()) || setting == "HTTPS_PROXY",
                    "{setting} {problem} blamed for {pairs:?}"
                );
                assert!(!problem.contains(['\r', '\n']), "{problem:?}");
                continue;
            }
            Err(other) => panic!("{other} for {pairs:?}"),
        };
        accepted += 1;
        let ids = config
            .subscription_id
            .split(',')
            .map(|id| id.trim_matches(' '));
        let values = [&*config.oauth_url, &config.ws_url, &config.client_id];
        for value in values.into_iter().chain(ids) {
            assert!(
                value.bytes().all(|b| b.is_ascii_graphic()),
                "{value:?} accepted"
            );
        }
        // Send the token request and the socket upgrade for real, then stop.
        let mut config = config;
        config.backoff = zoom_ws::Backoff::new(Duration::from_millis(5), Duration::from_millis(5));
        let tokens = TokenSource::new(&config)
            .unwrap_or_else(|e| panic!("{e}, although accepted: {pairs:?}"));
        let mut client = Client::with_tokens(config, Arc::new(tokens))
            .unwrap_or_else(|e| panic!("{e}, although accepted: {pairs:?}"));
        let stop = client.stop_handle();
        let run = std::thread::spawn(move || client.run(|_| {}));
        let upgraded = server.wait_for("Upgrade", 5.0);
        stop.stop();
        let _ = run.join().unwrap();
        assert!(upgraded, "no socket request for {pairs:?}");
        for request in server.take_requests() {
            assert_clean_request(&request, &pairs);
            sent += 1;
        }
    }
    println!("{cases} cases: {accepted} accepted and sent ({sent} requests), the rest refused");
    assert!(
        accepted > cases / 10 && accepted < cases,
        "the cases exercise both outcomes"
    );
}
