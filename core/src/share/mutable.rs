//! [`SharedMutableData`]: a value many threads read and a few change, behind a reader-writer lock.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use crate::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// A shared value behind a reader-heavy reader-writer lock.
///
/// Clones are handles to the same value: a change through one is seen by all. Readers run in
/// parallel; a writer waits for them and then excludes everyone. The lock is `parking_lot`'s: it
/// does not poison, so a panic while holding a guard leaves the value as the panicking code left
/// it and the lock usable. Prefer [`modify`](SharedMutableData::modify) and
/// [`read_with`](SharedMutableData::read_with), which release the lock when the closure returns;
/// a guard held while calling back into the same value from the same thread deadlocks.
///
/// For values that are replaced as a whole and read on every request (configuration), a
/// [`Snapshot`](super::Snapshot) is much faster to read.
///
/// # Examples
///
/// ```
/// use patinox_memory::share::SharedMutableData;
///
/// let hits = SharedMutableData::new(Vec::<u32>::new());
/// let writer = hits.clone();
/// std::thread::spawn(move || writer.modify(|v| v.push(7))).join().unwrap();
/// assert_eq!(*hits.read(), vec![7]);
/// ```
pub struct SharedMutableData<T> {
    inner: Arc<RwLock<T>>,
}

/// Shared read access to a [`SharedMutableData`]; the lock is released when it is dropped.
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct ReadGuard<'a, T> {
    guard: RwLockReadGuard<'a, T>,
}

/// Exclusive write access to a [`SharedMutableData`]; the lock is released when it is dropped.
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct WriteGuard<'a, T> {
    guard: RwLockWriteGuard<'a, T>,
}

impl<T> SharedMutableData<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            inner: Arc::new(RwLock::new(value)),
        }
    }

    /// Shared access, waiting while a writer holds the lock.
    ///
    /// The wait is unbounded by design (like `std`'s `RwLock`): writers hold the lock only for
    /// the duration of their closure or guard. Use [`read_for`](Self::read_for) for a bound.
    pub fn read(&self) -> ReadGuard<'_, T> {
        ReadGuard {
            guard: self.inner.read(),
        }
    }

    /// Exclusive access, waiting while anyone holds the lock (unbounded, as [`read`](Self::read)).
    pub fn write(&self) -> WriteGuard<'_, T> {
        WriteGuard {
            guard: self.inner.write(),
        }
    }

    /// Shared access if no writer holds the lock right now.
    pub fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        self.inner.try_read().map(|guard| ReadGuard { guard })
    }

    /// Exclusive access if nobody holds the lock right now.
    pub fn try_write(&self) -> Option<WriteGuard<'_, T>> {
        self.inner.try_write().map(|guard| WriteGuard { guard })
    }

    /// Shared access, waiting at most `timeout`; `None` if a writer kept the lock that long.
    pub fn read_for(&self, timeout: Duration) -> Option<ReadGuard<'_, T>> {
        #[cfg(not(loom))]
        let guard = self.inner.try_read_for(timeout);
        // loom does not model time: a timed wait degenerates to a single attempt.
        #[cfg(loom)]
        let guard = {
            let _ = timeout;
            self.inner.try_read()
        };
        guard.map(|guard| ReadGuard { guard })
    }

    /// Exclusive access, waiting at most `timeout`; `None` if the lock stayed busy that long.
    pub fn write_for(&self, timeout: Duration) -> Option<WriteGuard<'_, T>> {
        #[cfg(not(loom))]
        let guard = self.inner.try_write_for(timeout);
        #[cfg(loom)]
        let guard = {
            let _ = timeout;
            self.inner.try_write()
        };
        guard.map(|guard| WriteGuard { guard })
    }

    /// Runs `f` with exclusive access and returns its result; the lock is released on return.
    pub fn modify<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.inner.write())
    }

    /// Runs `f` with shared access and returns its result; the lock is released on return.
    pub fn read_with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.inner.read())
    }

    /// Whether two handles share one value.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl<T: Clone> SharedMutableData<T> {
    /// A copy of the current value, taken under the read lock.
    pub fn get_cloned(&self) -> T {
        self.inner.read().clone()
    }
}

impl<T> Clone for SharedMutableData<T> {
    /// Another handle to the same value (not a copy of it).
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Default> Default for SharedMutableData<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedMutableData<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.inner.try_read() {
            Some(v) => f.debug_tuple("SharedMutableData").field(&*v).finish(),
            None => f.write_str("SharedMutableData(<locked>)"),
        }
    }
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: fmt::Debug> fmt::Debug for ReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Debug> fmt::Debug for WriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn mutable_data_changes_are_seen_by_every_handle() {
        let a = SharedMutableData::new(1);
        let b = a.clone();
        assert_eq!(b.modify(|v| std::mem::replace(v, 2)), 1);
        assert_eq!(*a.read(), 2);
        *a.write() += 1;
        assert_eq!(b.get_cloned(), 3);
        assert_eq!(a.read_with(|v| v * 10), 30);
    }

    #[test]
    fn mutable_data_try_and_timed_access_respect_the_lock() {
        let data = SharedMutableData::new(0);
        {
            let _w = data.write();
            assert!(data.try_read().is_none());
            assert!(data.try_write().is_none());
            assert!(data.read_for(Duration::from_millis(5)).is_none());
            assert!(data.write_for(Duration::from_millis(5)).is_none());
        }
        let r1 = data.read();
        let r2 = data.try_read();
        assert!(r2.is_some(), "readers share the lock");
        assert!(data.write_for(Duration::from_millis(5)).is_none());
        drop((r1, r2));
        assert!(data.write_for(Duration::from_millis(5)).is_some());
    }
}
