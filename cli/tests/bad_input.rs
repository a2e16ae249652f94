//! Bad input against the mock Zoom, through the `zoom-ws` binary: every kind in one stream, the
//! events around it on stdout in order, each reason on stderr.

mod mock;
use mock::{Action, MockZoom, Plan, cli, event_json, frame, watchdog};

fn text(s: &str) -> Action {
    Action::Text(s.to_string())
}

#[test]
fn every_kind_of_bad_input_in_one_stream_and_the_events_around_it_in_order() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let bad = [
        text("garbage"),
        text(r#"{"content":"no module"}"#),
        text(r#"{"module":"message","success":true,"content":"{not json"}"#),
        Action::Raw(frame(0x2, b"\x00\x01binary")),
        text(r#"{"module":"surprise","content":"hi"}"#),
        text(r#"{"module":"message","success":false,"content":"Internal error\r\nERROR forged"}"#),
        text(r#"{"module":"heartbeat","success":true,"content":"live","header":{}}"#),
        Action::Ping(b"ping".to_vec()),
        text(&format!(
            r#"{{"module":"message","content":"{}"}}"#,
            "\\u0000".repeat(100)
        )),
    ];
    let mut plan = Plan::new().events(0, 1);
    for (i, action) in bad.into_iter().enumerate() {
        plan = plan.then(action).events(i + 1, 1);
    }
    mock.plan(plan);
    let output = cli(&mock).args(["--max-events", "10"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 10, "{stdout}");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, event_json(i));
    }
    for reason in [
        "skipped a frame: frame is not a JSON object",
        "skipped a frame: frame has no \"module\"",
        "skipped a frame: message content is not an event object",
        "skipped a binary frame",
        "skipped a frame of unknown module \"surprise\"",
        "Zoom reported a failure: Internal error\\r\\nERROR forged",
    ] {
        assert!(stderr.contains(reason), "{reason:?} not logged:\n{stderr}");
    }
    // Zoom's words cannot start a log line of their own.
    assert!(
        !stderr.lines().any(|l| l.starts_with("ERROR forged")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(mock.connections(), 1);
}
