//! See zoom-ws work without a Zoom account: starts the mock Zoom (the `testing` feature) on
//! 127.0.0.1, then runs the real client against it (real OAuth request over HTTP, real WebSocket
//! over TCP) and prints each event as the CLI would.
//!
//!     cargo run --example demo --features testing

use std::time::Duration;

use zoom_ws::testing::{Action, MockZoom, Plan, message_frame};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let zoom = MockZoom::start()?;
    let events = [
        r#"{"event":"meeting.started","event_ts":1764507600000,"payload":{"account_id":"demo","object":{"id":"81234567890","topic":"Weekly sync","host_id":"h1"}}}"#,
        r#"{"event":"meeting.participant_joined","event_ts":1764507612000,"payload":{"account_id":"demo","object":{"id":"81234567890","participant":{"user_name":"Ada","join_time":"2026-11-30T13:00:12Z"}}}}"#,
        r#"{"event":"meeting.participant_joined","event_ts":1764507615000,"payload":{"account_id":"demo","object":{"id":"81234567890","participant":{"user_name":"Grace","join_time":"2026-11-30T13:00:15Z"}}}}"#,
        r#"{"event":"meeting.ended","event_ts":1764511200000,"payload":{"account_id":"demo","object":{"id":"81234567890","topic":"Weekly sync"}}}"#,
    ];
    // First connection: two events, then the server drops the link (the client reconnects).
    zoom.plan(
        Plan::new()
            .sleep(0.3)
            .text(message_frame(events[0]))
            .sleep(0.3)
            .text(message_frame(events[1]))
            .sleep(0.2)
            .then(Action::Close(1001, "server restarting".into())),
    );
    // Second connection: the rest.
    zoom.plan(
        Plan::new()
            .sleep(0.3)
            .text(message_frame(events[2]))
            .sleep(0.3)
            .text(message_frame(events[3])),
    );

    let mut config = zoom.config();
    config.heartbeat_interval = Duration::from_secs(1);
    println!("mock Zoom listening on {}", zoom.addr());

    let mut client = zoom_ws::Client::new(config)?;
    let stop = client.stop_handle();
    client.on_state(|change| println!("  [state] {change:?}"));
    let mut seen = 0;
    client.run(|event| {
        seen += 1;
        println!("{}", event.json_line());
        println!("  -> {} at {:?}", event.name(), event.event_ts());
        if seen == events.len() {
            stop.stop();
        }
    })?;
    println!("received all {} events; stopped cleanly", events.len());
    Ok(())
}
