//! The `--version` text: which build this is, so a bug report says whether OpenSSL was the
//! system's or built in, and which optional parts the binary has.

/// The `--version` text of this binary.
pub fn version_text() -> String {
    let built = [
        ("journal", cfg!(journal)),
        ("relays", cfg!(feature = "relays")),
        ("service", cfg!(feature = "service")),
        ("ha", cfg!(feature = "ha")),
        ("vendored", cfg!(feature = "vendored")),
    ];
    let features: Vec<_> = built.iter().filter(|f| f.1).map(|f| f.0).collect();
    let mut platform = format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS);
    if cfg!(target_env = "musl") {
        platform.push_str("-musl");
    } else if cfg!(target_env = "gnu") {
        platform.push_str("-gnu");
    }
    let version = env!("CARGO_PKG_VERSION");
    render(version, &features, &platform, &tls_backend())
}

/// The lines `zoom-ws --version` prints (without the final newline); `platform` is
/// `arch-os[-env]`, e.g. `aarch64-linux-musl`.
fn render(version: &str, features: &[&str], platform: &str, tls: &str) -> String {
    let features = match features {
        [] => "none".to_string(),
        _ => features.join(", "),
    };
    format!("zoom-ws {version}\nfeatures: {features}\nplatform: {platform}\nTLS: {tls}")
}

/// native-tls and what it runs on. With OpenSSL, the version of the library actually linked
/// (the system's changes under a dynamic binary without a rebuild).
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
fn tls_backend() -> String {
    let origin = if cfg!(feature = "vendored") {
        "vendored, linked in"
    } else {
        "system library"
    };
    format!("native-tls, {} ({origin})", openssl::version::version())
}

#[cfg(target_os = "windows")]
fn tls_backend() -> String {
    "native-tls, SChannel (the system's)".into()
}

#[cfg(target_vendor = "apple")]
fn tls_backend() -> String {
    "native-tls, Security.framework (the system's)".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_version_features_platform_and_tls() {
        let tls = "native-tls, OpenSSL 3.6.1 27 Jan 2026 (vendored, linked in)";
        let features = ["actions", "vendored"];
        assert_eq!(
            render("0.1.0", &features, "aarch64-linux-musl", tls),
            "zoom-ws 0.1.0\nfeatures: actions, vendored\nplatform: aarch64-linux-musl\n\
             TLS: native-tls, OpenSSL 3.6.1 27 Jan 2026 (vendored, linked in)"
        );
        assert!(render("0.1.0", &[], "x", tls).contains("\nfeatures: none\n"));
    }

    #[test]
    fn this_build_reports_its_own_features_and_linked_openssl() {
        let text = version_text();
        assert!(text.starts_with(&format!("zoom-ws {}\n", env!("CARGO_PKG_VERSION"))));
        let line = |name: &str| {
            text.lines()
                .find(|l| l.starts_with(name))
                .unwrap()
                .to_string()
        };
        assert_eq!(
            line("features:").contains("vendored"),
            cfg!(feature = "vendored")
        );
        assert_eq!(line("features:").contains("ha"), cfg!(feature = "ha"));
        assert!(line("platform: ").starts_with(&format!("platform: {}", std::env::consts::ARCH)));
        #[cfg(target_os = "linux")]
        {
            // The version the library reports at run time, not a string we wrote.
            let linked = openssl::version::version();
            assert!(linked.starts_with("OpenSSL "), "{linked}");
            let tls = line("TLS: ");
            assert!(tls.contains(linked), "{tls}");
            let vendored = tls.ends_with("(vendored, linked in)");
            assert_eq!(vendored, cfg!(feature = "vendored"), "{tls}");
        }
    }
}
