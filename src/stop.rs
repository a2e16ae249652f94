//! Stopping a running client from another thread: a flag, and the socket whose read it wakes.

use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The stop flag and the socket it must interrupt, shared with every [`StopHandle`].
#[derive(Debug, Default)]
pub(crate) struct Shared {
    /// Shared with the socket's reads too (see [`Stream::stop_on`](crate::net::Stream::stop_on)).
    stopped: Arc<AtomicBool>,
    /// Ends `run` when the current connection ends (see [`StopHandle::stop_after_connection`]).
    finishing: AtomicBool,
    socket: Mutex<Option<TcpStream>>,
    wake: Condvar,
}

impl Shared {
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub(crate) fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stopped)
    }

    pub(crate) fn is_finishing(&self) -> bool {
        self.finishing.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<TcpStream>> {
        self.socket.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers the current connection's socket, so `stop` can interrupt a blocked read.
    pub(crate) fn register(&self, tcp: &TcpStream) {
        let mut socket = self.lock();
        *socket = tcp.try_clone().ok();
        if self.is_stopped() {
            tcp.shutdown(Shutdown::Read).ok();
        }
    }

    pub(crate) fn unregister(&self) {
        *self.lock() = None;
    }

    /// Sleeps for `delay` unless stopped first.
    pub(crate) fn sleep(&self, delay: Duration) {
        let deadline = Instant::now() + delay;
        self.wait_until(deadline, || false);
    }

    /// Waits until `done` (checked after each [`notify`](Self::notify)), `deadline`, or a stop.
    pub(crate) fn wait_until(&self, deadline: Instant, done: impl Fn() -> bool) {
        let mut socket = self.lock();
        while !self.is_stopped() && !self.is_finishing() && !done() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            socket = match self.wake.wait_timeout(socket, deadline - now) {
                Ok((guard, _)) => guard,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Wakes [`wait_until`](Self::wait_until) to check again.
    pub(crate) fn notify(&self) {
        let _socket = self.lock();
        self.wake.notify_all();
    }

    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        let socket = self.lock();
        if let Some(tcp) = socket.as_ref() {
            // Wakes a blocked read() at once; the write half stays open for the closing
            // handshake, and (on Linux) what arrives after this is still read.
            tcp.shutdown(Shutdown::Read).ok();
        }
        self.wake.notify_all();
    }
}

/// Ends a running [`Client::run`](crate::Client::run) from any thread: it returns within moments
/// (a token request is abandoned); when connected, after the closing handshake: it sends a Close
/// frame and hands on every event that arrives before Zoom's Close, for at most a second.
#[derive(Clone, Debug)]
pub struct StopHandle(pub(crate) Arc<Shared>);

impl StopHandle {
    /// Asks the client to stop. Safe to call more than once, before or during `run`.
    pub fn stop(&self) {
        self.0.stop();
    }

    /// Lets the open connection go on until it ends by itself (as when Zoom closes it because
    /// another instance connected for the same subscription), then ends `run` instead of
    /// reconnecting. Without an open connection, `run` returns at once. [`stop`](Self::stop)
    /// still ends it sooner.
    pub fn stop_after_connection(&self) {
        self.0.finishing.store(true, Ordering::SeqCst);
        self.0.notify();
    }

    /// True once [`stop`](Self::stop) was called.
    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }
}
