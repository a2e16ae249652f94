//! Which TLS certificates we trust: the system's roots, plus the certificates of `ZOOM_CA_FILE`
//! (for a gateway or proxy that re-signs TLS). Verification itself is never switched off.
//!
//! Where native-tls would use OpenSSL, we build OpenSSL's connector ourselves: native-tls reads
//! the system's bundle twice (OpenSSL's default paths, then openssl-probe's file, the same one),
//! and the second copy, freed as duplicates, leaves about 0.9 MiB of holes in the heap for good.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::error::{Error, Result};

#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
use openssl::{
    ssl::{HandshakeError, MidHandshakeSslStream as Mid, SslConnector as Connector, SslMethod},
    x509::X509 as Certificate,
};

#[cfg(any(target_os = "windows", target_vendor = "apple"))]
use native_tls::{
    Certificate, HandshakeError, MidHandshakeTlsStream as Mid, TlsConnector as Connector,
};

/// A TLS stream over `S`, verified against [`Trust`]'s roots.
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
pub(crate) type TlsStream<S> = openssl::ssl::SslStream<S>;
/// A TLS stream over `S`, verified against [`Trust`]'s roots.
#[cfg(any(target_os = "windows", target_vendor = "apple"))]
pub(crate) type TlsStream<S> = native_tls::TlsStream<S>;

/// The roots in force: the system's plus `ZOOM_CA_FILE`'s, in one TLS connector shared (an `Arc`)
/// by the token request, the relay and every socket of the process with the same `ca_file`. It is
/// built on first use, so a `ws://`-only run never parses the system's roots, and a TLS run parses
/// them once (one OpenSSL store: the bundle is most of an idle client's memory).
pub(crate) struct Trust {
    ca_file: Option<PathBuf>,
    extra: Vec<Certificate>,
    tls: OnceLock<Connector>,
}

/// A TLS handshake not finished: failed, or waiting for the socket (`Mid::handshake` resumes it).
pub(crate) enum Handshake<S> {
    Failed(TlsFailure),
    Blocked(Mid<S>),
}

/// Why a TLS handshake failed, in the TLS library's words (with the certificate's verdict).
#[derive(Clone, Debug)]
pub(crate) struct TlsFailure(pub(crate) String);

impl std::fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsFailure {}

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

    /// Starts a TLS handshake with `host` over `stream`.
    pub(crate) fn connect<S: std::io::Read + std::io::Write>(
        &self,
        host: &str,
        stream: S,
    ) -> std::result::Result<TlsStream<S>, Handshake<S>> {
        let connector = self
            .connector()
            .map_err(|e| Handshake::Failed(TlsFailure(e)))?;
        step(connector.connect(host, stream))
    }

    /// The TLS connector, built on first use: the system's roots stay, the extra ones are added.
    fn connector(&self) -> std::result::Result<&Connector, String> {
        if let Some(connector) = self.tls.get() {
            return Ok(connector);
        }
        let built = build(&self.extra).map_err(|e| e.to_string())?;
        Ok(self.tls.get_or_init(|| built))
    }
}

/// Resumes a handshake that waited for the socket.
pub(crate) fn resume<S: std::io::Read + std::io::Write>(
    mid: Mid<S>,
) -> std::result::Result<TlsStream<S>, Handshake<S>> {
    step(mid.handshake())
}

/// OpenSSL's client defaults (peer and host name verified) over the system's roots read once:
/// its default file (`SSL_CERT_FILE`, else the one under OPENSSLDIR), and openssl-probe's file
/// only when that is another file (a static build's OPENSSLDIR is not the host's), as native-tls
/// would; the certificate directories are looked up lazily.
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
fn build(extra: &[Certificate]) -> std::result::Result<Connector, openssl::error::ErrorStack> {
    let mut builder = Connector::builder(SslMethod::tls())?;
    let probed = openssl_probe::probe();
    let default_file = std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .or_else(|| {
            let dir = openssl::version::dir().strip_prefix("OPENSSLDIR: ")?;
            Some(Path::new(dir.trim_matches('"')).join("cert.pem"))
        });
    let canonical = |p: &Path| std::fs::canonicalize(p).ok();
    if let Some(file) = probed.cert_file {
        if default_file.as_deref().and_then(canonical) != canonical(&file) {
            if let Err(e) = builder.load_verify_locations(Some(&file), None) {
                log::debug!("{}: {e}", file.display());
            }
        }
    }
    for dir in probed.cert_dir {
        if let Err(e) = builder.load_verify_locations(None, Some(&dir)) {
            log::debug!("{}: {e}", dir.display());
        }
    }
    for cert in extra {
        builder.cert_store_mut().add_cert(cert.clone())?;
    }
    Ok(builder.build())
}

#[cfg(any(target_os = "windows", target_vendor = "apple"))]
fn build(extra: &[Certificate]) -> std::result::Result<Connector, native_tls::Error> {
    let mut builder = Connector::builder();
    for cert in extra {
        builder.add_root_certificate(cert.clone());
    }
    builder.build()
}

/// One handshake step's outcome; a failure keeps the certificate's verdict, as native-tls says it.
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
fn step<S>(
    result: std::result::Result<TlsStream<S>, HandshakeError<S>>,
) -> std::result::Result<TlsStream<S>, Handshake<S>> {
    use openssl::x509::X509VerifyResult;
    result.map_err(|e| match e {
        HandshakeError::WouldBlock(mid) => Handshake::Blocked(mid),
        HandshakeError::SetupFailure(e) => Handshake::Failed(TlsFailure(e.to_string())),
        HandshakeError::Failure(mid) => {
            Handshake::Failed(TlsFailure(match mid.ssl().verify_result() {
                X509VerifyResult::OK => mid.error().to_string(),
                verdict => format!("{} ({verdict})", mid.error()),
            }))
        }
    })
}

#[cfg(any(target_os = "windows", target_vendor = "apple"))]
fn step<S>(
    result: std::result::Result<TlsStream<S>, HandshakeError<S>>,
) -> std::result::Result<TlsStream<S>, Handshake<S>> {
    result.map_err(|e| match e {
        HandshakeError::WouldBlock(mid) => Handshake::Blocked(mid),
        HandshakeError::Failure(e) => Handshake::Failed(TlsFailure(e.to_string())),
    })
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
fn load_ca_file(path: &Path) -> Result<Vec<Certificate>> {
    let problem =
        |why: String| Error::config("ZOOM_CA_FILE", format!("({}) {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| problem(format!("cannot be read: {e}")))?;
    let certs = Certificate::stack_from_pem(&pem)
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
