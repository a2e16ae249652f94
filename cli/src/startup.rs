//! What the command line says about its settings at start, as pure functions: which `.env` was
//! read, and `--event` lists. (The names it does not know: `names`.)

use std::path::Path;

use zoom_ws::check::escaped;

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
}
