//! How one log line looks on stderr. Under systemd (`JOURNAL_STREAM` set: stderr is the
//! journal) each line starts with its syslog priority `<N>`, so `journalctl -p warning` finds
//! our warnings, and carries neither a timestamp nor a level word of ours (the journal has both). Everywhere, a
//! dependency's line names its module, so `Client handshake done.` is not taken for ours.

use std::fmt;

use log::Level;

/// Where stderr goes, as far as the format cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// A terminal or a file: a UTC timestamp, the level, the message.
    Plain,
    /// The journal: `<N>` priority prefix, no timestamp, no level word.
    Journal,
}

impl LogFormat {
    /// From the value of `JOURNAL_STREAM`: set and not empty means the journal (systemd sets it
    /// for a unit whose stderr is the journal; the value, `device:inode`, is not checked against
    /// stderr: a unit that redirects stderr elsewhere also gets no `JOURNAL_STREAM`).
    pub fn for_journal_stream(value: Option<&std::ffi::OsStr>) -> LogFormat {
        match value {
            Some(v) if !v.is_empty() => LogFormat::Journal,
            _ => LogFormat::Plain,
        }
    }

    /// One record as text, without the final newline. `timestamp` is asked for only when the
    /// format shows one. In the journal every line of a multi-line message gets the prefix,
    /// or journald would file the continuation lines at the default priority.
    pub fn line(
        self,
        level: Level,
        target: &str,
        message: &dyn fmt::Display,
        timestamp: impl FnOnce() -> String,
    ) -> String {
        let message = message.to_string();
        let origin = if is_ours(target) {
            String::new()
        } else {
            format!("{target}: ")
        };
        match self {
            LogFormat::Plain => format!("{} {level:<5} {origin}{message}", timestamp()),
            LogFormat::Journal => {
                let priority = syslog_priority(level);
                let mut lines = message.split('\n');
                let first = lines.next().unwrap_or_default();
                let mut out = format!("<{priority}>{origin}{first}");
                for rest in lines {
                    out.push_str(&format!("\n<{priority}>{rest}"));
                }
                out
            }
        }
    }
}

/// syslog's numbers, as `sd-daemon(3)` prefixes use them.
pub fn syslog_priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// Our crates: the library (`zoom_ws::…`) and the command line, whatever its crate is called
/// (`zoom_ws` for a binary named `zoom-ws`, or `zoom_ws_cli`).
fn is_ours(target: &str) -> bool {
    target == "zoom_ws" || target.starts_with("zoom_ws::") || target.starts_with("zoom_ws_")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> String {
        "2026-12-01T20:30:00.000Z".into()
    }

    fn never() -> String {
        panic!("the journal format asked for a timestamp")
    }

    #[test]
    fn plain_lines_carry_the_time_and_the_level() {
        let line = LogFormat::Plain.line(Level::Info, "zoom_ws::client", &"connected", stamp);
        assert_eq!(line, "2026-12-01T20:30:00.000Z INFO  connected");
    }

    #[test]
    fn journal_lines_carry_a_priority_and_no_time() {
        let cases = [
            (Level::Error, "<3>gave up"),
            (Level::Warn, "<4>gave up"),
            (Level::Info, "<6>gave up"),
            (Level::Debug, "<7>gave up"),
            (Level::Trace, "<7>gave up"),
        ];
        for (level, expected) in cases {
            let line = LogFormat::Journal.line(level, "zoom_ws", &"gave up", never);
            assert_eq!(line, expected);
        }
    }

    #[test]
    fn a_dependencys_line_names_its_module_in_both_formats() {
        let target = "tungstenite::handshake::client";
        let plain = LogFormat::Plain.line(Level::Debug, target, &"Client handshake done.", stamp);
        assert_eq!(
            plain,
            "2026-12-01T20:30:00.000Z DEBUG tungstenite::handshake::client: Client handshake done."
        );
        let journal =
            LogFormat::Journal.line(Level::Debug, target, &"Client handshake done.", never);
        assert_eq!(
            journal,
            "<7>tungstenite::handshake::client: Client handshake done."
        );
        // Ours, under either crate name of the command line, are not labelled.
        for ours in ["zoom_ws", "zoom_ws::cli::sink", "zoom_ws_cli::run"] {
            let line = LogFormat::Journal.line(Level::Info, ours, &"x", never);
            assert_eq!(line, "<6>x", "{ours}");
        }
        // A crate whose name merely starts the same way is not ours.
        let other = LogFormat::Journal.line(Level::Info, "zoom_wsx", &"x", never);
        assert_eq!(other, "<6>zoom_wsx: x");
    }

    #[test]
    fn every_journal_line_of_a_long_message_keeps_its_priority() {
        let line = LogFormat::Journal.line(Level::Warn, "zoom_ws", &"first\nsecond", never);
        assert_eq!(line, "<4>first\n<4>second");
    }

    #[test]
    fn journal_stream_selects_the_journal_format() {
        let choose = |v: Option<&str>| LogFormat::for_journal_stream(v.map(std::ffi::OsStr::new));
        assert_eq!(choose(Some("8:12345")), LogFormat::Journal);
        assert_eq!(choose(Some("")), LogFormat::Plain);
        assert_eq!(choose(None), LogFormat::Plain);
    }
}
