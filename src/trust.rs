//! Which TLS certificates we trust: the system's roots, plus the certificates of `ZOOM_CA_FILE`
//! (for a gateway or proxy that re-signs TLS). Verification itself is never switched off.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Phase, Result};

/// The roots in force: the system's plus `ZOOM_CA_FILE`'s, read once and shared (an `Arc`) by the
/// token request and every socket of every client built on the same [`TokenSource`](crate::TokenSource).
/// The socket's TLS connector is built on first use, so a `ws://` URL never loads the system's
/// roots.
pub(crate) struct Trust {
    ca_file: Option<PathBuf>,
    extra: Vec<native_tls::Certificate>,
    tls: OnceLock<native_tls::TlsConnector>,
}

impl Trust {
    /// Reads `ca_file`, when there is one.
    pub(crate) fn load(ca_file: Option<&Path>) -> Result<Arc<Trust>> {
        let extra = match ca_file {
            Some(path) => load_ca_file(path)?,
            None => Vec::new(),
        };
        Ok(Arc::new(Trust {
            ca_file: ca_file.map(Path::to_path_buf),
            extra,
            tls: OnceLock::new(),
        }))
    }

    /// True when this is what [`load`](Self::load) would give for `ca_file`.
    pub(crate) fn is_for(&self, ca_file: Option<&Path>) -> bool {
        self.ca_file.as_deref() == ca_file
    }

    /// The TLS connector of the sockets: the system's roots stay, the extra ones are added.
    pub(crate) fn tls_connector(&self) -> Result<&native_tls::TlsConnector> {
        if let Some(connector) = self.tls.get() {
            return Ok(connector);
        }
        let mut builder = native_tls::TlsConnector::builder();
        for cert in &self.extra {
            builder.add_root_certificate(cert.clone());
        }
        let built = builder
            .build()
            .map_err(|e| Error::connect(Phase::Tls, e.to_string()))?;
        Ok(self.tls.get_or_init(|| built))
    }

    /// The roots for ureq (the token request, the relay).
    pub(crate) fn http_roots(&self) -> ureq::tls::RootCerts {
        token_roots(&self.extra)
    }
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("ca_file", &self.ca_file)
            .field("extra", &self.extra.len())
            .finish_non_exhaustive()
    }
}

/// The certificates of a PEM file (one or more `-----BEGIN CERTIFICATE-----` blocks). A missing,
/// unreadable or empty file is a configuration error naming `ZOOM_CA_FILE`.
fn load_ca_file(path: &Path) -> Result<Vec<native_tls::Certificate>> {
    let problem =
        |why: String| Error::config("ZOOM_CA_FILE", format!("({}) {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot be read: {e}")))?;
    let certs = native_tls::Certificate::stack_from_pem(&pem)
        .map_err(|e| problem(format!("is not a PEM file of certificates: {e}")))?;
    if certs.is_empty() {
        return Err(problem(
            "holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into(),
        ));
    }
    log::debug!(
        "trusting {} certificate(s) from ZOOM_CA_FILE besides the system's roots",
        certs.len()
    );
    Ok(certs)
}

/// The roots for the token request. Without extra certificates: the platform's, as for the
/// socket. With them: ureq's native-tls backend can only *replace* the platform roots, so we hand
/// it the system bundle that native-tls itself loads (found the same way, by `openssl-probe`)
/// plus the extra ones.
fn token_roots(extra: &[native_tls::Certificate]) -> ureq::tls::RootCerts {
    use ureq::tls::{Certificate, RootCerts};
    if extra.is_empty() {
        return RootCerts::PlatformVerifier;
    }
    let ders: Vec<Vec<u8>> = system_bundle()
        .iter()
        .chain(extra)
        .filter_map(|cert| cert.to_der().ok())
        .collect();
    let certs: Vec<Certificate<'static>> = ders
        .iter()
        .map(|der| Certificate::from_der(der).to_owned())
        .collect();
    RootCerts::new_with_certs(&certs)
}

/// The system's CA bundle, read the way native-tls reads it on this platform (`SSL_CERT_FILE`,
/// then the usual bundle files, else the certificate directories).
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
fn system_bundle() -> Vec<native_tls::Certificate> {
    let probe = openssl_probe::probe();
    let files: Vec<std::path::PathBuf> = match probe.cert_file {
        Some(file) => vec![file],
        None => probe
            .cert_dir
            .iter()
            .filter_map(|dir| std::fs::read_dir(dir).ok())
            .flatten()
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .collect(),
    };
    let certs: Vec<native_tls::Certificate> = files
        .iter()
        .filter_map(|file| std::fs::read(file).ok())
        .filter_map(|pem| native_tls::Certificate::stack_from_pem(&pem).ok())
        .flatten()
        .collect();
    log::debug!(
        "{} system root certificate(s) for the token request",
        certs.len()
    );
    certs
}

/// On Windows and macOS native-tls asks the OS, whose store ureq cannot add to: with
/// `ZOOM_CA_FILE` the token request trusts that file only.
#[cfg(any(target_os = "windows", target_vendor = "apple"))]
fn system_bundle() -> Vec<native_tls::Certificate> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, content: &[u8]) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("zoom-ws-trust-{}-{name}", std::process::id()));
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn bad_ca_files_name_the_setting() {
        let missing = std::env::temp_dir().join("zoom-ws-no-such-ca.pem");
        let empty = temp_file("empty.pem", b"");
        let text = temp_file("text.pem", b"not a certificate\n");
        for path in [&missing, &empty, &text] {
            let Err(err) = load_ca_file(path) else {
                panic!("{} loaded", path.display())
            };
            assert!(err.is_fatal());
            let shown = err.to_string();
            assert!(shown.starts_with("ZOOM_CA_FILE ("), "{shown}");
            assert!(shown.contains(&path.display().to_string()), "{shown}");
        }
        std::fs::remove_file(empty).ok();
        std::fs::remove_file(text).ok();
    }

    #[test]
    fn a_pem_bundle_loads_every_certificate() {
        let ca = include_bytes!("../tests/certs/ca.pem");
        let server = include_bytes!("../tests/certs/server.pem");
        let both = temp_file(
            "both.pem",
            &[&ca[..], b"\n# a comment\n", &server[..]].concat(),
        );
        assert_eq!(load_ca_file(&both).unwrap().len(), 2);
        std::fs::remove_file(both).ok();
    }
}
