//! Stop requests from outside: SIGINT and SIGTERM, and the reader of stdout going away.
//!
//! Unix only (libc); elsewhere both watchers do nothing: Ctrl+C ends the process the platform's
//! way, and a closed stdout is noticed at the next event, when writing fails.

use crate::sink::StopAll;

#[cfg(unix)]
pub use unix::{stop_on_signals, stop_when_stdout_closes};

/// Does nothing on this platform (see the module's docs).
#[cfg(not(unix))]
pub fn stop_on_signals(_stop: StopAll) {}

/// Does nothing on this platform (see the module's docs).
#[cfg(not(unix))]
pub fn stop_when_stdout_closes(_stop: StopAll) {}

#[cfg(unix)]
#[allow(unsafe_code)]
mod unix {
    use std::io;

    use super::StopAll;

    /// Blocks SIGINT and SIGTERM in every thread and turns them into a stop request, received by
    /// one thread with `sigwait` (nothing runs inside a signal handler). A second signal exits at
    /// once. Call it before any other thread starts, so that every thread inherits the mask.
    pub fn stop_on_signals(stop: StopAll) {
        // SAFETY: plain libc calls on a local, initialised sigset_t; the mask is set before any
        // other thread exists, so every thread inherits it.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            set
        };
        std::thread::spawn(move || {
            loop {
                let mut signal: libc::c_int = 0;
                // SAFETY: `set` is a valid sigset_t and `signal` a valid out-pointer.
                if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                    continue;
                }
                if stop.is_stopped() {
                    std::process::exit(130);
                }
                log::info!("signal {signal} received; stopping");
                stop.stop();
            }
        });
    }

    /// `zoom-ws | head -1`: notices at once when the reader of stdout goes away, rather than at
    /// the next event, which may be hours off. poll() reports POLLERR on a pipe whose reader is
    /// gone; on a file or a terminal it never returns, and the thread just waits.
    pub fn stop_when_stdout_closes(stop: StopAll) {
        std::thread::spawn(move || {
            loop {
                let mut stdout = libc::pollfd {
                    fd: libc::STDOUT_FILENO,
                    events: 0,
                    revents: 0,
                };
                // SAFETY: one valid, initialised pollfd.
                let ready = unsafe { libc::poll(&mut stdout, 1, -1) };
                if ready > 0 && stdout.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
                    log::info!("the reader of stdout is gone; stopping");
                    stop.stop();
                    return;
                }
                // No stdout at all (POLLNVAL), or poll() itself failed: nothing to watch.
                let failed =
                    ready < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted;
                if failed || stdout.revents & libc::POLLNVAL != 0 {
                    return;
                }
            }
        });
    }
}
