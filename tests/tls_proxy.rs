//! Real networks against the mock: TLS with a private CA (`ZOOM_CA_FILE`), an HTTP CONNECT proxy
//! (credentials, refusals, `NO_PROXY`), and a bound on every phase of connecting.

mod mock;

use std::time::Duration;

use mock::net::{
    ConnectProxy, FullBacklog, ProxyMode, Staller, Trickler, test_ca_file, test_identity,
};
use mock::{MockZoom, Plan, Running, spawn_client, watchdog};
use zoom_ws::{Config, Error, ProxyConfig, StateChange, TokenSource};

fn tls_mock() -> MockZoom {
    MockZoom::start_tls(test_identity())
}

/// The mock's config with the token endpoint named `localhost` and the socket by address, so a
/// proxy's log tells the two connections apart (the certificate is good for both names).
fn split_names(mock: &MockZoom) -> Config {
    let mut config = mock.config();
    config.oauth_url = mock.oauth_url().replace("127.0.0.1", "localhost");
    config
}

/// A short bound on each phase, for the tests that wait for one to expire.
const SHORT: Duration = Duration::from_millis(300);

/// The first failure whose reason starts with `phase` ("TLS handshake timed out"), after checking
/// that the client tried again. Failures of other phases before it are let pass: on a loaded
/// machine another phase may also exceed [`SHORT`].
fn failure_in_phase_then_retry(client: &Running, phase: &str) -> String {
    let reason = match client.wait_state(
        20.0,
        |s| matches!(s, StateChange::Disconnected { reason, .. } if reason.starts_with(phase)),
    ) {
        StateChange::Disconnected { reason, .. } => reason,
        _ => unreachable!(),
    };
    client.wait_state(20.0, |s| matches!(s, StateChange::Connecting { .. }));
    reason
}

/// Waits until `done` holds (what a server saw of a retry can lag behind the client's state).
fn eventually(what: &str, done: impl Fn() -> bool) {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < until, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- TLS trust ------------------------------------------------------------------------------

#[test]
fn events_flow_over_tls_when_zoom_ca_file_trusts_the_test_ca() {
    let _guard = watchdog(30);
    let mock = tls_mock();
    mock.plan(Plan::new().events(0, 3));
    let mut config = split_names(&mock);
    config.ca_file = Some(test_ca_file());
    assert!(config.oauth_url.starts_with("https://localhost:"));
    assert!(config.ws_url.starts_with("wss://127.0.0.1:"));
    let client = spawn_client(config);
    let events = client.take(3, 10.0);
    assert_eq!(mock::seq(&events[2]), 2);
    assert_eq!(mock.token_requests().len(), 1);
    assert_eq!(mock.connections(), 1);
    client.stop().0.unwrap();
}

#[test]
fn untrusted_token_endpoint_names_the_host_and_zoom_ca_file() {
    let _guard = watchdog(30);
    let mock = tls_mock();
    let config = split_names(&mock);
    let err = TokenSource::new(&config).unwrap().token().unwrap_err();
    match &err {
        Error::UntrustedCertificate { host, .. } => {
            assert!(host.starts_with("localhost"), "{host}")
        }
        other => panic!("expected an untrusted certificate, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("ZOOM_CA_FILE"), "{text}");
    assert!(
        !err.is_fatal(),
        "retried: the CA may be added while we wait"
    );

    let client = spawn_client(config);
    let reason = client.first_failure_then_retry();
    assert!(reason.contains("TLS certificate of localhost"), "{reason}");
    assert!(reason.contains("ZOOM_CA_FILE"), "{reason}");
    client.stop_promptly();
    assert!(
        mock.token_requests().is_empty(),
        "nothing was sent to an untrusted server"
    );
}

#[test]
fn untrusted_socket_names_the_host_and_zoom_ca_file() {
    let _guard = watchdog(30);
    // The token comes over plain HTTP, so only the socket meets the unknown certificate.
    let plain = MockZoom::start();
    let tls = tls_mock();
    let mut config = plain.config();
    config.ws_url = tls.ws_url();
    let client = spawn_client(config);
    let reason = client.first_failure_then_retry();
    assert!(
        reason.contains("TLS certificate of 127.0.0.1 is not trusted"),
        "{reason}"
    );
    assert!(reason.contains("ZOOM_CA_FILE"), "{reason}");
    client.stop_promptly();
    assert_eq!(
        plain.token_requests().len(),
        1,
        "the token was fetched and cached"
    );
    assert_eq!(tls.connections(), 0);
}

// ---- the proxy ------------------------------------------------------------------------------

#[test]
fn token_request_and_socket_both_tunnel_through_the_proxy() {
    let _guard = watchdog(30);
    let proxy = ConnectProxy::start();
    let mock = tls_mock();
    mock.plan(Plan::new().events(0, 3));
    let mut config = split_names(&mock);
    config.ca_file = Some(test_ca_file());
    config.proxy = Some(proxy.config());
    let client = spawn_client(config);
    client.take(3, 10.0);
    client.stop().0.unwrap();
    let port = mock.addr().port();
    assert_eq!(
        proxy.targets(),
        [format!("localhost:{port}"), format!("127.0.0.1:{port}")],
        "first the token request, then the socket"
    );
    assert!(proxy.requests().iter().all(|r| r.authorization.is_none()));
    assert_eq!(mock.token_requests().len(), 1);
    assert_eq!(mock.connections(), 1);
}

#[test]
fn plain_http_and_ws_tunnel_through_the_proxy_too() {
    let _guard = watchdog(30);
    let proxy = ConnectProxy::start();
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 2));
    let mut config = split_names(&mock);
    config.proxy = Some(proxy.config());
    let client = spawn_client(config);
    client.take(2, 10.0);
    client.stop().0.unwrap();
    let port = mock.addr().port();
    assert_eq!(
        proxy.targets(),
        [format!("localhost:{port}"), format!("127.0.0.1:{port}")]
    );
}

#[test]
fn proxy_credentials_go_in_basic_proxy_authorization() {
    let _guard = watchdog(30);
    let proxy = ConnectProxy::requiring("alice", "p@ss word:1");
    let mock = tls_mock();
    mock.plan(Plan::new().events(0, 1));
    let mut config = split_names(&mock);
    config.ca_file = Some(test_ca_file());
    // Percent-encoded in the URL, as users write it in HTTPS_PROXY.
    let url = format!("http://alice:p%40ss%20word%3A1@{}", proxy.addr());
    config.proxy = Some(ProxyConfig::parse(&url).unwrap());
    let client = spawn_client(config);
    client.take(1, 10.0);
    client.stop().0.unwrap();
    let requests = proxy.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for request in requests {
        assert_eq!(request.status, Some(200), "{request:?}");
        assert_eq!(
            request.authorization.as_deref(),
            Some("Basic YWxpY2U6cEBzcyB3b3JkOjE=")
        );
    }
}

#[test]
fn proxy_asking_for_credentials_is_a_clear_error_and_retried_for_the_token_request() {
    let _guard = watchdog(30);
    let proxy = ConnectProxy::requiring("alice", "secret");
    let mock = MockZoom::start();
    let mut config = split_names(&mock);
    config.proxy = Some(proxy.config());
    let client = spawn_client(config);
    let reason = client.first_failure_then_retry();
    let address = proxy.addr().to_string();
    assert!(
        reason.contains(&format!(
            "the proxy {address} asks for credentials (HTTP 407)"
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&format!("HTTPS_PROXY=http://USER:PASSWORD@{address}")),
        "{reason}"
    );
    eventually("a retry reached the proxy", || proxy.requests().len() >= 2);
    client.stop_promptly();
    assert!(mock.token_requests().is_empty());
}

#[test]
fn proxy_asking_for_credentials_is_a_clear_error_and_retried_for_the_socket() {
    let _guard = watchdog(30);
    let proxy = ConnectProxy::requiring("alice", "secret");
    let mock = MockZoom::start();
    let mut config = split_names(&mock);
    config.proxy = Some(proxy.config());
    config.no_proxy = vec!["localhost".into()];
    let client = spawn_client(config);
    let reason = client.first_failure_then_retry();
    assert!(reason.starts_with("proxy tunnel failed: "), "{reason}");
    assert!(
        reason.contains("asks for credentials (HTTP 407)"),
        "{reason}"
    );
    eventually("a retry reached the proxy", || proxy.requests().len() >= 2);
    client.stop_promptly();
    let port = mock.addr().port();
    let targets = proxy.targets();
    assert!(
        targets.iter().all(|t| *t == format!("127.0.0.1:{port}")),
        "{targets:?}"
    );
    assert_eq!(
        mock.token_requests().len(),
        1,
        "the token request went direct"
    );
    assert_eq!(mock.connections(), 0);
}

#[test]
fn wrong_proxy_password_and_502_name_the_proxy_never_the_credentials() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let refusing = ConnectProxy::requiring("alice", "right-password");
    let failing = ConnectProxy::start_with(ProxyMode::Answer(502), None);
    for (proxy, no_proxy, expected) in [
        (
            &refusing,
            vec![],
            "refused the user name and password in HTTPS_PROXY (HTTP 407)".to_string(),
        ),
        (
            &refusing,
            vec!["localhost".to_string()],
            "refused the user name and password".to_string(),
        ),
        (
            &failing,
            vec![],
            format!(
                "{} answered HTTP 502 to CONNECT localhost:{}",
                failing.addr(),
                mock.addr().port()
            ),
        ),
        (
            &failing,
            vec!["localhost".to_string()],
            format!(
                "{} answered HTTP 502 to CONNECT 127.0.0.1:{}",
                failing.addr(),
                mock.addr().port()
            ),
        ),
    ] {
        let mut config = split_names(&mock);
        let url = format!("http://alice:Wr0ng-Pa55@{}", proxy.addr());
        config.proxy = Some(ProxyConfig::parse(&url).unwrap());
        config.no_proxy = no_proxy;
        let client = spawn_client(config);
        let reason = client.first_failure_then_retry();
        assert!(reason.contains(&expected), "{reason}\nexpected: {expected}");
        assert!(
            !reason.contains("Wr0ng-Pa55") && !reason.contains("alice"),
            "{reason}"
        );
        client.stop_promptly();
    }
}

#[test]
fn a_proxy_that_is_not_there_is_named_in_the_error() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    // A port that was just free: nothing listens there.
    let gone = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut reasons = Vec::new();
    for (no_proxy, what) in [
        (vec![], "the token request"),
        (vec!["localhost".to_string()], "the socket"),
    ] {
        let mut config = split_names(&mock);
        config.proxy = Some(ProxyConfig::parse(&format!("http://u:Pa55@{gone}")).unwrap());
        config.no_proxy = no_proxy;
        let client = spawn_client(config);
        let reason = client.first_failure_then_retry();
        assert!(
            reason.starts_with("TCP connect failed: "),
            "{what}: {reason}"
        );
        assert!(
            reason.contains(&format!("the proxy {gone}")),
            "{what}: {reason}"
        );
        assert!(!reason.contains("Pa55"), "{reason}");
        client.stop_promptly();
        reasons.push(reason);
    }
    // Both connections are opened by the same code, so the same failure reads the same.
    assert_eq!(reasons[0], reasons[1]);
}

#[test]
fn no_proxy_bypasses_the_proxy() {
    let _guard = watchdog(30);
    let proxy = ConnectProxy::start();
    let mock = tls_mock();
    mock.plan(Plan::new().events(0, 1));
    let mut config = split_names(&mock);
    config.ca_file = Some(test_ca_file());
    config.proxy = Some(proxy.config());
    config.no_proxy = vec!["localhost".into(), "127.0.0.1".into()];
    let client = spawn_client(config);
    client.take(1, 10.0);
    client.stop().0.unwrap();
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.requests());
    assert_eq!(mock.token_requests().len(), 1);
}

#[test]
fn no_proxy_decides_per_host_with_port() {
    let _guard = watchdog(30);
    let proxy = ConnectProxy::start();
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let port = mock.addr().port();
    let mut config = split_names(&mock);
    config.proxy = Some(proxy.config());
    // The token host with the mock's port bypasses; 127.0.0.1 on another port does not match.
    config.no_proxy = vec![format!("LOCALHOST:{port}"), "127.0.0.1:1".into()];
    let client = spawn_client(config);
    client.take(1, 10.0);
    client.stop().0.unwrap();
    assert_eq!(proxy.targets(), [format!("127.0.0.1:{port}")]);
}

// ---- a bound on every phase -----------------------------------------------------------------

#[test]
fn stalled_token_request_times_out_naming_the_phase() {
    let _guard = watchdog(30);
    let staller = Staller::start();
    let mock = MockZoom::start();
    // Over TLS, the token request stalls in the handshake, named as the socket's would be.
    for (scheme, phase) in [("http", "token request"), ("https", "TLS handshake")] {
        let mut config = mock.config();
        config.oauth_url = format!("{scheme}://{}/oauth/token", staller.addr());
        config.connect_timeout = SHORT;
        let client = spawn_client(config);
        let reason = failure_in_phase_then_retry(&client, &format!("{phase} timed out"));
        assert_eq!(reason, format!("{phase} timed out after 0.3 s"), "{scheme}");
        let before = staller.accepted();
        eventually("a retry reached the server", || staller.accepted() > before);
        client.stop_promptly();
    }
}

#[test]
fn stalled_tls_handshake_times_out_naming_the_phase() {
    let _guard = watchdog(30);
    let staller = Staller::start();
    let mock = MockZoom::start();
    let mut config = mock.config();
    config.ws_url = format!("wss://{}/ws", staller.addr());
    config.connect_timeout = SHORT;
    let client = spawn_client(config);
    assert_eq!(
        failure_in_phase_then_retry(&client, "TLS handshake timed out"),
        "TLS handshake timed out after 0.3 s"
    );
    eventually("a retry reached the server", || staller.accepted() >= 2);
    client.stop_promptly();
}

#[test]
fn stalled_websocket_handshake_times_out_naming_the_phase() {
    let _guard = watchdog(30);
    let staller = Staller::start();
    let mock = MockZoom::start();
    let mut config = mock.config();
    config.ws_url = format!("ws://{}/ws", staller.addr());
    config.connect_timeout = SHORT;
    let client = spawn_client(config);
    assert_eq!(
        failure_in_phase_then_retry(&client, "WebSocket handshake timed out"),
        "WebSocket handshake timed out after 0.3 s"
    );
    eventually("a retry reached the server", || staller.accepted() >= 2);
    client.stop_promptly();
}

#[test]
fn stalled_proxy_times_out_naming_the_phase() {
    let _guard = watchdog(30);
    let proxy = ConnectProxy::start_with(ProxyMode::Stall, None);
    let mock = MockZoom::start();
    // The socket's CONNECT goes unanswered.
    let mut config = split_names(&mock);
    config.proxy = Some(proxy.config());
    config.no_proxy = vec!["localhost".into()];
    config.connect_timeout = SHORT;
    let client = spawn_client(config.clone());
    assert_eq!(
        failure_in_phase_then_retry(&client, "proxy tunnel timed out"),
        "proxy tunnel timed out after 0.3 s"
    );
    eventually("a retry reached the proxy", || proxy.requests().len() >= 2);
    client.stop_promptly();
    // So does the token request's, in the same words: its tunnel is opened by the same code.
    config.no_proxy.clear();
    let client = spawn_client(config);
    assert_eq!(
        failure_in_phase_then_retry(&client, "proxy tunnel timed out"),
        "proxy tunnel timed out after 0.3 s"
    );
    eventually("a retry reached the proxy", || proxy.requests().len() >= 4);
    client.stop_promptly();
}

#[test]
fn an_answer_trickling_in_cannot_stretch_a_phase() {
    let _guard = watchdog(30);
    let gap = Duration::from_millis(50);
    let mock = MockZoom::start();
    // A TLS record header announcing 16 KiB, then its bytes one by one.
    let mut tls_record = vec![0x16, 0x03, 0x03, 0x40, 0x00];
    tls_record.resize(5 + 0x4000, 0);
    let head = |status: &str| {
        format!(
            "HTTP/1.1 {status}\r\n{}\r\n\r\n",
            "x-pad: slow\r\n".repeat(20)
        )
    };
    let cases = [
        ("wss", tls_record, "TLS handshake timed out after 0.3 s"),
        (
            "ws",
            head("101 Switching Protocols").into_bytes(),
            "WebSocket handshake timed out after 0.3 s",
        ),
        (
            "proxy",
            head("200 Connection established").into_bytes(),
            "proxy tunnel timed out after 0.3 s",
        ),
    ];
    for (kind, bytes, expected) in cases {
        let trickler = Trickler::start(bytes, gap);
        let mut config = split_names(&mock);
        config.connect_timeout = SHORT;
        if kind == "proxy" {
            config.proxy =
                Some(ProxyConfig::parse(&format!("http://{}", trickler.addr())).unwrap());
            config.no_proxy = vec!["localhost".into()];
        } else {
            config.ws_url = format!("{kind}://{}/ws", trickler.addr());
        }
        let client = spawn_client(config);
        let phase = expected.split(" after").next().unwrap();
        assert_eq!(
            failure_in_phase_then_retry(&client, phase),
            expected,
            "{kind}"
        );
        client.stop_promptly();
    }
}

#[test]
fn tcp_connect_to_a_full_backlog_times_out_naming_the_phase() {
    let _guard = watchdog(30);
    let Some(full) = FullBacklog::start() else {
        eprintln!("this kernel completes connections to a full backlog; nothing to test");
        return;
    };
    let mock = MockZoom::start();
    let mut config = mock.config();
    config.ws_url = format!("ws://{}/ws", full.addr());
    config.connect_timeout = SHORT;
    let client = spawn_client(config);
    assert_eq!(
        failure_in_phase_then_retry(&client, "TCP connect timed out"),
        "TCP connect timed out after 0.3 s"
    );
    client.stop_promptly();
}

// ---- the command line -----------------------------------------------------------------------
