//! Stop requests from outside: SIGINT, SIGTERM and SIGHUP, and the reader of stdout going away.
//!
//! Unix only (libc); elsewhere both watchers do nothing: Ctrl+C ends the process the platform's
//! way, and a closed stdout is noticed at the next event, when writing fails.

/// The stop signals, blocked in the thread that made this and in every thread it starts later.
pub struct Blocked {
    #[cfg(unix)]
    set: libc::sigset_t,
}

/// Blocks the stop signals. Call it before any other thread starts (the journal's committer,
/// the workers, the clients), so that every thread inherits the mask and only the waiting
/// thread of [`Blocked::on_signal`] ever receives them.
#[cfg(not(unix))]
pub fn block() -> Blocked {
    Blocked {}
}

#[cfg(not(unix))]
impl Blocked {
    /// Does nothing on this platform (see the module's docs).
    pub fn on_signal(self, _f: impl Fn(&str) + Send + 'static) {}
}

/// Does nothing on this platform (see the module's docs).
#[cfg(not(unix))]
pub fn stop_when_stdout_closes(_f: impl FnOnce() + Send + 'static) {}

#[cfg(unix)]
pub use unix::{block, stop_when_stdout_closes};

#[cfg(unix)]
#[allow(unsafe_code)]
mod unix {
    use std::io;

    use super::Blocked;

    /// The signals that ask zoom-ws to stop, and their names.
    const STOP: [(libc::c_int, &str); 3] = [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
    ];

    /// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and so in every thread it starts).
    /// If that fails, the signals keep their default action (the process ends without the
    /// drain): that is said at once, as an error.
    pub fn block() -> Blocked {
        // SAFETY: plain libc calls on a local, initialised sigset_t.
        let (set, error) = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut built = libc::sigemptyset(&mut set) == 0;
            for (signal, _) in STOP {
                built &= libc::sigaddset(&mut set, signal) == 0;
            }
            // pthread_sigmask returns the error number itself.
            let error = match built {
                true => libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
                false => libc::EINVAL,
            };
            (set, error)
        };
        if error != 0 {
            log::error!(
                "cannot block SIGINT, SIGTERM and SIGHUP ({}): a stop signal ends zoom-ws at \
                 once, without the drain",
                io::Error::from_raw_os_error(error)
            );
        }
        Blocked { set }
    }

    impl Blocked {
        /// Calls `f` with the signal's name for every stop signal, on a thread of its own that
        /// receives them with `sigwait` (nothing runs inside a signal handler).
        pub fn on_signal(self, f: impl Fn(&str) + Send + 'static) {
            let set = self.set;
            std::thread::spawn(move || {
                loop {
                    let mut signal: libc::c_int = 0;
                    // SAFETY: `set` is a valid sigset_t and `signal` a valid out-pointer.
                    let error = unsafe { libc::sigwait(&set, &mut signal) };
                    if error != 0 {
                        let error = io::Error::from_raw_os_error(error);
                        log::error!("sigwait: {error}; stop signals are no longer received");
                        return;
                    }
                    let name = STOP
                        .iter()
                        .find(|(s, _)| *s == signal)
                        .map_or("a signal", |(_, name)| name);
                    f(name);
                }
            });
        }
    }

    /// `zoom-ws | head -1`: notices at once when the reader of stdout goes away, rather than at
    /// the next event, which may be hours off. poll() reports POLLERR on a pipe whose reader is
    /// gone; on a file or a terminal it never returns, and the thread just waits.
    pub fn stop_when_stdout_closes(f: impl FnOnce() + Send + 'static) {
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
                    f();
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
