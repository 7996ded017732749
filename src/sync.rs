//! Poison-tolerant locking, and waiting on a condition variable until a deadline.
//!
//! The SDK's locks guard plain data (assignments, pushes, a cache) that a panicking holder cannot leave half
//! updated, and the SDK must keep working after a panic elsewhere in the program, so a poisoned lock is simply used.

use std::sync::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

/// Waits on `condvar` with `guard` until it is signalled or `deadline` comes; `None`, with the lock released, once the
/// deadline has passed. Callers loop, checking their condition before each call.
pub(crate) fn wait_until<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    deadline: Instant,
) -> Option<MutexGuard<'a, T>> {
    let left = deadline
        .checked_duration_since(Instant::now())
        .filter(|d| !d.is_zero())?;
    Some(
        condvar
            .wait_timeout(guard, left)
            .unwrap_or_else(|e| e.into_inner())
            .0,
    )
}
