//! The one way this crate builds a ureq agent (the token request, the webhook relay): TLS through
//! the process's one TLS connector (see [`Trust`]), the proxy decided by our settings
//! (never by ureq reading the environment), one bound on the whole request.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout,
    TcpConnector, Transport, TransportAdapter,
};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::proxy::{self, ProxyConfig};
use crate::trust::{Handshake, TlsStream, Trust};
use crate::url::bracketed;

/// An HTTP agent for requests to `url`: through the proxy unless NO_PROXY exempts its host, with
/// the system's roots plus `ZOOM_CA_FILE`. Also returns the proxy in use. `setting` names the
/// variable that holds `url`, for errors.
pub(crate) fn agent_for(
    config: &Config,
    url: &str,
    setting: &str,
    trust: &Arc<Trust>,
) -> Result<(ureq::Agent, Option<ProxyConfig>)> {
    let target = crate::url::url(setting, url, &["http", "https"])?;
    let proxy = proxy::route(
        config.proxy.as_ref(),
        &config.no_proxy,
        target.host,
        target.port,
    );
    let proxy = proxy.cloned();
    let agent = http_agent(config.connect_timeout, proxy.as_ref(), trust)?;
    Ok((agent, proxy))
}

/// The HTTP agent for the token request: the shared TLS connector, the proxy when one applies,
/// one bound on the whole request, non-2xx answers returned rather than turned into errors (we
/// need their bodies).
fn http_agent(
    timeout: Duration,
    proxy: Option<&ProxyConfig>,
    trust: &Arc<Trust>,
) -> Result<ureq::Agent> {
    // The proxy comes from our Config only (NO_PROXY already applied), never from ureq reading
    // the environment itself. ureq tunnels with CONNECT for http:// and https:// targets alike.
    let proxy = proxy
        .map(|p| {
            let mut builder = ureq::Proxy::builder(ureq::ProxyProtocol::Http)
                .host(&bracketed(&p.host))
                .port(p.port);
            if p.has_credentials() {
                builder = builder
                    .username(p.username.expose())
                    .password(p.password.expose());
            }
            builder
                .build()
                .map_err(|_| Error::config("HTTPS_PROXY", "is not a valid proxy URL"))
        })
        .transpose()?;
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .proxy(proxy)
        .user_agent(concat!("zoom-ws/", env!("CARGO_PKG_VERSION")))
        .max_redirects(0)
        // A token an hour, a post now and then: no connection kept idle, and buffers the size of
        // a token answer rather than ureq's 128 KiB each (an idle client's memory).
        .max_idle_connections(0)
        .input_buffer_size(16 << 10)
        .output_buffer_size(16 << 10)
        .build();
    // ureq's own chain, with our TLS step in place of its native-tls one (which would build a
    // connector, and parse the roots, of its own).
    let chain =
        ().chain(ConnectProxyConnector::default())
            .chain(TcpConnector::default())
            .chain(SharedTls(Arc::clone(trust)));
    Ok(ureq::Agent::with_parts(
        config,
        chain,
        DefaultResolver::default(),
    ))
}

/// Our own error under a ureq error: a failed TLS handshake, worded by [`Trust`].
pub(crate) fn ours(error: &ureq::Error) -> Option<Error> {
    match error {
        ureq::Error::Other(e) => e.downcast_ref::<Error>().cloned(),
        _ => None,
    }
}

/// TLS for `https://` through the shared connector of [`Trust`].
#[derive(Debug)]
struct SharedTls(Arc<Trust>);

impl<In: Transport> Connector<In> for SharedTls {
    type Out = Either<In, Tls>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let mut inner = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        inner.set_timeout(details.timeout);
        let error = Arc::new(Mutex::new(None));
        let below = Kept {
            inner,
            error: Arc::clone(&error),
        };
        let stream = self.0.connect(host, below).map_err(|e| {
            taken(&error).unwrap_or(match e {
                Handshake::Failed(e) => ureq::Error::Other(Box::new(e)),
                Handshake::Blocked(_) => ureq::Error::Tls("TLS handshake interrupted"),
            })
        })?;
        let (input, output) = (
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        let buffers = LazyBuffers::new(input, output);
        Ok(Some(Either::B(Tls { buffers, stream })))
    }
}

/// ureq's transport under TLS, keeping ureq's own error (a timeout) that the TLS library would
/// report as a TLS failure.
struct Kept {
    inner: TransportAdapter,
    error: Arc<Mutex<Option<ureq::Error>>>,
}

impl Kept {
    fn keep(&self, e: io::Error) -> io::Error {
        if !e.get_ref().is_some_and(|inner| inner.is::<ureq::Error>()) {
            return e;
        }
        let kept = e.into_inner().and_then(|inner| inner.downcast().ok());
        *self.error.lock().unwrap_or_else(|e| e.into_inner()) = kept.map(|e| *e);
        io::Error::other("below TLS")
    }
}

fn taken(error: &Mutex<Option<ureq::Error>>) -> Option<ureq::Error> {
    error.lock().unwrap_or_else(|e| e.into_inner()).take()
}

impl Read for Kept {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| self.keep(e))
    }
}

impl Write for Kept {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.keep(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.keep(e))
    }
}

/// An HTTP connection over TLS, for ureq.
struct Tls {
    buffers: LazyBuffers,
    stream: TlsStream<Kept>,
}

impl Tls {
    /// ureq's own error when one lies under `e`.
    fn error(&self, e: io::Error) -> ureq::Error {
        taken(&self.stream.get_ref().error).unwrap_or(ureq::Error::Io(e))
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls")
    }
}

impl Transport for Tls {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        self.stream.get_mut().inner.set_timeout(timeout);
        let written = self.stream.write_all(&self.buffers.output()[..amount]);
        written.map_err(|e| self.error(e))
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.stream.get_mut().inner.set_timeout(timeout);
        let read = self.stream.read(self.buffers.input_append_buf());
        let amount = read.map_err(|e| self.error(e))?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().inner.get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
