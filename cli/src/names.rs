//! The settings room's names: every variable zoom-ws reads, the names other samples use for the
//! same things, and the nearest known name for a typo (of a variable or a flag). Pure functions;
//! the warnings are logged by `settings`.

use zoom_ws::check::escaped;

/// Every `ZOOM_*` name zoom-ws reads (or sets, for `--exec`), for the unknown-name warning.
pub const KNOWN_SETTINGS: &[&str] = &[
    "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET",
    "ZOOM_SUBSCRIPTION_ID",
    "ZOOM_ACCOUNT_ID",
    "ZOOM_OAUTH_URL",
    "ZOOM_WS_URL",
    "ZOOM_HEARTBEAT_INTERVAL",
    "ZOOM_DEAD_PEER_TIMEOUT",
    "ZOOM_CONNECT_TIMEOUT",
    "ZOOM_BACKOFF_INITIAL",
    "ZOOM_BACKOFF_MAX",
    "ZOOM_MAX_MESSAGE_SIZE",
    "ZOOM_CA_FILE",
    "ZOOM_ALLOW_INSECURE",
    "ZOOM_WEBHOOK_SECRET_TOKEN",
    "ZOOM_FORWARD_URL",
    "ZOOM_EVENT",
    "ZOOM_EVENT_TS",
    "ZOOM_SPOOL_DIR",
    "ZOOM_SPOOL_MAX",
    "ZOOM_GRACE",
    "ZOOM_METRICS_FILE",
    "ZOOM_GIVE_UP_AFTER",
    "ZOOM_QUEUE_MAX",
    "ZOOM_STALL_TIMEOUT",
    "ZOOM_HA_ETCD",
    "ZOOM_HA_TTL",
    "ZOOM_HA_NAME",
    "ZOOM_HA_PREFIX",
];

/// The names of Zoom's WebSocket sample that zoom-ws reads too, beside its own.
const SEED_NAMES: &[(&str, &str)] = &[
    ("ZOOM_CLIENT_ID", "CLIENT_USERNAME"),
    ("ZOOM_CLIENT_SECRET", "CLIENT_PASSWORD"),
    ("ZOOM_SUBSCRIPTION_ID", "SUBSCRIPTION_ID"),
    ("ZOOM_OAUTH_URL", "OAUTH_URL"),
    ("ZOOM_WS_URL", "WS_URL"),
];

/// Names that Zoom's samples (and others' clients) use for what zoom-ws reads under another
/// name: set, they are ignored, so a Server-to-Server app would silently ask for the wrong grant.
const FOREIGN: &[(&str, &str)] = &[
    ("ACCOUNT_ID", "ZOOM_ACCOUNT_ID"),
    ("accountId", "ZOOM_ACCOUNT_ID"),
    ("account_id", "ZOOM_ACCOUNT_ID"),
    ("ZOOM_S2S_ACCOUNT_ID", "ZOOM_ACCOUNT_ID"),
    ("CLIENT_ID", "ZOOM_CLIENT_ID"),
    ("clientId", "ZOOM_CLIENT_ID"),
    ("client_id", "ZOOM_CLIENT_ID"),
    ("ZOOM_S2S_CLIENT_ID", "ZOOM_CLIENT_ID"),
    ("ZOOM_API_KEY", "ZOOM_CLIENT_ID"),
    ("CLIENT_SECRET", "ZOOM_CLIENT_SECRET"),
    ("clientSecret", "ZOOM_CLIENT_SECRET"),
    ("client_secret", "ZOOM_CLIENT_SECRET"),
    ("ZOOM_S2S_CLIENT_SECRET", "ZOOM_CLIENT_SECRET"),
    ("ZOOM_API_SECRET", "ZOOM_CLIENT_SECRET"),
    ("subscriptionId", "ZOOM_SUBSCRIPTION_ID"),
    ("subscription_id", "ZOOM_SUBSCRIPTION_ID"),
    ("WS_URL_DEV", "ZOOM_WS_URL"),
    ("WEBSOCKET_URL", "ZOOM_WS_URL"),
    ("ZOOM_WEBSOCKET_URL", "ZOOM_WS_URL"),
    ("OAUTH_URL_DEV", "ZOOM_OAUTH_URL"),
    ("ZOOM_SECRET_TOKEN", "ZOOM_WEBHOOK_SECRET_TOKEN"),
    ("ZOOM_WEBHOOK_SECRET", "ZOOM_WEBHOOK_SECRET_TOKEN"),
    ("WEBHOOK_SECRET_TOKEN", "ZOOM_WEBHOOK_SECRET_TOKEN"),
    ("SECRET_TOKEN", "ZOOM_WEBHOOK_SECRET_TOKEN"),
];

/// The warning for `name`, found in `place` (the environment, or a `.env` path): a name other
/// samples use for one of ours (when ours is not set: `is_set` says), or a `ZOOM_*` name zoom-ws
/// does not know, with the nearest known name when one is close.
pub fn warning(name: &str, place: &str, is_set: &dyn Fn(&str) -> bool) -> Option<String> {
    let shown = format!("{} (in {})", escaped(name), escaped(place));
    if let Some(&(_, ours)) = FOREIGN.iter().find(|(foreign, _)| *foreign == name) {
        let seed = SEED_NAMES.iter().find(|(zoom, _)| *zoom == ours);
        if is_set(ours) || seed.is_some_and(|(_, seed)| is_set(seed)) {
            return None;
        }
        let grant = match ours {
            "ZOOM_ACCOUNT_ID" => {
                " (without it, tokens are asked for with grant_type=client_credentials, not a \
                 Server-to-Server app's account_credentials)"
            }
            _ => "",
        };
        return Some(format!(
            "{shown} is not read by zoom-ws; it reads {ours}: rename it{grant}"
        ));
    }
    let nearest = unknown_setting(name)?;
    let hint = nearest.map_or(String::new(), |n| format!("; did you mean {n}?"));
    Some(format!(
        "{shown} is not a zoom-ws setting and is ignored{hint}"
    ))
}

/// Whether `name` is a `ZOOM_*` name zoom-ws does not know: `None` when it is known (or not a
/// `ZOOM_*` name), else `Some` of the nearest known name when one is close (a typo such as
/// `ZOOM_CLIENTID`).
pub fn unknown_setting(name: &str) -> Option<Option<&'static str>> {
    let zoom = name
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("ZOOM_"));
    if !zoom || KNOWN_SETTINGS.contains(&name) {
        return None;
    }
    Some(nearest(&name.to_ascii_uppercase(), KNOWN_SETTINGS))
}

/// The candidate closest to `name`, when close enough to be a typo: at most a third of the name
/// differs, and at most three edits (more for long names).
pub fn nearest(name: &str, candidates: &[&'static str]) -> Option<&'static str> {
    if name.len() > 64 {
        return None;
    }
    let mut best: Option<(usize, &'static str)> = None;
    for &known in candidates {
        let d = edit_distance(name, known);
        if d <= 3.max(name.len() / 6) && d * 3 <= name.len() && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, known));
        }
    }
    best.map(|(_, known)| known)
}

/// Levenshtein distance over bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_names_and_their_nearest() {
        assert_eq!(
            unknown_setting("ZOOM_CLIENTID"),
            Some(Some("ZOOM_CLIENT_ID"))
        );
        assert_eq!(
            unknown_setting("ZOOM_ACOUNT_ID"),
            Some(Some("ZOOM_ACCOUNT_ID"))
        );
        assert_eq!(unknown_setting("zoom_ws_url"), Some(Some("ZOOM_WS_URL")));
        assert_eq!(unknown_setting("ZOOM_SOMETHING_ELSE_ENTIRELY"), Some(None));
        assert_eq!(
            unknown_setting(&format!("ZOOM_{}", "X".repeat(100))),
            Some(None)
        );
        assert_eq!(unknown_setting("ZOOM_CLIENT_ID"), None);
        assert_eq!(unknown_setting("PATH"), None);
        assert_eq!(unknown_setting("ZOOM"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            nearest("--max-event", &["--max-events", "--event"]),
            Some("--max-events")
        );
    }

    #[test]
    fn warnings_name_the_place_and_the_name_zoom_ws_reads() {
        let none = |_: &str| false;
        assert_eq!(
            warning("ZOOM_ACOUNT_ID", "/srv/app/.env", &none).unwrap(),
            "ZOOM_ACOUNT_ID (in /srv/app/.env) is not a zoom-ws setting and is ignored; did you \
             mean ZOOM_ACCOUNT_ID?"
        );
        assert_eq!(
            warning("ZOOM_X\n", "the environment", &none).unwrap(),
            "ZOOM_X\\n (in the environment) is not a zoom-ws setting and is ignored"
        );
        assert_eq!(warning("ZOOM_CLIENT_ID", "x", &none), None);
        let account = warning("ACCOUNT_ID", "the environment", &none).unwrap();
        assert!(
            account.starts_with(
                "ACCOUNT_ID (in the environment) is not read by zoom-ws; it reads ZOOM_ACCOUNT_ID"
            ) && account.contains("client_credentials"),
            "{account}"
        );
        let dev = warning("WS_URL_DEV", ".env", &none).unwrap();
        assert!(dev.contains("it reads ZOOM_WS_URL"), "{dev}");
        // Ours is set: nothing to say.
        assert_eq!(
            warning("clientId", ".env", &|n| n == "ZOOM_CLIENT_ID"),
            None
        );
        assert_eq!(warning("HOME", ".env", &none), None);
        assert_eq!(
            warning("OAUTH_URL_DEV", ".env", &|n| n == "OAUTH_URL"),
            None
        );
    }
}
