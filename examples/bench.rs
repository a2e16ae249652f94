//! Throughput and peak memory of zoom-ws against a naive blocking client, on one flood of
//! realistic events from the mock Zoom on 127.0.0.1, measured in the same run.
//!
//!     cargo run --release --features testing --example bench [-- --events 200000 --rounds 5]
//!     cargo run --release --features testing --example bench -- --events 1 --serve 60   # a mock for outside tools
//!
//! Each round runs four variants, each in a fresh child process (so peak RSS is the client's own),
//! interleaved so machine noise hits all of them alike:
//!
//! - `a`  naive ceiling: a plain tungstenite read loop that parses the envelope and then the
//!   content into `serde_json::Value`;
//! - `a'` the same, also writing one compact JSON line per event into a buffered sink;
//! - `b`  `Client::run` with a closure that reads the event name;
//! - `c`  `Client::run` writing each event the way the CLI does (`Event::json_line` and a newline, flushed per
//!   event) into the same kind of sink.
//!
//! It prints events/s and peak RSS per variant and the paired ratios b/a and c/a′ (median, min,
//! max over the rounds).
//!
//! Through the command line, lossless or no figure (`--cli`, after `cargo build --release -p
//! zoom-ws-cli`; see `support/cli_bench.rs`):
//!
//!     cargo run --release --example bench -- --cli [--events 200000 --rounds 3 --bin PATH]

#[path = "support/cli_bench.rs"]
mod cli_bench;

use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use zoom_ws::testing::{Action, MockZoom, Plan, message_frame, text_frame};

const VARIANTS: [&str; 4] = ["a", "a'", "b", "c"];

/// A `meeting.participant_joined` event as Zoom sends it: about 860 bytes on the wire.
fn realistic_event() -> String {
    r#"{"event":"meeting.participant_joined","event_ts":1764507612345,"payload":{"account_id":"AbCdEfGhIjKlMnOpQrStUv","object":{"uuid":"4444AAAiAAAAAiAiAiiAii==","participant":{"public_ip":"203.0.113.17","user_id":"16778240","user_name":"Ada Lovelace","participant_user_id":"x1yCzABCDEfg23HiJKl4mN","customer_key":"","id":"x1yCzABCDEfg23HiJKl4mN","join_time":"2026-11-30T13:00:12Z","email":"ada@example.com","registrant_id":"","participant_uuid":"0A1B2C3D-4E5F-6A7B-8C9D-0E1F2A3B4C5D","phone_number":"","private_ip":"10.0.0.17"},"id":"81234567890","type":2,"topic":"Weekly engineering sync","host_id":"h0sTiDh0sTiDh0sTiDh0sT","duration":60,"start_time":"2026-11-30T13:00:00Z","timezone":"Europe/Berlin"}}}"#
        .to_string()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut events = 200_000usize;
    let mut rounds = 5usize;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cli" => return cli_bench::main(args.collect()),
            "--child" => {
                let variant = args.next().expect("variant");
                let oauth = args.next().expect("oauth url");
                let ws = args.next().expect("ws url");
                let n = args.next().expect("count").parse().expect("count");
                return child(&variant, &oauth, &ws, n);
            }
            // A standalone mock for measuring from outside (start-up time, profilers):
            // prints the two URLs, then floods each connection with --events frames.
            "--serve" => {
                let secs: u64 = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--serve SECONDS");
                let frame = text_frame(&message_frame(&realistic_event()));
                let zoom = MockZoom::start().expect("mock Zoom on 127.0.0.1");
                zoom.set_default_plan(Plan::new().then(Action::Repeat(Arc::new(frame), events)));
                println!(
                    "ZOOM_OAUTH_URL={}\nZOOM_WS_URL={}",
                    zoom.oauth_url(),
                    zoom.ws_url()
                );
                std::thread::sleep(std::time::Duration::from_secs(secs));
                return;
            }
            "--events" => {
                events = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--events N")
            }
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--rounds N")
            }
            other => panic!("unknown argument {other}"),
        }
    }

    let frame = text_frame(&message_frame(&realistic_event()));
    let zoom = MockZoom::start().expect("mock Zoom on 127.0.0.1");
    zoom.set_default_plan(Plan::new().then(Action::Repeat(Arc::new(frame.clone()), events)));
    println!(
        "flood: {events} message frames of {} bytes (event JSON {} bytes), {rounds} rounds, {} cores",
        frame.len(),
        realistic_event().len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let exe = std::env::current_exe().expect("current exe");
    let mut results: Vec<Vec<(f64, u64)>> = vec![Vec::new(); VARIANTS.len()];
    for round in 0..rounds {
        for (i, variant) in VARIANTS.iter().enumerate() {
            let output = Command::new(&exe)
                .args(["--child", variant, &zoom.oauth_url(), &zoom.ws_url()])
                .arg(events.to_string())
                .output()
                .expect("run child");
            let text = String::from_utf8_lossy(&output.stdout);
            let mut fields = text.split_whitespace();
            let eps: f64 = fields
                .next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| {
                    panic!(
                        "variant {variant} failed: {}",
                        String::from_utf8_lossy(&output.stderr)
                    )
                });
            let rss: u64 = fields.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            results[i].push((eps, rss));
        }
        eprintln!(
            "round {}: {}",
            round + 1,
            VARIANTS
                .iter()
                .zip(&results)
                .map(|(v, r)| format!("{v} {:.0}k/s", r[round].0 / 1000.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    println!();
    println!("variant                                   events/s (median, min-max)      peak RSS");
    let labels = [
        "a   naive: tungstenite + Value x2",
        "a'  naive + JSON line to sink",
        "b   Client::run, closure reads name",
        "c   Client::run, CLI line to sink",
    ];
    for (label, runs) in labels.iter().zip(&results) {
        let eps: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let rss = runs.iter().map(|r| r.1).max().unwrap_or(0);
        let (med, min, max) = stats(&eps);
        println!(
            "{label:<41} {:>7.0}k  ({:.0}k-{:.0}k)          {:.2} MiB",
            med / 1000.0,
            min / 1000.0,
            max / 1000.0,
            rss as f64 / 1024.0
        );
    }
    let ratio = |num: usize, den: usize| {
        let r: Vec<f64> = (0..rounds)
            .map(|k| results[num][k].0 / results[den][k].0)
            .collect();
        stats(&r)
    };
    let (bm, bmin, bmax) = ratio(2, 0);
    let (cm, cmin, cmax) = ratio(3, 1);
    println!();
    println!("b/a  = {bm:.2}  (min {bmin:.2}, max {bmax:.2}; paired per round)");
    println!("c/a' = {cm:.2}  (min {cmin:.2}, max {cmax:.2}; paired per round)");
}

fn stats(values: &[f64]) -> (f64, f64, f64) {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let median = sorted[sorted.len() / 2];
    (median, sorted[0], sorted[sorted.len() - 1])
}

/// Peak resident memory of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// One measured run; prints "events_per_second peak_rss_kib".
fn child(variant: &str, oauth: &str, ws: &str, n: usize) {
    let mut sink = BufWriter::with_capacity(64 * 1024, std::io::sink());
    let elapsed = match variant {
        "a" | "a'" => naive(oauth, ws, n, (variant == "a'").then_some(&mut sink)),
        // The naive client that prints every event: `println!`, stdout as the caller set it.
        "p" => {
            naive(oauth, ws, n, Some(&mut std::io::stdout()));
            return;
        }
        "b" | "c" => {
            let mut config = zoom_ws::Config::new("bench-id", "bench-secret", "bench-sub");
            config.oauth_url = oauth.to_string();
            config.ws_url = ws.to_string();
            let mut client = zoom_ws::Client::new(config).expect("config");
            let stop = client.stop_handle();
            let write_lines = variant == "c";
            let mut seen = 0usize;
            let mut start = None;
            client
                .run(|event| {
                    start.get_or_insert_with(Instant::now);
                    if write_lines {
                        sink.write_all(event.json_line().as_bytes()).expect("sink");
                        sink.write_all(b"\n").expect("sink");
                        sink.flush().expect("sink");
                    } else {
                        black_box(event.name());
                    }
                    seen += 1;
                    if seen == n {
                        stop.stop();
                    }
                })
                .expect("run");
            start.expect("events").elapsed()
        }
        other => panic!("unknown variant {other}"),
    };
    println!("{:.0} {}", n as f64 / elapsed.as_secs_f64(), peak_rss_kib());
}

/// The naive blocking client: what a straightforward implementation does per frame.
fn naive(oauth: &str, ws: &str, n: usize, mut sink: Option<&mut dyn Write>) -> std::time::Duration {
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let body = agent
        .post(oauth)
        .header("Authorization", "Basic YmVuY2gtaWQ6YmVuY2gtc2VjcmV0")
        .content_type("application/x-www-form-urlencoded")
        .send("grant_type=client_credentials")
        .expect("token")
        .body_mut()
        .read_to_string()
        .expect("token body");
    let token: serde_json::Value = serde_json::from_str(&body).expect("token json");
    let url = format!(
        "{ws}?subscriptionId=bench-sub&access_token={}",
        token["access_token"].as_str().expect("token")
    );
    let (mut socket, _) = tungstenite::connect(url).expect("connect");
    let mut seen = 0usize;
    let mut start = None;
    while seen < n {
        let tungstenite::Message::Text(text) = socket.read().expect("read") else {
            continue;
        };
        let envelope: serde_json::Value = serde_json::from_str(&text).expect("envelope");
        if envelope["module"] != "message" {
            continue;
        }
        start.get_or_insert_with(Instant::now);
        let content = envelope["content"].as_str().expect("content");
        let event: serde_json::Value = serde_json::from_str(content).expect("event");
        if let Some(sink) = sink.as_deref_mut() {
            writeln!(sink, "{event}").expect("sink");
        } else {
            black_box(&event);
        }
        seen += 1;
    }
    start.expect("events").elapsed()
}
