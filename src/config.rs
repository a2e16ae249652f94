//! Settings: defaults, reading them from the environment, checking them.
//!
//! Both name sets work: the `ZOOM_*` names and the ones of Zoom's WebSocket sample
//! (`CLIENT_USERNAME`, `CLIENT_PASSWORD`, `SUBSCRIPTION_ID`, `OAUTH_URL`, `WS_URL`), so the
//! sample's `.env` works unchanged. [`Config::from_lookup`] takes any lookup function, so tests never
//! touch the process environment.

use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::backoff::Backoff;
use crate::check;
use crate::error::{Error, Result};
use crate::proxy::{self, NO_PROXY_VARIABLES, PROXY_VARIABLES, ProxyConfig};
use crate::secret::Secret;

/// Zoom's token endpoint.
pub const DEFAULT_OAUTH_URL: &str = "https://zoom.us/oauth/token";
/// Zoom's event socket.
pub const DEFAULT_WS_URL: &str = "wss://ws.zoom.us/ws";

/// Everything the client needs to know: from the environment with [`Config::from_env`], or in
/// code with [`Config::new`] and the setters (each takes and returns the `Config`; the fields are
/// public too, for reading).
///
/// ```
/// use std::time::Duration;
/// use zoom_ws::{Backoff, Config, ProxyConfig};
///
/// let config = Config::new("CLIENT_ID", "CLIENT_SECRET", "SUBSCRIPTION_ID")
///     .account_id("ACCOUNT_ID") // a Server-to-Server OAuth app
///     .heartbeat_interval(Duration::from_secs(20))
///     .backoff(Backoff::new(Duration::from_secs(2), Duration::from_secs(120)))
///     .proxy(ProxyConfig::parse("http://proxy.internal:3128")?)
///     .no_proxy(["localhost", ".internal"]);
/// assert_eq!(config.effective_dead_peer_timeout(), Duration::from_secs(45));
/// config.validate()?;
/// # Ok::<(), zoom_ws::Error>(())
/// ```
/// `Debug` shows every setting but the secrets (the client secret and the proxy's credentials
/// are [`Secret`]s, shown as `***`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Config {
    /// OAuth client id of the Zoom app (`ZOOM_CLIENT_ID` or `CLIENT_USERNAME`).
    pub client_id: String,
    /// OAuth client secret (`ZOOM_CLIENT_SECRET` or `CLIENT_PASSWORD`).
    pub client_secret: Secret,
    /// The event subscription to connect to (`ZOOM_SUBSCRIPTION_ID` or `SUBSCRIPTION_ID`): one
    /// id, no comma; several subscriptions are one `Client` each (see [`Client::with_tokens`]).
    ///
    /// [`Client::with_tokens`]: crate::Client::with_tokens
    pub subscription_id: String,
    /// When set, tokens are requested with `grant_type=account_credentials` for this account
    /// (Server-to-Server OAuth apps); otherwise with `client_credentials` (`ZOOM_ACCOUNT_ID`).
    pub account_id: Option<String>,
    /// Token endpoint (`ZOOM_OAUTH_URL` or `OAUTH_URL`).
    pub oauth_url: String,
    /// Socket endpoint, with or without `?subscriptionId=` (`ZOOM_WS_URL` or `WS_URL`).
    pub ws_url: String,
    /// How often a heartbeat is sent (`ZOOM_HEARTBEAT_INTERVAL`, seconds, default 30).
    pub heartbeat_interval: Duration,
    /// Drop the connection when nothing at all has arrived for this long
    /// (`ZOOM_DEAD_PEER_TIMEOUT`; default two heartbeat intervals plus 5 s).
    pub dead_peer_timeout: Option<Duration>,
    /// Bound on each step of connecting: TCP connect, TLS handshake, WebSocket handshake, and the
    /// whole token request (`ZOOM_CONNECT_TIMEOUT`, seconds, default 10).
    pub connect_timeout: Duration,
    /// Delays between connection attempts (`ZOOM_BACKOFF_INITIAL`, `ZOOM_BACKOFF_MAX`, seconds).
    pub backoff: Backoff,
    /// Largest WebSocket message accepted, in bytes (`ZOOM_MAX_MESSAGE_SIZE`, default 1 MiB).
    /// A larger one resets the connection, so memory stays bounded.
    pub max_message_size: usize,
    /// A PEM file of CA certificates trusted besides the system's roots, for the token request and
    /// the socket (`ZOOM_CA_FILE`). Loaded once, when the client is made.
    pub ca_file: Option<PathBuf>,
    /// An `http://` proxy for the token request and the socket (`HTTPS_PROXY`, `https_proxy`,
    /// `ALL_PROXY` or `all_proxy`).
    pub proxy: Option<ProxyConfig>,
    /// Hosts reached directly even when `proxy` is set (`NO_PROXY` or `no_proxy`): names (which
    /// match their subdomains too), IP addresses, optional `:port`, or `*` for all.
    pub no_proxy: Vec<String>,
    /// Allow `http://` and `ws://` to hosts other than this machine, so the client secret and the
    /// access token cross the network in clear (`ZOOM_ALLOW_INSECURE=1`; default: refused).
    pub allow_insecure: bool,
    /// Make [`Client::run`](crate::Client::run) return the last error once no connection has
    /// been accepted for this long, instead of retrying for ever (default: `None`, for ever).
    pub give_up_after: Option<Duration>,
    /// What [`validate`](Self::validate) found good, so that it is not checked again.
    checked: Checked,
}

/// The fingerprint of the settings last found good, 0 for none. An atomic, so that
/// [`Config::validate`] can keep it through `&self` and `Config` stays `Sync`.
#[derive(Default)]
struct Checked(AtomicU64);

impl Clone for Checked {
    fn clone(&self) -> Self {
        Checked(AtomicU64::new(self.0.load(Ordering::Relaxed)))
    }
}

/// Shown as a name only: the fingerprint is no setting, and would tell a hash of the secret.
impl fmt::Debug for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Checked")
    }
}

/// Default largest message: Zoom's events are a few kilobytes; the biggest seen (recordings with
/// many files, long participant lists) stay well under 100 KiB.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 1 << 20;

impl Config {
    /// A configuration with the defaults and these credentials.
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
        subscription_id: impl Into<String>,
    ) -> Self {
        Config {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            subscription_id: subscription_id.into(),
            account_id: None,
            oauth_url: DEFAULT_OAUTH_URL.to_string(),
            ws_url: DEFAULT_WS_URL.to_string(),
            heartbeat_interval: Duration::from_secs(30),
            dead_peer_timeout: None,
            connect_timeout: Duration::from_secs(10),
            backoff: Backoff::default(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            ca_file: None,
            proxy: None,
            no_proxy: Vec::new(),
            allow_insecure: false,
            give_up_after: None,
            checked: Checked::default(),
        }
    }

    /// Reads the settings from the process environment (and only there: no file is read).
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, which maps a variable name to its value. An empty value
    /// counts as unset. The error is the first problem found; [`from_lookup_all`](Self::from_lookup_all)
    /// gives them all.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        Self::from_lookup_all(lookup).map_err(|mut problems| problems.swap_remove(0))
    }

    /// Like [`from_lookup`](Self::from_lookup), but on failure every problem found, each naming
    /// its setting, so that one run can say all that needs fixing.
    pub fn from_lookup_all(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> std::result::Result<Self, Vec<Error>> {
        let mut problems = Vec::new();
        let config = read(&lookup, &mut problems);
        problems.extend(config.problems());
        let problems = one_per_setting(problems);
        match problems.is_empty() {
            true => {
                config.mark_checked();
                Ok(config)
            }
            false => Err(problems),
        }
    }
}

/// The settings through `lookup`; what cannot be read is added to `problems` and left at its
/// default (or empty), so that the rest is still read.
fn read(lookup: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<Error>) -> Config {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let either = |primary: &str, seed: &str| get(primary).or_else(|| get(seed));
    let mut missing = |primary: &'static str, seed: &str| {
        let value = either(primary, seed);
        if value.is_none() {
            let problem = format!("is not set in the environment (nor {seed})");
            problems.push(Error::config(primary, problem));
        }
        value.unwrap_or_default().trim().to_string()
    };
    let mut config = Config::new(
        missing("ZOOM_CLIENT_ID", "CLIENT_USERNAME"),
        missing("ZOOM_CLIENT_SECRET", "CLIENT_PASSWORD"),
        // Not required here: the subscriptionId in ZOOM_WS_URL may stand for it.
        either("ZOOM_SUBSCRIPTION_ID", "SUBSCRIPTION_ID")
            .unwrap_or_default()
            .trim(),
    );
    config.account_id = get("ZOOM_ACCOUNT_ID").map(|v| v.trim().to_string());
    if let Some(url) = either("ZOOM_OAUTH_URL", "OAUTH_URL") {
        config.oauth_url = url.trim().to_string();
    }
    if let Some(url) = either("ZOOM_WS_URL", "WS_URL") {
        config.ws_url = url.trim().to_string();
    }
    let mut note = |result: Result<()>| problems.extend(result.err());
    let sub = check::subscription_in_force(&config.ws_url, &config.subscription_id);
    note(sub.map(|sub| config.subscription_id = sub));
    let allow = check::allow_insecure(get("ZOOM_ALLOW_INSECURE").as_deref());
    note(allow.map(|allow| config.allow_insecure = allow));
    read_numbers(&mut config, &get, &mut note);
    config.ca_file = get("ZOOM_CA_FILE").map(|v| PathBuf::from(v.trim()));
    if let Some((name, url)) = PROXY_VARIABLES
        .iter()
        .find_map(|name| get(name).map(|v| (*name, v)))
    {
        note(ProxyConfig::parse_setting(name, &url).map(|proxy| config.proxy = Some(proxy)));
    }
    if let Some(list) = NO_PROXY_VARIABLES.iter().find_map(|name| get(name)) {
        config.no_proxy = proxy::parse_no_proxy(&list);
    }
    config
}

/// The durations and sizes; a value that is not a number is noted and the default kept.
fn read_numbers(
    config: &mut Config,
    get: &dyn Fn(&str) -> Option<String>,
    note: &mut dyn FnMut(Result<()>),
) {
    let mut seconds = |name: &'static str, field: &mut Duration| {
        if let Some(v) = get(name) {
            note(check::seconds(name, &v).map(|d| *field = d));
        }
    };
    seconds("ZOOM_HEARTBEAT_INTERVAL", &mut config.heartbeat_interval);
    let mut dead = Duration::ZERO;
    seconds("ZOOM_DEAD_PEER_TIMEOUT", &mut dead);
    seconds("ZOOM_CONNECT_TIMEOUT", &mut config.connect_timeout);
    seconds("ZOOM_BACKOFF_INITIAL", &mut config.backoff.initial);
    seconds("ZOOM_BACKOFF_MAX", &mut config.backoff.max);
    config.dead_peer_timeout = get("ZOOM_DEAD_PEER_TIMEOUT").map(|_| dead);
    if let Some(v) = get("ZOOM_MAX_MESSAGE_SIZE") {
        let bytes = v.trim().parse().map(|n| config.max_message_size = n);
        let problem = |_| Error::config("ZOOM_MAX_MESSAGE_SIZE", "must be a number of bytes");
        note(bytes.map_err(problem));
    }
}

impl Config {
    /// The dead-peer bound in force: the configured one, or two heartbeat intervals plus 5 s.
    ///
    /// Two intervals let one heartbeat answer go missing without a reconnect; the 5 s margin covers
    /// a slow answer on a busy network.
    pub fn effective_dead_peer_timeout(&self) -> Duration {
        self.dead_peer_timeout
            .unwrap_or(self.heartbeat_interval * 2 + Duration::from_secs(5))
    }

    /// Checks that the settings can work: the first problem found, if any ([`problems`](Self::problems)
    /// gives them all). [`TokenSource::new`](crate::TokenSource::new) and the [`Client`](crate::Client)
    /// constructors call it.
    ///
    /// One start checks the settings once, however many of these it makes: a config found good
    /// (here or by [`from_lookup_all`](Self::from_lookup_all)) keeps a fingerprint of its
    /// settings, and clones carry it. While the fingerprint still matches, only the subscription
    /// id (left out of it, as each subscription's clone has its own) is checked again, by its own
    /// rules; a setting changed since, by a setter or in its public field, changes the
    /// fingerprint, and everything is checked again. The checks depend on the settings alone (no
    /// file, no clock), so skipping them for the same settings gives the same answer.
    pub fn validate(&self) -> Result<()> {
        if self.checked.0.load(Ordering::Relaxed) == self.fingerprint() {
            let ws = check::url("ZOOM_WS_URL", &self.ws_url, &["ws", "wss"])?;
            return check_subscription(self, &ws);
        }
        if let Some(problem) = self.problems().into_iter().next() {
            return Err(problem);
        }
        self.mark_checked();
        Ok(())
    }

    /// Keeps the fingerprint of these settings, found good.
    fn mark_checked(&self) {
        self.checked.0.store(self.fingerprint(), Ordering::Relaxed);
    }

    /// A hash of every setting but the subscription id (never 0, which means unchecked). The
    /// derived `Debug` names every field, so that a new one cannot be forgotten here; the secrets
    /// it hides are added.
    fn fingerprint(&self) -> u64 {
        let settings = Config {
            subscription_id: String::new(),
            ..self.clone()
        };
        let proxy = self.proxy.as_ref();
        let proxy = proxy.map(|p| (p.username.expose(), p.password.expose()));
        let mut h = DefaultHasher::new();
        (format!("{settings:?}"), self.client_secret.expose(), proxy).hash(&mut h);
        h.finish().max(1)
    }

    /// Every problem that stops these settings from working, each naming its setting.
    pub fn problems(&self) -> Vec<Error> {
        #[cfg(test)]
        WHOLE_CHECKS.with(|n| n.set(n.get() + 1));
        let texts = [
            ("ZOOM_CLIENT_ID", &*self.client_id),
            ("ZOOM_CLIENT_SECRET", self.client_secret.expose()),
            ("ZOOM_SUBSCRIPTION_ID", &*self.subscription_id),
        ];
        let empty = texts.into_iter().filter(|(_, text)| text.trim().is_empty());
        let mut problems: Vec<Error> = empty.map(|(s, _)| Error::config(s, "is empty")).collect();
        // URLs, ids, secrets, cleartext, the subscription id in the URL: see src/check.
        check_all(self, &mut |result| problems.extend(result.err()));
        let durations = [
            ("ZOOM_HEARTBEAT_INTERVAL", self.heartbeat_interval),
            ("ZOOM_DEAD_PEER_TIMEOUT", self.effective_dead_peer_timeout()),
            ("ZOOM_CONNECT_TIMEOUT", self.connect_timeout),
            ("ZOOM_BACKOFF_INITIAL", self.backoff.initial),
        ];
        let zero = durations.into_iter().filter(|(_, d)| d.is_zero());
        problems.extend(zero.map(|(s, _)| Error::config(s, "must be more than 0 seconds")));
        let mut rule = |broken: bool, setting: &str, problem: &str| {
            if broken {
                problems.push(Error::config(setting, problem));
            }
        };
        let smaller = "must not be smaller than ZOOM_BACKOFF_INITIAL";
        let backoff = &self.backoff;
        rule(backoff.max < backoff.initial, "ZOOM_BACKOFF_MAX", smaller);
        let proxy = self.proxy.as_ref();
        let no_host = proxy.is_some_and(|p| p.host.trim().is_empty() || p.port == 0);
        rule(no_host, "HTTPS_PROXY", "has no valid host[:port]");
        let (small, bytes) = (self.max_message_size < 1024, "must be at least 1024 bytes");
        rule(small, "ZOOM_MAX_MESSAGE_SIZE", bytes);
        one_per_setting(problems)
    }
}

#[cfg(test)]
thread_local! {
    /// How many times this thread checked a whole config (a test counts the checks of a start).
    static WHOLE_CHECKS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// The first complaint about each setting: a missing value is not also "empty" and "too short".
fn one_per_setting(mut problems: Vec<Error>) -> Vec<Error> {
    let mut seen = Vec::new();
    problems.retain(|p| match p {
        Error::Config { setting, .. } if seen.contains(setting) => false,
        Error::Config { setting, .. } => {
            seen.push(setting.clone());
            true
        }
        _ => true,
    });
    problems
}

/// The rules of [`check`] over a whole configuration: URLs, ids, secrets, cleartext, the
/// subscription id in the URL, the proxy. Each problem goes to `note`.
fn check_all(c: &Config, note: &mut dyn FnMut(Result<()>)) {
    let sent = "the client id and secret, and the token Zoom answers with,";
    let (allow, web) = (c.allow_insecure, ["http", "https"]);
    let oauth = check::endpoint("ZOOM_OAUTH_URL", &c.oauth_url, &web, allow, sent);
    note(oauth);
    let ws = check::url("ZOOM_WS_URL", &c.ws_url, &["ws", "wss"]);
    if let Ok(ws) = &ws {
        let token = "the access token";
        note(check::cleartext("ZOOM_WS_URL", ws, allow, token));
    }
    note(check::id("ZOOM_CLIENT_ID", &c.client_id));
    note(check::secret(
        "ZOOM_CLIENT_SECRET",
        c.client_secret.expose(),
    ));
    if let Some(account) = &c.account_id {
        note(check::id("ZOOM_ACCOUNT_ID", account));
    }
    match ws {
        Ok(ws) => note(check_subscription(c, &ws)),
        Err(e) => return note(Err(e)),
    }
    if let Some(proxy) = &c.proxy {
        note(check_proxy(proxy));
    }
}

/// One subscription id per client, the same as the one in `ZOOM_WS_URL` if that has one.
fn check_subscription(c: &Config, ws: &check::Url) -> Result<()> {
    if c.subscription_id.contains(',') {
        return Err(Error::config(
            "ZOOM_SUBSCRIPTION_ID",
            "holds a comma: a Client serves one subscription; make one Client per id (they may \
             share a TokenSource), or give the list to the zoom-ws command line, which does",
        ));
    }
    check::id("ZOOM_SUBSCRIPTION_ID", &c.subscription_id)?;
    if let Some(in_url) = check::url_subscription(ws)? {
        if c.subscription_id != in_url {
            return Err(Error::config(
                "ZOOM_SUBSCRIPTION_ID",
                format!(
                    "({}) and the subscriptionId in ZOOM_WS_URL ({in_url}) differ; give the id \
                     in one of them, or the same one in both",
                    check::escaped(&c.subscription_id)
                ),
            ));
        }
    }
    Ok(())
}

/// The proxy's credentials and host.
fn check_proxy(proxy: &ProxyConfig) -> Result<()> {
    let (user, password) = (proxy.username.expose(), proxy.password.expose());
    if user.len().max(password.len()) > check::MAX_SECRET_LEN {
        return Err(Error::config(
            "HTTPS_PROXY",
            format!(
                "has a user name or password over {} bytes long",
                check::MAX_SECRET_LEN
            ),
        ));
    }
    let host = proxy.host.as_str();
    if host.parse::<Ipv6Addr>().is_err() {
        check::check_host(host).map_err(|p| {
            Error::config(
                "HTTPS_PROXY",
                format!("{p}, e.g. http://proxy.example.com:3128"),
            )
        })?;
    }
    Ok(())
}

/// Writes the setters: each entry is a doc comment, the field's name, its argument, and the value
/// the field takes.
macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident($arg:ident: $ty:ty) => $value:expr;)*) => {
        /// Setters, in the manner of tungstenite's `WebSocketConfig`:
        /// `Config::new(…).heartbeat_interval(…)`. One for every public field.
        impl Config {
            $($(#[$doc])* pub fn $field(mut self, $arg: $ty) -> Self {
                self.$field = $value;
                self
            })*

            /// Hosts reached directly even with a proxy: names (with their subdomains), IP
            /// addresses, optional `:port`, or `*` for all.
            pub fn no_proxy<I, S>(mut self, hosts: I) -> Self
            where
                I: IntoIterator<Item = S>,
                S: Into<String>,
            {
                self.no_proxy = hosts.into_iter().map(Into::into).collect();
                self
            }
        }
    };
}

setters! {
    /// The OAuth client id of the Zoom app.
    client_id(client_id: impl Into<String>) => client_id.into();
    /// The OAuth client secret.
    client_secret(secret: impl Into<Secret>) => secret.into();
    /// The event subscription to connect to (one id).
    subscription_id(subscription_id: impl Into<String>) => subscription_id.into();
    /// Allow `http://` and `ws://` to hosts other than this machine (secrets then cross the
    /// network in clear).
    allow_insecure(allow: bool) => allow;
    /// Make [`Client::run`](crate::Client::run) return the last error once no connection has
    /// been accepted for `limit`.
    give_up_after(limit: Duration) => Some(limit);
    /// Requests tokens for this account (`grant_type=account_credentials`).
    account_id(account_id: impl Into<String>) => Some(account_id.into());
    /// The token endpoint.
    oauth_url(url: impl Into<String>) => url.into();
    /// The socket endpoint.
    ws_url(url: impl Into<String>) => url.into();
    /// How often a heartbeat is sent.
    heartbeat_interval(interval: Duration) => interval;
    /// Drop the connection when nothing has arrived for this long (instead of two heartbeat
    /// intervals plus 5 s).
    dead_peer_timeout(timeout: Duration) => Some(timeout);
    /// The bound on each step of connecting.
    connect_timeout(timeout: Duration) => timeout;
    /// Delays between connection attempts.
    backoff(backoff: Backoff) => backoff;
    /// The largest WebSocket message accepted, in bytes.
    max_message_size(bytes: usize) => bytes;
    /// A PEM file of CA certificates trusted besides the system's roots.
    ca_file(path: impl Into<PathBuf>) => Some(path.into());
    /// An `http://` proxy for the token request and the socket.
    proxy(proxy: ProxyConfig) => Some(proxy);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn a_start_checks_the_settings_once_and_a_config_changed_since_again() {
        use crate::{Client, TokenSource};
        use std::sync::Arc;
        let checks = || WHOLE_CHECKS.with(|n| n.get());
        let before = checks();
        // The CA file of the trust test beside, which would not share its trust with another.
        let ca = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/certs/ca.pem");
        // As the command line starts: the settings read, one token source, a client for each
        // subscription (a clone with its own id).
        let config = from(&[
            ("ZOOM_CA_FILE", ca),
            ("ZOOM_CLIENT_ID", "id"),
            ("ZOOM_CLIENT_SECRET", "secret"),
            ("ZOOM_SUBSCRIPTION_ID", "sub-a"),
            ("ZOOM_OAUTH_URL", "http://127.0.0.1:9/oauth/token"),
            ("ZOOM_WS_URL", "ws://127.0.0.1:9/ws"),
        ])
        .unwrap();
        let tokens = Arc::new(TokenSource::new(&config).unwrap());
        for id in ["sub-a", "sub-b"] {
            let mut one = config.clone();
            one.subscription_id = id.to_string();
            Client::with_tokens(one, Arc::clone(&tokens)).unwrap();
        }
        assert_eq!(checks() - before, 1);
        // Each client's subscription id is still held to its rules.
        let mut listed = config.clone();
        listed.subscription_id = "sub-a,sub-b".into();
        let error = Client::with_tokens(listed, Arc::clone(&tokens)).unwrap_err();
        assert!(error.to_string().contains("comma"), "{error}");
        assert_eq!(checks() - before, 1);
        // Changed after the check, in a field or by a setter: checked whole again.
        let mut changed = config.clone();
        changed.ws_url = "ftp://127.0.0.1:9/ws".into();
        assert!(changed.validate().is_err());
        assert_eq!(checks() - before, 2);
        let changed = config.clone().heartbeat_interval(Duration::ZERO);
        assert!(Client::with_tokens(changed, Arc::clone(&tokens)).is_err());
        assert_eq!(checks() - before, 3);
        let mut secret = config.clone();
        secret.client_secret = Secret::new("hunter2\r\nX: y");
        assert!(TokenSource::new(&secret).is_err());
        assert_eq!(checks() - before, 4);
        // A config made in code, for one client: checked once too.
        let built = Config::new("id", "secret", "sub")
            .oauth_url("http://127.0.0.1:9/oauth/token")
            .ws_url("ws://127.0.0.1:9/ws")
            .ca_file(ca);
        Client::new(built).unwrap();
        assert_eq!(checks() - before, 5);
    }

    #[test]
    fn seed_sample_names_work() {
        let config = from(&[
            ("CLIENT_USERNAME", "id"),
            ("CLIENT_PASSWORD", "secret"),
            ("SUBSCRIPTION_ID", "sub"),
            ("OAUTH_URL", "https://zoom.us/oauth/token"),
            ("WS_URL", "wss://ws.zoom.us/ws"),
        ])
        .unwrap();
        assert_eq!(config.client_id, "id");
        assert_eq!(config.client_secret.expose(), "secret");
        assert_eq!(config.subscription_id, "sub");
        assert_eq!(config.account_id, None);
        assert_eq!(config.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(
            config.effective_dead_peer_timeout(),
            Duration::from_secs(65)
        );
    }

    #[test]
    fn zoom_names_win_and_fractions_are_allowed() {
        let config = from(&[
            ("ZOOM_CLIENT_ID", "new"),
            ("CLIENT_USERNAME", "old"),
            ("ZOOM_CLIENT_SECRET", "s"),
            ("ZOOM_SUBSCRIPTION_ID", "sub"),
            ("ZOOM_ACCOUNT_ID", "acc"),
            ("ZOOM_HEARTBEAT_INTERVAL", "0.2"),
        ])
        .unwrap();
        assert_eq!(config.client_id, "new");
        assert_eq!(config.account_id.as_deref(), Some("acc"));
        assert_eq!(config.heartbeat_interval, Duration::from_millis(200));
        let seconds = |v| check::seconds("X", v).unwrap();
        assert_eq!(seconds("30"), Duration::from_secs(30));
        assert_eq!(seconds(".5"), Duration::from_millis(500));
        assert_eq!(seconds("1.25"), Duration::from_millis(1250));
        assert_eq!(seconds("0.0000000019"), Duration::from_nanos(1));
    }

    #[test]
    fn errors_name_the_variable() {
        let err = from(&[("ZOOM_CLIENT_SECRET", "s"), ("ZOOM_SUBSCRIPTION_ID", "x")]).unwrap_err();
        assert!(
            err.to_string().starts_with("ZOOM_CLIENT_ID is not set"),
            "{err}"
        );
        let base = [
            ("ZOOM_CLIENT_ID", "i"),
            ("ZOOM_CLIENT_SECRET", "s"),
            ("ZOOM_SUBSCRIPTION_ID", "x"),
        ];
        let with = |k, v| {
            let mut pairs = base.to_vec();
            pairs.push((k, v));
            from(&pairs).unwrap_err().to_string()
        };
        assert!(with("ZOOM_HEARTBEAT_INTERVAL", "soon").starts_with("ZOOM_HEARTBEAT_INTERVAL"));
        assert!(with("ZOOM_HEARTBEAT_INTERVAL", "0").starts_with("ZOOM_HEARTBEAT_INTERVAL"));
        for bad in ["-1", "1e3", "inf", "1.2.3", ".", " 1 5"] {
            assert!(
                with("ZOOM_CONNECT_TIMEOUT", bad).starts_with("ZOOM_CONNECT_TIMEOUT"),
                "{bad}"
            );
        }
        assert!(with("ZOOM_WS_URL", "https://x").starts_with("ZOOM_WS_URL must start with ws://"));
        assert!(with("OAUTH_URL", "zoom.us").starts_with("ZOOM_OAUTH_URL"));
    }

    #[test]
    fn network_settings() {
        let base = [
            ("ZOOM_CLIENT_ID", "i"),
            ("ZOOM_CLIENT_SECRET", "s"),
            ("ZOOM_SUBSCRIPTION_ID", "x"),
        ];
        let with = |pairs: &[(&str, &str)]| {
            let mut all = base.to_vec();
            all.extend_from_slice(pairs);
            from(&all)
        };
        let config = with(&[]).unwrap();
        assert_eq!((config.ca_file, config.proxy), (None, None));
        let config = with(&[
            ("ZOOM_CA_FILE", " /etc/corp/ca.pem "),
            ("https_proxy", "http://low:1"),
            ("HTTPS_PROXY", "http://alice:hunter2@proxy.corp:3128"),
            ("ALL_PROXY", "http://all:2"),
            ("NO_PROXY", "localhost, .corp"),
        ])
        .unwrap();
        assert_eq!(config.ca_file, Some(PathBuf::from("/etc/corp/ca.pem")));
        let proxy = config.proxy.as_ref().unwrap();
        assert_eq!(proxy.address(), "proxy.corp:3128");
        assert_eq!(proxy.password.expose(), "hunter2");
        assert_eq!(config.no_proxy, ["localhost", ".corp"]);
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("alice"),
            "{shown}"
        );
        let config = with(&[("all_proxy", "proxy:8080"), ("no_proxy", "*")]).unwrap();
        assert_eq!(config.proxy.unwrap().address(), "proxy:8080");
        assert_eq!(config.no_proxy, ["*"]);
        let err = with(&[("ALL_PROXY", "socks5://u:hunter2@h:1")]).unwrap_err();
        assert!(
            err.to_string().starts_with("ALL_PROXY must be an http://"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn debug_hides_the_secrets_and_the_fingerprint() {
        let proxy = ProxyConfig::parse("http://alice:hunter2@proxy.corp:3128").unwrap();
        let config = Config::new("id", "very-secret-value", "sub")
            .oauth_url("http://127.0.0.1:9/oauth/token")
            .ws_url("ws://127.0.0.1:9/ws")
            .proxy(proxy);
        let shown = format!("{config:?}");
        for secret in ["very-secret-value", "hunter2", "alice"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("***") && shown.contains("proxy.corp"),
            "{shown}"
        );
        // Found good, it keeps a hash of its secret: not shown either.
        config.validate().unwrap();
        assert_eq!(format!("{config:?}"), shown);
    }
}
