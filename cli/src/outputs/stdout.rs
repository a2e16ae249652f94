//! stdout as an output: one compact line per event, flushed per line. Its worker may block in
//! a write for as long as the reader pauses; the socket threads never do.

use std::io::{self, Write};

use super::shutdown::Shutdown;
use super::worker::{Deliver, Outcome};
use crate::sink::one_line;

/// Writes each event as a line on stdout.
#[derive(Default)]
pub struct Stdout {
    line: Vec<u8>,
}

impl Deliver for Stdout {
    fn deliver(&mut self, content: &str, _shutdown: &Shutdown) -> Outcome {
        self.line.clear();
        self.line.extend_from_slice(one_line(content).as_bytes());
        self.line.push(b'\n');
        let mut out = io::stdout().lock();
        match out.write_all(&self.line).and_then(|()| out.flush()) {
            Ok(()) => Outcome::Done,
            // `zoom-ws | head -1`: the reader is gone, which is a normal way to finish.
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Outcome::Gone,
            Err(e) => Outcome::Retry(format!("cannot write to stdout: {e}")),
        }
    }
}
