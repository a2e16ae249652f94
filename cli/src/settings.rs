//! The settings: the process environment first, then the `.env` file (`./.env`, or
//! `--env-file PATH`, which must exist). Checked before anything connects.

use std::io;

use zoom_ws::{Config, Secret};

use crate::args::Args;
use crate::dotenv;
use crate::exit::Exit;

/// The client's configuration and the webhook secret token (`ZOOM_WEBHOOK_SECRET_TOKEN`).
pub fn load(args: &Args) -> Result<(Config, Option<Secret>), Exit> {
    let (path, required) = match &args.env_file {
        Some(path) => (path.as_path(), true),
        None => (std::path::Path::new(".env"), false),
    };
    let shown = path.display();
    let file_pairs = match std::fs::read_to_string(path) {
        Ok(text) => dotenv::parse(&text).map_err(|e| Exit::Usage(format!("{shown}: {e}")))?,
        Err(e) if !required && e.kind() == io::ErrorKind::NotFound => Vec::new(),
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
    let webhook_secret = lookup("ZOOM_WEBHOOK_SECRET_TOKEN")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .map(Secret::new);
    Ok((config, webhook_secret))
}

/// `ZOOM_SUBSCRIPTION_ID` may list several ids, comma-separated.
pub fn subscription_ids(value: &str) -> Result<Vec<String>, Exit> {
    let ids: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect();
    if ids.is_empty() {
        return Err(Exit::Usage(
            "ZOOM_SUBSCRIPTION_ID holds no subscription id; give one, or several separated by \
             commas"
                .into(),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        if ids[..i].contains(id) {
            return Err(Exit::Usage(format!(
                "ZOOM_SUBSCRIPTION_ID lists {id} twice; one subscription should have one consumer"
            )));
        }
    }
    Ok(ids)
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
