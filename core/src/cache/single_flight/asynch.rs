//! Async single-flight loads: [`ShardedCache::get_or_insert_with_async`] and
//! [`ShardedCache::try_get_or_insert_with_async`], the same protocol as the blocking loads
//! (one flight per key, its FIFO wait queue, the loader role handed to the oldest waiter when
//! a load fails), driven from futures. Runtime-free: waiting registers the task's `Waker` in
//! the flight's queue; no timer and no thread is needed.
//!
//! Cancel safety comes from two guards: a future dropped while waiting leaves the queue, and
//! if the loader role had just been handed to it, the role goes to the next waiter; a future
//! dropped while its own loader runs hands the role on the same way, so a cancelled loader
//! never leaves the key stuck.

use std::future::{Future, poll_fn};
use std::hash::{BuildHasher, Hash};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::pin;
use std::task::Poll;
use std::time::Instant;

use super::super::sharded::{Inner, ShardedCache};
use super::{Failure, Flight, LoadError, Seen};
use crate::sync::Arc;
use crate::wait::{WaitResult, WaitSlot};

/// A future's place in a flight's queue; dropping it leaves the line, passing on a loader role
/// it was handed meanwhile.
struct InLine<'a, K: Hash + Eq + Clone, V: Clone, S: BuildHasher> {
    inner: &'a Inner<K, V, S>,
    key: &'a K,
    flight: &'a Arc<Flight<V>>,
    slot: WaitSlot,
}

impl<K: Hash + Eq + Clone, V: Clone, S: BuildHasher> Drop for InLine<'_, K, V, S> {
    fn drop(&mut self) {
        if self.flight.queue.cancel(&mut self.slot).is_some() {
            // The role came back with nobody else in line: abandon the flight.
            self.inner.pass_on(self.key, self.flight);
        }
    }
}

/// The loader role while the loader's future runs; dropped armed (the future was cancelled),
/// it hands the role to the oldest waiter.
struct Role<'a, K: Hash + Eq + Clone, V: Clone, S: BuildHasher> {
    inner: &'a Inner<K, V, S>,
    key: &'a K,
    flight: &'a Arc<Flight<V>>,
    armed: bool,
}

impl<K: Hash + Eq + Clone, V: Clone, S: BuildHasher> Drop for Role<'_, K, V, S> {
    fn drop(&mut self) {
        if self.armed {
            self.inner.pass_on(self.key, self.flight);
        }
    }
}

impl<K, V, S> Inner<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
{
    async fn load_async<E, Fut>(
        &self,
        key: K,
        loader: impl FnOnce() -> Fut,
    ) -> Result<V, Failure<LoadError<E>>>
    where
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(v) = self.lookup(&key) {
            return Ok(v);
        }
        let flight = loop {
            let (flight, leader) = {
                let mut flights = self.flights.lock();
                match flights.get(&key) {
                    Some(f) => (Arc::clone(f), false),
                    None => {
                        let f = Arc::new(Flight::new());
                        flights.insert(key.clone(), Arc::clone(&f));
                        (f, true)
                    }
                }
            };
            if !leader {
                let mut line = InLine {
                    inner: self,
                    key: &key,
                    flight: &flight,
                    slot: WaitSlot::new(),
                };
                // Bounded by the loaders ahead, as for the blocking load; a caller wanting a
                // bound races this future with its runtime's timer (dropping it is safe).
                let woken = poll_fn(|cx| {
                    flight
                        .queue
                        .poll_wait_for(&mut line.slot, cx.waker(), || flight.check())
                })
                .await;
                drop(line);
                match woken {
                    WaitResult::Ready(Seen::Done(v)) => return Ok(v),
                    WaitResult::Value(()) => {}
                    WaitResult::Ready(Seen::Retry)
                    | WaitResult::Closed
                    | WaitResult::Notified
                    | WaitResult::TimedOut => continue,
                }
            }
            if let Some(v) = self.peek_live(&key) {
                self.finish_flight(&key, &flight, v.clone());
                return Ok(v);
            }
            break flight;
        };
        let mut role = Role {
            inner: self,
            key: &key,
            flight: &flight,
            armed: true,
        };
        let start = Instant::now();
        let outcome = match catch_unwind(AssertUnwindSafe(loader)) {
            Ok(fut) => {
                let mut fut = pin!(fut);
                poll_fn(
                    |cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
                        Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
                        Ok(Poll::Pending) => Poll::Pending,
                        Err(payload) => Poll::Ready(Err(payload)),
                    },
                )
                .await
            }
            Err(payload) => Err(payload),
        };
        role.armed = false;
        drop(role);
        let took = start.elapsed();
        self.settle(&key, &flight, took, outcome)
    }
}

impl<K, V, S> ShardedCache<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
{
    /// The value of `key`, loading it with the async `loader` on a miss: one loader per key at
    /// a time, shared with the blocking [`get_or_insert_with`](Self::get_or_insert_with).
    ///
    /// Concurrent callers (threads and tasks alike) wait in arrival order and get a clone of
    /// the loaded value; a waiting task holds no thread. The future needs no runtime. The
    /// value is stored with the default time to live.
    ///
    /// # Panics
    ///
    /// If this caller's own `loader` (or its future) panics; the next waiter is given the
    /// loader role first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a future dropped while waiting leaves the line (passing on a loader role
    /// it was just handed), and a future dropped while its loader runs hands the loader role
    /// to the oldest waiter, which then runs its own loader. Nothing is cached by a cancelled
    /// load.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::cache::ShardedCache;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let cache = ShardedCache::new(100);
    /// let mut load = Box::pin(cache.get_or_insert_with_async("k", || async { 42 }));
    /// // Any executor works; this one polls once with a no-op waker.
    /// let polled = load.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    /// assert_eq!(polled, Poll::Ready(42));
    /// assert_eq!(cache.get(&"k"), Some(42));
    /// ```
    pub async fn get_or_insert_with_async<F, Fut>(&self, key: K, loader: F) -> V
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = V>,
    {
        let loaded = self
            .inner
            .load_async::<std::convert::Infallible, _>(key, || async { Ok(loader().await) })
            .await;
        match loaded {
            Ok(v) => v,
            Err(Failure::Panic(payload)) => resume_unwind(payload),
            Err(Failure::Err(LoadError::Failed(never))) => match never {},
            Err(Failure::Err(LoadError::TimedOut { .. })) => {
                unreachable!("an async wait has no deadline of its own")
            }
        }
    }

    /// Like [`get_or_insert_with_async`](Self::get_or_insert_with_async) with a fallible
    /// loader: an error is returned to this caller only, nothing is cached, and the oldest
    /// waiter runs its own loader.
    ///
    /// # Errors
    ///
    /// This caller's loader's error.
    ///
    /// # Panics
    ///
    /// If this caller's own `loader` panics.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`get_or_insert_with_async`](Self::get_or_insert_with_async).
    pub async fn try_get_or_insert_with_async<E, F, Fut>(&self, key: K, loader: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        match self.inner.load_async(key, loader).await {
            Ok(v) => Ok(v),
            Err(Failure::Err(LoadError::Failed(e))) => Err(e),
            Err(Failure::Panic(payload)) => resume_unwind(payload),
            Err(Failure::Err(LoadError::TimedOut { .. })) => {
                unreachable!("an async wait has no deadline of its own")
            }
        }
    }
}
