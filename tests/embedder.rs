//! What an embedder sees, through the `testing` feature's mock as their own tests would use it:
//! events sent on demand, the faults (close, reset, refuse), the cause of a disconnection as a
//! value, `give_up_after`, and every setting problem at once.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use zoom_ws::testing::MockZoom;
use zoom_ws::{Client, Config, Error, StateChange};

const EVENT: &str = r#"{"event":"meeting.started","event_ts":1,"payload":{"object":{"id":"7"}}}"#;

/// A client on a thread; its event names and state changes on channels.
fn spawn(
    config: Config,
) -> (
    zoom_ws::StopHandle,
    mpsc::Receiver<String>,
    mpsc::Receiver<StateChange>,
    std::thread::JoinHandle<zoom_ws::Result<()>>,
) {
    let mut client = Client::new(config).expect("the mock's config is valid");
    let (events_tx, events) = mpsc::channel();
    let (states_tx, states) = mpsc::channel();
    client.on_state(move |change| drop(states_tx.send(change.clone())));
    let stop = client.stop_handle();
    let thread = std::thread::spawn(move || {
        client.run(|event| drop(events_tx.send(event.name().to_string())))
    });
    (stop, events, states, thread)
}

fn wait_for(
    states: &mpsc::Receiver<StateChange>,
    want: impl Fn(&StateChange) -> bool,
) -> StateChange {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let change = states.recv_timeout(left).expect("the state change in time");
        if want(&change) {
            return change;
        }
    }
}

#[test]
fn events_on_demand_and_the_faults_a_handler_meets() {
    let zoom = MockZoom::start().unwrap();
    let (stop, events, states, thread) = spawn(zoom.config());
    let connected = |s: &StateChange| *s == StateChange::Connected;
    wait_for(&states, connected);
    zoom.send_event(EVENT);
    let within = Duration::from_secs(20);
    assert_eq!(events.recv_timeout(within).unwrap(), "meeting.started");
    // Zoom closes the connection: an ordinary end (no error), then the client is back.
    zoom.close();
    let change = wait_for(&states, |s| matches!(s, StateChange::Disconnected { .. }));
    assert!(
        matches!(change, StateChange::Disconnected { error: None, .. }),
        "{change:?}"
    );
    wait_for(&states, connected);
    // The connection breaks: the same, and events flow again.
    zoom.reset();
    wait_for(&states, |s| matches!(s, StateChange::Disconnected { .. }));
    wait_for(&states, connected);
    zoom.send_event(EVENT);
    assert_eq!(events.recv_timeout(within).unwrap(), "meeting.started");
    stop.stop();
    thread.join().unwrap().unwrap();
}

#[test]
fn a_refused_subscription_is_rejected_in_types_and_give_up_after_ends_the_run() {
    let zoom = MockZoom::start().unwrap();
    zoom.refuse(true);
    let config = zoom.config().give_up_after(Duration::from_secs(1));
    let (_stop, _events, states, thread) = spawn(config);
    let change = wait_for(&states, |s| {
        matches!(s, StateChange::Disconnected { error: Some(_), .. })
    });
    let StateChange::Disconnected {
        error: Some(Error::Rejected { reason }),
        ..
    } = change
    else {
        panic!("not a rejection: {change:?}");
    };
    assert!(reason.contains("Invalid Token"), "{reason}");
    let started = Instant::now();
    let result = thread.join().unwrap();
    assert!(
        matches!(result, Err(Error::Rejected { .. })),
        "run() returned {result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn setters_for_every_field() {
    let config = Config::new("a", "b", "c")
        .client_id("id")
        .client_secret("secret")
        .subscription_id("sub")
        .ws_url("ws://zoom.example:8080/ws")
        .oauth_url("http://zoom.example:8080/oauth/token")
        .allow_insecure(true)
        .give_up_after(Duration::from_secs(60));
    assert_eq!(
        (config.client_id.as_str(), config.subscription_id.as_str()),
        ("id", "sub")
    );
    assert_eq!(config.client_secret.expose(), "secret");
    assert_eq!(config.give_up_after, Some(Duration::from_secs(60)));
    // Cleartext to another host is allowed only because of allow_insecure.
    config.validate().unwrap();
    assert!(config.allow_insecure(false).validate().is_err());
}

#[test]
fn every_setting_problem_at_once_in_the_words_of_the_environment() {
    let problems = Config::from_lookup_all(|name| match name {
        "ZOOM_WS_URL" => Some("https://ws.zoom.us/ws".into()),
        "ZOOM_HEARTBEAT_INTERVAL" => Some("soon".into()),
        _ => None,
    })
    .unwrap_err();
    let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let named: Vec<&str> = said.iter().map(|p| p.split(' ').next().unwrap()).collect();
    for setting in [
        "ZOOM_CLIENT_ID",
        "ZOOM_CLIENT_SECRET",
        "ZOOM_SUBSCRIPTION_ID",
        "ZOOM_HEARTBEAT_INTERVAL",
        "ZOOM_WS_URL",
    ] {
        assert_eq!(
            named.iter().filter(|n| **n == setting).count(),
            1,
            "{setting}: {said:?}"
        );
    }
    assert!(
        said[0].contains("is not set in the environment (nor CLIENT_USERNAME)"),
        "{said:?}"
    );
    assert!(said.iter().all(|p| !p.contains(".env")), "{said:?}");
    // from_lookup gives the first of them.
    let first = Config::from_lookup(|_| None).unwrap_err().to_string();
    assert_eq!(first, said[0]);
}
