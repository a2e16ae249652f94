//! The settings room's names: every variable zoom-ws reads, the names other samples use for the
//! same things, and the nearest known name for a typo (of a variable or a flag). Pure functions;
//! the warnings are logged by `settings`.

use zoom_ws::check::escaped;

use crate::help::USAGE;

/// Every `ZOOM_*` name zoom-ws reads (or sets, for `--exec`), for the unknown-name warning: the
/// ones `--help` names, so that a setting is listed in one place.
pub fn known_settings() -> Vec<&'static str> {
    let words = USAGE.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
    let mut known: Vec<_> = words.filter(|w| w.starts_with("ZOOM_")).collect();
    known.sort_unstable();
    known.dedup();
    known
}

/// The names of Zoom's WebSocket sample that zoom-ws reads too, beside its own: `ZOOM_X or Y`
/// in `--help`.
fn seed_name(ours: &str) -> Option<&'static str> {
    USAGE.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        let pair = (words.next()?, words.next()?, words.next()?);
        (pair.0 == ours && pair.1 == "or").then_some(pair.2)
    })
}

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
        if is_set(ours) || seed_name(ours).is_some_and(is_set) {
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
    let known = known_settings();
    if !zoom || known.contains(&name) {
        return None;
    }
    Some(nearest(&name.to_ascii_uppercase(), &known))
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
        let known = known_settings();
        assert_eq!(known.len(), 29, "{known:?}");
        for name in [
            "ZOOM_EVENT_TS",
            "ZOOM_HA_PREFIX",
            "ZOOM_ALLOW_INSECURE",
            "ZOOM_CA_FILE",
        ] {
            assert!(known.contains(&name), "{name} in {known:?}");
        }
        assert_eq!(seed_name("ZOOM_WS_URL"), Some("WS_URL"));
        assert_eq!(seed_name("ZOOM_ACCOUNT_ID"), None);
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
