//! The one way this crate builds a ureq agent (the token request, the webhook relay): ureq speaks
//! HTTP over a connection opened as the socket's is ([`Dial`]: our TCP connect, our proxy tunnel
//! when one applies, TLS through the process's one connector), with one bound on the whole request.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use ureq::config::Config as AgentConfig;
use ureq::http::Uri;
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, LazyBuffers, NextTimeout, Transport,
};

use crate::config::Config;
use crate::error::{Error, Result, is_timeout};
use crate::net::{Dial, Stream, Target};
use crate::trust::Trust;

/// An HTTP agent for requests to `url`: through the proxy unless NO_PROXY exempts its host, with
/// the system's roots plus `ZOOM_CA_FILE`, non-2xx answers returned rather than turned into errors
/// (we need their bodies). `setting` names the variable that holds `url`, for errors.
pub(crate) fn agent_for(
    config: &Config,
    url: &str,
    setting: &'static str,
    trust: &Arc<Trust>,
) -> Result<ureq::Agent> {
    let target = Target::parse(setting, url, &["http", "https"])?;
    let dial = Dial::new(config, &target, Arc::clone(trust), setting);
    let agent_config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(config.connect_timeout))
        // The proxy is Dial's (our settings, NO_PROXY applied), never ureq's reading of the
        // environment.
        .proxy(None)
        .user_agent(concat!("zoom-ws/", env!("CARGO_PKG_VERSION")))
        .max_redirects(0)
        // A token an hour, a post now and then: no connection kept idle, and buffers the size of
        // a token answer rather than ureq's 128 KiB each (an idle client's memory).
        .max_idle_connections(0)
        .input_buffer_size(16 << 10)
        .output_buffer_size(16 << 10)
        .build();
    let connector = Connect {
        dial,
        timeout: config.connect_timeout,
    };
    Ok(ureq::Agent::with_parts(agent_config, connector, NoLookup))
}

/// Our own error under a ureq error: every failure to connect, worded by [`Dial`].
pub(crate) fn ours(error: &ureq::Error) -> Option<Error> {
    match error {
        ureq::Error::Other(e) => e.downcast_ref::<Error>().cloned(),
        _ => None,
    }
}

/// No lookup by ureq: [`Dial`] looks up the host, or the proxy when one applies.
#[derive(Debug)]
struct NoLookup;

impl Resolver for NoLookup {
    fn resolve(
        &self,
        _uri: &Uri,
        _config: &AgentConfig,
        _timeout: NextTimeout,
    ) -> std::result::Result<ResolvedSocketAddrs, ureq::Error> {
        Ok(self.empty())
    }
}

/// ureq's connector: a connection through [`Dial`], each phase within what is left of the
/// request's bound (and never more than `timeout`).
#[derive(Debug)]
struct Connect {
    dial: Dial,
    timeout: Duration,
}

impl Connector<()> for Connect {
    type Out = Connection;

    fn connect(
        &self,
        details: &ConnectionDetails,
        _chained: Option<()>,
    ) -> std::result::Result<Option<Connection>, ureq::Error> {
        let url = details.uri.to_string();
        let target = Target::parse(self.dial.setting, &url, &["http", "https"]);
        let left = (*details.timeout.after).min(self.timeout);
        if left.is_zero() {
            return Err(ureq::Error::Timeout(details.timeout.reason));
        }
        let stream = target.and_then(|t| self.dial.open(&t, left, |_| {}));
        let stream = stream.map_err(|e| ureq::Error::Other(Box::new(e)))?;
        let (input, output) = (
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        let buffers = LazyBuffers::new(input, output);
        Ok(Some(Connection { buffers, stream }))
    }
}

/// An HTTP connection (TLS or not) for ureq.
struct Connection {
    buffers: LazyBuffers,
    stream: Stream,
}

impl Connection {
    /// Runs `io` within `timeout` (none left: fails at once); a timeout is ureq's own error.
    fn timed<T>(
        &mut self,
        timeout: NextTimeout,
        io: impl FnOnce(&mut Stream, &mut LazyBuffers) -> std::io::Result<T>,
    ) -> std::result::Result<T, ureq::Error> {
        if timeout.after.is_zero() {
            return Err(ureq::Error::Timeout(timeout.reason));
        }
        let after = timeout.not_zero().map(|t| *t);
        let tcp = self.stream.tcp();
        tcp.set_read_timeout(after)?;
        tcp.set_write_timeout(after)?;
        io(&mut self.stream, &mut self.buffers).map_err(|e| match is_timeout(&e) {
            true => ureq::Error::Timeout(timeout.reason),
            false => ureq::Error::Io(e),
        })
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connection")
    }
}

impl Transport for Connection {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(
        &mut self,
        amount: usize,
        timeout: NextTimeout,
    ) -> std::result::Result<(), ureq::Error> {
        self.timed(timeout.for_write(), |stream, buffers| {
            stream.write_all(&buffers.output()[..amount])
        })
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        let read = self.timed(timeout.for_read(), |stream, buffers| {
            stream.read(buffers.input_append_buf())
        })?;
        self.buffers.input_appended(read);
        Ok(read > 0)
    }

    /// Asked of a connection kept idle, which we never keep (`max_idle_connections(0)`): ureq then
    /// opens a new one.
    fn is_open(&mut self) -> bool {
        false
    }

    fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }
}
