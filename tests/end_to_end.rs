//! The whole path against the mock Zoom: token, socket, heartbeats, events to a closure,
//! stopping, the credentials error. (The same through the `zoom-ws` binary: `cli/tests/`.)

mod mock;

use std::time::{Duration, Instant};

use mock::{Action, MockZoom, Plan, TokenAnswer, event_json, seq, spawn_client, watchdog};

#[test]
fn thousand_events_reach_the_closure_in_order_exactly_once() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1000));
    let client = spawn_client(mock.config());
    let events = client.take(1000, 30.0);
    for (i, event) in events.iter().enumerate() {
        assert_eq!(seq(event), i as u64);
        assert_eq!(event.name(), "meeting.started");
        assert_eq!(event.content(), event_json(i));
    }
    assert!(
        client
            .events
            .recv_timeout(Duration::from_millis(300))
            .is_err()
    );
    let stats = client.stats.snapshot();
    assert_eq!(stats.events, 1000);
    assert_eq!(stats.connections, 1);
    let (result, _) = client.stop();
    result.unwrap();
}

/// Gaps between consecutive heartbeats the mock received.
fn gaps(beats: &[Instant]) -> Vec<Duration> {
    beats.windows(2).map(|w| w[1] - w[0]).collect()
}

fn assert_cadence(beats: &[Instant], interval: Duration, min_count: usize) {
    assert!(beats.len() >= min_count, "only {} heartbeats", beats.len());
    // Generous slack: the machines running the tests are shared and noisy.
    let slack = Duration::from_millis(100);
    for gap in gaps(beats) {
        assert!(
            gap + Duration::from_millis(15) >= interval && gap <= interval + slack,
            "heartbeat gap {gap:?} for interval {interval:?}: {:?}",
            gaps(beats)
        );
    }
}

#[test]
fn heartbeats_on_time_when_idle() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_millis(200);
    let client = spawn_client(config);
    std::thread::sleep(Duration::from_millis(2300));
    let (result, _) = client.stop();
    result.unwrap();
    assert_cadence(&mock.heartbeats(), Duration::from_millis(200), 9);
}

#[test]
fn heartbeats_on_time_while_events_stream_without_pause() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    // An event every millisecond for about 2.5 s: the socket never goes quiet.
    mock.plan(Plan::new().then(Action::Paced(0, 2000, Duration::from_millis(1))));
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_millis(200);
    let client = spawn_client(config);
    let events = client.take(2000, 20.0);
    assert!(events.iter().enumerate().all(|(i, e)| seq(e) == i as u64));
    let (result, _) = client.stop();
    result.unwrap();
    assert_cadence(&mock.heartbeats(), Duration::from_millis(200), 8);
}

#[test]
fn client_credentials_grant_sends_body_and_basic_auth() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let client = spawn_client(mock.config());
    client.take(1, 10.0);
    client.stop().0.unwrap();
    let requests = mock.token_requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.path, "/oauth/token",
        "parameters belong in the body"
    );
    assert_eq!(request.body, "grant_type=client_credentials");
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // base64("mock-client-id:mock-client-secret")
    assert_eq!(
        request.header("authorization"),
        Some("Basic bW9jay1jbGllbnQtaWQ6bW9jay1jbGllbnQtc2VjcmV0")
    );
    let queries = mock.socket_queries();
    assert_eq!(
        queries[0],
        format!(
            "subscriptionId=mock-sub&access_token={}",
            mock.issued_tokens()[0]
        )
    );
}

#[test]
fn account_credentials_grant_when_an_account_id_is_set() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let mut config = mock.config();
    config.account_id = Some("acct-42".into());
    // The Marketplace shows the endpoint with the subscription already in it.
    config.ws_url = format!("{}?subscriptionId=from-url", mock.ws_url());
    // With the id in both places, they must agree (see tests/settings.rs).
    config.subscription_id = "from-url".into();
    let client = spawn_client(config);
    client.take(1, 10.0);
    client.stop().0.unwrap();
    let request = &mock.token_requests()[0];
    assert_eq!(
        request.body,
        "grant_type=account_credentials&account_id=acct-42"
    );
    assert!(mock.socket_queries()[0].starts_with("subscriptionId=from-url&access_token="));
}

#[test]
fn build_connection_failure_is_reported_and_retried_with_backoff() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.reject_all_tokens(true);
    let client = spawn_client(mock.config());
    let change = client.wait_state(10.0, |s| {
        matches!(s, zoom_ws::StateChange::Disconnected { .. })
    });
    let zoom_ws::StateChange::Disconnected { reason, .. } = change else {
        unreachable!()
    };
    assert!(reason.contains("Invalid Token"), "{reason}");
    assert!(reason.contains("subscription"), "{reason}");
    std::thread::sleep(Duration::from_millis(1500));
    let (result, _) = client.stop();
    result.unwrap();
    // Backed off (50 ms doubling to 400 ms): a handful of attempts, not a hot loop.
    let attempts = mock.connections();
    assert!((2..=12).contains(&attempts), "{attempts} attempts in 1.5 s");
}

#[test]
fn library_returns_the_credentials_error_after_one_request() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.token_answer(TokenAnswer::status(
        401,
        r#"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#,
    ));
    let client = spawn_client(mock.config());
    let err = client.join(10.0).unwrap_err();
    assert!(
        matches!(err, zoom_ws::Error::Credentials { status: 401, .. }),
        "{err}"
    );
    assert_eq!(mock.token_requests().len(), 1);
}

#[test]
fn stop_handle_ends_an_idle_run_within_a_second_with_a_close_frame() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_secs(30);
    let client = spawn_client(config);
    client.wait_state(10.0, |s| *s == zoom_ws::StateChange::Connected);
    std::thread::sleep(Duration::from_millis(200));
    let (result, took) = client.stop();
    result.unwrap();
    assert!(took < Duration::from_secs(1), "stop took {took:?}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(mock.closed_by_client(), 1, "a Close frame was sent");
}

#[test]
fn stop_handle_ends_a_busy_run_within_a_second() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().then(Action::Paced(0, 100_000, Duration::from_micros(100))));
    let client = spawn_client(mock.config());
    client.take(100, 10.0);
    let (result, took) = client.stop();
    result.unwrap();
    assert!(took < Duration::from_secs(1), "stop took {took:?}");
}

/// A Zoom event named `name`, numbered `i`.
fn named_event(name: &str, i: usize) -> String {
    format!(
        r#"{{"event":"{name}","event_ts":{},"payload":{{"account_id":"AbC","object":{{"seq":{i}}}}}}}"#,
        1_764_500_000_000u64 + i as u64
    )
}

#[test]
fn filters_are_usable_from_the_library() {
    let filter = zoom_ws::EventFilter::new(["meeting.*", "*.created"]).unwrap();
    let event = zoom_ws::Event::from_content(named_event("user.created", 1)).unwrap();
    assert!(filter.matches(event.name()));
    assert!(!filter.matches("recording.completed"));
}
