//! The settings: the process environment first, then the `.env` file (`./.env`, or
//! `--env-file PATH`, which must exist). Checked before anything connects.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use zoom_ws::{Config, EventFilter, Secret, check};

use crate::args::Args;
use crate::dotenv;
use crate::exit::Exit;
use crate::names;
use crate::startup;

/// The journal's size limit unless told otherwise: a day of a busy account's events, a few
/// minutes of a full flood.
pub const DEFAULT_SPOOL_MAX: u64 = 1 << 30;

/// The smallest size limit accepted: a few segments of the smallest size.
pub const MIN_SPOOL_MAX: u64 = 256 << 10;

/// Bytes of events each output holds in memory without a journal, unless told otherwise: on a
/// 512 MB host, room for about 75,000 events of 860 bytes while leaving most of the memory to
/// the rest of the host (one copy of an event is shared by every output's queue).
pub const DEFAULT_QUEUE: u64 = 64 << 20;

/// How long an output may take nothing while its queue is full before it loses events, unless
/// told otherwise: longer than a log shipper's restart or a slow disk's stall, short enough
/// that the socket does not stop reading for good behind a reader that is gone (meanwhile
/// Zoom's side and TCP hold the events, and heartbeats keep the connection alive).
pub const DEFAULT_STALL: Duration = Duration::from_secs(60);

/// Most subscriptions one `ZOOM_SUBSCRIPTION_ID` may list (one connection and thread each).
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// How long the outputs may go on after a stop request, unless told otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// How events are kept after the socket: the command line first, then the settings.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `--event` patterns: which events are delivered at all.
    pub filter: EventFilter,
    /// `--spool DIR` or `ZOOM_SPOOL_DIR`: the journal.
    pub spool: Option<PathBuf>,
    /// `--spool-max SIZE` or `ZOOM_SPOOL_MAX`: the journal's size limit in bytes.
    #[cfg_attr(not(journal), allow(dead_code))]
    pub spool_max: u64,
    /// `--grace SECS` or `ZOOM_GRACE`: how long the outputs may drain after a stop request.
    pub grace: Duration,
    /// `--queue SIZE` or `ZOOM_QUEUE_MAX`: bytes of events per output's memory queue.
    pub queue: u64,
    /// `--stall-timeout SECS` or `ZOOM_STALL_TIMEOUT`: see [`DEFAULT_STALL`].
    pub stall: Duration,
    /// `--metrics-file PATH` or `ZOOM_METRICS_FILE`: the Prometheus textfile.
    pub metrics_file: Option<PathBuf>,
    /// `--give-up-after SECS` or `ZOOM_GIVE_UP_AFTER`: exit 1 when no subscription has been
    /// live for that long.
    pub give_up_after: Option<Duration>,
    /// `--ha-etcd` and the other `ZOOM_HA_*` settings: the election.
    #[cfg(feature = "ha")]
    pub ha: Option<crate::ha::Settings>,
}

/// The client's configuration (for the first subscription), every subscription id, the webhook
/// secret token (`ZOOM_WEBHOOK_SECRET_TOKEN`) and the delivery settings; `args.forward` is
/// filled from `ZOOM_FORWARD_URL` when not given. Every problem is reported in one go (an error
/// line each), then exit 2, before anything is sent.
pub fn load(args: &mut Args) -> Result<Loaded, Exit> {
    let (path, required) = match &args.env_file {
        Some(path) => (path.clone(), true),
        None => (PathBuf::from(".env"), false),
    };
    let shown = path.display().to_string();
    let file_pairs = match std::fs::read_to_string(&path) {
        Ok(text) => dotenv::parse(&text).map_err(|e| Exit::Usage(format!("{shown}: {e}")))?,
        Err(e) if !required && e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Exit::Usage(format!("cannot read {shown}: {e}"))),
    };
    log::info!("{}", startup::env_file_note(&path, path.exists()));
    let lookup = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| {
                file_pairs
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            })
    };
    warn_about_names(&file_pairs, &shown, &|name| lookup(name).is_some());
    let mut problems = Vec::new();
    let mut ids = listed_ids(&lookup, &mut problems);
    let first = |name: &str| match name {
        "ZOOM_SUBSCRIPTION_ID" | "SUBSCRIPTION_ID" => ids.first().cloned(),
        _ => lookup(name),
    };
    let config = Config::from_lookup_all(first).map_err(|found| {
        let hint = format!("; add it there or to {shown}");
        let said = found.iter().map(|e| e.to_string());
        problems.extend(
            said.map(|p| match p.contains("is not set in the environment") {
                true => p + &hint,
                false => p,
            }),
        );
    });
    // A bad value is the library's problem, reported with the configuration's.
    let insecure = check::allow_insecure(lookup("ZOOM_ALLOW_INSECURE").as_deref()).unwrap_or(false);
    forward_url(args, &lookup, insecure, &mut problems);
    let delivery = delivery(args, &lookup, insecure, &mut problems);
    problems.extend(unbuilt(args, &delivery, &lookup));
    if let Ok(config) = &config {
        // Every other subscription's id, by the library's own check of one client's settings.
        for id in ids.iter().skip(1) {
            let mut other = config.clone();
            other.subscription_id = id.clone();
            problems.extend(other.validate().err().map(|e| e.to_string()));
        }
    }
    let config = match config {
        Ok(config) if problems.is_empty() => config,
        _ => return Err(Exit::Settings(problems)),
    };
    if ids.is_empty() {
        ids.push(config.subscription_id.clone()); // from ZOOM_WS_URL's ?subscriptionId=
    }
    say_what_is_in_force(&config, args);
    let webhook_secret = lookup("ZOOM_WEBHOOK_SECRET_TOKEN")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(Secret::new);
    Ok((config, ids, webhook_secret, delivery))
}

/// The subscription ids of `ZOOM_SUBSCRIPTION_ID` (or `SUBSCRIPTION_ID`): a list is ours to
/// split, the library's Config holds one subscription. Empty when unset.
fn listed_ids(lookup: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Vec<String> {
    let listed = ["ZOOM_SUBSCRIPTION_ID", "SUBSCRIPTION_ID"];
    let listed = listed.iter().find_map(|name| lookup(name));
    let ids = listed.map_or(Ok(Vec::new()), |l| subscription_ids(&l));
    ids.unwrap_or_else(|problem| {
        problems.push(problem);
        Vec::new()
    })
}

/// `--forward`, or else `ZOOM_FORWARD_URL` (filled into `args`), checked like every URL.
fn forward_url(
    args: &mut Args,
    lookup: &dyn Fn(&str) -> Option<String>,
    allow_insecure: bool,
    problems: &mut Vec<String>,
) {
    let mut forward_from = "--forward";
    if args.forward.is_none() {
        args.forward = lookup("ZOOM_FORWARD_URL").map(|v| v.trim().to_string());
        forward_from = "ZOOM_FORWARD_URL";
    }
    if let Some(url) = &args.forward {
        problems.extend(check_forward(forward_from, url, allow_insecure).err());
    }
}

/// What [`load`] gives: the configuration, the subscription ids, the webhook secret token and
/// the delivery settings.
pub type Loaded = (Config, Vec<String>, Option<Secret>, Delivery);

/// A warning per name that zoom-ws does not read: in the environment, or in the `.env` file (a
/// name not also in the environment, once).
fn warn_about_names(file: &[(String, String)], path: &str, is_set: &dyn Fn(&str) -> bool) {
    for (name, _) in std::env::vars_os() {
        if let Some(warning) = name
            .to_str()
            .and_then(|n| names::warning(n, "the environment", is_set))
        {
            log::warn!("{warning}");
        }
    }
    for (i, (name, _)) in file.iter().enumerate() {
        let repeated = file[..i].iter().any(|(earlier, _)| earlier == name);
        if repeated || std::env::var_os(name).is_some() {
            continue;
        }
        if let Some(warning) = names::warning(name, path, is_set) {
            log::warn!("{warning}");
        }
    }
}

/// The start-up lines about what is in force: the grant, cleartext, outputs that go nowhere.
fn say_what_is_in_force(config: &Config, args: &Args) {
    match &config.account_id {
        Some(_) => log::info!(
            "settings: tokens with grant_type=account_credentials (ZOOM_ACCOUNT_ID is set: a \
             Server-to-Server OAuth app)"
        ),
        None => log::info!(
            "settings: tokens with grant_type=client_credentials (ZOOM_ACCOUNT_ID is not set; a \
             Server-to-Server OAuth app needs it)"
        ),
    }
    if config.allow_insecure {
        log::warn!(
            "ZOOM_ALLOW_INSECURE=1: http:// and ws:// are allowed to any host; the client secret, \
             the access token and forwarded events may cross the network in clear"
        );
    }
    if args.quiet && args.exec.is_none() && args.forward.is_none() {
        log::warn!(
            "--quiet without --exec or --forward: events are received and then go nowhere; drop \
             --quiet to have them on stdout"
        );
    }
}

/// `--forward` (or `ZOOM_FORWARD_URL`), checked like the other URLs: strictly parsed, no user
/// info (it would go out as Basic auth), cleartext only to this machine unless
/// `ZOOM_ALLOW_INSECURE=1`. The message never quotes the URL (its path may hold a secret).
fn check_forward(name: &str, url: &str, allow_insecure: bool) -> Result<(), String> {
    let after_scheme = url.split_once("://").map_or("", |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(format!(
            "{name} must not hold user info (user:password@): it would be sent as Basic auth; \
             a receiver checks the x-zm-signature made with ZOOM_WEBHOOK_SECRET_TOKEN instead"
        ));
    }
    let example = |e: zoom_ws::Error| {
        e.to_string().replace(
            "https://zoom.us/oauth/token",
            "https://hooks.example.com/zoom",
        )
    };
    let schemes = ["http", "https"];
    check::endpoint(name, url, &schemes, allow_insecure, "every event").map_err(example)
}

/// The delivery settings, each from its option or else its variable; a bad one is noted in
/// `problems` (and the default kept).
fn delivery(
    args: &Args,
    lookup: &dyn Fn(&str) -> Option<String>,
    #[cfg_attr(not(feature = "ha"), allow(unused_variables))] insecure: bool,
    problems: &mut Vec<String>,
) -> Delivery {
    let mut read = Reader { lookup, problems };
    let spool_max = ["--spool-max", "ZOOM_SPOOL_MAX"];
    let spool_max = read.get(&args.spool_max, spool_max, |v| parse_size(v, MIN_SPOOL_MAX));
    let grace = read.get(&args.grace, ["--grace", "ZOOM_GRACE"], parse_secs);
    let queue = read.get(&args.queue, ["--queue", "ZOOM_QUEUE_MAX"], |v| {
        parse_size(v, 1)
    });
    let stall = ["--stall-timeout", "ZOOM_STALL_TIMEOUT"];
    let stall = read.get(&args.stall_timeout, stall, parse_secs);
    let give_up = ["--give-up-after", "ZOOM_GIVE_UP_AFTER"];
    let give_up = read.get(&args.give_up_after, give_up, |v| match parse_secs(v)? {
        secs if secs.is_zero() => Err("give more than 0 seconds".into()),
        secs => Ok(secs),
    });
    let filter = EventFilter::new(args.events.iter().cloned()).map_err(|e| {
        read.problems
            .push(crate::exit::as_flag(e, "--event").to_string())
    });
    Delivery {
        filter: filter.unwrap_or_default(),
        spool: args
            .spool
            .clone()
            .or_else(|| lookup("ZOOM_SPOOL_DIR").map(PathBuf::from)),
        spool_max: spool_max.unwrap_or(DEFAULT_SPOOL_MAX),
        grace: grace.unwrap_or(DEFAULT_GRACE),
        queue: queue.unwrap_or(DEFAULT_QUEUE),
        stall: stall.unwrap_or(DEFAULT_STALL),
        metrics_file: args
            .metrics_file
            .clone()
            .or_else(|| lookup("ZOOM_METRICS_FILE").map(PathBuf::from)),
        give_up_after: give_up,
        #[cfg(feature = "ha")]
        ha: crate::ha::settings(args, lookup, insecure)
            .map_err(|problem| problems.push(problem))
            .ok()
            .flatten(),
    }
}
/// The option's value, else the variable's, with the name it came from.
pub fn pick(
    given: &Option<String>,
    [option, variable]: [&'static str; 2],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<(String, &'static str)> {
    given
        .clone()
        .map(|v| (v, option))
        .or_else(|| lookup(variable).map(|v| (v, variable)))
}

/// Where the delivery settings are read, and the problems found on the way.
struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    problems: &'a mut Vec<String>,
}

impl Reader<'_> {
    /// [`pick`]ed and parsed; a bad value is noted with the name it came from.
    fn get<T>(
        &mut self,
        given: &Option<String>,
        names: [&'static str; 2],
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (value, name) = pick(given, names, self.lookup)?;
        (parse(&value).map_err(|e| self.problems.push(format!("{name}: {e}")))).ok()
    }
}

/// A room asked for (by a flag or its variable) that this binary was built without, naming the
/// cargo feature that builds it.
fn unbuilt(
    args: &Args,
    delivery: &Delivery,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let (relays, journal, service) = (
        cfg!(feature = "relays"),
        cfg!(journal),
        cfg!(feature = "service"),
    );
    let ha = args.ha_etcd.is_some() || args.ha_ttl.is_some() || lookup("ZOOM_HA_ETCD").is_some();
    let asked = [
        (args.exec.is_some(), "--exec", "relays", relays),
        (args.forward.is_some(), "--forward", "relays", relays),
        (
            delivery.spool.is_some(),
            "--spool (ZOOM_SPOOL_DIR)",
            "journal",
            journal,
        ),
        (
            delivery.metrics_file.is_some(),
            "--metrics-file (ZOOM_METRICS_FILE)",
            "service",
            service,
        ),
        (
            delivery.give_up_after.is_some(),
            "--give-up-after (ZOOM_GIVE_UP_AFTER)",
            "service",
            service,
        ),
        (
            ha,
            "--ha-etcd, --ha-ttl (ZOOM_HA_ETCD)",
            "ha",
            cfg!(feature = "ha"),
        ),
    ];
    let (_, what, feature, _) = asked.into_iter().find(|(on, .., built)| *on && !built)?;
    Some(if feature == "journal" && cfg!(feature = "journal") {
        format!("{what} needs a Unix system (Linux, macOS, BSD); leave it out here")
    } else {
        format!(
            "{what} needs the cargo feature `{feature}`, which this zoom-ws was built without \
             (cargo install zoom-ws-cli --features {feature})"
        )
    })
}

/// `1073741824`, `512M`, `2G`, `64k` (powers of 1024), at least `min` bytes.
fn parse_size(text: &str, min: u64) -> Result<u64, String> {
    let text = text.trim();
    let not_a_size = || format!("{text:?} is not a size such as 1073741824, 512M or 2G");
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 'b'),
    };
    let shift = "bkmgt".find(unit).ok_or_else(not_a_size)? * 10;
    let n: u64 = digits.trim().parse().map_err(|_| not_a_size())?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or(format!("{text:?} is too large"))?;
    if bytes < min {
        return Err(format!("{text:?} is too small; give at least {min} bytes"));
    }
    Ok(bytes)
}

/// `5`, `0.5`, `0` (no grace at all).
fn parse_secs(text: &str) -> Result<Duration, String> {
    match zoom_ws::check::seconds("", text) {
        Ok(secs) if secs <= Duration::from_secs(86_400) => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds from 0 to 86400"
        )),
    }
}

/// `ZOOM_SUBSCRIPTION_ID` may list several ids, comma-separated (checked by the library).
fn subscription_ids(value: &str) -> Result<Vec<String>, String> {
    let problem = |problem: String| format!("ZOOM_SUBSCRIPTION_ID {problem}");
    // Only spaces are trimmed: a line break or tab is refused with the id around it.
    let ids: Vec<String> = value
        .split(',')
        .map(|id| id.trim_matches(' ').to_string())
        .filter(|id| !id.is_empty())
        .collect();
    if ids.is_empty() {
        return Err(problem(
            "holds no subscription id; give one, or several separated by commas".into(),
        ));
    }
    if ids.len() > MAX_SUBSCRIPTIONS {
        let many = format!("lists {} ids; at most {MAX_SUBSCRIPTIONS}", ids.len());
        return Err(problem(many));
    }
    if let Some((_, id)) = ids
        .iter()
        .enumerate()
        .find(|(i, id)| ids[..*i].contains(id))
    {
        return Err(problem(format!(
            "lists {} twice; one subscription should have one consumer",
            zoom_ws::check::escaped(id)
        )));
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_seconds() {
        assert_eq!(parse_size("1073741824", MIN_SPOOL_MAX), Ok(1 << 30));
        assert_eq!(parse_size("512M", MIN_SPOOL_MAX), Ok(512 << 20));
        assert_eq!(parse_size(" 2g ", MIN_SPOOL_MAX), Ok(2 << 30));
        assert_eq!(parse_size("256k", MIN_SPOOL_MAX), Ok(256 << 10));
        assert!(
            parse_size("100", MIN_SPOOL_MAX)
                .unwrap_err()
                .contains("too small")
        );
        assert!(parse_size("12X", MIN_SPOOL_MAX).is_err());
        assert!(parse_size("M", MIN_SPOOL_MAX).is_err());
        assert!(
            parse_size("99999999999T", MIN_SPOOL_MAX)
                .unwrap_err()
                .contains("too large")
        );
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("0"), Ok(Duration::ZERO));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
    }

    #[test]
    fn several_subscription_ids() {
        let ids = |v: &str| subscription_ids(v).ok();
        assert_eq!(ids("a").unwrap(), ["a"]);
        assert_eq!(ids(" a, b ,,c ").unwrap(), ["a", "b", "c"]);
        assert!(ids(" , ").is_none());
        assert!(ids("a,b,a").is_none());
    }
}
