//! What a new operator trips over, through the binary: every missing setting in one run, names
//! from other samples, the grant in use, a misspelt flag, `--quiet` alone, the `--forward` URL
//! checked like every other (and read from `ZOOM_FORWARD_URL`), and a host that cannot be looked
//! up named with its setting (in a network namespace of its own: no lookup leaves the machine).

mod mock;
mod receiver;

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mock::{MockZoom, Plan, cli, temp_dir, wait_exit, watchdog};
use receiver::Receiver;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn errors(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.contains(" ERROR ")).collect()
}

#[test]
fn with_nothing_set_every_missing_and_bad_setting_is_named_in_one_run() {
    let _w = watchdog(30);
    let output = Command::new(env!("CARGO_BIN_EXE_zoom-ws"))
        .env_clear()
        .current_dir(temp_dir())
        .env("ZOOM_GRACE", "soon")
        .env("ZOOM_HEARTBEAT_INTERVAL", "often")
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let errors = errors(&text);
    for (setting, says) in [
        (
            "ZOOM_CLIENT_ID",
            "is not set in the environment (nor CLIENT_USERNAME); add it there or to .env",
        ),
        ("ZOOM_CLIENT_SECRET", "(nor CLIENT_PASSWORD)"),
        ("ZOOM_SUBSCRIPTION_ID", "is not set in the environment"),
        ("ZOOM_HEARTBEAT_INTERVAL", "must be a number of seconds"),
        ("ZOOM_GRACE", "is not a number of seconds"),
    ] {
        let found: Vec<_> = errors.iter().filter(|l| l.contains(setting)).collect();
        assert_eq!(found.len(), 1, "{setting} once in {text}");
        assert!(found[0].contains(says), "{}", found[0]);
    }
    assert!(
        errors
            .last()
            .unwrap()
            .ends_with("5 settings to fix; nothing was sent"),
        "{text}"
    );
}

#[test]
fn a_bad_second_subscription_id_is_named_with_the_other_problems_before_anything_is_sent() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    let spool = temp_dir().join("journal");
    let output = cli(&mock)
        .env("ZOOM_SUBSCRIPTION_ID", "good,b@d")
        .env("ZOOM_GRACE", "soon")
        .env("ZOOM_SPOOL_DIR", &spool)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let errors = errors(&text);
    let id = errors.iter().find(|l| l.contains("ZOOM_SUBSCRIPTION_ID "));
    assert!(id.is_some_and(|l| l.contains("letters, digits")), "{text}");
    assert!(errors.iter().any(|l| l.contains("ZOOM_GRACE")), "{text}");
    assert!(
        errors
            .last()
            .unwrap()
            .ends_with("2 settings to fix; nothing was sent"),
        "{text}"
    );
    assert!(mock.token_requests().is_empty(), "no token was asked for");
    assert_eq!(mock.connections(), 0);
    assert!(!spool.exists(), "no journal was made");
}

#[test]
fn names_from_other_samples_are_warned_with_the_name_zoom_ws_reads_and_the_grant_is_said() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    mock.set_default_plan(Plan::new().events(0, 1));
    let dir = temp_dir();
    std::fs::write(dir.join(".env"), "clientId=abc\nZOOM_SECRET_TOKEN=x\n").unwrap();
    let output = cli(&mock)
        .current_dir(&dir)
        .env("ACCOUNT_ID", "acc")
        .args(["--max-events", "1"])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("WARN  ACCOUNT_ID (in the environment) is not read by zoom-ws; it reads ZOOM_ACCOUNT_ID: rename it (without it, tokens are asked for with grant_type=client_credentials"),
        "{text}"
    );
    assert!(
        text.contains(
            "ZOOM_SECRET_TOKEN (in .env) is not read by zoom-ws; it reads ZOOM_WEBHOOK_SECRET_TOKEN"
        ),
        "{text}"
    );
    // ZOOM_CLIENT_ID is set: clientId in the file is no trouble.
    assert!(!text.contains("clientId"), "{text}");
    assert!(
        text.contains("INFO  settings: tokens with grant_type=client_credentials"),
        "{text}"
    );

    let output = cli(&mock)
        .env("ZOOM_ACCOUNT_ID", "acc")
        .args(["--max-events", "1"])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("grant_type=account_credentials (ZOOM_ACCOUNT_ID is set"),
        "{text}"
    );
    let body = mock.token_requests().last().unwrap().body.clone();
    assert!(body.contains("grant_type=account_credentials"), "{body}");
}

#[test]
fn a_misspelt_flag_gets_the_nearest_and_quiet_alone_is_warned() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    let output = cli(&mock).args(["--max-event", "3"]).output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("did you mean --max-events?"), "{text}");
    assert_eq!(mock.token_requests().len(), 0);

    mock.set_default_plan(Plan::new().events(0, 1));
    let output = cli(&mock)
        .args(["--quiet", "--max-events", "1"])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "WARN  --quiet without --exec or --forward: events are received and then go nowhere"
        ),
        "{text}"
    );
}

#[test]
fn the_forward_url_is_checked_like_every_url_before_anything_is_sent() {
    let _w = watchdog(60);
    let mock = MockZoom::start();
    let long = format!("https://127.0.0.1/{}", "a".repeat(100_000));
    for (name, url, says) in [
        (
            "--forward",
            "http://hooks.example.com/zoom",
            "ZOOM_ALLOW_INSECURE=1",
        ),
        (
            "--forward",
            "http://alice:hunter2@127.0.0.1:9/hook",
            "must not hold user info",
        ),
        (
            "--forward",
            "https://127.0.0.1:9/h\u{f6}\u{f6}k",
            "percent-encode it (%C3%B6)",
        ),
        (
            "--forward",
            "https://127.0.0.1:9/hook%zz",
            "not followed by two hex digits",
        ),
        ("--forward", &long, "is 100018 bytes long; at most 2048"),
        (
            "ZOOM_FORWARD_URL",
            "http://bob:hunter2@127.0.0.1:9/hook",
            "must not hold user info",
        ),
    ] {
        let mut cmd = cli(&mock);
        match name {
            "--forward" => cmd.args(["--forward", url]),
            _ => cmd.env(name, url),
        };
        let output = cmd.output().unwrap();
        let text = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{url:.80}: {text:.2000}");
        let errors = errors(&text);
        assert_eq!(errors.len(), 1, "{text:.2000}");
        assert!(
            errors[0].contains(&format!("ERROR {name} ")),
            "{:.2000}",
            errors[0]
        );
        assert!(errors[0].contains(says), "{:.2000}", errors[0]);
        assert!(
            !text.contains("hunter2") && !text.contains("aaaaaaaa"),
            "{text:.2000}"
        );
    }
    assert_eq!(mock.token_requests().len(), 0, "nothing was sent");
    assert_eq!(mock.connections(), 0);
}

#[test]
fn the_forward_url_from_the_environment_delivers_and_stays_out_of_the_child_and_the_log() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    mock.set_default_plan(Plan::new().events(0, 3));
    let receiver = Receiver::start(None);
    let url = format!("{}?key=url-secret-8d2a", receiver.url());
    let dir = temp_dir();
    let output = cli(&mock)
        .current_dir(&dir)
        .env("ZOOM_FORWARD_URL", &url)
        .args([
            "--quiet",
            "--max-events",
            "3",
            "--exec",
            "env > child-env.txt",
        ])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(receiver.wait_for(3, 10.0).len(), 3);
    let child_env = std::fs::read_to_string(dir.join("child-env.txt")).unwrap();
    assert!(
        child_env.contains("ZOOM_EVENT=meeting.started"),
        "{child_env}"
    );
    assert!(!child_env.contains("url-secret-8d2a"), "{child_env}");
    assert!(!text.contains("url-secret-8d2a"), "{text}");
    assert!(!text.contains("go nowhere"), "{text}");
}

/// Runs `test` inside a new network namespace with only loopback up, by running this test binary
/// again there; true when this call is the inner one (and `test` ran).
fn in_own_network(name: &str, test: impl FnOnce()) -> bool {
    if std::env::var_os("ZOOM_WS_TEST_NETNS").is_some() {
        test();
        return true;
    }
    let me = std::env::current_exe().unwrap();
    let status = Command::new("unshare")
        .args([
            "-n",
            "--",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(me)
        .args(["--exact", name, "--nocapture", "--test-threads", "1"])
        .env("ZOOM_WS_TEST_NETNS", "1")
        .status();
    match status {
        Ok(status) => assert!(status.success(), "{name} in its own network: {status}"),
        // No unshare here: say so rather than pass in silence.
        Err(e) => panic!("unshare -n is needed for {name}: {e}"),
    }
    false
}

/// Runs the child for a few seconds, stops it, and checks that its stderr holds `needle`.
fn stderr_until(mut cmd: Command, needle: &str) -> String {
    let mut child = cmd
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).ok();
        text
    });
    // A few attempts (the retries are quick here), then stop it.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(100));
    }
    mock::signal(&child, libc::SIGTERM);
    wait_exit(&mut child, 10.0);
    let text = reader.join().unwrap();
    assert!(text.contains(needle), "{needle:?} not in {text}");
    text
}

#[test]
fn a_host_that_cannot_be_looked_up_is_named_with_its_setting() {
    let _w = watchdog(90);
    in_own_network(
        "a_host_that_cannot_be_looked_up_is_named_with_its_setting",
        || {
            let mock = MockZoom::start();
            let mut cmd = cli(&mock);
            cmd.env("ZOOM_WS_URL", "wss://ws.zoom-ws-test.invalid/ws");
            let text = stderr_until(
                cmd,
                "DNS lookup failed: the host of ZOOM_WS_URL, ws.zoom-ws-test.invalid:",
            );
            assert!(text.contains(" WARN "), "{text}");
            let mut cmd = cli(&mock);
            cmd.env(
                "ZOOM_OAUTH_URL",
                "https://oauth.zoom-ws-test.invalid/oauth/token",
            );
            stderr_until(
                cmd,
                "DNS lookup failed: the host of ZOOM_OAUTH_URL, oauth.zoom-ws-test.invalid",
            );
        },
    );
}

#[test]
fn an_idle_timeout_in_between_is_diagnosed_once_then_counted() {
    let _w = watchdog(60);
    let mock = MockZoom::start();
    // Every connection ends 0.25 s after Zoom's last frame, before the 0.5 s heartbeat: as a
    // proxy with a short idle timeout would end it.
    mock.set_default_plan(Plan::new().sleep(0.25).then(mock::Action::End));
    let mut child = cli(&mock)
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        pipe.read_to_string(&mut text).ok();
        text
    });
    let until = Instant::now() + Duration::from_secs(40);
    while mock.connections() < 8 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    mock::signal(&child, libc::SIGTERM);
    wait_exit(&mut child, 10.0);
    let text = reader.join().unwrap();
    assert!(mock.connections() >= 8, "{text}");
    let warned = text
        .lines()
        .filter(|l| l.contains(" WARN ") && l.contains("closes idle connections"))
        .count();
    assert_eq!(warned, 1, "{text}");
    assert!(text.contains("warned about above; seen 2 times"), "{text}");
}

/// The value of the sample `name{subscription="mock-sub"}` in a metrics text.
fn sample(text: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name}{{subscription=\"mock-sub\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_gap_is_counted_when_it_starts_and_its_seconds_grow_while_it_lasts() {
    let _w = watchdog(90);
    let mock = MockZoom::start();
    let dir = temp_dir();
    let metrics = dir.join("zoom-ws.prom");
    let mut child = cli(&mock)
        .current_dir(&dir)
        .args(["--metrics-file", "zoom-ws.prom"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let read = || std::fs::read_to_string(&metrics).unwrap_or_default();
    let wait_until = |what: &str, ok: &dyn Fn(&str) -> bool| {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let text = read();
            if ok(&text) {
                return text;
            }
            assert!(Instant::now() < until, "{what}: {text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_until("live", &|t| sample(t, "zoom_ws_up") == Some(1.0));
    // The outage: Zoom closes the connection and refuses every new one.
    mock.refuse(true);
    mock.close();
    let first = wait_until("a gap while down", &|t| {
        sample(t, "zoom_ws_up") == Some(0.0) && sample(t, "zoom_ws_gaps_total") == Some(1.0)
    });
    let seconds = sample(&first, "zoom_ws_gap_seconds_total").unwrap();
    let later = wait_until("the gap growing", &|t| {
        sample(t, "zoom_ws_gap_seconds_total").is_some_and(|s| s > seconds)
    });
    assert_eq!(
        sample(&later, "zoom_ws_gaps_total"),
        Some(1.0),
        "one gap: {later}"
    );
    // Back: still one gap, its time kept.
    mock.refuse(false);
    let back = wait_until("live again", &|t| sample(t, "zoom_ws_up") == Some(1.0));
    assert_eq!(sample(&back, "zoom_ws_gaps_total"), Some(1.0), "{back}");
    assert!(
        sample(&back, "zoom_ws_gap_seconds_total").unwrap() > seconds,
        "{back}"
    );
    mock::signal(&child, libc::SIGTERM);
    wait_exit(&mut child, 10.0);
}
