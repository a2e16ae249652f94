//! What can go wrong with a journal, each as a sentence naming the path and the fix.

use std::fmt;
use std::io;
use std::path::Path;

/// A journal that cannot be opened or written: what went wrong, and what to do.
#[derive(Debug)]
pub struct JournalError(pub(super) String);

impl JournalError {
    /// A system call failed on `path` while doing `action`.
    pub(super) fn io(action: &str, path: impl AsRef<Path>, source: io::Error) -> Self {
        let path = path.as_ref().display();
        JournalError(format!("cannot {action} {path}: {source}"))
    }

    /// A symbolic link inside the journal, which is never followed.
    pub(super) fn symlink(path: &Path) -> Self {
        JournalError(format!(
            "{} is a symbolic link or not a regular file; a journal never follows links: give \
             the directory itself, or remove the link (nothing was changed)",
            path.display()
        ))
    }

    /// An output name that cannot name a cursor file.
    pub(super) fn bad_output(name: &str) -> Self {
        JournalError(format!(
            "{name:?} cannot name a journal output: use 1 to 32 of a-z, 0-9, '-' and '_'"
        ))
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
