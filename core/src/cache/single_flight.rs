//! Single-flight loading for [`ShardedCache`]: one loader per key at a time; other callers for
//! the same key wait in the core's FIFO [`WaitQueue`] and get the loaded value.
//!
//! Per key being loaded there is one [`Flight`]: its state (loading, done, abandoned) and a
//! wait queue. The loader runs with no lock held. When it succeeds, the value goes into the
//! cache, the flight is marked done and every waiter is woken to take a clone. When it fails or
//! panics, the *loader role* (a `()` token) is handed to the oldest waiter, which then runs its
//! own loader; with nobody waiting the flight is abandoned and removed. A waiter that gives up
//! (timeout) leaves the queue; if the loader role had just been handed to it, the queue passes
//! it on (or hands it back, and the leaver loads after all), so the role is never lost.
//!
//! Lock order: the flights map, then a flight's queue, then a flight's state. Waiters read the
//! state with no other lock held.

use std::hash::{BuildHasher, Hash};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

use super::sharded::{Inner, ShardedCache};
use crate::monitor::CacheEvent;
use crate::sync::{Arc, Mutex, Ordering};
use crate::wait::{WaitQueue, WaitResult};

mod asynch;

/// Why [`ShardedCache::try_get_or_insert_with_timeout`] returned no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError<E> {
    /// This caller's own loader failed (the next waiter, if any, tries its loader).
    #[error("cache loader failed: {0}")]
    Failed(E),
    /// Another caller was loading the key and did not finish before the timeout.
    #[error("gave up waiting for another caller's load after {waited:?}")]
    TimedOut {
        /// How long this caller waited.
        waited: Duration,
    },
}

impl<E: std::error::Error + Send + Sync + 'static> From<LoadError<E>> for crate::Error {
    fn from(err: LoadError<E>) -> Self {
        match err {
            LoadError::Failed(e) => crate::Error::Backend {
                operation: "cache load",
                // The next caller runs its own loader: worth trying again.
                class: crate::ErrorClass::Retryable,
                source: Box::new(e),
            },
            LoadError::TimedOut { waited } => crate::Error::Timeout {
                operation: "cache load",
                waited,
                last_error: None,
            },
        }
    }
}

/// One key's load in progress.
#[derive(Debug)]
pub(crate) struct Flight<V> {
    state: Mutex<FlightState<V>>,
    /// Waiters; a handed `()` makes the receiver the loader.
    queue: WaitQueue<()>,
}

#[derive(Debug)]
enum FlightState<V> {
    Loading,
    Done(V),
    Abandoned,
}

enum Seen<V> {
    Done(V),
    Retry,
}

impl<V: Clone> Flight<V> {
    fn new() -> Self {
        Self {
            state: Mutex::new(FlightState::Loading),
            queue: WaitQueue::new(),
        }
    }

    fn check(&self) -> Option<Seen<V>> {
        match &*self.state.lock() {
            FlightState::Loading => None,
            FlightState::Done(v) => Some(Seen::Done(v.clone())),
            FlightState::Abandoned => Some(Seen::Retry),
        }
    }
}

/// How a load attempt ended for its loader.
enum Failure<E> {
    Err(E),
    Panic(Box<dyn std::any::Any + Send>),
}

impl<K, V, S> Inner<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
{
    fn load<E>(
        &self,
        key: K,
        timeout: Option<Duration>,
        loader: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, Failure<LoadError<E>>> {
        if let Some(v) = self.lookup(&key) {
            return Ok(v);
        }
        let started = Instant::now();
        let deadline = timeout.and_then(|t| started.checked_add(t));
        // Find or create this key's flight until this caller is its loader (or got a value).
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
                // Bounded by the loaders: each waiter runs at most its own loader, and a
                // caller that wants a bound passes a timeout.
                match flight.queue.wait_for(deadline, || flight.check()) {
                    WaitResult::Ready(Seen::Done(v)) => return Ok(v),
                    WaitResult::Ready(Seen::Retry) | WaitResult::Closed | WaitResult::Notified => {
                        continue;
                    }
                    WaitResult::Value(()) => {}
                    WaitResult::TimedOut => {
                        return Err(Failure::Err(LoadError::TimedOut {
                            waited: started.elapsed(),
                        }));
                    }
                }
            }
            // A previous loader may have finished between our lookup and the flight.
            if let Some(v) = self.peek_live(&key) {
                self.finish_flight(&key, &flight, v.clone());
                return Ok(v);
            }
            break flight;
        };
        let start = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(loader));
        let took = start.elapsed();
        self.settle(&key, &flight, took, outcome)
    }

    fn remove_flight(&self, key: &K, flight: &Arc<Flight<V>>) {
        let mut flights = self.flights.lock();
        if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
            flights.remove(key);
        }
    }

    /// The load succeeded: wake every waiter with the value.
    /// Records a finished load (blocking or async) and settles its flight: a value is stored
    /// and handed to every waiter; a failure or panic hands the loader role on.
    fn settle<E>(
        &self,
        key: &K,
        flight: &Arc<Flight<V>>,
        took: Duration,
        outcome: Result<Result<V, E>, Box<dyn std::any::Any + Send>>,
    ) -> Result<V, Failure<LoadError<E>>> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        self.emit_load(took, matches!(outcome, Ok(Ok(_))));
        match outcome {
            Ok(Ok(v)) => {
                let expires = self.expiry_for(None);
                self.insert_at(key.clone(), v.clone(), expires);
                self.finish_flight(key, flight, v.clone());
                Ok(v)
            }
            Ok(Err(e)) => {
                self.load_failures.fetch_add(1, Ordering::Relaxed);
                self.pass_on(key, flight);
                Err(Failure::Err(LoadError::Failed(e)))
            }
            Err(payload) => {
                self.load_failures.fetch_add(1, Ordering::Relaxed);
                self.pass_on(key, flight);
                Err(Failure::Panic(payload))
            }
        }
    }

    fn finish_flight(&self, key: &K, flight: &Arc<Flight<V>>, value: V) {
        self.remove_flight(key, flight);
        *flight.state.lock() = FlightState::Done(value);
        flight.queue.notify_all();
    }

    /// The load failed: the oldest waiter becomes the loader; with none, abandon the flight.
    fn pass_on(&self, key: &K, flight: &Arc<Flight<V>>) {
        let handed = {
            // Under the map lock so no caller can find the flight between a failed hand-off
            // and its removal without seeing it abandoned.
            let mut flights = self.flights.lock();
            let handed = flight.queue.handoff(()).is_ok();
            if !handed {
                *flight.state.lock() = FlightState::Abandoned;
                if flights.get(key).is_some_and(|f| Arc::ptr_eq(f, flight)) {
                    flights.remove(key);
                }
            }
            handed
        };
        if !handed {
            // Anyone who registered after the failed hand-off re-checks and retries.
            flight.queue.notify_all();
        }
    }

    fn emit_load(&self, took: Duration, ok: bool) {
        self.emit(CacheEvent::Load { took, ok });
    }
}

impl<K, V, S> ShardedCache<K, V, S>
where
    K: Hash + Eq + Clone,
    V: Clone,
    S: BuildHasher,
{
    /// The value of `key`, loading it with `loader` on a miss: one loader per key at a time.
    ///
    /// Concurrent callers for a key being loaded wait (in arrival order) and get a clone of the
    /// loaded value; no lock is held while `loader` runs. If the loader panics, the oldest
    /// waiter runs its own loader instead, and the panic is resumed in this caller. The value
    /// is stored with the default time to live.
    ///
    /// A waiter waits as long as the loaders ahead of it run; use
    /// [`try_get_or_insert_with_timeout`](Self::try_get_or_insert_with_timeout) for a bound.
    /// A loader must not load its own key through this cache: it would wait for itself.
    ///
    /// # Panics
    ///
    /// If this caller's own `loader` panics (the panic is resumed after the next waiter was
    /// given its turn, so nothing is left locked or stuck).
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::cache::ShardedCache;
    ///
    /// let cache = ShardedCache::new(100);
    /// let v = cache.get_or_insert_with("k", || 42);
    /// assert_eq!(v, 42);
    /// assert_eq!(cache.get_or_insert_with("k", || unreachable!()), 42);
    /// ```
    pub fn get_or_insert_with(&self, key: K, loader: impl FnOnce() -> V) -> V {
        match self
            .inner
            .load::<std::convert::Infallible>(key, None, || Ok(loader()))
        {
            Ok(v) => v,
            Err(Failure::Panic(payload)) => resume_unwind(payload),
            Err(Failure::Err(LoadError::Failed(never))) => match never {},
            Err(Failure::Err(LoadError::TimedOut { .. })) => {
                unreachable!("a wait without deadline timed out")
            }
        }
    }

    /// Like [`get_or_insert_with`](Self::get_or_insert_with) with a fallible loader: an error
    /// is returned to this caller only, nothing is cached, and the oldest waiter runs its own
    /// loader.
    ///
    /// # Errors
    ///
    /// This caller's loader's error.
    ///
    /// # Panics
    ///
    /// If this caller's own `loader` panics (as for `get_or_insert_with`).
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::cache::ShardedCache;
    ///
    /// let cache: ShardedCache<&str, u32> = ShardedCache::new(100);
    /// let err = cache.try_get_or_insert_with("k", || "k".parse::<u32>());
    /// assert!(err.is_err());
    /// assert_eq!(cache.try_get_or_insert_with("k", || Ok::<_, String>(7)), Ok(7));
    /// ```
    pub fn try_get_or_insert_with<E>(
        &self,
        key: K,
        loader: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        match self.inner.load(key, None, loader) {
            Ok(v) => Ok(v),
            Err(Failure::Err(LoadError::Failed(e))) => Err(e),
            Err(Failure::Panic(payload)) => resume_unwind(payload),
            Err(Failure::Err(LoadError::TimedOut { .. })) => {
                unreachable!("a wait without deadline timed out")
            }
        }
    }

    /// Like [`try_get_or_insert_with`](Self::try_get_or_insert_with), but waits at most
    /// `timeout` for another caller's load of the same key.
    ///
    /// # Errors
    ///
    /// [`LoadError::Failed`] with this caller's loader's error; [`LoadError::TimedOut`] if
    /// another caller's load did not finish in time.
    ///
    /// # Panics
    ///
    /// If this caller's own `loader` panics.
    pub fn try_get_or_insert_with_timeout<E>(
        &self,
        key: K,
        timeout: Duration,
        loader: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, LoadError<E>> {
        match self.inner.load(key, Some(timeout), loader) {
            Ok(v) => Ok(v),
            Err(Failure::Err(e)) => Err(e),
            Err(Failure::Panic(payload)) => resume_unwind(payload),
        }
    }
}
