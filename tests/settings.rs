//! Every setting is checked before anything is sent (the library: `Config::from_lookup`,
//! `Client::new`, `TokenSource::new`). The injection cases point the client at a capturing server
//! on 127.0.0.1 and prove it received nothing; a property test sends the requests of every
//! accepted configuration to a capturing server and proves that no setting value put a CR or LF
//! into them. `ZOOM_FUZZ_CASES` and `ZOOM_FUZZ_SEED` change the number of cases and the seed.

mod capture;
mod mock;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use capture::Capture;
use mock::{MockZoom, TokenAnswer, spawn_client, watchdog};
use zoom_ws::{Client, Config, Error, StateChange, TokenSource};

fn from(pairs: &[(&str, String)]) -> zoom_ws::Result<Config> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned())
}

/// Working settings aimed at `port` on 127.0.0.1, with `changes` on top.
fn settings(port: u16, changes: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut pairs: Vec<(&'static str, String)> = vec![
        ("ZOOM_CLIENT_ID", "mock-client-id".into()),
        ("ZOOM_CLIENT_SECRET", "mock-client-secret".into()),
        ("ZOOM_SUBSCRIPTION_ID", "mock-sub".into()),
        (
            "ZOOM_OAUTH_URL",
            format!("http://127.0.0.1:{port}/oauth/token"),
        ),
        ("ZOOM_WS_URL", format!("ws://127.0.0.1:{port}/ws")),
    ];
    for (name, value) in changes {
        pairs.retain(|(n, _)| n != name);
        let name: &'static str = Box::leak(name.to_string().into_boxed_str());
        pairs.push((name, value.to_string()));
    }
    pairs
}

/// The setting an error names and its problem; panics on any other error.
fn refused(result: zoom_ws::Result<impl Sized>) -> (String, String) {
    match result {
        Err(Error::Config { setting, problem }) => {
            assert!(!problem.contains(['\r', '\n']), "{problem:?}");
            (setting, problem)
        }
        Err(other) => panic!("not a configuration error: {other}"),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn a_line_break_in_the_socket_url_is_refused_before_anything_is_sent() {
    let _w = watchdog(30);
    let target = Capture::silent();
    let proxy = Capture::silent();
    let injected = "ws://evil.example\r\nX-Injected: yes\r\nFoo: bar:80/ws";
    let proxy_url = format!("http://alice:hunter2@127.0.0.1:{}", proxy.port());
    for with_proxy in [false, true] {
        let mut changes = vec![("ZOOM_WS_URL", injected)];
        if with_proxy {
            changes.push(("HTTPS_PROXY", &proxy_url));
        }
        let (setting, problem) = refused(from(&settings(target.port(), &changes)));
        assert_eq!(setting, "ZOOM_WS_URL");
        assert!(problem.contains("control character '\\r'"), "{problem}");
        assert!(
            problem.contains("wss://ws.zoom.us/ws"),
            "says what a valid one looks like"
        );
    }
    // A Config built in code is refused just the same, by every constructor that could send.
    let mut config = Config::new("id", "secret", "sub");
    config.oauth_url = format!("http://127.0.0.1:{}/oauth/token", target.port());
    config.ws_url = injected.into();
    config.proxy = Some(zoom_ws::ProxyConfig::new("127.0.0.1", proxy.port()));
    assert_eq!(refused(Client::new(config.clone())).0, "ZOOM_WS_URL");
    assert_eq!(refused(TokenSource::new(&config)).0, "ZOOM_WS_URL");
    target.assert_nothing_received();
    proxy.assert_nothing_received();
}

#[test]
fn a_line_break_or_space_in_the_token_url_is_refused() {
    let target = Capture::silent();
    let port = target.port();
    for (bad, says) in [
        (
            format!("http://127.0.0.1:{port}/oauth/token\r\nX-Injected: yes"),
            "control",
        ),
        (format!("http://127.0.0.1:{port}/oauth/to ken"), "%20"),
        (format!("http://127.0.0.1:{port}/oauth/\ttoken"), "control"),
    ] {
        let (setting, problem) = refused(from(&settings(
            port,
            &[("OAUTH_URL", ""), ("ZOOM_OAUTH_URL", &bad)],
        )));
        assert_eq!(setting, "ZOOM_OAUTH_URL");
        assert!(problem.contains(says), "{problem}");
        assert!(problem.contains("https://zoom.us/oauth/token"), "{problem}");
    }
    target.assert_nothing_received();
}

#[test]
fn cleartext_goes_only_to_this_machine_unless_allowed() {
    // Refused before any lookup of the (made-up) host, so nothing leaves the machine.
    let (setting, problem) = refused(from(&settings(
        1,
        &[("ZOOM_OAUTH_URL", "http://zoom.example/oauth/token")],
    )));
    assert_eq!(setting, "ZOOM_OAUTH_URL");
    assert!(problem.contains("the client id and secret"), "{problem}");
    assert!(problem.contains("ZOOM_ALLOW_INSECURE=1"), "{problem}");
    let (setting, problem) = refused(from(&settings(
        1,
        &[("ZOOM_WS_URL", "ws://zoom.example/ws")],
    )));
    assert_eq!(setting, "ZOOM_WS_URL");
    assert!(
        problem.contains("the access token would cross the network in clear"),
        "{problem}"
    );
    for host in ["127.0.0.1:9", "127.8.9.10", "localhost:9", "[::1]:9"] {
        let config = from(&settings(1, &[("ZOOM_WS_URL", &format!("ws://{host}/ws"))]));
        assert!(config.is_ok(), "{host}: {:?}", config.err());
    }
    let allowed = &[
        ("ZOOM_WS_URL", "ws://zoom.example/ws"),
        ("ZOOM_OAUTH_URL", "http://zoom.example/t"),
        ("ZOOM_ALLOW_INSECURE", "1"),
    ];
    assert!(from(&settings(1, allowed)).unwrap().allow_insecure);
    let (setting, _) = refused(from(&settings(1, &[("ZOOM_ALLOW_INSECURE", "maybe")])));
    assert_eq!(setting, "ZOOM_ALLOW_INSECURE");
    assert!(!from(&settings(1, &[])).unwrap().allow_insecure);
}

#[test]
fn huge_ids_and_secrets_are_refused_and_never_quoted() {
    let huge = "A".repeat(100_000);
    for name in [
        "ZOOM_SUBSCRIPTION_ID",
        "ZOOM_CLIENT_ID",
        "ZOOM_ACCOUNT_ID",
        "ZOOM_CLIENT_SECRET",
    ] {
        let (setting, problem) = refused(from(&settings(1, &[(name, &huge)])));
        assert_eq!(setting, name);
        assert!(
            problem.contains("100000 bytes long") && !problem.contains("AAAA"),
            "{problem}"
        );
    }
    let (setting, problem) = refused(from(&settings(
        1,
        &[("ZOOM_CLIENT_SECRET", "hunter2\r\nX-Injected: yes")],
    )));
    assert_eq!(setting, "ZOOM_CLIENT_SECRET");
    assert!(
        !problem.contains("hunter2") && !problem.contains("Injected"),
        "{problem}"
    );
    let (setting, _) = refused(from(&settings(1, &[("ZOOM_CLIENT_ID", "id:with-colon")])));
    assert_eq!(setting, "ZOOM_CLIENT_ID");
    let (setting, problem) = refused(from(&settings(1, &[("ZOOM_SUBSCRIPTION_ID", "a, b c")])));
    assert_eq!(setting, "ZOOM_SUBSCRIPTION_ID");
    assert!(problem.contains("' '"), "{problem}");
}

#[test]
fn the_subscription_id_in_the_socket_url_counts() {
    let url = |query: &str| format!("ws://127.0.0.1:1/ws?{query}");
    // Alone, it is the id.
    let mut alone = settings(1, &[("ZOOM_WS_URL", &url("subscriptionId=real"))]);
    alone.retain(|(n, _)| *n != "ZOOM_SUBSCRIPTION_ID");
    assert_eq!(from(&alone).unwrap().subscription_id, "real");
    // Both: they must agree.
    let both = |id: &str| {
        from(&settings(
            1,
            &[
                ("ZOOM_WS_URL", &url("subscriptionId=real")),
                ("ZOOM_SUBSCRIPTION_ID", id),
            ],
        ))
    };
    assert_eq!(both("real").unwrap().subscription_id, "real");
    for id in ["a,b", "other", "real,b"] {
        let (setting, problem) = refused(both(id));
        assert_eq!(setting, "ZOOM_SUBSCRIPTION_ID");
        assert!(
            problem.contains("differ") && problem.contains("(real)"),
            "{problem}"
        );
    }
    // Neither: the error says where it may go.
    let mut neither = settings(1, &[]);
    neither.retain(|(n, _)| *n != "ZOOM_SUBSCRIPTION_ID");
    let (setting, problem) = refused(from(&neither));
    assert_eq!(setting, "ZOOM_SUBSCRIPTION_ID");
    assert!(
        problem.contains("?subscriptionId= in ZOOM_WS_URL"),
        "{problem}"
    );
    for bad in [
        "subscriptionId=a&subscriptionId=b",
        "subscriptionId=",
        "access_token=x",
    ] {
        assert_eq!(
            refused(from(&settings(1, &[("ZOOM_WS_URL", &url(bad))]))).0,
            "ZOOM_WS_URL"
        );
    }
}

#[test]
fn the_id_from_the_url_alone_is_the_one_used_and_named() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    let mut config = mock.config();
    config.subscription_id = String::new();
    let mut pairs = vec![
        ("ZOOM_CLIENT_ID", config.client_id.clone()),
        ("ZOOM_CLIENT_SECRET", "mock-client-secret".to_string()),
        ("ZOOM_OAUTH_URL", config.oauth_url.clone()),
        (
            "ZOOM_WS_URL",
            format!("{}?subscriptionId=from-url", config.ws_url),
        ),
    ];
    let from_url = from(&pairs).unwrap();
    assert_eq!(from_url.subscription_id, "from-url");
    config.ws_url = from_url.ws_url.clone();
    config.subscription_id = from_url.subscription_id.clone();
    let client = spawn_client(config);
    client.wait_state(10.0, |s| matches!(s, StateChange::Connected));
    client.stop.stop();
    client.join(10.0).unwrap();
    let queries = mock.socket_queries();
    assert!(
        queries[0].starts_with("subscriptionId=from-url&access_token="),
        "{queries:?}"
    );
    pairs.push(("ZOOM_SUBSCRIPTION_ID", "a,b".into()));
    assert_eq!(refused(from(&pairs)).0, "ZOOM_SUBSCRIPTION_ID");
}

#[test]
fn user_info_and_non_ascii_in_urls_are_refused() {
    let (setting, problem) = refused(from(&settings(
        1,
        &[("ZOOM_WS_URL", "ws://user:pass@127.0.0.1/ws")],
    )));
    assert_eq!(setting, "ZOOM_WS_URL");
    assert!(
        problem.contains("user info") && !problem.contains("pass@"),
        "{problem}"
    );
    let (setting, problem) = refused(from(&settings(
        1,
        &[("ZOOM_OAUTH_URL", "https://u@zoom.us/t")],
    )));
    assert_eq!(setting, "ZOOM_OAUTH_URL");
    assert!(problem.contains("user info"), "{problem}");
    let (_, problem) = refused(from(&settings(1, &[("ZOOM_WS_URL", "ws://127.0.0.1/wé")])));
    assert!(
        problem.contains("non-ASCII") && problem.contains("%C3%A9"),
        "{problem}"
    );
    let (_, problem) = refused(from(&settings(
        1,
        &[("ZOOM_WS_URL", "ws://bücher.example/ws")],
    )));
    assert!(problem.contains("xn--"), "{problem}");
    // Percent-encoded, it is accepted and sent as written.
    assert!(from(&settings(1, &[("ZOOM_WS_URL", "ws://127.0.0.1/w%C3%A9")])).is_ok());
}

#[test]
fn zoom_words_in_errors_are_escaped() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    mock.token_answer(TokenAnswer::status(
        401,
        r#"{"error":"invalid_client","reason":"bad\n2026-01-01T00:00:00.000Z INFO  forged"}"#,
    ));
    let client = spawn_client(mock.config());
    let error = client.join(10.0).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, Error::Credentials { .. }), "{text}");
    assert!(
        !text.contains('\n') && text.contains("bad\\n2026"),
        "{text}"
    );
}

// ---- the property: no setting value puts CR or LF into a request --------------------------------

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
