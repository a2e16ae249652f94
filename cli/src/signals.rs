//! Stop requests from outside: SIGINT, SIGTERM and SIGHUP, and the reader of stdout going away;
//! SIGUSR1 and SIGUSR2, logged and ignored.
//!
//! Unix only (libc); elsewhere both watchers do nothing: Ctrl+C ends the process the platform's
//! way, and a closed stdout is noticed at the next event, when writing fails.

use std::sync::Arc;

use crate::outputs::shutdown::Shutdown;

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

impl Blocked {
    /// The first stop signal runs `first` (it wakes the service thread), then stops every
    /// client unless `first` took the stop over (an elected leader gives its lease up and reads
    /// on until its successor connects); a later one cuts the grace period short.
    pub fn stop(
        self,
        stop: crate::sink::StopAll,
        shutdown: Arc<Shutdown>,
        first: impl Fn() -> bool + Send + 'static,
    ) {
        self.on_signal(move |name| {
            if stop.is_stopped() {
                log::warn!(
                    "{name} received again: cutting the grace period short; what is not \
                     delivered stays in the journal or is reported lost"
                );
                shutdown.cut();
            } else {
                log::info!(
                    "{name} received; stopping (a second signal cuts the grace period short)"
                );
                if !first() {
                    stop.stop();
                }
            }
        });
    }
}

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

    /// Signals that would end the process by default and mean nothing to zoom-ws: logged.
    const IGNORED: [(libc::c_int, &str); 2] =
        [(libc::SIGUSR1, "SIGUSR1"), (libc::SIGUSR2, "SIGUSR2")];

    fn check(what: &str, rc: libc::c_int) {
        if rc != 0 {
            // Without the mask a stop signal would end the process without the drain.
            log::error!(
                "{what} failed ({}); a signal may end zoom-ws without its summary",
                io::Error::from_raw_os_error(rc)
            );
        }
    }

    /// Blocks SIGINT, SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2 in this thread (and so in every
    /// thread it starts).
    pub fn block() -> Blocked {
        // SAFETY: plain libc calls on a local, initialised sigset_t.
        let set = unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            // sigemptyset and sigaddset fail only for an invalid signal number.
            check("sigemptyset", libc::sigemptyset(&mut set));
            for (signal, _) in STOP.iter().chain(&IGNORED) {
                check("sigaddset", libc::sigaddset(&mut set, *signal));
            }
            // pthread_sigmask returns the error number itself (not -1 and errno).
            check(
                "pthread_sigmask",
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()),
            );
            set
        };
        Blocked { set }
    }

    impl Blocked {
        /// Calls `f` with the signal's name for every stop signal, on a thread of its own that
        /// receives them with `sigwait` (nothing runs inside a signal handler). SIGUSR1 and
        /// SIGUSR2 are logged and ignored.
        pub fn on_signal(self, f: impl Fn(&str) + Send + 'static) {
            let set = self.set;
            std::thread::spawn(move || {
                loop {
                    let mut signal: libc::c_int = 0;
                    // SAFETY: `set` is a valid sigset_t and `signal` a valid out-pointer.
                    let rc = unsafe { libc::sigwait(&set, &mut signal) };
                    if rc != 0 {
                        check("sigwait", rc);
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        continue;
                    }
                    if let Some((_, name)) = IGNORED.iter().find(|(s, _)| *s == signal) {
                        log::warn!("{name} received; ignored (it has no meaning for zoom-ws)");
                        continue;
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
