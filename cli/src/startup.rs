//! What the command line says about its settings at start, as pure functions: which `.env` was
//! read, which `ZOOM_*` names it does not know, and `--event` lists.

use std::path::Path;

use zoom_ws::check::{escaped, unknown_setting};

/// The info line about the `.env` file: its full path, or where none was found.
pub fn env_file_note(path: &Path, found: bool) -> String {
    let full = match std::env::current_dir() {
        Ok(dir) if path.is_relative() => dir.join(path),
        _ => path.to_path_buf(),
    };
    let shown = full.display().to_string();
    if found {
        format!("settings: reading {}", escaped(&shown))
    } else {
        format!(
            "settings: no .env file at {}; using the environment only (--env-file PATH names one)",
            escaped(&shown)
        )
    }
}

/// Logs which `.env` was read (or where none was found) and a warning per `ZOOM_*` name that
/// zoom-ws does not know, in the environment or in the file.
pub fn announce(path: &Path, found: bool, dotenv: &[(String, String)]) {
    log::info!("{}", env_file_note(path, found));
    let place = path.display().to_string();
    for (name, _) in std::env::vars_os() {
        if let Some(warning) = name
            .to_str()
            .and_then(|n| unknown_warning(n, "the environment"))
        {
            log::warn!("{warning}");
        }
    }
    for (i, (name, _)) in dotenv.iter().enumerate() {
        let repeated = dotenv[..i].iter().any(|(earlier, _)| earlier == name);
        if repeated || std::env::var_os(name).is_some() {
            continue;
        }
        if let Some(warning) = unknown_warning(name, &place) {
            log::warn!("{warning}");
        }
    }
}

/// The warning for `name` (found in `place`) when it is a `ZOOM_*` name zoom-ws does not know,
/// with the nearest known name when one is close.
pub fn unknown_warning(name: &str, place: &str) -> Option<String> {
    let (hint, known, end) = match unknown_setting(name)? {
        Some(known) => ("; did you mean ", known, "?"),
        None => ("", "", ""),
    };
    Some(format!(
        "{} (in {}) is not a zoom-ws setting and is ignored{hint}{known}{end}",
        escaped(name),
        escaped(place),
    ))
}

/// An `--event` value: one pattern or a comma-separated list (as gh and the Stripe CLI take).
pub fn event_patterns(value: &str) -> Result<Vec<String>, String> {
    let patterns: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if patterns.is_empty() {
        return Err("--event needs a pattern such as meeting.* or *.created".into());
    }
    Ok(patterns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lists() {
        assert_eq!(
            event_patterns("meeting.participant_joined, meeting.ended").unwrap(),
            ["meeting.participant_joined", "meeting.ended"]
        );
        assert_eq!(event_patterns("meeting.*").unwrap(), ["meeting.*"]);
        assert!(event_patterns(" , ").is_err());
    }

    #[test]
    fn warnings_name_the_place_and_the_nearest_name() {
        assert_eq!(
            unknown_warning("ZOOM_ACOUNT_ID", "/srv/app/.env").unwrap(),
            "ZOOM_ACOUNT_ID (in /srv/app/.env) is not a zoom-ws setting and is ignored; did you \
             mean ZOOM_ACCOUNT_ID?"
        );
        assert_eq!(
            unknown_warning("ZOOM_X\n", "the environment").unwrap(),
            "ZOOM_X\\n (in the environment) is not a zoom-ws setting and is ignored"
        );
        assert_eq!(unknown_warning("ZOOM_CLIENT_ID", "x"), None);
    }
}
