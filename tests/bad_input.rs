//! Bad input against the mock Zoom: frames that are not what Zoom should send. Each is skipped
//! (and counted) or, when the WebSocket stream itself is broken, the connection is replaced; every
//! valid event around it is delivered, in order, exactly once.

mod mock;

use std::time::Duration;

use mock::{
    Action, MockZoom, Plan, event_json, frame, message_frame, seq, spawn_client, text_frame,
    watchdog,
};
use zoom_ws::{Skip, StateChange};

fn assert_seqs(events: &[zoom_ws::Event], first: u64) {
    let got: Vec<u64> = events.iter().map(seq).collect();
    let want: Vec<u64> = (first..first + events.len() as u64).collect();
    assert_eq!(got, want, "events out of order, missing or twice");
}

/// Sends each of `bad` between two good events on one connection and checks that all the good
/// events arrive, the connection stays up, and each bad frame is counted under `reason`.
fn skipped_without_reconnecting(bad: &[Action], reason: Skip) {
    let mock = MockZoom::start();
    let mut plan = Plan::new().events(0, 1);
    for (i, action) in bad.iter().enumerate() {
        plan = plan.then(action.clone()).events(i + 1, 1);
    }
    mock.plan(plan);
    let client = spawn_client(mock.config());
    let events = client.take(bad.len() + 1, 10.0);
    assert_seqs(&events, 0);
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.content(), event_json(i));
    }
    assert!(
        client
            .events
            .recv_timeout(Duration::from_millis(200))
            .is_err(),
        "a bad frame came out as an event"
    );
    let stats = client.stats.snapshot();
    assert_eq!(stats.skipped(reason), bad.len() as u64, "{stats:?}");
    assert_eq!(stats.skipped_total(), bad.len() as u64, "{stats:?}");
    assert_eq!(
        stats.connections, 1,
        "a skipped frame must not cost the connection"
    );
    client.stop().0.unwrap();
}

fn text(s: &str) -> Action {
    Action::Text(s.to_string())
}

#[test]
fn text_that_is_not_json_is_skipped() {
    let _guard = watchdog(30);
    skipped_without_reconnecting(
        &[
            text("this is not json"),
            text(""),
            text("{"),
            text("[1,2,3]"),
            text("null"),
            text(r#""a string""#),
            text(r#"{"module":"message","content":"unterminated"#),
            text(&"[".repeat(10_000)),
        ],
        Skip::NotJson,
    );
}

#[test]
fn json_without_a_module_is_skipped() {
    let _guard = watchdog(30);
    skipped_without_reconnecting(
        &[
            text(r#"{"success":true,"content":"hello","header":{}}"#),
            text("{}"),
            text(r#"{"module":null}"#),
            text(r#"{"module":42,"content":"x"}"#),
            text(r#"{"module":{"name":"message"}}"#),
        ],
        Skip::NoModule,
    );
}

#[test]
fn message_whose_content_is_not_an_event_is_skipped() {
    let _guard = watchdog(30);
    skipped_without_reconnecting(
        &[
            text(r#"{"module":"message","success":true,"content":"not json at all"}"#),
            text(&message_frame(r#"{"event":"meeting.started","payload":"#)),
            text(&message_frame("[1,2]")),
            text(&message_frame("42")),
            text(r#"{"module":"message","success":true,"content":7}"#),
            text(r#"{"module":"message","success":true,"content":null}"#),
            text(r#"{"module":"message","success":true}"#),
        ],
        Skip::BadEvent,
    );
}

#[test]
fn binary_frames_are_skipped() {
    let _guard = watchdog(30);
    let event_as_binary = message_frame(&event_json(500)).into_bytes();
    skipped_without_reconnecting(
        &[
            Action::Raw(frame(0x2, &[0, 159, 146, 150, 255])),
            Action::Raw(frame(0x2, &event_as_binary)),
            Action::Raw(frame(0x2, &[])),
        ],
        Skip::Binary,
    );
}

#[test]
fn unknown_modules_are_skipped() {
    let _guard = watchdog(30);
    skipped_without_reconnecting(
        &[
            text(r#"{"module":"notification","success":true,"content":"hello","header":{}}"#),
            text(r#"{"module":"","content":"x"}"#),
            text(r#"{"module":"message.v2","content":{"event":"meeting.started"}}"#),
        ],
        Skip::UnknownModule,
    );
}

#[test]
fn message_larger_than_the_maximum_resets_the_connection_and_recovers() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let huge_event = event_json(99).replace(&"x".repeat(520), &"x".repeat(10_000));
    // A whole frame over the limit.
    mock.plan(
        Plan::new()
            .events(0, 2)
            .text(message_frame(&huge_event))
            .events(100, 1),
    );
    // A header that announces 2^62 bytes: refused before any of it is read or allocated.
    let mut header = vec![0x81, 127];
    header.extend_from_slice(&(1u64 << 62).to_be_bytes());
    mock.plan(
        Plan::new()
            .events(2, 2)
            .then(Action::Raw(header))
            .then(Action::Raw(vec![b'x'; 4096])),
    );
    // Fragments each under the limit that add up to more.
    let mut fragmented = frame(0x1, &[b' '; 2000]);
    fragmented[0] &= 0x7f; // not final
    for _ in 0..2 {
        let mut more = frame(0x0, &[b' '; 2000]);
        more[0] &= 0x7f;
        fragmented.extend_from_slice(&more);
    }
    fragmented.extend_from_slice(&frame(0x0, b"{}"));
    mock.plan(Plan::new().events(4, 2).then(Action::Raw(fragmented)));
    mock.plan(Plan::new().events(6, 2));
    let mut config = mock.config();
    config.max_message_size = 4096;
    let client = spawn_client(config);
    assert_seqs(&client.take(8, 15.0), 0);
    let stats = client.stats.snapshot();
    assert_eq!(stats.skipped(Skip::TooLarge), 3, "{stats:?}");
    assert_eq!(stats.connections, 4);
    let reasons: Vec<String> = client
        .changes()
        .into_iter()
        .filter_map(|c| match c {
            StateChange::Disconnected { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons.iter().all(|r| r.contains("message too large")),
        "{reasons:?}"
    );
    client.stop().0.unwrap();
}

#[test]
fn default_maximum_takes_large_events_and_refuses_larger_ones() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    // A recording event with a very long file list: far above anything Zoom sends, still taken.
    let big = event_json(1).replace(&"x".repeat(520), &"x".repeat(900 * 1024));
    let too_big = event_json(99).replace(&"x".repeat(520), &"x".repeat(1100 * 1024));
    mock.plan(
        Plan::new()
            .events(0, 1)
            .text(message_frame(&big))
            .text(message_frame(&too_big)),
    );
    mock.plan(Plan::new().events(2, 1));
    let config = mock.config();
    assert_eq!(config.max_message_size, 1024 * 1024);
    let client = spawn_client(config);
    let events = client.take(3, 15.0);
    assert_seqs(&events, 0);
    assert_eq!(events[1].content(), big);
    assert_eq!(client.stats.snapshot().skipped(Skip::TooLarge), 1);
    client.stop().0.unwrap();
}

#[test]
fn broken_websocket_framing_replaces_the_connection() {
    let _guard = watchdog(60);
    let masked_from_server = {
        let mut f = frame(0x1, b"{}");
        f[1] |= 0x80;
        f.splice(2..2, [1, 2, 3, 4]);
        f
    };
    let broken: Vec<(&str, Vec<u8>)> = vec![
        ("masked frame from the server", masked_from_server),
        ("reserved opcode", frame(0x3, b"??")),
        ("reserved bits", {
            let mut f = text_frame("{}");
            f[0] |= 0x40;
            f
        }),
        ("ping over 125 bytes", frame(0x9, &[b'p'; 200])),
        ("continuation without a start", frame(0x0, b"{}")),
        (
            "text that is not UTF-8",
            frame(0x1, &[b'{', 0xff, 0xfe, b'}']),
        ),
    ];
    for (what, bytes) in broken {
        let mock = MockZoom::start();
        mock.plan(
            Plan::new()
                .events(0, 2)
                .then(Action::Raw(bytes))
                .events(99, 1),
        );
        mock.plan(Plan::new().events(2, 2));
        let client = spawn_client(mock.config());
        let events = client.take(4, 10.0);
        assert_seqs(&events, 0);
        assert_eq!(mock.connections(), 2, "{what}");
        client.stop().0.unwrap();
    }
}
