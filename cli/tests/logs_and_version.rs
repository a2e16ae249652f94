//! What an operator reads: log lines under systemd's journal carry syslog priorities and no
//! timestamp of ours; `--version` names the build's features and the OpenSSL it runs on.

mod mock;
use mock::{MockZoom, Plan, cli, watchdog};

#[test]
fn under_the_journal_lines_carry_priorities_and_no_timestamp() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 2));
    let output = cli(&mock)
        .env("JOURNAL_STREAM", "8:12345")
        .env("ZOOM_CLIENTID", "typo")
        .args(["--max-events", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(!lines.is_empty());
    for line in &lines {
        // `<N>` then the message at once: no timestamp, no level word (the journal has both).
        let (priority, rest) = line.split_once('>').expect("a priority");
        assert!(priority.starts_with('<') && priority.len() == 2, "{line:?}");
        let first = rest.split(' ').next().unwrap();
        assert!(
            !["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&first)
                && !first.starts_with("20"),
            "a level word or time after the priority: {line:?}"
        );
    }
    // The unknown-name warning at priority 4, the info lines at 6.
    assert!(
        lines.iter().any(
            |l| l.starts_with("<4>ZOOM_CLIENTID (in the environment) is not a zoom-ws setting")
        )
    );
    assert!(lines.iter().any(|l| l.starts_with("<6>settings: ")));
}

#[test]
fn without_the_journal_lines_start_with_a_utc_timestamp() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    mock.plan(Plan::new().events(0, 1));
    let output = cli(&mock).args(["--max-events", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for line in stderr.lines() {
        let stamp = line.split(' ').next().unwrap();
        assert!(stamp.len() == 24 && stamp.ends_with('Z'), "{line:?}");
    }
}

#[test]
fn version_names_features_and_the_tls_library() {
    let mock = MockZoom::start();
    let output = cli(&mock).arg("--version").output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.starts_with(&format!("zoom-ws {}", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("features:"), "{text}");
    assert!(text.contains("OpenSSL"), "{text}");
}
