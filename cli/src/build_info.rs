//! The `--version` text: which build this is, so a bug report says whether OpenSSL was the
//! system's or built in, and which optional parts the binary has.

/// What one build is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildInfo {
    pub version: &'static str,
    /// The cargo features this binary was built with.
    pub features: Vec<&'static str>,
    /// `arch-os[-env]`, e.g. `aarch64-linux-musl`.
    pub platform: String,
    pub tls: String,
}

impl BuildInfo {
    /// This binary.
    pub fn current() -> BuildInfo {
        let built = [
            ("journal", cfg!(journal)),
            ("relays", cfg!(feature = "relays")),
            ("service", cfg!(feature = "service")),
            ("vendored", cfg!(feature = "vendored")),
        ];
        let features = built.iter().filter(|f| f.1).map(|f| f.0).collect();
        let env = std::env::consts::ARCH;
        let mut platform = format!("{env}-{}", std::env::consts::OS);
        if cfg!(target_env = "musl") {
            platform.push_str("-musl");
        } else if cfg!(target_env = "gnu") {
            platform.push_str("-gnu");
        }
        BuildInfo {
            version: env!("CARGO_PKG_VERSION"),
            features,
            platform,
            tls: tls_backend(),
        }
    }

    /// The lines `zoom-ws --version` prints (without the final newline).
    pub fn render(&self) -> String {
        let features = if self.features.is_empty() {
            "none".to_string()
        } else {
            self.features.join(", ")
        };
        format!(
            "zoom-ws {}\nfeatures: {features}\nplatform: {}\nTLS: {}",
            self.version, self.platform, self.tls
        )
    }
}

/// The `--version` text of this binary.
pub fn version_text() -> String {
    BuildInfo::current().render()
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
        let info = BuildInfo {
            version: "0.1.0",
            features: vec!["actions", "vendored"],
            platform: "aarch64-linux-musl".into(),
            tls: "native-tls, OpenSSL 3.6.1 27 Jan 2026 (vendored, linked in)".into(),
        };
        assert_eq!(
            info.render(),
            "zoom-ws 0.1.0\nfeatures: actions, vendored\nplatform: aarch64-linux-musl\n\
             TLS: native-tls, OpenSSL 3.6.1 27 Jan 2026 (vendored, linked in)"
        );
        let bare = BuildInfo {
            features: vec![],
            ..info
        };
        assert!(bare.render().contains("\nfeatures: none\n"));
    }

    #[test]
    fn this_build_reports_its_own_features_and_linked_openssl() {
        let info = BuildInfo::current();
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(
            info.features.contains(&"vendored"),
            cfg!(feature = "vendored")
        );
        assert!(info.platform.starts_with(std::env::consts::ARCH));
        #[cfg(target_os = "linux")]
        {
            // The version the library reports at run time, not a string we wrote.
            let linked = openssl::version::version();
            assert!(linked.starts_with("OpenSSL "), "{linked}");
            assert!(info.tls.contains(linked), "{}", info.tls);
            let vendored = info.tls.ends_with("(vendored, linked in)");
            assert_eq!(vendored, cfg!(feature = "vendored"), "{}", info.tls);
        }
    }
}
