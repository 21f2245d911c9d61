//! Shared data from tasks: [`read`] and [`write`] on the core's
//! [`SharedMutableData`] without blocking the executor.
//!
//! The core's lock is a thread lock (`parking_lot`'s reader-writer lock), which a task must
//! not block on. These functions try the lock and, while it is taken, sleep on the runtime's
//! timer between attempts (50 µs at first, doubling up to 1 ms): the worker thread keeps
//! running other tasks. Writers hold the lock only for a closure or a guard's scope, so the
//! wait is short; it is not FIFO (a task may be overtaken by a thread), and a writer under a
//! constant stream of readers waits until a gap. Use [`write_timeout`] for a bound.
//!
//! The guards are the core's: do not hold one across an `.await` (it would block other users
//! of the value for as long as the task sleeps).
#![doc = crate::doc_example!(r#"
use adapter::share::{read, write};
use patinox_memory::share::SharedMutableData;

let hits = SharedMutableData::new(Vec::<u32>::new());
write(&hits).await.push(7);
assert_eq!(*read(&hits).await, vec![7]);
"#)]

use std::time::{Duration, Instant};

pub use patinox_memory::share::{ReadGuard, SharedMutableData, WriteGuard};

use crate::util::sleep_until;

const FIRST_PAUSE: Duration = Duration::from_micros(50);
const MAX_PAUSE: Duration = Duration::from_millis(1);

/// Retries `attempt` with a growing pause on the runtime's timer until it succeeds or
/// `deadline` passes.
async fn retry<G>(deadline: Option<Instant>, mut attempt: impl FnMut() -> Option<G>) -> Option<G> {
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(g) = attempt() {
            return Some(g);
        }
        let now = Instant::now();
        let wake = match deadline {
            Some(d) if now >= d => return None,
            Some(d) => (now + pause).min(d),
            None => now + pause,
        };
        sleep_until(wake).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Shared access, waiting (without blocking the executor) while a writer holds the lock.
///
/// # Cancel safety
///
/// Cancel safe: nothing is held until the guard is returned.
pub async fn read<T>(data: &SharedMutableData<T>) -> ReadGuard<'_, T> {
    match retry(None, || data.try_read()).await {
        Some(g) => g,
        None => unreachable!("no deadline"),
    }
}

/// Exclusive access, waiting (without blocking the executor) while anyone holds the lock.
///
/// # Cancel safety
///
/// Cancel safe: nothing is held until the guard is returned.
pub async fn write<T>(data: &SharedMutableData<T>) -> WriteGuard<'_, T> {
    match retry(None, || data.try_write()).await {
        Some(g) => g,
        None => unreachable!("no deadline"),
    }
}

/// [`read`], giving up after `timeout` (`None` then).
///
/// # Cancel safety
///
/// Cancel safe: nothing is held until the guard is returned.
pub async fn read_timeout<T>(
    data: &SharedMutableData<T>,
    timeout: Duration,
) -> Option<ReadGuard<'_, T>> {
    retry(Instant::now().checked_add(timeout), || data.try_read()).await
}

/// [`write`], giving up after `timeout` (`None` then).
///
/// # Cancel safety
///
/// Cancel safe: nothing is held until the guard is returned.
pub async fn write_timeout<T>(
    data: &SharedMutableData<T>,
    timeout: Duration,
) -> Option<WriteGuard<'_, T>> {
    retry(Instant::now().checked_add(timeout), || data.try_write()).await
}

/// Runs `f` on the value with exclusive access, acquired without blocking the executor.
///
/// # Cancel safety
///
/// Cancel safe: `f` runs only once the lock is taken, and runs to completion (it is not
/// async).
pub async fn modify<T, R>(data: &SharedMutableData<T>, f: impl FnOnce(&mut T) -> R) -> R {
    let mut guard = write(data).await;
    f(&mut guard)
}
