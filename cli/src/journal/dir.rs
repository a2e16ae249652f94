//! The journal's directory: made private, checked to hold only our files, locked, and every file
//! opened without following links.

use std::fs::{self, DirBuilder, File, OpenOptions, Permissions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::JournalError;

pub const LOCK: &str = "lock";
/// The high-water mark: the next sequence number, so that none is ever used twice.
pub const SEQ: &str = "seq";
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// A file of ours, known by its name.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    /// `lock` or `seq`.
    Fixed,
    /// A segment and the sequence number of its first record.
    Segment(u64),
    /// An output's cursor.
    Cursor(String),
}

/// `seg-<first sequence number, 20 digits>.log`.
pub fn segment_name(first: u64) -> String {
    format!("seg-{first:020}.log")
}

/// `cursor-<output>`.
pub fn cursor_name(output: &str) -> String {
    format!("cursor-{output}")
}

/// Output names are file name parts: short, lower case, no dots or slashes.
pub fn valid_output(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Which of our files `name` is, if any.
pub fn parse_name(name: &str) -> Option<Entry> {
    if name == LOCK || name == SEQ {
        return Some(Entry::Fixed);
    }
    if let Some(digits) = name
        .strip_prefix("seg-")
        .and_then(|n| n.strip_suffix(".log"))
    {
        let ok = digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit());
        return ok
            .then(|| digits.parse().ok())
            .flatten()
            .map(Entry::Segment);
    }
    let output = name.strip_prefix("cursor-")?;
    valid_output(output).then(|| Entry::Cursor(output.to_owned()))
}

/// Creates `dir` (and missing parents) as `0700`, or checks that an existing one is a journal
/// (empty, or only our files) before changing anything, then makes it `0700`.
pub fn prepare(dir: &Path) -> Result<(), JournalError> {
    if fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(JournalError::symlink(dir));
    }
    match fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(JournalError(format!(
                "the journal path {} is an existing file, not a directory; give a directory (it \
                 is created if missing), the file was left untouched",
                dir.display()
            )));
        }
        Ok(meta) => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            if meta.uid() != unsafe { libc::geteuid() } {
                return Err(JournalError(format!(
                    "the journal directory {} belongs to another user; give a directory of this \
                     user's own (nothing was changed)",
                    dir.display()
                )));
            }
            list(dir)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| JournalError::io("create the journal directory", dir, e))?,
        Err(e) => return Err(JournalError::io("read the journal directory", dir, e)),
    }
    fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
        .map_err(|e| JournalError::io("make private (0700) the journal directory", dir, e))
}

/// Our files in `dir`; anything else, or a link or non-regular file under one of our names,
/// refuses the directory.
pub fn list(dir: &Path) -> Result<Vec<(Entry, PathBuf)>, JournalError> {
    let read = |e| JournalError::io("read the journal directory", dir, e);
    let mut out = Vec::new();
    for item in fs::read_dir(dir).map_err(read)? {
        let item = item.map_err(read)?;
        let path = item.path();
        let entry = item.file_name().to_str().and_then(parse_name);
        let Some(entry) = entry else {
            return Err(JournalError(format!(
                "{} is not part of a zoom-ws journal, so its directory is not one; give an empty \
                 or new directory (nothing was changed)",
                path.display()
            )));
        };
        let meta = fs::symlink_metadata(&path).map_err(read)?;
        if !meta.file_type().is_file() {
            return Err(JournalError::symlink(&path));
        }
        out.push((entry, path));
    }
    Ok(out)
}

/// Opens (or with `create`, creates) a journal file read-write, never through a link, `0600`
/// whatever the umask.
pub fn open_file(path: &Path, create: bool) -> Result<File, JournalError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => JournalError::symlink(path),
            _ => JournalError::io("open the journal file", path, e),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| JournalError::io("read the journal file", path, e))?;
    if !meta.is_file() {
        return Err(JournalError::symlink(path));
    }
    if meta.permissions().mode() & 0o7777 != FILE_MODE {
        file.set_permissions(Permissions::from_mode(FILE_MODE))
            .map_err(|e| JournalError::io("make private (0600) the journal file", path, e))?;
    }
    Ok(file)
}

/// Takes the journal's exclusive lock, failing at once if another process holds it. The lock
/// lasts as long as the returned file is open.
pub fn lock(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join(LOCK);
    let file = open_file(&path, true)?;
    // SAFETY: flock on a file descriptor we own and keep open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(file);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) => Err(JournalError(format!(
            "the journal is in use by another process (it holds the lock {}); stop it, or give \
             this one another directory",
            path.display()
        ))),
        _ => Err(JournalError::io("lock", path, e)),
    }
}

/// The directory itself, opened to fsync new and removed names.
pub fn open_dir(dir: &Path) -> Result<File, JournalError> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(|e| JournalError::io("open the journal directory", dir, e))
}

/// Bytes free for us on the file system holding `file`.
pub fn free_bytes(file: &File) -> Option<u64> {
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: fstatvfs fills the struct for an open descriptor; read only when it succeeds.
    let rc = unsafe { libc::fstatvfs(file.as_raw_fd(), st.as_mut_ptr()) };
    // SAFETY: initialised by the successful call above.
    (rc == 0).then(|| unsafe { st.assume_init() }).map(|st| {
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        let free = st.f_bavail as u64 * st.f_frsize as u64;
        free
    })
}
