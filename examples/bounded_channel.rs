//! Slow work off the loop: the event closure hands each event to a worker thread through a bounded
//! channel and never waits. When the worker falls behind and the channel is full, the event is
//! dropped, counted and logged — the loop keeps reading and sending heartbeats on time (a closure
//! that blocked instead would delay them, and a long block gets the connection dropped as dead).
//!
//! Runs against the mock Zoom (the `testing` feature), no account needed:
//!
//!     cargo run --example bounded_channel --features testing

use std::sync::mpsc::{TrySendError, sync_channel};
use std::thread;
use std::time::Duration;

use zoom_ws::testing::{MockZoom, Plan};

/// Events waiting for the worker; the memory they take is bounded by this.
const CAPACITY: usize = 64;
const EVENTS: usize = 500;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    let zoom = MockZoom::start()?;
    // A burst faster than the worker can take: 500 events back to back.
    zoom.plan(Plan::new().events(0, EVENTS));
    let config = zoom.config().heartbeat_interval(Duration::from_secs(1));

    let (sender, receiver) = sync_channel::<zoom_ws::Event>(CAPACITY);
    let worker = thread::spawn(move || {
        let mut done = 0usize;
        for event in receiver {
            // Stands for the slow part: a database write, an HTTP call…
            thread::sleep(Duration::from_millis(2));
            let _ = event.payload_json();
            done += 1;
        }
        done
    });

    let mut client = zoom_ws::Client::new(config)?;
    let stop = client.stop_handle();
    let (mut seen, mut dropped) = (0usize, 0usize);
    client.run(|event| {
        seen += 1;
        // `try_send`, never `send`: a full channel must not block the loop.
        match sender.try_send(event.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(lost)) => {
                dropped += 1;
                // Say it at once, then now and then: a log line per drop would slow the loop too.
                if dropped == 1 || dropped % 100 == 0 {
                    log::warn!(
                        "worker behind: dropped {} (event_ts {:?}); {dropped} dropped so far",
                        lost.name(),
                        lost.event_ts()
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                log::error!("the worker is gone; stopping");
                stop.stop();
            }
        }
        if seen == EVENTS {
            stop.stop();
        }
    })?;
    drop(sender); // the worker's loop ends once it has taken what is queued
    let handled = worker.join().expect("worker");
    println!("received {seen}, handled {handled}, dropped {dropped} (channel of {CAPACITY})");
    assert_eq!(
        handled + dropped,
        seen,
        "every event is either handled or counted as dropped"
    );
    Ok(())
}
