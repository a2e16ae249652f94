//! The settings: the process environment first, then the `.env` file (`./.env`, or
//! `--env-file PATH`, which must exist). Checked before anything connects.

use std::io;

use zoom_ws::{Config, Secret, check};

use crate::args::Args;
use crate::dotenv;
use crate::exit::Exit;
use crate::startup;

/// The client's configuration and the webhook secret token (`ZOOM_WEBHOOK_SECRET_TOKEN`).
pub fn load(args: &Args) -> Result<(Config, Option<Secret>), Exit> {
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
    let config = Config::from_lookup(lookup).map_err(Exit::Fatal)?;
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
    Ok((config, webhook_secret))
}

/// `ZOOM_SUBSCRIPTION_ID` may list several ids, comma-separated (checked by the library).
pub fn subscription_ids(value: &str) -> Result<Vec<String>, Exit> {
    let ids = check::subscription_ids(value).map_err(Exit::Fatal)?;
    Ok(ids.into_iter().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_subscription_ids() {
        let ids = |v: &str| subscription_ids(v).ok();
        assert_eq!(ids("a").unwrap(), ["a"]);
        assert_eq!(ids(" a, b ,,c ").unwrap(), ["a", "b", "c"]);
        assert!(ids(" , ").is_none());
        assert!(ids("a,b,a").is_none());
    }
}
