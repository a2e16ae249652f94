//! The command line: what was asked for. Read with `lexopt` over `args_os`, so an argument that
//! is not UTF-8 is a clear usage error, never a panic.

use std::ffi::OsString;
use std::path::PathBuf;

use lexopt::prelude::*;

/// What the command line asked for.
#[derive(Debug, Default)]
pub struct Args {
    /// `--env-file`: read instead of `./.env`, and required to exist.
    pub env_file: Option<PathBuf>,
    /// `--max-events`.
    pub max_events: Option<u64>,
    /// `--event` patterns, in order.
    pub events: Vec<String>,
    /// `--dedupe`.
    pub dedupe: bool,
    /// `--exec`.
    pub exec: Option<String>,
    /// `--forward`.
    pub forward: Option<String>,
    /// `--spool DIR` (else `ZOOM_SPOOL_DIR`).
    pub spool: Option<PathBuf>,
    /// `--spool-max SIZE`, as given (else `ZOOM_SPOOL_MAX`).
    pub spool_max: Option<String>,
    /// `--spool-forget OUTPUT`, each time given: outputs whose journal cursors go.
    pub spool_forget: Vec<String>,
    /// `--grace SECS`, as given (else `ZOOM_GRACE`).
    pub grace: Option<String>,
    /// `--metrics-file PATH` (else `ZOOM_METRICS_FILE`).
    pub metrics_file: Option<PathBuf>,
    /// `--give-up-after SECS`, as given (else `ZOOM_GIVE_UP_AFTER`).
    pub give_up_after: Option<String>,
    /// `--queue SIZE`, as given (else `ZOOM_QUEUE_MAX`).
    pub queue: Option<String>,
    /// `--stall-timeout SECS`, as given (else `ZOOM_STALL_TIMEOUT`).
    pub stall_timeout: Option<String>,
    /// `--ha-etcd URLS`, as given (else `ZOOM_HA_ETCD`).
    pub ha_etcd: Option<String>,
    /// `--ha-ttl SECS`, as given (else `ZOOM_HA_TTL`).
    pub ha_ttl: Option<String>,
    /// `--quiet`.
    pub quiet: bool,
}

/// What to do.
#[derive(Debug)]
pub enum Command {
    /// Receive events.
    Run(Box<Args>),
    /// Print the help text.
    Help,
    /// Print the version.
    Version,
}

/// Reads the arguments (without the program name). The error is a sentence for stderr.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut parser = lexopt::Parser::from_args(args);
    let mut parsed = Args::default();
    while let Some(arg) = parser.next().map_err(describe)? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Short('V') | Long("version") => return Ok(Command::Version),
            Long("env-file") => parsed.env_file = Some(value(&mut parser)?.into()),
            Long("max-events") => {
                let v = text(&mut parser, "--max-events")?;
                let n = v.parse().ok().filter(|&n: &u64| n > 0);
                parsed.max_events = Some(n.ok_or(format!(
                    "--max-events needs a whole number above 0, not {v:?}"
                ))?);
            }
            Long("event") => {
                let list = text(&mut parser, "--event")?;
                parsed.events.extend(crate::startup::event_patterns(&list)?);
            }
            Long("dedupe") => parsed.dedupe = true,
            Long("exec") => parsed.exec = Some(text(&mut parser, "--exec")?),
            Long("forward") => parsed.forward = Some(text(&mut parser, "--forward")?),
            Long("spool") => parsed.spool = Some(value(&mut parser)?.into()),
            Long("spool-max") => parsed.spool_max = Some(text(&mut parser, "--spool-max")?),
            Long("spool-forget") => parsed
                .spool_forget
                .push(text(&mut parser, "--spool-forget")?),
            Long("grace") => parsed.grace = Some(text(&mut parser, "--grace")?),
            Long("metrics-file") => parsed.metrics_file = Some(value(&mut parser)?.into()),
            Long("give-up-after") => {
                parsed.give_up_after = Some(text(&mut parser, "--give-up-after")?);
            }
            Long("ha-etcd") => parsed.ha_etcd = Some(text(&mut parser, "--ha-etcd")?),
            Long("ha-ttl") => parsed.ha_ttl = Some(text(&mut parser, "--ha-ttl")?),
            Long("queue") => parsed.queue = Some(text(&mut parser, "--queue")?),
            Long("stall-timeout") => {
                parsed.stall_timeout = Some(text(&mut parser, "--stall-timeout")?);
            }
            Short('q') | Long("quiet") => parsed.quiet = true,
            _ => return Err(describe(arg.unexpected())),
        }
    }
    if parsed.exec.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err("--exec needs a command, such as --exec 'jq -c .payload >> events.log'".into());
    }
    Ok(Command::Run(Box::new(parsed)))
}

/// The value of the option just read, as the OS gave it (for paths).
fn value(parser: &mut lexopt::Parser) -> Result<OsString, String> {
    parser.value().map_err(describe)
}

/// The value of the option just read, which must be text.
fn text(parser: &mut lexopt::Parser, option: &str) -> Result<String, String> {
    value(parser)?
        .into_string()
        .map_err(|v| format!("{option} needs UTF-8 text, not {v:?}"))
}

/// lexopt's errors, in the words of our other messages.
fn describe(error: lexopt::Error) -> String {
    match error {
        lexopt::Error::MissingValue {
            option: Some(option),
        } => format!("{option} needs a value"),
        lexopt::Error::UnexpectedArgument(v) => {
            format!("unexpected argument {v:?} (zoom-ws takes options only); see --help")
        }
        lexopt::Error::UnexpectedOption(option) => {
            let given = option.split('=').next().unwrap_or(&option);
            match crate::names::nearest(given, &crate::help::long_options()) {
                Some(near) => format!("invalid option '{option}'; did you mean {near}? see --help"),
                None => format!("invalid option '{option}'; see --help"),
            }
        }
        other => format!("{other}; see --help"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Option<Args>, String> {
        match super::parse(a.iter().map(OsString::from))? {
            Command::Run(args) => Ok(Some(*args)),
            Command::Help | Command::Version => Ok(None),
        }
    }

    #[test]
    fn args() {
        let args = parse(&["--max-events", "3", "--env-file=x.env"])
            .unwrap()
            .unwrap();
        assert_eq!(args.max_events, Some(3));
        assert_eq!(args.env_file, Some(PathBuf::from("x.env")));
        assert!(parse(&["--max-events", "many"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--env-file"]).is_err());
        let args = parse(&["--event", "meeting.*", "--event=*.created", "--dedupe"])
            .unwrap()
            .unwrap();
        assert_eq!(args.events, ["meeting.*", "*.created"]);
        assert!(args.dedupe);
        assert!(parse(&["--forward", "http://127.0.0.1:9/hook"]).is_ok());
    }

    #[test]
    fn action_args() {
        let args = parse(&[
            "--event",
            "meeting.*",
            "--event=*.created",
            "--dedupe",
            "--exec",
            "cat",
            "--forward",
            "http://127.0.0.1:9/hook",
            "--spool",
            "spool.jsonl",
            "--queue",
            "10",
            "-q",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(args.events, ["meeting.*", "*.created"]);
        assert!(args.dedupe && args.quiet);
        assert_eq!(args.exec.as_deref(), Some("cat"));
        assert_eq!(args.queue.as_deref(), Some("10"));
        assert!(parse(&["--spool", "x"]).is_ok());
        assert!(parse(&["--exec", " "]).is_err());
    }

    #[test]
    fn errors_name_the_option_and_the_fix() {
        assert_eq!(parse(&["--exec"]).unwrap_err(), "--exec needs a value");
        let bogus = parse(&["--bogus"]).unwrap_err();
        assert!(
            bogus.contains("--bogus") && bogus.contains("--help"),
            "{bogus}"
        );
        let stray = parse(&["meeting.*"]).unwrap_err();
        assert!(
            stray.contains("meeting.*") && stray.contains("options only"),
            "{stray}"
        );
        let near = parse(&["--max-event", "3"]).unwrap_err();
        assert!(near.contains("did you mean --max-events?"), "{near}");
        let near = parse(&["--forwrd=http://127.0.0.1:9/"]).unwrap_err();
        assert!(near.contains("did you mean --forward?"), "{near}");
        let flag = parse(&["--dedupe=yes"]).unwrap_err();
        assert!(flag.contains("--dedupe"), "{flag}");
        assert!(matches!(
            super::parse([OsString::from("--help")]),
            Ok(Command::Help)
        ));
        assert!(matches!(
            super::parse([OsString::from("-V")]),
            Ok(Command::Version)
        ));
    }

    #[test]
    #[cfg(unix)]
    fn an_argument_that_is_not_utf8_is_an_error_not_a_panic() {
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(b"meeting.\xff".to_vec());
        let err = super::parse([OsString::from("--event"), bad()]).unwrap_err();
        assert!(err.contains("--event needs UTF-8 text"), "{err}");
        assert!(super::parse([bad()]).is_err());
        // A path need not be UTF-8.
        let Command::Run(args) = super::parse([OsString::from("--env-file"), bad()]).unwrap()
        else {
            panic!("not a run");
        };
        assert_eq!(args.env_file, Some(PathBuf::from(bad())));
    }
}
