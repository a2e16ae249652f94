//! Which TLS certificates we trust: the system's roots, plus the certificates of `ZOOM_CA_FILE`
//! (for a gateway or proxy that re-signs TLS). Verification itself is never switched off.
//!
//! Where native-tls would use OpenSSL, we build OpenSSL's connector ourselves: native-tls reads
//! the system's bundle twice (OpenSSL's default paths, then openssl-probe's file, the same one),
//! and the second copy, freed as duplicates, leaves about 0.9 MiB of holes in the heap for good.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::error::{Error, Result, tls_error};

#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
pub(crate) use openssl::ssl::SslStream as TlsStream;
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
use openssl::{
    ssl::{HandshakeError, MidHandshakeSslStream as Mid, SslConnector as Connector},
    ssl::{SslMethod, SslVersion},
    x509::{X509 as Certificate, X509VerifyResult},
};

#[cfg(any(target_os = "windows", target_vendor = "apple"))]
pub(crate) use native_tls::TlsStream;
#[cfg(any(target_os = "windows", target_vendor = "apple"))]
use native_tls::{
    Certificate, HandshakeError, MidHandshakeTlsStream as Mid, TlsConnector as Connector,
};

/// The roots in force: the system's plus `ZOOM_CA_FILE`'s, in one TLS connector shared (an `Arc`)
/// by the token request, the relay and every socket of the process with the same `ca_file`. It is
/// built on first use, so a `ws://`-only run never parses the system's roots, and a TLS run parses
/// them once (one OpenSSL store: the bundle is most of an idle client's memory).
pub(crate) struct Trust {
    ca_file: Option<PathBuf>,
    extra: Vec<Certificate>,
    tls: OnceLock<Connector>,
}

/// A TLS handshake done, or not: failed, or waiting for the socket ([`resume`] goes on).
pub(crate) type Step<S> = std::result::Result<TlsStream<S>, Handshake<S>>;

pub(crate) enum Handshake<S> {
    Failed(Error),
    Blocked(Mid<S>),
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

    /// Starts a TLS handshake with `host` over `stream`, building the connector on first use.
    pub(crate) fn connect<S: Read + Write>(&self, host: &str, stream: S) -> Step<S> {
        let connector = match self.tls.get() {
            Some(connector) => connector,
            None => match build(&self.extra) {
                Ok(built) => self.tls.get_or_init(|| built),
                Err(e) => return Err(Handshake::Failed(tls_error(host, e.to_string()))),
            },
        };
        step(host, connector.connect(host, stream))
    }
}

/// Goes on with a handshake with `host` that waited for the socket.
pub(crate) fn resume<S: Read + Write>(host: &str, mid: Mid<S>) -> Step<S> {
    step(host, mid.handshake())
}

/// OpenSSL's client defaults (peer and host name verified; TLS 1.2 at least, as native-tls sets)
/// over the system's roots, read once: OpenSSL's own file (`SSL_CERT_FILE`, else cert.pem under
/// OPENSSLDIR), or openssl-probe's when there is none (a static build's OPENSSLDIR is not the
/// host's); the certificate directories are looked up lazily. native-tls loads both files, mostly
/// the same one twice.
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
fn build(extra: &[Certificate]) -> std::result::Result<Connector, openssl::error::ErrorStack> {
    let mut builder = Connector::builder(SslMethod::tls())?;
    builder.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    let openssl_dir = openssl::version::dir().strip_prefix("OPENSSLDIR: ");
    let own = match std::env::var_os("SSL_CERT_FILE") {
        Some(file) => Some(PathBuf::from(file)),
        None => openssl_dir.map(|dir| Path::new(dir.trim_matches('"')).join("cert.pem")),
    };
    let probed = openssl_probe::probe();
    let file = probed
        .cert_file
        .filter(|_| !own.is_some_and(|f| f.exists()));
    // (The openssl crate panics on a path that is not UTF-8: such a one is left out.)
    let mut load = |file: Option<&Path>, dir: Option<&Path>| {
        let Some(path) = file.or(dir).and_then(Path::to_str) else {
            return;
        };
        if let Err(e) = builder.load_verify_locations(file, dir) {
            log::debug!("{path}: {e}");
        }
    };
    load(file.as_deref(), None);
    for dir in &probed.cert_dir {
        load(None, Some(dir));
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

/// One handshake step; a failure says the certificate's verdict, as native-tls would.
#[cfg(not(any(target_os = "windows", target_vendor = "apple")))]
fn step<S>(host: &str, result: std::result::Result<TlsStream<S>, HandshakeError<S>>) -> Step<S> {
    result.map_err(|e| match e {
        HandshakeError::WouldBlock(mid) => Handshake::Blocked(mid),
        HandshakeError::SetupFailure(e) => Handshake::Failed(tls_error(host, e.to_string())),
        HandshakeError::Failure(mid) => {
            let detail = match mid.ssl().verify_result() {
                X509VerifyResult::OK => mid.error().to_string(),
                verdict => format!("{} ({verdict})", mid.error()),
            };
            Handshake::Failed(tls_error(host, detail))
        }
    })
}

#[cfg(any(target_os = "windows", target_vendor = "apple"))]
fn step<S>(host: &str, result: std::result::Result<TlsStream<S>, HandshakeError<S>>) -> Step<S> {
    result.map_err(|e| match e {
        HandshakeError::WouldBlock(mid) => Handshake::Blocked(mid),
        HandshakeError::Failure(e) => Handshake::Failed(tls_error(host, e.to_string())),
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
