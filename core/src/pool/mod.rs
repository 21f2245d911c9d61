//! A fair, blocking connection pool, generic over a [`ManageConnection`].
//!
//! ```
//! use patinox_memory::pool::{ManageConnection, Pool};
//! use std::time::Duration;
//!
//! struct Numbers;
//! impl ManageConnection for Numbers {
//!     type Connection = Vec<u32>;
//!     type Error = std::io::Error;
//!     fn connect(&self) -> Result<Vec<u32>, std::io::Error> { Ok(Vec::new()) }
//!     fn is_valid(&self, _: &mut Vec<u32>) -> Result<(), std::io::Error> { Ok(()) }
//! }
//!
//! let pool = Pool::builder(Numbers)
//!     .max_connections(4)
//!     .connection_timeout(Duration::from_secs(1))
//!     .build()?;
//! {
//!     let mut conn = pool.get()?;
//!     conn.push(1);
//! } // back in the pool
//! assert_eq!(pool.state().idle_connections, 1);
//! # Ok::<(), patinox_memory::Error>(())
//! ```
//!
//! # Fairness
//!
//! Gets that cannot be served at once wait in one FIFO line (the crate's waiter queue). A
//! returned connection is handed directly to the oldest waiter, and a newcomer never takes an
//! idle connection or opens a new one while anyone is in line. A waiter takes whichever comes
//! first: a returned connection, or the slot of a connection that was closed (it then opens a
//! new one itself).
//!
//! # Structure: one engine, several drivers
//!
//! The bookkeeping lives in one crate-internal engine, which does no I/O and needs no
//! runtime. Acquiring is a poll-able state machine: it yields an idle connection, or a permit
//! to open one, or registers the caller in line (a thread with its condition variable, a task
//! with its `Waker`). The holder of a permit connects itself and reports back. This blocking
//! [`Pool`] drives the engine with a blocking wait and calls [`ManageConnection::connect`]
//! itself; [`AsyncPool`] drives the same engine from futures and calls the async manager's
//! `connect` (the adapters name it with their runtime), so there is exactly one pool
//! implementation.
//!
//! Nothing slow runs under the pool's lock: `connect`, `is_valid`, `has_broken`, the hooks,
//! closing connections and monitor events all run after it is released.
//!
//! # Health and lifetimes
//!
//! - `test_on_check_out`: `is_valid` before handing a connection out; a failing one is
//!   replaced within the same get.
//! - `has_broken` on every return; a connection whose holder panicked is discarded.
//! - `max_lifetime` (minus up to 1/16 random jitter) checked at check-out, on return and in
//!   the background; `idle_timeout` closes idle connections, never going below
//!   `min_connections`; `health_check_interval` validates idle connections in the background.
//! - `min_connections` is kept open by the background thread, backing off from 10 ms to 5 s
//!   while connecting fails.
//!
//! One background thread per pool, only if the configuration needs one; it holds a weak link
//! and stops when the last [`Pool`] handle is dropped, which also closes the idle connections.

#[cfg(not(loom))]
mod async_pool;
mod config;
mod conn;
/// The pool engine, public only for the loom models (`loom-tests`): the blocking and async
/// pools are its only drivers.
#[cfg(loom)]
#[doc(hidden)]
pub mod engine;
#[cfg(not(loom))]
mod engine;
mod error;
mod maintenance;
mod manager;
mod stats;

use std::fmt;
use std::time::{Duration, Instant};

#[cfg(not(loom))]
pub use async_pool::{AsyncManageConnection, AsyncPool, AsyncPoolBuilder, AsyncPooledConnection};
pub use config::PoolConfig;
pub use conn::PooledConnection;
pub use error::PoolError;
pub use manager::{CustomizeConnection, ManageConnection, NoopCustomizer};
pub use stats::{PoolState, PoolStats};

use crate::error::ConfigError;
use crate::monitor::{CloseReason, Monitor, NoopMonitor};
use crate::sync::StdArc;
use crate::util::catch_panic;
use engine::{Acquired, Engine, Live, Permit};
use maintenance::Stop;

type ConnOf<M> = <M as ManageConnection>::Connection;
type ErrOf<M> = <M as ManageConnection>::Error;

/// What every handle and checked-out connection shares.
struct Shared<M: ManageConnection> {
    engine: StdArc<Engine<ConnOf<M>, ErrOf<M>>>,
    manager: M,
}

/// What the `Pool` handles (but not the checked-out connections) share: dropping the last one
/// stops the maintenance thread and closes the pool.
struct Handle<M: ManageConnection> {
    shared: StdArc<Shared<M>>,
    stop: StdArc<Stop>,
}

impl<M: ManageConnection> Drop for Handle<M> {
    fn drop(&mut self) {
        self.stop.signal();
        self.shared.engine.close();
    }
}

/// A fair, blocking connection pool. Cheap to clone: clones share one pool.
///
/// See the [module docs](self) for fairness, health checks and the background thread.
pub struct Pool<M: ManageConnection> {
    handle: StdArc<Handle<M>>,
}

impl<M: ManageConnection> Clone for Pool<M> {
    fn clone(&self) -> Self {
        Self {
            handle: StdArc::clone(&self.handle),
        }
    }
}

impl<M: ManageConnection> fmt::Debug for Pool<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("config", self.config())
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<M: ManageConnection> Pool<M> {
    /// A pool with `config`. Never connects here: connections are opened by gets and, up to
    /// `min_connections`, by the background thread.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if `config` is invalid (see [`PoolConfig::validate`]).
    pub fn new(manager: M, config: PoolConfig) -> Result<Self, ConfigError> {
        Self::builder(manager).config(config).build()
    }

    /// A builder starting from [`PoolConfig::default`].
    pub fn builder(manager: M) -> PoolBuilder<M> {
        PoolBuilder {
            manager,
            config: PoolConfig::default(),
            monitor: StdArc::new(NoopMonitor),
            customizer: Box::new(NoopCustomizer),
        }
    }

    fn shared(&self) -> &StdArc<Shared<M>> {
        &self.handle.shared
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        self.shared().engine.config()
    }

    /// Gets a connection, waiting up to `connection_timeout`.
    ///
    /// # Errors
    ///
    /// See [`Pool::get_timeout`].
    pub fn get(&self) -> Result<PooledConnection<M>, PoolError<M::Error>> {
        self.get_timeout(self.config().connection_timeout)
    }

    /// Gets a connection, waiting in line up to `timeout`. When it may open a new connection
    /// it connects itself, retrying retryable errors until the deadline; a `connect` already
    /// running when the deadline passes is not interrupted.
    ///
    /// # Errors
    ///
    /// - [`PoolError::Timeout`] at the deadline, with the last connect error if any;
    /// - [`PoolError::Closed`] if the pool is or gets closed;
    /// - [`PoolError::Backend`] if this get's `connect` failed with a permanent error, and
    ///   [`PoolError::Rejected`] for the gets waiting behind it;
    /// - [`PoolError::Panicked`] if `connect` or the `on_acquire` hook panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// # use patinox_memory::pool::{ManageConnection, Pool};
    /// # use std::time::Duration;
    /// # struct M;
    /// # impl ManageConnection for M {
    /// #     type Connection = ();
    /// #     type Error = std::io::Error;
    /// #     fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
    /// #     fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
    /// # }
    /// let pool = Pool::builder(M).max_connections(1).build()?;
    /// let held = pool.get()?;
    /// let err = pool.get_timeout(Duration::from_millis(10)).unwrap_err();
    /// assert!(err.is_timeout());
    /// drop(held);
    /// assert!(pool.get_timeout(Duration::from_millis(10)).is_ok());
    /// # Ok::<(), patinox_memory::Error>(())
    /// ```
    pub fn get_timeout(
        &self,
        timeout: Duration,
    ) -> Result<PooledConnection<M>, PoolError<M::Error>> {
        let shared = self.shared();
        let engine = &shared.engine;
        let (acquired, since) = engine.acquire_blocking(timeout);
        let mut acquired = acquired?;
        let mut start = since;
        loop {
            match acquired {
                Acquired::Idle(mut live) => {
                    if self.config().test_on_check_out && !shared.valid(&mut live) {
                        acquired = Acquired::Create(engine.recycle(live, CloseReason::Invalid)?);
                        continue;
                    }
                    return Ok(PooledConnection::new(StdArc::clone(shared), live));
                }
                Acquired::Create(permit) => {
                    let start = *start.get_or_insert_with(Instant::now);
                    let live = shared.connect(permit, Some((start, timeout)))?;
                    return Ok(PooledConnection::new(StdArc::clone(shared), live));
                }
            }
        }
    }

    /// Gets an idle connection if one is free and no get is waiting; never waits and never
    /// connects. With `test_on_check_out`, a connection failing `is_valid` is closed and
    /// `None` returned.
    pub fn try_get(&self) -> Option<PooledConnection<M>> {
        let shared = self.shared();
        let mut live = shared.engine.try_acquire()?;
        if self.config().test_on_check_out && !shared.valid(&mut live) {
            shared.engine.discard(live, CloseReason::Invalid);
            return None;
        }
        Some(PooledConnection::new(StdArc::clone(shared), live))
    }

    /// Current connections and waiters.
    pub fn state(&self) -> PoolState {
        self.shared().engine.state()
    }

    /// Counters since creation, with the wait-time histogram.
    pub fn stats(&self) -> PoolStats {
        self.shared().engine.stats()
    }

    /// Closes the pool: waiting gets fail with [`PoolError::Closed`] at once, later gets fail
    /// too, idle connections are closed now and checked-out ones as they come back. The
    /// background thread stops.
    pub fn close(&self) {
        self.handle.stop.signal();
        self.shared().engine.close();
    }

    /// `true` once closed.
    pub fn is_closed(&self) -> bool {
        self.shared().engine.is_closed()
    }

    /// Closes the pool, then waits up to `timeout` for checked-out connections to come back
    /// (and be closed).
    ///
    /// # Errors
    ///
    /// [`PoolError::Timeout`] if connections were still checked out at the deadline.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), PoolError<M::Error>> {
        let start = Instant::now();
        self.close();
        let drained = match start.checked_add(timeout) {
            Some(deadline) => self.shared().engine.wait_drained(deadline),
            // Too far away to represent: wait for the first 100 years.
            None => self
                .shared()
                .engine
                .wait_drained(start + Duration::from_secs(100 * 365 * 86_400)),
        };
        if drained {
            Ok(())
        } else {
            Err(PoolError::Timeout {
                waited: start.elapsed(),
                last_error: None,
            })
        }
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.shared().manager
    }
}

impl<M: ManageConnection> Shared<M> {
    /// `is_valid`, with a panic counting as invalid.
    fn valid(&self, live: &mut Live<M::Connection>) -> bool {
        matches!(
            catch_panic(|| self.manager.is_valid(live.conn_mut())),
            Ok(Ok(()))
        )
    }

    /// Opens a connection under `permit`. With `retry_until = Some((start, timeout))`,
    /// retryable errors are retried with a short backoff until `start + timeout`; with `None`
    /// one attempt is made.
    fn connect(
        &self,
        permit: Permit<M::Connection, M::Error>,
        retry_until: Option<(Instant, Duration)>,
    ) -> Result<Live<M::Connection>, PoolError<M::Error>> {
        let engine = &self.engine;
        let mut backoff = Duration::from_millis(1);
        loop {
            let began = Instant::now();
            let attempt = catch_panic(|| {
                let mut conn = self.manager.connect()?;
                engine.customizer().on_acquire(&mut conn)?;
                Ok(conn)
            });
            let err = match attempt {
                Ok(Ok(conn)) => return engine.connected(permit, conn, began.elapsed()),
                Ok(Err(err)) => err,
                Err(message) => {
                    engine.connect_panicked();
                    drop(permit);
                    return Err(PoolError::Panicked { message });
                }
            };
            let retryable = self.manager.classify(&err).is_retryable();
            if let Some(permanent) = engine.connect_error(err, retryable) {
                drop(permit);
                return Err(PoolError::Backend(permanent));
            }
            let Some((start, timeout)) = retry_until else {
                // A single background attempt: not a get, so no timeout is counted.
                drop(permit);
                return Err(PoolError::Timeout {
                    waited: began.elapsed(),
                    last_error: None,
                });
            };
            let waited = start.elapsed();
            if waited >= timeout {
                drop(permit);
                return Err(engine.timed_out(waited));
            }
            pause(backoff.min(timeout - waited));
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }
}

#[cfg(not(loom))]
fn pause(d: Duration) {
    crate::sync::thread::sleep(d);
}

#[cfg(loom)]
fn pause(_d: Duration) {
    crate::sync::thread::yield_now();
}

/// Builds a [`Pool`]; every setter maps to a [`PoolConfig`] field.
#[must_use = "call build() to get the pool"]
pub struct PoolBuilder<M: ManageConnection> {
    manager: M,
    config: PoolConfig,
    monitor: StdArc<dyn Monitor>,
    customizer: Box<dyn CustomizeConnection<M::Connection, M::Error>>,
}

impl<M: ManageConnection> fmt::Debug for PoolBuilder<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("config", &self.config)
            .field("customizer", &self.customizer)
            .finish_non_exhaustive()
    }
}

impl<M: ManageConnection> PoolBuilder<M> {
    crate::pool_config_setters!();

    /// Sends the pool's events ([`PoolEvent`](crate::monitor::PoolEvent)) to `monitor`.
    pub fn monitor(mut self, monitor: StdArc<dyn Monitor>) -> Self {
        self.monitor = monitor;
        self
    }

    /// Hooks run on each new connection and before each close.
    pub fn customizer(
        mut self,
        customizer: impl CustomizeConnection<M::Connection, M::Error>,
    ) -> Self {
        self.customizer = Box::new(customizer);
        self
    }

    /// Validates the configuration and creates the pool (and its background thread, if
    /// `min_connections`, `idle_timeout`, `max_lifetime` or `health_check_interval` need one).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first invalid field.
    pub fn build(self) -> Result<Pool<M>, ConfigError> {
        self.config.validate()?;
        let engine = Engine::new(self.config, self.monitor, self.customizer);
        let shared = StdArc::new(Shared {
            engine,
            manager: self.manager,
        });
        let stop = StdArc::new(Stop::default());
        maintenance::start(&shared, &stop);
        Ok(Pool {
            handle: StdArc::new(Handle { shared, stop }),
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

/// A pool registered with a [`ResourceRegistry`](crate::resource::ResourceRegistry) is shut
/// down by its `cleanup_all`: closed at once, then drained until the deadline.
///
/// The registry keeps the clone it was given, so a registered pool stays open until
/// `cleanup_all` runs (or the registry is dropped).
///
/// # Examples
///
/// ```
/// use patinox_memory::pool::{ManageConnection, Pool};
/// use patinox_memory::resource::ResourceRegistry;
/// use std::time::Duration;
///
/// struct Numbers;
/// impl ManageConnection for Numbers {
///     type Connection = u32;
///     type Error = std::io::Error;
///     fn connect(&self) -> Result<u32, std::io::Error> { Ok(7) }
///     fn is_valid(&self, _: &mut u32) -> Result<(), std::io::Error> { Ok(()) }
/// }
///
/// let pool = Pool::builder(Numbers).max_connections(2).build().unwrap();
/// let registry = ResourceRegistry::new();
/// registry.register_component(pool.clone()).unwrap();
/// drop(pool.get().unwrap());
///
/// let report = registry.cleanup_all(Duration::from_secs(1));
/// assert!(report.components[0].result.is_ok());
/// assert!(pool.is_closed());
/// assert_eq!(pool.state().connections, 0);
/// ```
impl<M: ManageConnection> crate::resource::ManagedComponent for Pool<M> {
    fn name(&self) -> &str {
        "connection pool"
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), crate::Error> {
        Pool::shutdown(self, deadline.saturating_duration_since(Instant::now())).map_err(Into::into)
    }
}
