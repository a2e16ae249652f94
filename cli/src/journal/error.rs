//! What can go wrong with a journal, each as a sentence naming the path and the fix.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// A journal that cannot be opened or written.
#[non_exhaustive]
pub enum JournalError {
    /// The path exists and is not a directory.
    NotADirectory { path: PathBuf },
    /// The directory holds something that is not part of a journal; nothing was changed.
    Foreign { path: PathBuf },
    /// The directory belongs to another user, who could change it under us.
    NotOwned { path: PathBuf },
    /// A symbolic link inside the journal, which is never followed.
    Symlink { path: PathBuf },
    /// Another process holds the journal's lock.
    Locked { lock: PathBuf },
    /// An output name that cannot name a cursor file.
    BadOutput { name: String },
    /// An event longer than a record may be.
    TooLarge { len: usize, max: usize },
    /// `--spool-forget` named an output of this run.
    ForgetInUse { name: String },
    /// The append buffer is full: the disk has not kept up (see `Journal::has_room`).
    Full { bytes: usize },
    /// The journal was closed.
    Closed,
    /// A system call failed on `path` while doing `action`.
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
}

impl JournalError {
    pub(super) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        JournalError::Io {
            path: path.into(),
            action,
            source,
        }
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalError::NotADirectory { path } => write!(
                f,
                "the journal path {} is an existing file, not a directory; give a directory \
                 (it is created if missing), the file was left untouched",
                path.display()
            ),
            JournalError::Foreign { path } => write!(
                f,
                "{} is not part of a zoom-ws journal, so its directory is not one; give an \
                 empty or new directory (nothing was changed)",
                path.display()
            ),
            JournalError::NotOwned { path } => write!(
                f,
                "the journal directory {} belongs to another user; give a directory of this \
                 user's own (nothing was changed)",
                path.display()
            ),
            JournalError::Symlink { path } => write!(
                f,
                "{} is a symbolic link or not a regular file; a journal never follows links: \
                 give the directory itself, or remove the link (nothing was changed)",
                path.display()
            ),
            JournalError::Locked { lock } => write!(
                f,
                "the journal is in use by another process (it holds the lock {}); stop it, or \
                 give this one another directory",
                lock.display()
            ),
            JournalError::BadOutput { name } => write!(
                f,
                "{name:?} cannot name a journal output: use 1 to 32 of a-z, 0-9, '-' and '_'"
            ),
            JournalError::TooLarge { len, max } => write!(
                f,
                "an event of {len} bytes is larger than a journal record may be ({max} bytes)"
            ),
            JournalError::ForgetInUse { name } => write!(
                f,
                "--spool-forget {name}: {name} is an output of this run; forget only an output \
                 that is not"
            ),
            JournalError::Full { bytes } => write!(
                f,
                "the journal's append buffer is full ({bytes} bytes): the disk does not keep up"
            ),
            JournalError::Closed => write!(f, "the journal is closed"),
            JournalError::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
        }
    }
}

impl fmt::Debug for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for JournalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JournalError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
