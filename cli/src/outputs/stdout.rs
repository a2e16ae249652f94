//! stdout as an output: every event waiting written as lines with one `write(2)` (no buffer of
//! ours, so nothing waits while the output is idle). Its worker may block in a write for as
//! long as the reader pauses; the socket threads then stop reading (backpressure).
//!
//! Never a partial line: after a failed or short write (a full disk, say), the next attempt
//! first completes the line that was cut, which works for files and pipes alike, so nothing
//! else is written in the middle of a line. When zoom-ws must exit before that succeeds, a
//! regular file is cut back to its last whole line (`ftruncate`); in a pipe the fragment stays
//! (its reader sees a last line without a newline), and the event is reported lost.

use std::fs::File;
use std::io::{self, Seek, Write};

use super::shutdown::Shutdown;
use super::worker::{Deliver, Outcome};
use crate::feed::Item;

/// Writes each event as a line on stdout.
pub struct Stdout {
    out: File,
    buf: Vec<u8>,
    /// Bytes of the first event's line already written by an attempt that failed.
    partial: usize,
}

impl Stdout {
    /// stdout, written with plain `write(2)` calls through a duplicate of its descriptor.
    pub fn new() -> io::Result<Stdout> {
        #[cfg(unix)]
        let owned = std::os::fd::AsFd::as_fd(&io::stdout()).try_clone_to_owned()?;
        #[cfg(windows)]
        let owned =
            std::os::windows::io::AsHandle::as_handle(&io::stdout()).try_clone_to_owned()?;
        let out = File::from(owned);
        Ok(Stdout {
            out,
            buf: Vec::new(),
            partial: 0,
        })
    }
}

impl Deliver for Stdout {
    fn deliver(&mut self, items: &[Item], _shutdown: &Shutdown) -> Outcome {
        self.buf.clear();
        for item in items {
            self.buf.extend_from_slice(item.line());
        }
        let mut at = self.partial;
        let result = loop {
            if at >= self.buf.len() {
                break Ok(());
            }
            match self.out.write(&self.buf[at..]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => at += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        // Whole lines written; `partial` is what went out of the next one.
        let mut done = 0;
        let mut end = 0;
        for item in items {
            if end + item.line().len() > at {
                break;
            }
            end += item.line().len();
            done += 1;
        }
        self.partial = at - end;
        match result {
            _ if done > 0 => Outcome::Done(done),
            Ok(()) => Outcome::Done(items.len()),
            // `zoom-ws | head -1`: the reader is gone, which is a normal way to finish.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Outcome::Gone,
            Err(e) => Outcome::Retry(format!("cannot write to stdout: {e}")),
        }
    }

    fn abandon(&mut self) {
        let cut = std::mem::take(&mut self.partial) as u64;
        if cut == 0 {
            return;
        }
        let cut_back = (|| {
            let meta = self.out.metadata()?;
            let at = self.out.stream_position()?;
            if !meta.is_file() || at != meta.len() || at < cut {
                return Ok(false);
            }
            self.out.set_len(at - cut)?;
            self.out.seek(io::SeekFrom::Start(at - cut))?;
            Ok::<_, io::Error>(true)
        })();
        match cut_back {
            Ok(true) => log::warn!("stdout: cut back the {cut} bytes of a line left unfinished"),
            Ok(false) => log::error!("stdout: {cut} bytes of an unfinished line stay written"),
            Err(e) => log::error!("stdout: cannot cut back an unfinished line of {cut} bytes: {e}"),
        }
    }
}
