//! Settings through the command line, as a new user meets them: a wrong one stops zoom-ws at
//! start with exit 2 and the setting's name, before a single byte leaves the host (a capturing
//! server and a capturing proxy on 127.0.0.1 prove it); unknown names are warned about; the
//! `.env` read is named; log lines are escaped; `--event`, `--max-events` and `--help`.

mod capture;
mod mock;

use std::process::{Command, Output};

use capture::Capture;
use mock::{MockZoom, Plan, TokenAnswer, cli, message_frame, temp_dir, watchdog};

/// The CLI with `changes` to the environment of [`cli`], aimed at `capture` for the token.
fn cli_at(capture: &Capture, changes: &[(&str, &str)]) -> Command {
    let mock_like = MockZoom::start();
    let mut cmd = cli(&mock_like);
    cmd.env(
        "ZOOM_OAUTH_URL",
        format!("http://127.0.0.1:{}/oauth/token", capture.port()),
    );
    cmd.env(
        "ZOOM_WS_URL",
        format!("ws://127.0.0.1:{}/ws", capture.port()),
    );
    for (name, value) in changes {
        cmd.env(name, value);
    }
    cmd
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Exit 2, and an error line that names `setting`, says `says`, and is the only line it takes.
fn assert_refused(output: &Output, setting: &str, says: &str) -> String {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    let error = text
        .lines()
        .find(|l| l.contains(" ERROR "))
        .unwrap_or_else(|| panic!("no error line in {text}"));
    assert!(error.contains(&format!("ERROR {setting} ")), "{error}");
    assert!(error.contains(says), "{error}");
    for line in text.lines() {
        assert!(
            line.starts_with("20"),
            "a line that is not a log line: {line:?}"
        );
    }
    text
}

#[test]
fn a_line_break_in_the_socket_url_reaches_neither_the_proxy_nor_the_host() {
    let _w = watchdog(30);
    let target = Capture::silent();
    let proxy = Capture::silent();
    let injected = "ws://evil.example\r\nX-Injected: yes\r\nFoo: bar:80/ws";
    let proxy_url = format!("http://alice:hunter2@127.0.0.1:{}", proxy.port());
    for with_proxy in [false, true] {
        let mut cmd = cli_at(&target, &[("ZOOM_WS_URL", injected)]);
        if with_proxy {
            cmd.env("HTTPS_PROXY", &proxy_url);
        }
        let text = assert_refused(
            &cmd.output().unwrap(),
            "ZOOM_WS_URL",
            "control character '\\r'",
        );
        assert!(!text.contains("hunter2"), "{text}");
    }
    target.assert_nothing_received();
    proxy.assert_nothing_received();
}

#[test]
fn a_line_break_or_space_in_the_token_url_is_exit_2_before_any_request() {
    let _w = watchdog(30);
    let target = Capture::silent();
    let port = target.port();
    for (bad, says) in [
        (
            format!("http://127.0.0.1:{port}/oauth/token\r\nX-Injected: yes"),
            "control character",
        ),
        (format!("http://127.0.0.1:{port}/oauth /token"), "space"),
    ] {
        let output = cli_at(&target, &[("ZOOM_OAUTH_URL", &bad)])
            .output()
            .unwrap();
        assert_refused(&output, "ZOOM_OAUTH_URL", says);
    }
    target.assert_nothing_received();
}

#[test]
fn cleartext_to_another_host_is_exit_2_unless_allowed_and_then_warned() {
    let _w = watchdog(30);
    let target = Capture::silent();
    let output = cli_at(
        &target,
        &[("ZOOM_OAUTH_URL", "http://zoom.example/oauth/token")],
    )
    .output()
    .unwrap();
    assert_refused(
        &output,
        "ZOOM_OAUTH_URL",
        "would cross the network in clear",
    );
    let output = cli_at(&target, &[("ZOOM_WS_URL", "ws://zoom.example/ws")])
        .output()
        .unwrap();
    assert_refused(
        &output,
        "ZOOM_WS_URL",
        "the access token would cross the network in clear",
    );
    target.assert_nothing_received();

    // Allowed: a warning at start, and the run works.
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let output = cli(&mock)
        .env("ZOOM_ALLOW_INSECURE", "1")
        .args(["--max-events", "1"])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let warning = text
        .lines()
        .find(|l| l.contains("ZOOM_ALLOW_INSECURE=1"))
        .expect(&text);
    assert!(
        warning.contains(" WARN ") && warning.contains("in clear"),
        "{warning}"
    );
}

#[test]
fn huge_ids_and_secrets_are_exit_2_before_any_request() {
    let _w = watchdog(30);
    let target = Capture::silent();
    let huge = "Q".repeat(100_000);
    for name in [
        "ZOOM_SUBSCRIPTION_ID",
        "ZOOM_CLIENT_SECRET",
        "ZOOM_CLIENT_ID",
    ] {
        let output = cli_at(&target, &[(name, &huge)]).output().unwrap();
        let text = assert_refused(&output, name, "100000 bytes long");
        assert!(!text.contains("QQQQ"), "the value is not shown");
    }
    target.assert_nothing_received();
}

#[test]
fn the_subscription_id_in_the_url_alone_is_used_and_named() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let output = cli(&mock)
        .env_remove("ZOOM_SUBSCRIPTION_ID")
        .env(
            "ZOOM_WS_URL",
            format!("{}?subscriptionId=from-url", mock.ws_url()),
        )
        .args(["--max-events", "1"])
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("subscription from-url is live"), "{text}");
    assert!(!text.contains("mock-sub"), "{text}");
    assert!(mock.socket_queries()[0].starts_with("subscriptionId=from-url&"));
}

#[test]
fn a_url_id_and_a_different_setting_are_exit_2() {
    let _w = watchdog(30);
    let target = Capture::silent();
    let url = format!("ws://127.0.0.1:{}/ws?subscriptionId=real", target.port());
    let output = cli_at(
        &target,
        &[("ZOOM_WS_URL", &url), ("ZOOM_SUBSCRIPTION_ID", "a,b")],
    )
    .output()
    .unwrap();
    assert_refused(&output, "ZOOM_SUBSCRIPTION_ID", "(real) differ");
    target.assert_nothing_received();
}

#[test]
fn user_info_and_raw_non_ascii_in_urls_are_exit_2() {
    let _w = watchdog(30);
    let target = Capture::silent();
    let port = target.port();
    let output = cli_at(
        &target,
        &[(
            "ZOOM_WS_URL",
            &format!("ws://user:pass@127.0.0.1:{port}/ws"),
        )],
    )
    .output()
    .unwrap();
    let text = assert_refused(&output, "ZOOM_WS_URL", "user info");
    assert!(!text.contains("pass@"), "{text}");
    let output = cli_at(
        &target,
        &[("ZOOM_WS_URL", &format!("ws://127.0.0.1:{port}/wß"))],
    )
    .output()
    .unwrap();
    assert_refused(&output, "ZOOM_WS_URL", "%C3%9F");
    target.assert_nothing_received();
}

#[test]
fn unknown_names_are_warned_with_the_nearest_and_the_env_file_is_named() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    let dir = temp_dir();
    std::fs::write(dir.join(".env"), "ZOOM_ACOUNT_ID=acc\n").unwrap();
    let output = cli(&mock)
        .current_dir(&dir)
        .env_remove("ZOOM_CLIENT_ID")
        .env("ZOOM_CLIENTID", "mock-client-id")
        .output()
        .unwrap();
    let text = stderr(&output);
    let full = std::fs::canonicalize(dir.join(".env")).unwrap();
    assert!(
        text.contains(&format!("INFO  settings: reading {}", full.display())),
        "{text}"
    );
    assert!(
        text.contains(
            "WARN  ZOOM_CLIENTID (in the environment) is not a zoom-ws setting and is \
                       ignored; did you mean ZOOM_CLIENT_ID?"
        ),
        "{text}"
    );
    assert!(
        text.contains("ZOOM_ACOUNT_ID (in .env)") && text.contains("ZOOM_ACCOUNT_ID?"),
        "{text}"
    );
    assert_refused(&output, "ZOOM_CLIENT_ID", "is not set");

    // No .env: the line says where it looked.
    let empty = temp_dir();
    let output = cli(&mock)
        .current_dir(&empty)
        .env("ZOOM_WS_URL", "ws://bad host")
        .output()
        .unwrap();
    let where_ = std::fs::canonicalize(&empty).unwrap().join(".env");
    let text = stderr(&output);
    assert!(
        text.contains(&format!("no .env file at {}", where_.display())),
        "{text}"
    );
}

#[test]
fn control_characters_never_reach_the_log_raw() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    let forged = "\n2026-01-01T00:00:00.000Z INFO  forged";
    // In a name, in a value, and in Zoom's own answer.
    let output = cli(&mock)
        .env(format!("ZOOM_X{forged}"), "1")
        .env("ZOOM_HEARTBEAT_INTERVAL", format!("1{forged}"))
        .output()
        .unwrap();
    let text = assert_refused(&output, "ZOOM_HEARTBEAT_INTERVAL", "\\n2026");
    assert!(text.contains("WARN  ZOOM_X\\n2026"), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.contains("INFO  forged") && l.starts_with("2026-01-01"))
    );
    mock.token_answer(TokenAnswer::status(
        401,
        &format!(
            r#"{{"error":"invalid_client","reason":"bad{}"}}"#,
            forged.replace('\n', "\\n")
        ),
    ));
    let output = cli(&mock).output().unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("bad\\n2026"), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("2026-01-01")), "{text}");
}

#[test]
fn event_takes_comma_lists_and_max_events_0_is_exit_2() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    let event = |name: &str, seq: u64| {
        message_frame(&format!(
            r#"{{"event":"{name}","event_ts":{seq},"payload":{{}}}}"#
        ))
    };
    mock.plan(
        Plan::new()
            .text(event("meeting.participant_joined", 1))
            .events(0, 1)
            .text(event("meeting.ended", 2)),
    );
    let output = cli(&mock)
        .args([
            "--event",
            "meeting.participant_joined,meeting.ended",
            "--max-events",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| {
            if l.contains("participant_joined") {
                "joined"
            } else if l.contains("meeting.ended") {
                "ended"
            } else {
                l
            }
        })
        .collect();
    assert_eq!(names, ["joined", "ended"], "{stdout}");
    assert!(!stdout.contains("meeting.started"), "{stdout}");

    let output = cli(&mock).args(["--max-events", "0"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--max-events needs a whole number above 0"));
    let output = cli(&mock).args(["--event", " , "]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

/// Every entry of a help section starts two spaces in, its description in one column; every
/// continuation line starts in that column.
#[test]
fn help_continuation_lines_are_aligned() {
    let _w = watchdog(30);
    let mock = MockZoom::start();
    let output = cli(&mock).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    let mut sections = 0;
    for header in ["Options:", "Settings "] {
        let start = help.find(&format!("\n{header}")).expect(header) + 1;
        let lines: Vec<&str> = help[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        let want = description_column(lines[0]).expect("a description column");
        for line in &lines {
            let indent = line.len() - line.trim_start().len();
            assert!(indent == 2 || indent == want, "{line:?} in {header}");
            if indent == 2 {
                if let Some(col) = description_column(line) {
                    assert_eq!(col, want, "{line:?}");
                }
            }
        }
        sections += 1;
    }
    assert_eq!(sections, 2);
    assert!(help.contains("ZOOM_ALLOW_INSECURE"));
}

/// Where the description of a help entry starts: after the first run of two or more spaces.
fn description_column(line: &str) -> Option<usize> {
    let gap = line[2..].find("  ")? + 2;
    Some(gap + line[gap..].len() - line[gap..].trim_start().len())
}
