//! Real networks against the mock, through the `zoom-ws` binary: the system roots plus
//! `ZOOM_CA_FILE`, a proxy password that never shows at trace level, and `--help`.

mod mock;
use mock::net::{ConnectProxy, test_ca_file, test_identity};
use mock::{MockZoom, Plan, cli, spawn_client, watchdog};
use std::time::Duration;
use zoom_ws::Config;

fn tls_mock() -> MockZoom {
    MockZoom::start_tls(test_identity())
}

/// The mock's config with the token endpoint named `localhost` and the socket by address, so a
/// proxy's log tells the two connections apart (the certificate is good for both names).
fn split_names(mock: &MockZoom) -> Config {
    let mut config = mock.config();
    config.oauth_url = mock.oauth_url().replace("127.0.0.1", "localhost");
    config
}

#[test]
fn zoom_ca_file_adds_to_the_system_roots_for_both_connections() {
    let _guard = watchdog(30);
    let mock = tls_mock();
    mock.plan(Plan::new().events(0, 1));
    let other_ca = test_ca_file().with_file_name("other-ca.pem");
    // Control: the unrelated CA alone does not vouch for the mock.
    let mut config = split_names(&mock);
    config.ca_file = Some(other_ca.clone());
    let client = spawn_client(config);
    let reason = client.first_failure_then_retry();
    assert!(reason.contains("is not trusted"), "{reason}");
    client.stop_promptly();
    // With the test CA among the system's roots (OpenSSL's SSL_CERT_FILE, set for the child
    // only), both connections trust the mock, although ZOOM_CA_FILE names another CA: the file
    // adds to the system's roots, for ureq's token request as for the socket.
    let mut child = cli(&mock)
        .env(
            "ZOOM_OAUTH_URL",
            mock.oauth_url().replace("127.0.0.1", "localhost"),
        )
        .env("SSL_CERT_FILE", test_ca_file())
        .env("ZOOM_CA_FILE", &other_ca)
        .args(["--max-events", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Untrusted, it would retry forever: a bound turns that into a failure.
    mock::wait_exit(&mut child, 15.0);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
    assert_eq!(mock.token_requests().len(), 1);
    assert_eq!(mock.connections(), 1);
}

/// The system's roots (`SSL_CERT_FILE`) are read once for the token request and the socket
/// together: a FIFO hands its content to one reader only, so a second read (native-tls read the
/// bundle twice, 0.9 MiB of an idle client's memory) would wait forever and nothing would arrive.
#[test]
#[cfg(all(unix, not(target_vendor = "apple")))]
fn the_system_roots_are_read_once_per_process() {
    let _guard = watchdog(30);
    let mock = tls_mock();
    mock.plan(Plan::new().events(0, 1));
    let fifo = std::env::temp_dir().join(format!("zoom-ws-roots-{}.pem", std::process::id()));
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.unwrap().success(), "mkfifo {}", fifo.display());
    let pem = std::fs::read(test_ca_file()).unwrap();
    let path = fifo.clone();
    // Opening a FIFO to write waits for its reader; once written and closed, a later open to
    // read waits for a writer that never comes.
    std::thread::spawn(move || std::fs::write(path, pem));
    let mut child = cli(&mock)
        .env("SSL_CERT_FILE", &fifo)
        .args(["--max-events", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = mock::wait_exit(&mut child, 15.0);
    let output = child.wait_with_output().unwrap();
    std::fs::remove_file(&fifo).ok();
    assert_eq!(status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 1);
    assert_eq!((mock.token_requests().len(), mock.connections()), (1, 1));
}

#[test]
fn a_ca_file_that_cannot_work_is_a_config_error_naming_zoom_ca_file() {
    let _guard = watchdog(30);
    let mock = tls_mock();
    let not_pem = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/certs/README.md"
    ));
    for path in [
        test_ca_file().with_file_name("missing.pem"),
        not_pem.clone(),
    ] {
        let mut config = mock.config();
        config.ca_file = Some(path.clone());
        let err = zoom_ws::Client::new(config).unwrap_err();
        assert!(err.is_fatal());
        assert!(err.to_string().starts_with("ZOOM_CA_FILE ("), "{err}");
    }
    let output = cli(&mock).env("ZOOM_CA_FILE", &not_pem).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ZOOM_CA_FILE"), "{stderr}");
}

#[test]
fn proxy_password_never_appears_at_trace_level() {
    let _guard = watchdog(60);
    let password = "Pr0xy-Pa55-Secret";
    let proxy = ConnectProxy::requiring("alice", password);
    let mock = tls_mock();
    mock.plan(Plan::new().events(0, 2));
    let oauth_url = mock.oauth_url().replace("127.0.0.1", "localhost");
    let run = |url: String, extra: &[&str]| {
        let output = cli(&mock)
            .env("ZOOM_OAUTH_URL", &oauth_url)
            .env("ZOOM_CA_FILE", test_ca_file())
            .env("HTTPS_PROXY", url)
            .env("RUST_LOG", "trace")
            .args(extra)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.code(), all)
    };
    let forbidden = [
        password.to_string(),
        "YWxpY2U6UHIweHktUGE1NS1TZWNyZXQ".to_string(), // base64 of alice:password
        "alice".to_string(),
    ];
    // Credentials accepted: events flow through the proxy.
    let (code, all) = run(
        format!("http://alice:{password}@{}", proxy.addr()),
        &["--max-events", "2"],
    );
    assert_eq!(code, Some(0), "{all}");
    assert!(
        all.contains("TRACE") || all.contains("DEBUG"),
        "trace logging was on"
    );
    assert_eq!(proxy.requests().len(), 2);
    for secret in &forbidden {
        assert!(!all.contains(secret.as_str()), "{secret} leaked:\n{all}");
    }
    // Credentials refused: the error is logged, the client retries, SIGTERM ends it.
    let mut child = cli(&mock)
        .env("ZOOM_OAUTH_URL", &oauth_url)
        .env("ZOOM_CA_FILE", test_ca_file())
        .env(
            "HTTPS_PROXY",
            format!("http://alice:{password}x@{}", proxy.addr()),
        )
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Drained on threads: trace output can outgrow a pipe while the client retries.
    let drain = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            pipe.read_to_string(&mut text).ok();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let until = std::time::Instant::now() + Duration::from_secs(20);
    while proxy.requests().len() < 4 {
        assert!(
            std::time::Instant::now() < until,
            "no retries through the proxy"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    mock::signal(&child, libc::SIGTERM);
    let status = mock::wait_exit(&mut child, 5.0);
    assert_eq!(status.code(), Some(0));
    let all = stdout.join().unwrap() + &stderr.join().unwrap();
    assert!(all.contains("refused the user name and password"), "{all}");
    for secret in &forbidden {
        assert!(!all.contains(secret.as_str()), "{secret} leaked:\n{all}");
    }
}

#[test]
fn help_lists_the_network_settings() {
    let _guard = watchdog(30);
    let mock = MockZoom::start();
    let output = cli(&mock).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&output.stdout);
    for name in ["ZOOM_CA_FILE", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"] {
        assert!(help.contains(name), "{name} missing from --help");
    }
}
