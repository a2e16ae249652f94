//! Which TLS certificates we trust: the system's roots, plus the certificates of `ZOOM_CA_FILE`
//! (for a gateway or proxy that re-signs TLS). Verification itself is never switched off.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::error::{Error, Phase, Result};

/// The roots in force: the system's plus `ZOOM_CA_FILE`'s, in one TLS connector shared (an `Arc`)
/// by the token request, the relay and every socket of the process with the same `ca_file`. It is
/// built on first use, so a `ws://`-only run never parses the system's roots, and a TLS run parses
/// them once (one OpenSSL store: the bundle is most of an idle client's memory).
pub(crate) struct Trust {
    ca_file: Option<PathBuf>,
    extra: Vec<native_tls::Certificate>,
    tls: OnceLock<native_tls::TlsConnector>,
}

impl Trust {
    /// The process's trust for `ca_file` (read now, when there is one), shared while in use.
    pub(crate) fn load(ca_file: Option<&Path>) -> Result<Arc<Trust>> {
        static SHARED: Mutex<Option<Weak<Trust>>> = Mutex::new(None);
        let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
        let alive = shared.as_ref().and_then(Weak::upgrade);
        if let Some(trust) = alive.filter(|t| t.ca_file.as_deref() == ca_file) {
            return Ok(trust);
        }
        let extra = match ca_file {
            Some(path) => load_ca_file(path)?,
            None => Vec::new(),
        };
        let trust = Arc::new(Trust {
            ca_file: ca_file.map(Path::to_path_buf),
            extra,
            tls: OnceLock::new(),
        });
        *shared = Some(Arc::downgrade(&trust));
        Ok(trust)
    }

    /// The TLS connector: the system's roots stay, the extra ones are added.
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
