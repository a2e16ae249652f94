//! Locks and waits that outlive a thread that panicked while holding the lock: the data under
//! every lock of ours stays consistent at each step, so a poisoned lock is used as it is.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv` for a notification or `timeout` (`Duration::MAX`: no timeout).
pub fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>, timeout: Duration) -> MutexGuard<'a, T> {
    cv.wait_timeout(guard, timeout)
        .map_or_else(|e| e.into_inner().0, |r| r.0)
}

/// Waits on `cv` while `busy` holds, at most `timeout`.
pub fn wait_while<'a, T>(
    cv: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
    busy: impl FnMut(&mut T) -> bool,
) -> MutexGuard<'a, T> {
    cv.wait_timeout_while(guard, timeout, busy)
        .map_or_else(|e| e.into_inner().0, |r| r.0)
}
