//! How a run ends, and the exit status that says so: 0 stopped as asked with nothing lost, 4
//! stopped as asked but events were dropped or lost, 2 usage or configuration error, 3
//! credentials rejected by Zoom, 1 any other fatal error.

use std::process::ExitCode;

use zoom_ws::Error;

/// Exit status of a usage or configuration error.
pub const USAGE: u8 = 2;

/// Exit status of a run that ended as asked, but dropped or lost events on the way.
pub const LOST: u8 = 4;

/// Why a run could not go on.
pub enum Exit {
    /// The command line or a setting is wrong: the message says what to fix.
    Usage(String),
    /// Settings to fix, all found in one run, each worded with its values already escaped.
    Settings(Vec<String>),
    /// An error from the library that retrying cannot fix.
    Fatal(Error),
    /// `--give-up-after`: no subscription was live for that long (the message says what kept
    /// failing).
    #[cfg(feature = "service")]
    GaveUp(String),
}

/// A library error about a value that came from a command-line flag, worded with the flag.
pub fn as_flag(error: Error, flag: &str) -> Error {
    match error {
        Error::Config { setting, problem } if !setting.starts_with("ZOOM_") => Error::Config {
            setting: flag.to_string(),
            problem,
        },
        other => other,
    }
}

impl Exit {
    /// Logs the reason and gives the exit status.
    pub fn report(self) -> ExitCode {
        match self {
            Exit::Usage(message) => {
                log::error!("{}", zoom_ws::check::escaped(&message));
                ExitCode::from(USAGE)
            }
            Exit::Fatal(error) => {
                log::error!("{error}");
                ExitCode::from(match error {
                    Error::Config { .. } => USAGE,
                    Error::Credentials { .. } => 3,
                    _ => 1,
                })
            }
            Exit::Settings(problems) => {
                for problem in &problems {
                    log::error!("{problem}");
                }
                if problems.len() > 1 {
                    log::error!("{} settings to fix; nothing was sent", problems.len());
                }
                ExitCode::from(USAGE)
            }
            #[cfg(feature = "service")]
            Exit::GaveUp(message) => {
                log::error!("{message}");
                ExitCode::from(1)
            }
        }
    }
}
