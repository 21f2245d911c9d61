//! Shared data from tasks: [`read()`] and [`write()`] on the core's
//! [`SharedMutableData`] without blocking the executor.
//!
//! They wait in the value's own FIFO line, the same one blocked threads join: the task's
//! waker is registered, and whoever releases the lock to it wakes it (no polling, no thread
//! per waiter). Whoever waits longest is served first, threads and tasks alike, and a writer
//! is not starved by a stream of readers. The timed forms bound the wait with the runtime's
//! timer. These are the core's [`SharedMutableData::read_async`] and
//! [`SharedMutableData::write_async`], which need no runtime at all.
//!
//! A guard may be held across an `.await` (it is `Send` when the value is `Send + Sync`);
//! others wait meanwhile, so keep such sections short.
#![doc = crate::doc_example!(r#"
use adapter::share::{read, write};
use patinox_memory::share::SharedMutableData;

let hits = SharedMutableData::new(Vec::<u32>::new());
write(&hits).await.push(7);
assert_eq!(*read(&hits).await, vec![7]);
"#)]

use std::time::{Duration, Instant};

pub use patinox_memory::share::{ReadGuard, SharedMutableData, WriteGuard};

use patinox_memory::runtime::timeout_at;

use crate::Tokio;

/// Shared access, waiting in line (without blocking the executor) while a writer holds the
/// lock or waits for it.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future leaves the line, and a lock handed to it meanwhile goes
/// to the next waiter.
pub async fn read<T>(data: &SharedMutableData<T>) -> ReadGuard<'_, T> {
    data.read_async().await
}

/// Exclusive access, waiting in line (without blocking the executor) while anyone holds the
/// lock.
///
/// # Cancel safety
///
/// Cancel safe, as [`read()`].
pub async fn write<T>(data: &SharedMutableData<T>) -> WriteGuard<'_, T> {
    data.write_async().await
}

/// [`read()`], giving up after `timeout` (`None` then; the wait leaves the line).
///
/// # Cancel safety
///
/// Cancel safe, as [`read()`].
pub async fn read_timeout<T>(
    data: &SharedMutableData<T>,
    timeout: Duration,
) -> Option<ReadGuard<'_, T>> {
    timeout_at::<Tokio, _>(Instant::now().checked_add(timeout), data.read_async()).await
}

/// [`write()`], giving up after `timeout` (`None` then; the wait leaves the line).
///
/// # Cancel safety
///
/// Cancel safe, as [`read()`].
pub async fn write_timeout<T>(
    data: &SharedMutableData<T>,
    timeout: Duration,
) -> Option<WriteGuard<'_, T>> {
    timeout_at::<Tokio, _>(Instant::now().checked_add(timeout), data.write_async()).await
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
