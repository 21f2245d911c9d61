//! The one place that imports synchronization primitives.
//!
//! Every other module takes its locks, condition variables, atomics and `Arc` from here. In a
//! normal build they are `parking_lot`'s and `std`'s; when the crate is compiled with
//! `RUSTFLAGS="--cfg loom"` they are [loom](https://docs.rs/loom)'s model-checked versions, so
//! the models in `loom-tests/` explore the interleavings of the real code, not of a copy.
//!
//! The loom side wraps loom's `std`-shaped API into `parking_lot`'s shape (no poisoning,
//! `Condvar::wait(&mut guard)`), so call sites are identical in both builds.
//!
//! [`UnsafeCell`] is loom's, or `std`'s behind loom's closure-based API (`with`, `with_mut`),
//! so that the loom build checks every access to a cell shared through atomics.
//!
//! Two deliberate gaps:
//! - loom has no `Weak`. Handles that must not keep their owner alive (background threads,
//!   registry links) use [`StdArc`] and [`Weak`], which are always `std`'s. Keep such code
//!   free of ordering decisions; the loom models cover the locks and atomics around it.
//! - loom does not model time. Under loom a timed wait whose deadline has already passed
//!   reports a timeout at once; otherwise it waits for a notification like an untimed wait.
//!   Models exercise the timeout path by calling the cancellation path directly.

#![allow(unreachable_pub, dead_code, unused_imports)]

pub(crate) use std::sync::{Arc as StdArc, Weak};

#[cfg(not(loom))]
mod imp {
    pub(crate) use parking_lot::{
        Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard, WaitTimeoutResult,
    };
    pub(crate) use std::sync::Arc;
    pub(crate) use std::sync::atomic::{
        AtomicBool, AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
    };
    pub(crate) use std::thread;

    /// `std`'s `UnsafeCell` with loom's closure-based access API, so that the loom build can
    /// track every access.
    #[derive(Debug)]
    pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(std::cell::UnsafeCell::new(value))
        }
        #[inline]
        pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }
        #[inline]
        pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// Parks the current thread until it is unparked, `deadline` passes, or spuriously.
    pub(crate) fn park_until(deadline: Option<std::time::Instant>) {
        match deadline {
            None => thread::park(),
            Some(d) => {
                if let Some(left) = d.checked_duration_since(std::time::Instant::now()) {
                    thread::park_timeout(left);
                }
            }
        }
    }
}

#[cfg(loom)]
mod imp {
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

    pub(crate) use loom::cell::UnsafeCell;
    pub(crate) use loom::sync::Arc;
    pub(crate) use loom::sync::atomic::{
        AtomicBool, AtomicI64, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence,
    };
    pub(crate) use loom::thread;

    /// Parks the current thread until it is unparked; a deadline that has already passed
    /// returns at once (loom does not model time).
    pub(crate) fn park_until(deadline: Option<Instant>) {
        if deadline.is_none_or(|d| Instant::now() < d) {
            thread::park();
        }
    }

    /// `parking_lot::Mutex`-shaped wrapper around loom's mutex.
    #[derive(Debug, Default)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    /// Guard of [`Mutex`]; the inner guard is an `Option` so [`Condvar`] can move it.
    #[derive(Debug)]
    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }
        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())))
        }
        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            match self.0.try_lock() {
                Ok(g) => Some(MutexGuard(Some(g))),
                Err(std::sync::TryLockError::Poisoned(e)) => Some(MutexGuard(Some(e.into_inner()))),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        }
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(|e| e.into_inner())
        }
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(|e| e.into_inner())
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0
                .as_deref()
                .unwrap_or_else(|| unreachable!("guard taken by a condvar wait"))
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0
                .as_deref_mut()
                .unwrap_or_else(|| unreachable!("guard taken by a condvar wait"))
        }
    }

    /// Result of a timed wait, as in `parking_lot`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(self) -> bool {
            self.0
        }
    }

    /// `parking_lot::Condvar`-shaped wrapper around loom's condition variable.
    #[derive(Debug, Default)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }
        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard
                .0
                .take()
                .unwrap_or_else(|| unreachable!("guard already taken"));
            guard.0 = Some(self.0.wait(inner).unwrap_or_else(|e| e.into_inner()));
        }
        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            deadline: Instant,
        ) -> WaitTimeoutResult {
            if Instant::now() >= deadline {
                return WaitTimeoutResult(true);
            }
            self.wait(guard);
            WaitTimeoutResult(false)
        }
        pub(crate) fn wait_for<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            timeout: std::time::Duration,
        ) -> WaitTimeoutResult {
            match Instant::now().checked_add(timeout) {
                Some(deadline) => self.wait_until(guard, deadline),
                None => {
                    self.wait(guard);
                    WaitTimeoutResult(false)
                }
            }
        }
        pub(crate) fn notify_one(&self) -> bool {
            self.0.notify_one();
            true
        }
        pub(crate) fn notify_all(&self) -> usize {
            self.0.notify_all();
            1
        }
    }

    /// `parking_lot::RwLock`-shaped wrapper around loom's reader-writer lock.
    #[derive(Debug, Default)]
    pub(crate) struct RwLock<T>(loom::sync::RwLock<T>);

    pub(crate) type RwLockReadGuard<'a, T> = loom::sync::RwLockReadGuard<'a, T>;
    pub(crate) type RwLockWriteGuard<'a, T> = loom::sync::RwLockWriteGuard<'a, T>;

    impl<T> RwLock<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::RwLock::new(value))
        }
        pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(|e| e.into_inner())
        }
        pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(|e| e.into_inner())
        }
        pub(crate) fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
            self.0.try_read().ok()
        }
        pub(crate) fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
            self.0.try_write().ok()
        }
        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(|e| e.into_inner())
        }
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.0.get_mut().unwrap_or_else(|e| e.into_inner())
        }
    }
}

pub(crate) use imp::*;
