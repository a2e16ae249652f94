//! Slow work without slowing the loop: the closure given to `Client::run` runs on the loop that
//! sends heartbeats, so it must return well within the heartbeat interval. Hand each event to a
//! worker thread through a bounded channel instead, and decide what happens when it is full —
//! here: drop the event, count it, and say so (never block the loop, never grow without bound).
//!
//!     cargo run --example slow_consumer
//!
//! Runs against the mock Zoom from the test tree (no account needed): 50 events arrive in a
//! burst, the worker takes 20 ms each, the channel holds 16; heartbeats stay on time throughout.

#[path = "../tests/mock/mod.rs"]
mod mock;

use std::sync::mpsc::{TrySendError, sync_channel};
use std::time::Duration;

use mock::{MockZoom, Plan};

fn main() -> Result<(), zoom_ws::Error> {
    let zoom = MockZoom::start();
    zoom.plan(Plan::new().events(0, 50).sleep(3.0));
    let mut config = zoom.config();
    config.heartbeat_interval = Duration::from_millis(500);

    // The worker: slow on purpose (a database write, an HTTP call…). It owns what it is sent.
    let (tx, rx) = sync_channel::<String>(16);
    let worker = std::thread::spawn(move || {
        let mut done = 0;
        for _line in rx {
            std::thread::sleep(Duration::from_millis(20));
            done += 1;
        }
        done
    });

    let mut client = zoom_ws::Client::new(config)?;
    let stop = client.stop_handle();
    let stats = client.stats();
    let (mut sent, mut dropped) = (0u64, 0u64);
    // End the demo after two seconds (a signal would, in a real program).
    let timer = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        timer.stop();
    });
    client.run(|event| {
        // Never `send` (it would block the loop when the worker falls behind): `try_send`.
        match tx.try_send(event.json_line().into_owned()) {
            Ok(()) => sent += 1,
            Err(TrySendError::Full(_)) => {
                dropped += 1;
                if dropped.is_power_of_two() {
                    eprintln!("worker behind: dropped {dropped} events so far (a larger channel, or a journal, keeps them)");
                }
            }
            Err(TrySendError::Disconnected(_)) => stop.stop(),
        }
    })?;
    drop(tx);
    let done = worker.join().expect("the worker");
    let s = stats.snapshot();
    println!(
        "{sent} handed over, {done} done by the worker, {dropped} dropped (counted, said); \
         {} heartbeats sent, {} answered while the worker lagged",
        s.heartbeats_sent, s.heartbeats_answered
    );
    Ok(())
}
