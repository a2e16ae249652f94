//! The whole path through the `zoom-ws` binary against the mock Zoom: events on stdout, the
//! `.env` file, exit codes, signals, secrets in its output, `--help`.

mod mock;
use mock::{Action, MockZoom, Plan, TokenAnswer, cli, event_json, watchdog};
use std::time::{Duration, Instant};

#[test]
fn thousand_events_reach_stdout_as_json_lines() {
    let _guard = watchdog(60);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1000));
    let output = cli(&mock).args(["--max-events", "1000"]).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1000);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, event_json(i), "line {i}");
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["event"], "meeting.started");
    }
}

#[test]
fn seed_sample_env_file_works_unchanged() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 3));
    let dir = mock::temp_dir();
    let env = format!(
        "CLIENT_USERNAME=mock-client-id\nCLIENT_PASSWORD=mock-client-secret\nSUBSCRIPTION_ID=mock-sub\n\n\
         OAUTH_URL={}\nWS_URL={}\n",
        mock.oauth_url(),
        mock.ws_url()
    );
    std::fs::write(dir.join(".env"), env).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_zoom-ws"))
        .env_clear()
        .current_dir(&dir)
        .args(["--max-events", "3"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8(output.stdout).unwrap().lines().count(), 3);
    assert_eq!(
        mock.token_requests()[0].body,
        "grant_type=client_credentials"
    );
}

#[test]
fn env_file_option_and_real_environment_wins() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let dir = mock::temp_dir();
    let file = dir.join("custom.env");
    std::fs::write(
        &file,
        "ZOOM_CLIENT_ID=from-file\nZOOM_CLIENT_SECRET=file-secret\nZOOM_SUBSCRIPTION_ID=file-sub\n",
    )
    .unwrap();
    let output = cli(&mock)
        .env_remove("ZOOM_CLIENT_SECRET")
        .env_remove("ZOOM_SUBSCRIPTION_ID")
        .arg("--env-file")
        .arg(&file)
        .args(["--max-events", "1"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // ZOOM_CLIENT_ID came from the environment, the secret from the file.
    assert_eq!(
        mock.token_requests()[0].header("authorization"),
        Some("Basic bW9jay1jbGllbnQtaWQ6ZmlsZS1zZWNyZXQ=")
    );
    assert!(mock.socket_queries()[0].starts_with("subscriptionId=file-sub&"));
}

#[test]
fn exit_code_2_names_the_missing_setting() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let output = cli(&mock).env_remove("ZOOM_CLIENT_ID").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ZOOM_CLIENT_ID is not set"), "{stderr}");
    assert!(output.stdout.is_empty());
    let output = cli(&mock).arg("--frobnicate").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let output = cli(&mock)
        .env("ZOOM_HEARTBEAT_INTERVAL", "often")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("ZOOM_HEARTBEAT_INTERVAL"));
}

#[test]
fn exit_code_3_when_zoom_rejects_the_credentials() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.token_answer(TokenAnswer::status(
        400,
        r#"{"reason":"Invalid client_id or client_secret","error":"invalid_client"}"#,
    ));
    let output = cli(&mock).output().unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("Invalid client_id or client_secret"),
        "{stderr}"
    );
    assert_eq!(
        mock.token_requests().len(),
        1,
        "no retry on wrong credentials"
    );
    assert_eq!(mock.connections(), 0);
}

#[test]
fn nothing_secret_in_any_output_at_trace_level() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(
        Plan::new()
            .events(0, 5)
            .then(Action::Close(1001, "going away".into())),
    );
    mock.plan(Plan::new().events(5, 5));
    let secret = "Sup3r-S3cret-Client-Value";
    let output = cli(&mock)
        .env("ZOOM_CLIENT_SECRET", secret)
        .env("RUST_LOG", "trace")
        .args(["--max-events", "10"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        all.contains("TRACE") || all.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(!all.contains(secret), "client secret leaked");
    // The Basic credentials, whole or in part.
    assert!(
        !all.contains("bW9jay1jbGllbnQtaWQ6U3VwM3It"),
        "Basic credentials leaked"
    );
    for token in mock.issued_tokens() {
        assert!(!all.contains(&token), "token leaked");
        assert!(!all.contains(&token[..20]), "part of the token leaked");
    }
    assert!(!all.contains("access_token="), "socket URL leaked");
    assert!(!all.contains("subscriptionId="), "socket URL leaked");
}

#[test]
fn sigterm_sigint_and_sighup_exit_0_within_a_second() {
    let _guard = watchdog(30);
    for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let mock = MockZoom::start();
        mock.plan(Plan::new().events(0, 1));
        let (mut child, _stdout, line) = mock::cli_first_line(&mut cli(&mock));
        assert_eq!(line, event_json(0));
        let start = Instant::now();
        mock::signal(&child, signal);
        let status = mock::wait_exit(&mut child, 5.0);
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(status.code(), Some(0));
        let stderr = mock::stderr_of(&mut child);
        assert!(stderr.contains("summary: 1 events taken"), "{stderr}");
        assert!(
            stderr.contains("summary stdout: 1 delivered, 0 failed, 0 retries, 0 dropped"),
            "{stderr}"
        );
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(mock.closed_by_client(), 1);
    }
}

#[test]
fn help_and_version() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let output = cli(&mock).arg("--help").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("--max-events"));
    let output = cli(&mock).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("zoom-ws "));
}

#[test]
#[cfg(unix)]
fn an_argument_that_is_not_utf8_is_a_usage_error_not_a_panic() {
    use std::os::unix::ffi::OsStrExt;
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let bad = std::ffi::OsStr::from_bytes(b"meeting.\xff");
    let output = cli(&mock).arg("--event").arg(bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--event needs UTF-8 text"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let output = cli(&mock).arg("--bogus").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--bogus") && stderr.contains("--help"),
        "{stderr}"
    );
    assert_eq!(mock.connections(), 0);
}
