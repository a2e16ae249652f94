//! Every setting is checked before anything is sent (the library: `Config::from_lookup`,
//! `Client::new`, `TokenSource::new`). The injection cases point the client at a capturing server
//! on 127.0.0.1 and prove it received nothing. The property test over the requests sent is in
//! `tests/settings_properties.rs`.

mod capture;
mod mock;

use capture::{Capture, from, settings};
use mock::{MockZoom, TokenAnswer, spawn_client, watchdog};
use zoom_ws::{Client, Config, Error, StateChange, TokenSource};

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
    let (setting, problem) = refused(from(&settings(1, &[("ZOOM_SUBSCRIPTION_ID", "b c")])));
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
    let (setting, problem) = refused(both("other"));
    assert_eq!(setting, "ZOOM_SUBSCRIPTION_ID");
    assert!(
        problem.contains("differ") && problem.contains("(real)"),
        "{problem}"
    );
    // One Client, one subscription: a list is the command line's to split.
    for id in ["a,b", "real,b"] {
        let (setting, problem) = refused(both(id));
        assert_eq!(setting, "ZOOM_SUBSCRIPTION_ID");
        assert!(problem.contains("holds a comma"), "{problem}");
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
