//! The settings: the process environment first, then the `.env` file (`./.env`, or
//! `--env-file PATH`, which must exist). Checked before anything connects.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use zoom_ws::{Config, Secret};

use crate::args::Args;
use crate::dotenv;
use crate::exit::Exit;
use crate::startup;

/// The journal's size limit unless told otherwise: a day of a busy account's events, a few
/// minutes of a full flood.
pub const DEFAULT_SPOOL_MAX: u64 = 1 << 30;

/// The smallest size limit accepted: a few segments of the smallest size.
pub const MIN_SPOOL_MAX: u64 = 256 << 10;

/// Most subscriptions one `ZOOM_SUBSCRIPTION_ID` may list (one connection and thread each).
pub const MAX_SUBSCRIPTIONS: usize = 100;

/// How long the outputs may go on after a stop request, unless told otherwise.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// How events are kept after the socket: the command line first, then the settings.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `--spool DIR` or `ZOOM_SPOOL_DIR`: the journal.
    pub spool: Option<PathBuf>,
    /// `--spool-max SIZE` or `ZOOM_SPOOL_MAX`: the journal's size limit in bytes.
    #[cfg_attr(not(journal), allow(dead_code))]
    pub spool_max: u64,
    /// `--grace SECS` or `ZOOM_GRACE`: how long the outputs may drain after a stop request.
    pub grace: Duration,
    /// `--metrics-file PATH` or `ZOOM_METRICS_FILE`: the Prometheus textfile.
    pub metrics_file: Option<PathBuf>,
    /// `--give-up-after SECS` or `ZOOM_GIVE_UP_AFTER`: exit 1 when no subscription has been
    /// live for that long.
    pub give_up_after: Option<Duration>,
}

/// The client's configuration (for the first subscription), every subscription id, the webhook
/// secret token (`ZOOM_WEBHOOK_SECRET_TOKEN`) and the delivery settings.
pub fn load(args: &Args) -> Result<(Config, Vec<String>, Option<Secret>, Delivery), Exit> {
    let (path, required) = match &args.env_file {
        Some(path) => (path.as_path(), true),
        None => (std::path::Path::new(".env"), false),
    };
    let shown = path.display();
    let file_pairs = match std::fs::read_to_string(path) {
        Ok(text) => {
            let pairs = dotenv::parse(&text).map_err(|e| Exit::Usage(format!("{shown}: {e}")))?;
            startup::announce(path, true, &pairs);
            pairs
        }
        Err(e) if !required && e.kind() == io::ErrorKind::NotFound => {
            startup::announce(path, false, &[]);
            Vec::new()
        }
        Err(e) => return Err(Exit::Usage(format!("cannot read {shown}: {e}"))),
    };
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
    // A list is ours to split: the library's Config holds one subscription.
    let listed = ["ZOOM_SUBSCRIPTION_ID", "SUBSCRIPTION_ID"];
    let mut ids = match listed.iter().find_map(|name| lookup(name)) {
        Some(list) => subscription_ids(&list)?,
        None => Vec::new(),
    };
    let config = Config::from_lookup(|name| match name {
        "ZOOM_SUBSCRIPTION_ID" | "SUBSCRIPTION_ID" => ids.first().cloned(),
        _ => lookup(name),
    })
    .map_err(Exit::Fatal)?;
    if ids.is_empty() {
        ids.push(config.subscription_id.clone()); // from ZOOM_WS_URL's ?subscriptionId=
    }
    if config.allow_insecure {
        log::warn!(
            "ZOOM_ALLOW_INSECURE=1: http:// and ws:// are allowed to any host; the client secret \
             and the access token may cross the network in clear"
        );
    }
    let webhook_secret = lookup("ZOOM_WEBHOOK_SECRET_TOKEN")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(Secret::new);
    let delivery = delivery(args, &lookup)?;
    Ok((config, ids, webhook_secret, delivery))
}

/// The delivery settings, each from its option or else its variable.
fn delivery(args: &Args, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Delivery, Exit> {
    let pick = |given: &Option<String>, option: &'static str, variable: &'static str| {
        given
            .clone()
            .map(|v| (v, option))
            .or_else(|| lookup(variable).map(|v| (v, variable)))
    };
    let spool = args
        .spool
        .clone()
        .or_else(|| lookup("ZOOM_SPOOL_DIR").map(PathBuf::from));
    let spool_max = match pick(&args.spool_max, "--spool-max", "ZOOM_SPOOL_MAX") {
        Some((v, name)) => parse_size(&v).map_err(|e| Exit::Usage(format!("{name}: {e}")))?,
        None => DEFAULT_SPOOL_MAX,
    };
    let grace = match pick(&args.grace, "--grace", "ZOOM_GRACE") {
        Some((v, name)) => parse_secs(&v).map_err(|e| Exit::Usage(format!("{name}: {e}")))?,
        None => DEFAULT_GRACE,
    };
    let metrics_file = args
        .metrics_file
        .clone()
        .or_else(|| lookup("ZOOM_METRICS_FILE").map(PathBuf::from));
    let give_up_after = match pick(&args.give_up_after, "--give-up-after", "ZOOM_GIVE_UP_AFTER") {
        Some((v, name)) => {
            let secs = parse_secs(&v).map_err(|e| Exit::Usage(format!("{name}: {e}")))?;
            if secs.is_zero() {
                return Err(Exit::Usage(format!("{name}: give more than 0 seconds")));
            }
            Some(secs)
        }
        None => None,
    };
    Ok(Delivery {
        spool,
        spool_max,
        grace,
        metrics_file,
        give_up_after,
    })
}

/// `1073741824`, `512M`, `2G`, `64k` (powers of 1024), at least [`MIN_SPOOL_MAX`].
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c.to_ascii_lowercase()),
        _ => (text, 'b'),
    };
    let shift = match unit {
        'b' => 0,
        'k' => 10,
        'm' => 20,
        'g' => 30,
        't' => 40,
        _ => {
            return Err(format!(
                "{text:?} is not a size such as 1073741824, 512M or 2G"
            ));
        }
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 1073741824, 512M or 2G"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or(format!("{text:?} is too large"))?;
    if bytes < MIN_SPOOL_MAX {
        return Err(format!("{text:?} is too small; give at least 256K"));
    }
    Ok(bytes)
}

/// `5`, `0.5`, `0` (no grace at all): the library's parser of seconds, as for
/// `ZOOM_HEARTBEAT_INTERVAL`, within a day.
pub fn parse_secs(text: &str) -> Result<Duration, String> {
    match zoom_ws::check::seconds("", text) {
        Ok(secs) if secs <= Duration::from_secs(86_400) => Ok(secs),
        _ => Err(format!(
            "{text:?} is not a number of seconds from 0 to 86400"
        )),
    }
}

/// `ZOOM_SUBSCRIPTION_ID` may list several ids, comma-separated, each once (each is checked
/// by the library as its client's one subscription).
pub fn subscription_ids(value: &str) -> Result<Vec<String>, Exit> {
    let problem = |problem: String| {
        Exit::Fatal(zoom_ws::Error::Config {
            setting: "ZOOM_SUBSCRIPTION_ID".into(),
            problem,
        })
    };
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
        assert_eq!(parse_size("1073741824"), Ok(1 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size(" 2g "), Ok(2 << 30));
        assert_eq!(parse_size("256k"), Ok(256 << 10));
        assert!(parse_size("100").unwrap_err().contains("too small"));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
        assert!(
            parse_size("99999999999T")
                .unwrap_err()
                .contains("too large")
        );
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_secs("0"), Ok(Duration::ZERO));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
        // One parser of seconds: ZOOM_GRACE answers as ZOOM_HEARTBEAT_INTERVAL does.
        assert!(parse_secs("1e1").is_err());
        assert!(zoom_ws::check::seconds("ZOOM_HEARTBEAT_INTERVAL", "1e1").is_err());
        assert!(parse_secs("86401").is_err());
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
