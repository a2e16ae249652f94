//! The parts of the command line that act on events, kept out of the library (which runs no
//! threads of its own):
//!
//! - [`sink`]: what happens to each event on the socket thread: filter, dedupe, stdout, hand-off.
//! - `pipe` (feature `actions`): a bounded queue per action, with an optional spool file for what does not fit.
//! - `worker` (feature `actions`): one thread per action (`--exec`, `--forward`) that empties its pipe in order.
//!
//! The socket threads never wait for an action: handing an event over is a push into memory or
//! an append to a local file, so heartbeats and reads stay on time whatever the command or the
//! receiver does.

pub mod feed;
pub mod journal;
#[cfg(feature = "actions")]
pub mod pipe;
pub mod sink;
#[cfg(feature = "actions")]
pub mod worker;
