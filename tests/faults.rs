//! Fault injection against the mock Zoom: everything a network and a server can do to a
//! connection, and what the client must do about it (reconnect, renew the token, notice a dead
//! peer, lose nothing it was sent, report the gaps).

mod mock;

use std::thread;
use std::time::{Duration, Instant};

use mock::{
    Action, MockZoom, Plan, TokenAnswer, event_json, frame, message_frame, refused_ws_url, seq,
    spawn_client, text_frame, watchdog,
};
use zoom_ws::{Backoff, StateChange};

fn assert_seqs(events: &[zoom_ws::Event], first: u64) {
    let got: Vec<u64> = events.iter().map(seq).collect();
    let want: Vec<u64> = (first..first + events.len() as u64).collect();
    assert_eq!(got, want, "events out of order, missing or twice");
}

fn disconnect_reasons(changes: &[StateChange]) -> Vec<String> {
    changes
        .iter()
        .filter_map(|c| match c {
            StateChange::Disconnected { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

fn no_more_events(client: &mock::Running) {
    if let Ok(extra) = client.events.recv_timeout(Duration::from_millis(300)) {
        panic!("an unexpected extra event: seq {}", seq(&extra));
    }
}

// ---- 1. reconnect with back-off ---------------------------------------------------------------

/// The issue's bound scaled down 100 times: 1 s doubling to 60 s, at most 8 attempts in 60 s,
/// becomes 10 ms doubling to 600 ms, at most 8 attempts in 600 ms.
#[test]
fn refused_connections_are_retried_with_bounded_backoff_never_a_hot_loop() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let mut config = mock.config();
    config.ws_url = refused_ws_url();
    config.backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(600));
    let client = spawn_client(config);
    thread::sleep(Duration::from_millis(2500));
    let timeline = client.timeline.lock().unwrap().clone();
    let (result, took) = client.stop();
    result.unwrap();
    assert!(took < Duration::from_secs(1), "stop took {took:?}");

    let attempts: Vec<Instant> = timeline
        .iter()
        .filter(|(_, c)| matches!(c, StateChange::Connecting { .. }))
        .map(|(at, _)| *at)
        .collect();
    let first = attempts[0];
    let in_window = attempts
        .iter()
        .filter(|at| at.duration_since(first) <= Duration::from_millis(600))
        .count();
    assert!(in_window <= 8, "{in_window} attempts in the first 600 ms");
    // It goes on retrying until stopped: 7 in the first window, then one per 300-600 ms.
    assert!(
        attempts.len() >= 8,
        "only {} attempts in 2.5 s",
        attempts.len()
    );

    // Each delay lies in the upper half of its nominal value: 10, 20, 40, … ms, capped at 600.
    let delays: Vec<Duration> = timeline
        .iter()
        .filter_map(|(_, c)| match c {
            StateChange::BackingOff { delay } => Some(*delay),
            _ => None,
        })
        .collect();
    assert!(delays.len() >= 7, "{delays:?}");
    for (i, delay) in delays.iter().enumerate() {
        let nominal = Duration::from_millis((10u64 << i.min(10)).min(600));
        assert!(
            *delay >= nominal / 2 && *delay <= nominal,
            "delay {i} is {delay:?}, nominal {nominal:?}"
        );
    }
    let reasons = disconnect_reasons(&timeline.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
    assert!(reasons[0].contains("connection refused"), "{reasons:?}");
    // The token is cached across failed attempts: one request, not one per attempt.
    assert_eq!(mock.token_requests().len(), 1);
}

#[test]
fn backoff_resets_after_a_connection_that_stayed_healthy() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    // Three failed token requests push the delay up (50, 100, 200 ms)...
    for _ in 0..3 {
        mock.token_answer(TokenAnswer::status(503, "busy"));
    }
    // ...then a connection that lives longer than `reset_after`, and one that does not.
    mock.plan(Plan::new().events(0, 1).sleep(0.8).then(Action::End));
    mock.plan(Plan::new().events(1, 1).then(Action::End));
    mock.plan(Plan::new().events(2, 1));
    let mut config = mock.config();
    config.backoff.reset_after = Duration::from_millis(400);
    let client = spawn_client(config);
    assert_seqs(&client.take(3, 15.0), 0);
    let changes = client.changes();
    client.stop().0.unwrap();

    // What followed the end of each connection (the failed token requests come before).
    let first_connected = changes
        .iter()
        .position(|c| *c == StateChange::Connected)
        .unwrap();
    let after_loss: Vec<Option<&StateChange>> = changes
        .iter()
        .enumerate()
        .skip(first_connected)
        .filter(|(_, c)| matches!(c, StateChange::Disconnected { .. }))
        .map(|(i, _)| changes.get(i + 1))
        .collect();
    assert_eq!(after_loss.len(), 2, "{changes:?}");
    assert!(
        matches!(after_loss[0], Some(StateChange::Connecting { attempt: 1 })),
        "a healthy connection's loss is followed by an immediate attempt: {changes:?}"
    );
    match after_loss[1] {
        Some(StateChange::BackingOff { delay }) => assert!(
            *delay <= Duration::from_millis(50),
            "the delay starts again at the initial one, not {delay:?}"
        ),
        other => panic!("a short connection's loss backs off, not {other:?}"),
    }
}

// ---- 5. faults survived -----------------------------------------------------------------------

#[test]
fn server_close_with_several_codes_is_survived() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let closes = [
        (1000, ""),
        (1001, "going away"),
        (1011, "internal error"),
        (1012, "service restart"),
        (4000, "app specific"),
    ];
    for (i, (code, reason)) in closes.iter().enumerate() {
        mock.plan(
            Plan::new()
                .events(2 * i, 2)
                .then(Action::Close(*code, reason.to_string())),
        );
    }
    // A close frame with no status code at all.
    mock.plan(
        Plan::new()
            .events(10, 2)
            .then(Action::Raw(frame(0x8, &[])))
            .then(Action::End),
    );
    mock.plan(Plan::new().events(12, 2));
    let client = spawn_client(mock.config());
    assert_seqs(&client.take(14, 20.0), 0);
    no_more_events(&client);
    let reasons = disconnect_reasons(&client.changes());
    for (code, reason) in closes {
        assert!(
            reasons
                .iter()
                .any(|r| r.contains(&format!("code {code}")) && r.contains(reason)),
            "close {code} not reported: {reasons:?}"
        );
    }
    assert_eq!(client.stats.snapshot().reconnects, 6);
    client.stop().0.unwrap();
}

/// A server that sends Close and then leaves the TCP connection open must not hold the client
/// until the next heartbeat or the dead-peer bound.
#[test]
fn close_frame_without_tcp_close_reconnects_at_once() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let mut close = 1001u16.to_be_bytes().to_vec();
    close.extend_from_slice(b"going away");
    mock.plan(
        Plan::new()
            .events(0, 2)
            .then(Action::Raw(frame(0x8, &close)))
            .then(Action::Freeze),
    );
    mock.plan(Plan::new().events(2, 2));
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_secs(30);
    let client = spawn_client(config);
    assert_seqs(&client.take(2, 10.0), 0);
    let start = Instant::now();
    assert_seqs(&client.take(2, 10.0), 2);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "reconnect took {:?}",
        start.elapsed()
    );
    let reasons = disconnect_reasons(&client.changes());
    assert!(reasons[0].contains("code 1001: going away"), "{reasons:?}");
    client.stop().0.unwrap();
}

#[test]
fn tcp_reset_in_the_middle_of_a_frame_is_survived() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let half = text_frame(&message_frame(&event_json(99)));
    mock.plan(
        Plan::new()
            .events(0, 3)
            .then(Action::Raw(half[..half.len() / 2].to_vec()))
            .sleep(0.1)
            .then(Action::Reset),
    );
    mock.plan(Plan::new().events(3, 3));
    let client = spawn_client(mock.config());
    // The half-sent event never arrives; nothing around it is lost.
    assert_seqs(&client.take(6, 15.0), 0);
    no_more_events(&client);
    let reasons = disconnect_reasons(&client.changes());
    assert!(reasons[0].contains("reset"), "{reasons:?}");
    assert_eq!(mock.connections(), 2);
    client.stop().0.unwrap();
}

#[test]
fn connection_drops_after_k_events_and_nothing_is_lost_or_doubled() {
    let _guard = watchdog(60);
    for (k, drop) in [(1, Action::End), (7, Action::Reset), (50, Action::End)] {
        let mock = MockZoom::start();
        let n = 60;
        mock.plan(Plan::new().events(0, k).then(drop));
        mock.plan(Plan::new().events(k, n - k));
        let client = spawn_client(mock.config());
        let events = client.take(n, 20.0);
        assert_seqs(&events, 0);
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event.content(), event_json(i), "event {i} altered");
        }
        no_more_events(&client);
        let stats = client.stats.snapshot();
        assert_eq!(
            (stats.events, stats.connections, stats.reconnects),
            (60, 2, 1)
        );
        client.stop().0.unwrap();
    }
}

#[test]
fn peer_that_stops_answering_heartbeats_is_dropped_after_the_default_bound() {
    let _guard = watchdog(40);
    let mock = MockZoom::start();
    // The socket stays open and keeps reading; it just never answers again.
    mock.plan(Plan::new().events(0, 2).then(Action::StopAnswering));
    mock.plan(Plan::new().events(2, 2));
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_millis(200);
    assert_eq!(
        config.dead_peer_timeout, None,
        "the default bound is under test"
    );
    let bound = config.effective_dead_peer_timeout(); // 2 × 0.2 s + 5 s
    let client = spawn_client(config);
    assert_seqs(&client.take(2, 10.0), 0);
    let silent_since = Instant::now();
    assert_seqs(&client.take(2, 20.0), 2);
    let took = silent_since.elapsed();
    assert!(
        took + Duration::from_millis(300) >= bound && took < bound + Duration::from_secs(4),
        "dropped after {took:?}, bound {bound:?}"
    );
    let reasons = disconnect_reasons(&client.changes());
    assert!(reasons[0].contains("nothing received"), "{reasons:?}");
    // Heartbeats kept going out while no answer came.
    let stats = client.stats.snapshot();
    assert!(
        stats.heartbeats_sent >= stats.heartbeats_answered + 20,
        "{stats:?}"
    );
    client.stop().0.unwrap();
}

#[test]
fn frozen_peer_with_the_socket_open_is_dropped_and_replaced() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    // Like a half-open connection: the kernel still takes our bytes, nothing ever comes back.
    mock.plan(Plan::new().events(0, 2).then(Action::Freeze));
    mock.plan(Plan::new().events(2, 2));
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_millis(200);
    config.dead_peer_timeout = Some(Duration::from_millis(800));
    let client = spawn_client(config);
    assert_seqs(&client.take(4, 10.0), 0);
    assert_eq!(mock.connections(), 2);
    client.stop().0.unwrap();
}

#[test]
fn peer_that_goes_silent_in_the_middle_of_a_frame_is_dropped() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let whole = text_frame(&message_frame(&event_json(99)));
    mock.plan(
        Plan::new()
            .events(0, 2)
            .then(Action::Raw(whole[..300].to_vec()))
            .then(Action::Freeze),
    );
    mock.plan(Plan::new().events(2, 2));
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_millis(200);
    config.dead_peer_timeout = Some(Duration::from_millis(800));
    let client = spawn_client(config);
    assert_seqs(&client.take(4, 10.0), 0);
    no_more_events(&client);
    let reasons = disconnect_reasons(&client.changes());
    assert!(reasons[0].contains("nothing received"), "{reasons:?}");
    client.stop().0.unwrap();
}

#[test]
fn frame_trickled_across_many_read_timeouts_arrives_whole() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let trickled = text_frame(&message_frame(&event_json(1)));
    assert!(trickled.len() > 800);
    // 100 bytes every 150 ms: about 1.3 s for one frame. The client's read times out before
    // each chunk (it sleeps in read() at most until the next heartbeat, 100 ms).
    mock.plan(
        Plan::new()
            .events(0, 1)
            .then(Action::Trickle(trickled, 100, Duration::from_millis(150)))
            .events(2, 1),
    );
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_millis(100);
    config.dead_peer_timeout = Some(Duration::from_secs(5));
    let client = spawn_client(config);
    let events = client.take(3, 15.0);
    assert_seqs(&events, 0);
    assert_eq!(events[1].content(), event_json(1));
    // The reads timed out many times meanwhile (a heartbeat goes out after each) and the
    // connection survived.
    assert!(mock.heartbeats().len() >= 6, "{}", mock.heartbeats().len());
    assert_eq!(mock.connections(), 1);
    assert_eq!(client.stats.snapshot().skipped_total(), 0);
    client.stop().0.unwrap();
}

#[test]
fn heartbeats_stay_on_time_while_a_frame_trickles_faster_than_the_read_timeout() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let trickled = text_frame(&message_frame(&event_json(1)));
    // 10 bytes every 25 ms: each piece arrives well before a read would time out, so without a
    // deadline of its own the client would sit inside one read() for the whole 2+ s.
    mock.plan(
        Plan::new()
            .events(0, 1)
            .then(Action::Trickle(trickled, 10, Duration::from_millis(25)))
            .events(2, 1),
    );
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_millis(300);
    config.dead_peer_timeout = Some(Duration::from_secs(10));
    let client = spawn_client(config);
    let events = client.take(3, 20.0);
    assert_seqs(&events, 0);
    assert_eq!(events[1].content(), event_json(1));
    let beats = mock.heartbeats();
    assert!(beats.len() >= 6, "{} heartbeats", beats.len());
    for pair in beats.windows(2) {
        let gap = pair[1] - pair[0];
        // Generous slack for a noisy machine; without the deadline the gap is the whole trickle.
        assert!(gap < Duration::from_millis(700), "heartbeat gap {gap:?}");
    }
    assert_eq!(mock.connections(), 1);
    client.stop().0.unwrap();
}

#[test]
fn server_ping_gets_a_pong_with_the_same_payload() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(
        Plan::new()
            .events(0, 1)
            .then(Action::Ping(b"are-you-there".to_vec()))
            .events(1, 1),
    );
    let mut config = mock.config();
    // No heartbeat is due for a long time: the pong must not wait for one.
    config.heartbeat_interval = Duration::from_secs(30);
    let client = spawn_client(config);
    assert_seqs(&client.take(2, 10.0), 0);
    let until = Instant::now() + Duration::from_secs(2);
    while !mock
        .client_frames()
        .iter()
        .any(|(op, payload)| *op == 0xA && payload == b"are-you-there")
    {
        assert!(
            Instant::now() < until,
            "no pong: {:?}",
            mock.client_frames()
        );
        thread::sleep(Duration::from_millis(10));
    }
    client.stop().0.unwrap();
}

// ---- 2, 3. tokens -----------------------------------------------------------------------------

#[test]
fn token_endpoint_failing_twice_with_500_then_succeeding() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let error = r#"{"reason":"Internal error","error":"server_error"}"#;
    mock.token_answer(TokenAnswer::status(500, error));
    mock.token_answer(TokenAnswer::status(500, error));
    mock.plan(Plan::new().events(0, 3));
    let client = spawn_client(mock.config());
    assert_seqs(&client.take(3, 10.0), 0);
    assert_eq!(mock.token_requests().len(), 3);
    let changes = client.changes();
    let reasons = disconnect_reasons(&changes);
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r.contains("HTTP 500")),
        "{reasons:?}"
    );
    let backoffs = changes
        .iter()
        .filter(|c| matches!(c, StateChange::BackingOff { .. }))
        .count();
    assert_eq!(backoffs, 2, "{changes:?}");
    let stats = client.stats.snapshot();
    assert_eq!((stats.token_fetches, stats.connections), (1, 1));
    client.stop().0.unwrap();
}

#[test]
fn token_429_is_retried_no_sooner_than_retry_after() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.token_answer(
        TokenAnswer::status(429, r#"{"reason":"Too many requests"}"#).header("Retry-After", "1"),
    );
    mock.plan(Plan::new().events(0, 1));
    let client = spawn_client(mock.config()); // back-off would be 25-50 ms
    assert_seqs(&client.take(1, 10.0), 0);
    let requests = mock.token_requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at - requests[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );
    let changes = client.changes();
    assert!(
        changes.iter().any(
            |c| matches!(c, StateChange::BackingOff { delay } if *delay >= Duration::from_secs(1))
        ),
        "{changes:?}"
    );
    client.stop().0.unwrap();
}

#[test]
fn token_timeouts_bad_bodies_and_refused_connections_are_retried() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.token_answer(TokenAnswer::status(200, "<html>maintenance</html>"));
    mock.token_answer(TokenAnswer::status(502, "<html>Bad Gateway</html>"));
    mock.token_answer(TokenAnswer::status(200, r#"{"token_type":"bearer"}"#));
    mock.token_answer(TokenAnswer::status(200, "{}").after(Duration::from_secs(3)));
    mock.plan(Plan::new().events(0, 2));
    let mut config = mock.config();
    config.connect_timeout = Duration::from_millis(500);
    let client = spawn_client(config);
    assert_seqs(&client.take(2, 20.0), 0);
    assert_eq!(mock.token_requests().len(), 5);
    let reasons = disconnect_reasons(&client.changes());
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons[0].contains("no access_token"), "{reasons:?}");
    assert!(reasons[1].contains("HTTP 502"), "{reasons:?}");
    assert!(reasons[2].contains("no access_token"), "{reasons:?}");
    assert!(reasons[3].contains("timed out"), "{reasons:?}");
    client.stop().0.unwrap();

    // An endpoint nobody listens on: retried until stopped, never fatal.
    let mut config = mock.config();
    config.oauth_url = refused_ws_url().replace("ws://", "http://");
    let client = spawn_client(config);
    thread::sleep(Duration::from_millis(800));
    let reasons = disconnect_reasons(&client.changes());
    let (result, _) = client.stop();
    result.unwrap();
    assert!(reasons.len() >= 3, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r.contains("connection refused")),
        "{reasons:?}"
    );
}

#[test]
fn wrong_credentials_end_run_after_one_request_whatever_the_wording() {
    let _guard = watchdog(30);
    for (status, body) in [
        (
            400,
            r#"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#,
        ),
        (
            400,
            r#"{"reason":"Account does not exist","error":"invalid_request"}"#,
        ),
        (401, "Unauthorized"),
    ] {
        let mock = MockZoom::start();
        mock.token_answer(TokenAnswer::status(status, body));
        let client = spawn_client(mock.config());
        let err = client.join(10.0).unwrap_err();
        assert!(
            matches!(err, zoom_ws::Error::Credentials { .. }),
            "{status} {body}: {err}"
        );
        assert_eq!(mock.token_requests().len(), 1);
        assert_eq!(mock.connections(), 0);
    }
}

#[test]
fn token_is_renewed_before_it_expires() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    // A 2 s token is used for 1 s; the mock refuses it after 2 s.
    mock.set_token_lifetime(2);
    mock.plan(Plan::new().events(0, 1).sleep(1.3).then(Action::End));
    mock.plan(Plan::new().events(1, 1).sleep(2.3).then(Action::End));
    mock.plan(Plan::new().events(2, 1));
    let client = spawn_client(mock.config());
    assert_seqs(&client.take(3, 15.0), 0);
    // Each connection started with a new token; none was refused.
    let issued = mock.issued_tokens();
    assert_eq!(issued.len(), 3);
    let queries = mock.socket_queries();
    for (query, token) in queries.iter().zip(&issued) {
        assert!(query.ends_with(token.as_str()));
    }
    let reasons = disconnect_reasons(&client.changes());
    assert!(reasons.iter().all(|r| !r.contains("token")), "{reasons:?}");
    assert_eq!(client.stats.snapshot().token_fetches, 3);
    client.stop().0.unwrap();
}

#[test]
fn invalid_token_frames_in_any_module_and_case_renew_the_token() {
    let _guard = watchdog(60);
    let frames = [
        r#"{"module":"heartbeat","success":false,"content":"Invalid Token","header":{}}"#,
        r#"{"module":"message","success":false,"content":"Token is invalid","header":{}}"#,
        r#"{"module":"message","success":true,"content":"token is empty","header":{}}"#,
        r#"{"module":"build_connection","success":false,"content":"INVALID TOKEN"}"#,
        r#"{"module":"notification","content":"the token is INVALID","header":{}}"#,
        r#"{"module":"session","content":{"error":"Token Is Empty"}}"#,
    ];
    for text in frames {
        let mock = MockZoom::start();
        mock.plan(Plan::new().events(0, 2).text(text).events(99, 1));
        mock.plan(Plan::new().events(2, 2));
        let client = spawn_client(mock.config());
        let events = client.take(4, 10.0);
        assert_seqs(&events, 0);
        // A second token was fetched and the new connection used it.
        assert_eq!(mock.token_requests().len(), 2, "{text}");
        let issued = mock.issued_tokens();
        assert!(
            mock.socket_queries()[1].ends_with(issued[1].as_str()),
            "{text}"
        );
        let reasons = disconnect_reasons(&client.changes());
        assert!(reasons[0].contains("token refused"), "{text}: {reasons:?}");
        client.stop().0.unwrap();
    }
}

#[test]
fn expired_cached_token_is_replaced_without_a_fatal_error() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1).sleep(0.5).then(Action::End));
    // Played by the attempt with the revoked token, which the mock refuses at once.
    mock.plan(Plan::new());
    mock.plan(Plan::new().events(1, 1));
    let client = spawn_client(mock.config());
    assert_seqs(&client.take(1, 10.0), 0);
    // The token the client caches is revoked before it reconnects.
    mock.expire_tokens();
    assert_seqs(&client.take(1, 10.0), 1);
    assert_eq!(mock.token_requests().len(), 2);
    assert_eq!(mock.connections(), 3, "old token refused, new one accepted");
    client.stop().0.unwrap();
}

#[test]
fn aged_token_is_replaced_at_once_without_a_back_off() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1).sleep(0.5).then(Action::End));
    mock.plan(Plan::new()); // the attempt with the revoked token, refused at once
    mock.plan(Plan::new().events(1, 1));
    let mut config = mock.config();
    // The first connection counts as healthy, so its loss is followed by an immediate attempt.
    config.backoff.reset_after = Duration::from_millis(200);
    let client = spawn_client(config);
    assert_seqs(&client.take(1, 10.0), 0);
    mock.expire_tokens();
    assert_seqs(&client.take(1, 10.0), 1);
    let changes = client.changes();
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, StateChange::BackingOff { .. })),
        "every second offline loses events: {changes:?}"
    );
    assert_eq!(mock.connections(), 3);
    client.stop().0.unwrap();
}

// ---- 8, 9. gaps and counters ------------------------------------------------------------------

#[test]
fn state_changes_report_each_gap() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 2).sleep(0.2).then(Action::Reset));
    mock.plan(Plan::new().events(2, 2));
    let before = std::time::SystemTime::now();
    let client = spawn_client(mock.config());
    assert_seqs(&client.take(2, 10.0), 0);
    let last_event_seen = std::time::SystemTime::now();
    assert_seqs(&client.take(2, 10.0), 2);
    let changes = client.changes();
    let kinds: Vec<&str> = changes
        .iter()
        .map(|c| match c {
            StateChange::Connecting { .. } => "connecting",
            StateChange::Connected => "connected",
            StateChange::Disconnected { .. } => "disconnected",
            StateChange::BackingOff { .. } => "backing off",
            StateChange::Reconnected { .. } => "reconnected",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "connecting",
            "connected",
            "disconnected",
            "backing off",
            "connecting",
            "connected",
            "reconnected"
        ]
    );
    let Some(StateChange::Reconnected { gap_start, gap_end }) = changes.last() else {
        unreachable!()
    };
    assert!(before <= *gap_start && gap_start <= gap_end);
    // The gap starts at the last frame of the old connection, not at the first failure.
    assert!(*gap_start <= last_event_seen + Duration::from_millis(400));
    assert!(gap_end.duration_since(*gap_start).unwrap() >= Duration::from_millis(150));
    client.stop().0.unwrap();
}

#[test]
fn counters_are_readable_while_the_client_runs() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(
        Plan::new()
            .events(0, 3)
            .text("not json")
            .sleep(0.7)
            .then(Action::End),
    );
    mock.plan(Plan::new().events(3, 2));
    let mut config = mock.config();
    config.heartbeat_interval = Duration::from_millis(200);
    let client = spawn_client(config);
    client.take(3, 10.0);
    thread::sleep(Duration::from_millis(500));
    let during = client.stats.snapshot();
    assert_eq!((during.events, during.connections), (3, 1));
    assert_eq!(during.skipped(zoom_ws::Skip::NotJson), 1);
    assert!(
        during.heartbeats_sent >= 2 && during.heartbeats_answered >= 1,
        "{during:?}"
    );
    client.take(2, 10.0);
    let after = client.stats.snapshot();
    assert_eq!(
        (
            after.events,
            after.connections,
            after.reconnects,
            after.token_fetches
        ),
        (5, 2, 1, 1)
    );
    client.stop().0.unwrap();
}

// ---- 7. the command line ----------------------------------------------------------------------

/// A server that takes the TCP connection and then says nothing: the WebSocket handshake is
/// bounded by the connect timeout, and the client tries again.
#[test]
fn server_silent_during_the_handshake_times_out_and_is_retried() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            keep.lock().unwrap().push(conn); // accepted, never answered, never closed
        }
    });
    let mut config = mock.config();
    config.ws_url = format!("ws://127.0.0.1:{port}/ws");
    config.connect_timeout = Duration::from_millis(300);
    let client = spawn_client(config);
    thread::sleep(Duration::from_millis(1500));
    let reasons = disconnect_reasons(&client.changes());
    let (result, took) = client.stop();
    result.unwrap();
    assert!(took < Duration::from_secs(1), "stop took {took:?}");
    assert!(reasons.len() >= 2, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .all(|r| r.contains("WebSocket handshake timed out after 0.3 s")),
        "{reasons:?}"
    );
    assert!(held.lock().unwrap().len() >= 2);
}
