//! The one way this crate builds a ureq agent (the token request, the webhook relay): native-tls
//! with the shared trust roots, the proxy decided by our settings (never by ureq reading the
//! environment), one bound on the whole request.

use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::proxy::{self, ProxyConfig};
use crate::trust::Trust;
use crate::url::{bracketed, url_host_port};

/// An HTTP agent for requests to `url`: through the proxy unless NO_PROXY exempts its host, with
/// the system's roots plus `ZOOM_CA_FILE`. Also returns the proxy in use. `setting` names the
/// variable that holds `url`, for errors.
pub(crate) fn agent_for(
    config: &Config,
    url: &str,
    setting: &str,
    trust: &Trust,
) -> Result<(ureq::Agent, Option<ProxyConfig>)> {
    let (host, port) =
        url_host_port(url).ok_or_else(|| Error::config(setting, "has no valid host[:port]"))?;
    let proxy = proxy::route(config.proxy.as_ref(), &config.no_proxy, &host, port).cloned();
    let agent = http_agent(config.connect_timeout, proxy.as_ref(), trust)?;
    Ok((agent, proxy))
}

/// The HTTP agent for the token request: native-tls with the system's roots (plus
/// `ZOOM_CA_FILE`), the proxy when one applies, one bound on the whole request, non-2xx answers
/// returned rather than turned into errors (we need their bodies).
fn http_agent(
    timeout: Duration,
    proxy: Option<&ProxyConfig>,
    trust: &Trust,
) -> Result<ureq::Agent> {
    use ureq::tls::{TlsConfig, TlsProvider};
    let tls = TlsConfig::builder()
        .provider(TlsProvider::NativeTls)
        .root_certs(trust.http_roots())
        .build();
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
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .tls_config(tls)
        .proxy(proxy)
        .user_agent(concat!("zoom-ws/", env!("CARGO_PKG_VERSION")))
        .max_redirects(0)
        .build()
        .into())
}
