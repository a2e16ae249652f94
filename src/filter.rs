//! Which events to keep: event-type patterns with `*` globs, such as `meeting.*` or `*.created`.

use crate::error::{Error, Result};

/// A set of event-type patterns; an event is kept when any pattern matches its name. An empty set
/// keeps everything.
///
/// `*` matches any run of characters, dots included (`*` alone matches every event); every other
/// character matches itself, case included, as Zoom's event names are lowercase.
///
/// ```
/// let filter = zoom_ws::EventFilter::new(["meeting.*", "*.created"])?;
/// assert!(filter.matches("meeting.started"));
/// assert!(filter.matches("user.created"));
/// assert!(!filter.matches("recording.completed"));
/// # Ok::<(), zoom_ws::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    patterns: Vec<String>,
}

impl EventFilter {
    /// A filter from patterns. An empty or blank pattern is an error (it would match nothing).
    pub fn new<I, S>(patterns: I) -> Result<EventFilter>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let patterns: Vec<String> = patterns
            .into_iter()
            .map(|p| p.into().trim().to_string())
            .collect();
        if patterns.iter().any(String::is_empty) {
            return Err(Error::config(
                "EventFilter",
                "needs a pattern such as meeting.* or *.created, not an empty one",
            ));
        }
        Ok(EventFilter { patterns })
    }

    /// True when `event_name` matches one of the patterns, or when there are none.
    pub fn matches(&self, event_name: &str) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| glob_match(p, event_name))
    }

    /// The patterns, as given (trimmed).
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

/// `*`-glob matching in linear time: on a mismatch, let the last `*` swallow one more character.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            last_star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((star, from)) = last_star {
            p = star + 1;
            t = from + 1;
            last_star = Some((star, from + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("meeting.*", "meeting.started", true),
            ("meeting.*", "meeting.participant_joined", true),
            ("meeting.*", "meeting.", true),
            ("meeting.*", "meeting", false),
            ("meeting.*", "webinar.started", false),
            ("*.created", "user.created", true),
            ("*.created", "meeting.created", true),
            ("*.created", "user.created.extra", false),
            ("*", "anything.at_all", true),
            ("*", "", true),
            ("meeting.started", "meeting.started", true),
            ("meeting.started", "meeting.started2", false),
            ("meeting.started", "Meeting.Started", false),
            ("*participant*", "meeting.participant_joined", true),
            ("m*t*g.*ed", "meeting.started", true),
            ("m*t*g.*ed", "meeting.start", false),
            ("a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
            ("**", "x", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob_match(pattern, name), expected, "{pattern} vs {name}");
        }
    }

    #[test]
    fn filter_sets() {
        let all = EventFilter::new(Vec::<String>::new()).unwrap();
        assert!(all.matches("whatever"));
        let some = EventFilter::new(["meeting.*", " *.created "]).unwrap();
        assert_eq!(some.patterns(), ["meeting.*", "*.created"]);
        assert!(some.matches("meeting.ended") && some.matches("user.created"));
        assert!(!some.matches("user.deleted"));
        let err = EventFilter::new(["meeting.*", " "]).unwrap_err();
        assert!(err.to_string().starts_with("EventFilter needs a pattern"));
    }
}
