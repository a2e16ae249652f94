//! What the command line says about its settings at start, as pure functions: which `.env` was
//! read, which `ZOOM_*` names it does not know, and `--event` lists.

use std::path::Path;

use zoom_ws::check::{escaped, unknown_settings};

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
pub fn announce(path: &str, found: bool, dotenv: &[(String, String)]) {
    log::info!("{}", env_file_note(path.as_ref(), found));
    let env: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    for warning in unknown_setting_warnings(&env, dotenv, path) {
        log::warn!("{warning}");
    }
}

/// One warning per `ZOOM_*` name zoom-ws does not know, in the environment or in the `.env` file
/// (`file` names it), with the nearest known name when one is close.
pub fn unknown_setting_warnings(
    env: &[String],
    dotenv: &[(String, String)],
    file: &str,
) -> Vec<String> {
    let names = env.iter().chain(dotenv.iter().map(|(name, _)| name));
    unknown_settings(names.map(String::as_str))
        .into_iter()
        .map(|(name, nearest)| {
            let place = if env.iter().any(|n| n == name) {
                "the environment"
            } else {
                file
            };
            let (hint, known, end) = match nearest {
                Some(known) => ("; did you mean ", known, "?"),
                None => ("", "", ""),
            };
            format!(
                "{} (in {}) is not a zoom-ws setting and is ignored{hint}{known}{end}",
                escaped(name),
                escaped(place),
            )
        })
        .collect()
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
        let env = vec!["ZOOM_CLIENTID".to_string(), "HOME".to_string()];
        let file = vec![
            ("ZOOM_ACOUNT_ID".to_string(), "a".to_string()),
            ("ZOOM_CLIENTID".to_string(), "b".to_string()),
        ];
        let lines = unknown_setting_warnings(&env, &file, "/srv/app/.env");
        assert_eq!(
            lines,
            [
                "ZOOM_CLIENTID (in the environment) is not a zoom-ws setting and is ignored; did \
                 you mean ZOOM_CLIENT_ID?",
                "ZOOM_ACOUNT_ID (in /srv/app/.env) is not a zoom-ws setting and is ignored; did \
                 you mean ZOOM_ACCOUNT_ID?",
            ]
        );
    }
}
