//! How fast `--forward` relays to a loopback receiver. Not part of the normal run (it prints a
//! figure, it asserts none beyond completeness):
//!
//!     cargo test --release -p zoom-ws-cli --test relay_throughput -- --ignored --nocapture

mod mock;
mod receiver;

use std::process::Stdio;
use std::time::Duration;

use mock::{MockZoom, Plan, cli, event_json, watchdog};
use receiver::Receiver;

#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn relay_events_per_second_to_a_loopback_receiver() {
    const EVENTS: usize = 20_000;
    let _guard = watchdog(300);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, EVENTS));
    let receiver = Receiver::start(Some("bench-secret"));
    let mut child = cli(&mock)
        .env("ZOOM_WEBHOOK_SECRET_TOKEN", "bench-secret")
        .env("RUST_LOG", "warn")
        .args(["--quiet", "--forward", &receiver.url(), "--queue"])
        .arg(EVENTS.to_string())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let received = receiver.wait_for(EVENTS, 240.0);
    mock::signal(&child, libc::SIGTERM);
    let status = mock::wait_exit(&mut child, 10.0);
    assert_eq!(status.code(), Some(0));
    assert!(receiver.bad_signatures().is_empty());
    assert_eq!(received.len(), EVENTS);
    assert_eq!(received[EVENTS - 1].body, event_json(EVENTS - 1));
    let elapsed = received[EVENTS - 1].at - received[0].at;
    let rate = (EVENTS - 1) as f64 / elapsed.max(Duration::from_micros(1)).as_secs_f64();
    println!(
        "relay: {EVENTS} signed events of {} bytes to a loopback receiver in {:.2} s: {rate:.0} \
         events/s, one post at a time over {} connection(s)",
        event_json(0).len(),
        elapsed.as_secs_f64(),
        receiver.connections()
    );
}
