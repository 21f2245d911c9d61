//! The async pool: the core's pool engine driven from futures, generic over the runtime that
//! supplies timers and spawning (see [`AsyncPool`]).

mod acquire;
mod conn;
mod keeper;
mod maintenance;
mod manager;
#[cfg(test)]
mod tests;

use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

pub use conn::AsyncPooledConnection;
pub use manager::AsyncManageConnection;

use crate::ConfigError;
use crate::monitor::{CloseReason, Monitor, NoopMonitor};
use crate::pool::engine::{Acquired, Engine, Live, Permit};
use crate::pool::{
    CustomizeConnection, NoopCustomizer, PoolConfig, PoolError, PoolState, PoolStats,
};
use crate::runtime::{Runtime, catch_unwind_future, timeout_at};
use acquire::acquire;
use conn::Held;
use maintenance::Stop;

type ConnOf<M> = <M as AsyncManageConnection>::Connection;
type ErrOf<M> = <M as AsyncManageConnection>::Error;

/// What every handle and checked-out connection shares.
struct Shared<M: AsyncManageConnection> {
    engine: Arc<Engine<ConnOf<M>, ErrOf<M>>>,
    manager: M,
}

/// What the `AsyncPool` handles (but not the checked-out connections) share: dropping the last one
/// stops the maintenance task and closes the pool.
struct Handle<M: AsyncManageConnection, R: Runtime> {
    shared: Arc<Shared<M>>,
    stop: Arc<Stop>,
    background: Arc<Background<R>>,
}

/// The pool's background tasks (the deadline keeper and the maintenance task), as the gets
/// see them.
///
/// The tasks run on the runtime where the pool was built, or where it was first used if
/// `build` ran outside any runtime. When that runtime shuts down while the pool lives on (a
/// pool in a `static` used by one test runtime after another, or built on a runtime that is
/// gone), its tasks are dropped unfinished; each then raises `respawn`, and the next get
/// spawns what is missing on its own runtime. Until then waits keep their own deadlines and
/// upkeep pauses; nothing is lost.
struct Background<R: Runtime> {
    /// A get must spawn what is missing: set when `build` found no runtime, and by a task
    /// dropped unfinished. Read (relaxed) by every get.
    respawn: AtomicBool,
    /// The maintenance task is alive (spawned and not yet ended or dropped).
    maintenance: AtomicBool,
    /// Whether the live deadline keeper serves waiters on every runtime: `true` on a runtime
    /// that drives its timer by itself (no further look-up per waiting get), `false` when only
    /// `keeper_home`'s own tasks may rely on it.
    keeper_everywhere: AtomicBool,
    /// Where the live keeper runs; `None` while there is none.
    keeper_home: Mutex<Option<R::Home>>,
}

impl<R: Runtime> Default for Background<R> {
    fn default() -> Self {
        Self {
            respawn: AtomicBool::new(false),
            maintenance: AtomicBool::new(false),
            keeper_everywhere: AtomicBool::new(false),
            keeper_home: Mutex::new(None),
        }
    }
}

impl<R: Runtime> Background<R> {
    /// Whether a waiter running here may leave its deadline to the pool's live keeper.
    fn keeper_serves_here(&self) -> bool {
        self.keeper_everywhere.load(Ordering::Acquire)
            || self.home().as_ref().is_some_and(R::is_current)
    }

    /// `keeper_home`, locked (a panic elsewhere while it was held leaves it usable: it is
    /// only ever replaced whole).
    fn home(&self) -> MutexGuard<'_, Option<R::Home>> {
        self.keeper_home
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Which background task holds a [`Respawn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Job {
    Keeper,
    Maintenance,
}

/// Held by a background task. Dropped before the task finished its work (its runtime shut
/// down), it asks the next get to spawn the task again.
pub(super) struct Respawn<R: Runtime> {
    background: Arc<Background<R>>,
    job: Job,
    finished: bool,
}

impl<R: Runtime> Respawn<R> {
    fn new(background: &Arc<Background<R>>, job: Job) -> Self {
        Self {
            background: Arc::clone(background),
            job,
            finished: false,
        }
    }

    /// The task ended of its own accord (the pool closed or was dropped): nothing to respawn.
    pub(super) fn finished(mut self) {
        self.finished = true;
    }
}

impl<R: Runtime> Drop for Respawn<R> {
    fn drop(&mut self) {
        match self.job {
            // Waiters kept until now are handed their deadlines back by the keeper's own
            // drop; none may count on a keeper here until a new one is spawned.
            Job::Keeper => {
                self.background
                    .keeper_everywhere
                    .store(false, Ordering::Release);
                *self.background.home() = None;
            }
            Job::Maintenance => self.background.maintenance.store(false, Ordering::Release),
        }
        if !self.finished {
            self.background.respawn.store(true, Ordering::Release);
        }
    }
}

impl<M: AsyncManageConnection, R: Runtime> Drop for Handle<M, R> {
    fn drop(&mut self) {
        self.stop.signal();
        // Guards hold no count on `shared`: while any is out, the engine keeps it alive.
        let keep: Box<dyn Send> = Box::new(Arc::clone(&self.shared));
        self.shared.engine.close_keeping(keep);
    }
}

/// A fair async connection pool, generic over the runtime `R` that supplies its timers and
/// background tasks. Cheap to clone: clones share one pool.
///
/// The adapters name it with their runtime filled in: `patinox_memory_tokio::pool::Pool<M>` is
/// `AsyncPool<M, Tokio>`, and likewise for async-std. In the example below, `adapter` stands
/// for either crate.
///
/// There is one pool implementation, the core's pool engine, which the blocking
/// [`Pool`](crate::pool::Pool) drives from threads and this type from futures. A get polls
/// the engine: an idle connection is returned at once, a permit
/// to open one makes the get call the manager's `async fn connect`, and otherwise the get's
/// task joins the engine's FIFO line with its `Waker` and returns `Pending`. Waiting holds no
/// OS thread. Deadlines are kept by one task per pool, the engine's deadline keeper driven on
/// the runtime's timer, so a get that waits registers no timer of its own. A keeper on a
/// multi-thread runtime serves gets on every runtime; a get on another runtime than a
/// current-thread keeper's (which runs only while something blocks on that runtime), or
/// waiting after the keeper's runtime shut down, arms its own.
/// Threads using the core's blocking pool and tasks using this one follow the same rules:
/// direct hand-off to the oldest waiter, no cutting in line, the same health checks,
/// lifetimes, statistics ([`PoolState`], [`PoolStats`]) and errors ([`PoolError`]).
///
/// Background upkeep (idle and lifetime reaping, health checks, `min_connections`) runs as a
/// task on the runtime, started by `build` (or by the first get when `build` ran outside the
/// runtime), beside the deadline keeper's task. The upkeep holds a weak link and ends when
/// the last [`AsyncPool`] handle is dropped; the keeper ends when the pool is closed, which
/// dropping the last handle does. If their runtime shuts down while the pool lives on (a
/// `static` pool used by one test runtime after another), the next get spawns both again on
/// its own runtime; meanwhile waits keep their own deadlines.
///
/// # Cancel safety
///
/// Every future of the pool may be dropped at any await point without leaking anything:
/// a get waiting in line leaves it (a connection or permit handed to it meanwhile goes to
/// the next waiter), a get that was opening a connection gives its slot back, and a get that
/// was checking a connection (`test_on_check_out`) closes it and frees its slot.
#[doc = crate::async_example!(r#"
use adapter::pool::{ManageConnection, Pool};
use std::time::Duration;

struct Numbers;
impl ManageConnection for Numbers {
    type Connection = Vec<u32>;
    type Error = std::io::Error;
    async fn connect(&self) -> Result<Vec<u32>, std::io::Error> { Ok(Vec::new()) }
    async fn is_valid(&self, _: &mut Vec<u32>) -> Result<(), std::io::Error> { Ok(()) }
}

let pool = Pool::builder(Numbers)
    .max_connections(4)
    .connection_timeout(Duration::from_secs(1))
    .build()?;
{
    let mut conn = pool.get().await?;
    conn.push(1);
} // back in the pool
assert_eq!(pool.state().idle_connections, 1);
"#)]
pub struct AsyncPool<M: AsyncManageConnection, R: Runtime> {
    handle: Arc<Handle<M, R>>,
}

impl<M: AsyncManageConnection, R: Runtime> Clone for AsyncPool<M, R> {
    fn clone(&self) -> Self {
        Self {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<M: AsyncManageConnection, R: Runtime> fmt::Debug for AsyncPool<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncPool")
            .field("runtime", &R::NAME)
            .field("config", self.config())
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<M: AsyncManageConnection, R: Runtime> AsyncPool<M, R> {
    /// A pool with `config`. Never connects here.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] if `config` is invalid (see [`PoolConfig::validate`]).
    pub fn new(manager: M, config: PoolConfig) -> Result<Self, ConfigError> {
        Self::builder(manager).config(config).build()
    }

    /// A builder starting from [`PoolConfig::default`].
    pub fn builder(manager: M) -> AsyncPoolBuilder<M, R> {
        AsyncPoolBuilder {
            manager,
            config: PoolConfig::default(),
            monitor: Arc::new(NoopMonitor),
            customizer: Box::new(NoopCustomizer),
            runtime: PhantomData,
        }
    }

    fn shared(&self) -> &Arc<Shared<M>> {
        &self.handle.shared
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        self.shared().engine.config()
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.shared().manager
    }

    /// Gets a connection, waiting up to `connection_timeout`.
    ///
    /// # Errors
    ///
    /// See [`AsyncPool::get_timeout`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future leaks no connection, slot or place in line (see the
    /// [type docs](AsyncPool#cancel-safety)).
    ///
    /// It is [`AsyncPool::get_timeout`]'s future itself (no second state machine around it).
    pub fn get(
        &self,
    ) -> impl Future<Output = Result<AsyncPooledConnection<M>, PoolError<M::Error>>> + '_ {
        self.get_timeout(self.config().connection_timeout)
    }

    /// Gets a connection, waiting in line up to `timeout` (counted from when it starts to
    /// wait or connect). When it may open a new connection it connects itself, retrying
    /// retryable errors until the deadline; a `connect` still running at the deadline is
    /// dropped and its slot given back.
    ///
    /// # Errors
    ///
    /// - [`PoolError::Timeout`] at the deadline, with the last connect error if any;
    /// - [`PoolError::Closed`] if the pool is or gets closed;
    /// - [`PoolError::Backend`] if this get's `connect` failed with a permanent error, and
    ///   [`PoolError::Rejected`] for the gets waiting behind it;
    /// - [`PoolError::Panicked`] if `connect` or the `on_acquire` hook panicked.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future at any await point leaks nothing; a connection handed
    /// to it goes to the next waiter.
    #[doc = crate::async_example!(r#"
# use adapter::pool::{ManageConnection, Pool};
# use std::time::Duration;
# struct M;
# impl ManageConnection for M {
#     type Connection = ();
#     type Error = std::io::Error;
#     async fn connect(&self) -> Result<(), std::io::Error> { Ok(()) }
#     async fn is_valid(&self, _: &mut ()) -> Result<(), std::io::Error> { Ok(()) }
# }
let pool = Pool::builder(M).max_connections(1).build()?;
let held = pool.get().await?;
let err = pool.get_timeout(Duration::from_millis(10)).await.unwrap_err();
assert!(err.is_timeout());
drop(held);
assert!(pool.get_timeout(Duration::from_millis(10)).await.is_ok());
"#)]
    pub async fn get_timeout(
        &self,
        timeout: Duration,
    ) -> Result<AsyncPooledConnection<M>, PoolError<M::Error>> {
        self.start_maintenance();
        let shared = self.shared();
        let engine = &shared.engine;
        let keeper_here = || self.handle.background.keeper_serves_here();
        let (acquired, since) = acquire::<_, _, R>(engine, timeout, keeper_here).await;
        let mut acquired = acquired?;
        // The fast path (an idle connection, no check) reads no clock.
        if let Acquired::Idle(live) = acquired {
            if !self.config().test_on_check_out {
                return Ok(AsyncPooledConnection::new(shared, live));
            }
            acquired = Acquired::Idle(live);
        }
        let start = since.unwrap_or_else(Instant::now);
        let deadline = start.checked_add(timeout);
        loop {
            match acquired {
                Acquired::Idle(live) => match shared.check::<R>(live, deadline).await {
                    Ok(live) => return Ok(AsyncPooledConnection::new(shared, live)),
                    Err(live) => {
                        acquired = Acquired::Create(engine.recycle(live, CloseReason::Invalid)?);
                    }
                },
                Acquired::Create(permit) => {
                    let live = shared.connect::<R>(permit, Some(start), deadline).await?;
                    return Ok(AsyncPooledConnection::new(shared, live));
                }
            }
        }
    }

    /// Gets an idle connection if one is free and no get is waiting; never waits and never
    /// connects. It does not run `is_valid` even with `test_on_check_out` (that needs an
    /// await); `has_broken` is still checked when the connection comes back.
    pub fn try_get(&self) -> Option<AsyncPooledConnection<M>> {
        let shared = self.shared();
        let live = shared.engine.try_acquire()?;
        Some(AsyncPooledConnection::new(shared, live))
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
    /// maintenance task ends.
    pub fn close(&self) {
        self.handle.stop.signal();
        self.shared().engine.close();
    }

    /// `true` once closed.
    pub fn is_closed(&self) -> bool {
        self.shared().engine.is_closed()
    }

    /// Closes the pool, then waits up to `timeout` for checked-out connections to come back
    /// (and be closed) and for connects in progress to end.
    ///
    /// The wait looks at the pool's state on the runtime's timer (every 1 ms at first,
    /// backing off to 20 ms); it holds no thread.
    ///
    /// # Errors
    ///
    /// [`PoolError::Timeout`] if connections were still checked out at the deadline.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the pool is closed at the first poll; dropping the future only stops the
    /// wait.
    pub async fn shutdown(&self, timeout: Duration) -> Result<(), PoolError<M::Error>> {
        let start = Instant::now();
        self.close();
        let mut pause = Duration::from_millis(1);
        loop {
            let st = self.state();
            if st.connections == 0 && st.creating == 0 {
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(PoolError::Timeout {
                    waited,
                    last_error: None,
                });
            }
            R::timer(Instant::now() + pause.min(timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Spawns the background tasks that are not running: `build` found no runtime, or the
    /// runtime running them shut down (see [`Background`]).
    fn start_maintenance(&self) {
        let background = &self.handle.background;
        if background.respawn.load(Ordering::Relaxed)
            && background.respawn.swap(false, Ordering::AcqRel)
            && !spawn_background(&self.handle.shared, &self.handle.stop, background)
        {
            background.respawn.store(true, Ordering::Release);
        }
    }
}

/// Spawns, on the current runtime, the deadline keeper's task if the pool has no live keeper
/// and the maintenance task if the configuration needs one and none is alive; `false` if
/// there is no runtime to run them on.
fn spawn_background<M: AsyncManageConnection, R: Runtime>(
    shared: &Arc<Shared<M>>,
    stop: &Arc<Stop>,
    background: &Arc<Background<R>>,
) -> bool {
    let Some(home) = R::current() else {
        return false;
    };
    let everywhere = R::drives_itself(&home);
    if let Some(keeper) = shared.engine.deadline_keeper() {
        // Until these are set, a waiter the new keeper keeps also arms its own timer (the
        // last keeper's drop cleared both), which is only slower.
        *background.home() = Some(home);
        background
            .keeper_everywhere
            .store(everywhere, Ordering::Release);
        // A runtime shutting down drops the task unrun, and the keeper with it: waiters then
        // keep their own deadlines, and the next get spawns a keeper again.
        let guard = Respawn::new(background, Job::Keeper);
        let _ = R::try_spawn(keeper::run::<_, _, R>(keeper::Kept { keeper, guard }));
    }
    spawn_maintenance(shared, stop, background)
}

/// Spawns the maintenance task if the configuration needs one and none is alive; `false` if
/// it needs one and there is no runtime to run it on.
fn spawn_maintenance<M: AsyncManageConnection, R: Runtime>(
    shared: &Arc<Shared<M>>,
    stop: &Arc<Stop>,
    background: &Arc<Background<R>>,
) -> bool {
    let Some(tick) = maintenance_tick(shared.engine.config()) else {
        return true;
    };
    if background.maintenance.swap(true, Ordering::AcqRel) {
        return true;
    }
    let weak: Weak<Shared<M>> = Arc::downgrade(shared);
    let guard = Respawn::new(background, Job::Maintenance);
    match R::try_spawn(maintenance::run::<M, R>(
        weak,
        Arc::clone(stop),
        tick,
        guard,
    )) {
        Ok(()) => true,
        Err(unspawned) => {
            // Dropping it unrun marks the maintenance as not alive and asks for a respawn.
            drop(unspawned);
            false
        }
    }
}

/// How often the maintenance task wakes up, or `None` if nothing needs it (the same rule as
/// the blocking pool's thread).
fn maintenance_tick(config: &PoolConfig) -> Option<Duration> {
    let shortest = [
        config.idle_timeout,
        config.max_lifetime,
        config.health_check_interval,
    ]
    .into_iter()
    .flatten()
    .min();
    match shortest {
        Some(d) => Some((d / 4).clamp(Duration::from_millis(1), Duration::from_millis(250))),
        None if config.min_connections > 0 => Some(Duration::from_millis(250)),
        None => None,
    }
}

impl<M: AsyncManageConnection> Shared<M> {
    /// `is_valid` before check-out, bounded by the get's deadline; a panic, an error or the
    /// deadline count as invalid. `Err` gives the connection back for recycling.
    async fn check<R: Runtime>(
        &self,
        live: Live<M::Connection>,
        deadline: Option<Instant>,
    ) -> Result<Live<M::Connection>, Live<M::Connection>> {
        let mut held = Held::new(&self.engine, live);
        let ok = match held.conn_mut() {
            Some(conn) => matches!(
                timeout_at::<R, _>(deadline, catch_unwind_future(self.manager.is_valid(conn)))
                    .await,
                Some(Ok(Ok(())))
            ),
            None => false,
        };
        match held.take() {
            Some(live) if ok => Ok(live),
            Some(live) => Err(live),
            None => unreachable!("only this function takes the connection out"),
        }
    }

    /// Opens a connection under `permit`, each attempt bounded by `deadline`. With
    /// `retry_from = Some(start)`, retryable errors are retried with a short backoff until
    /// the deadline (a get); with `None` one attempt is made (maintenance).
    async fn connect<R: Runtime>(
        &self,
        permit: Permit<M::Connection, M::Error>,
        retry_from: Option<Instant>,
        deadline: Option<Instant>,
    ) -> Result<Live<M::Connection>, PoolError<M::Error>> {
        let engine = &self.engine;
        let mut backoff = Duration::from_millis(1);
        loop {
            let began = Instant::now();
            let attempt = catch_unwind_future(async {
                let mut conn = self.manager.connect().await?;
                engine.customizer().on_acquire(&mut conn)?;
                Ok(conn)
            });
            let err = match timeout_at::<R, _>(deadline, attempt).await {
                Some(Ok(Ok(conn))) => return engine.connected(permit, conn, began.elapsed()),
                Some(Ok(Err(err))) => err,
                Some(Err(message)) => {
                    engine.connect_panicked();
                    drop(permit);
                    return Err(PoolError::Panicked { message });
                }
                None => {
                    // The deadline passed during connect: the attempt is dropped.
                    drop(permit);
                    return Err(match retry_from {
                        Some(start) => engine.timed_out(start.elapsed()),
                        None => PoolError::Timeout {
                            waited: began.elapsed(),
                            last_error: None,
                        },
                    });
                }
            };
            let retryable = self.manager.classify(&err).is_retryable();
            if let Some(permanent) = engine.connect_error(err, retryable) {
                drop(permit);
                return Err(PoolError::Backend(permanent));
            }
            let Some(start) = retry_from else {
                // A single background attempt: not a get, so no timeout is counted.
                drop(permit);
                return Err(PoolError::Timeout {
                    waited: began.elapsed(),
                    last_error: None,
                });
            };
            let now = Instant::now();
            let pause_until = now + backoff;
            match deadline {
                Some(d) if now >= d => {
                    drop(permit);
                    return Err(engine.timed_out(start.elapsed()));
                }
                Some(d) => R::timer(pause_until.min(d)).await,
                None => R::timer(pause_until).await,
            }
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }
}

/// Builds a [`AsyncPool`]; every setter maps to a [`PoolConfig`] field.
#[must_use = "call build() to get the pool"]
pub struct AsyncPoolBuilder<M: AsyncManageConnection, R: Runtime> {
    manager: M,
    config: PoolConfig,
    monitor: Arc<dyn Monitor>,
    customizer: Box<dyn CustomizeConnection<M::Connection, M::Error>>,
    runtime: PhantomData<fn() -> R>,
}

impl<M: AsyncManageConnection, R: Runtime> fmt::Debug for AsyncPoolBuilder<M, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncPoolBuilder")
            .field("config", &self.config)
            .field("customizer", &self.customizer)
            .finish_non_exhaustive()
    }
}

impl<M: AsyncManageConnection, R: Runtime> AsyncPoolBuilder<M, R> {
    crate::pool_config_setters!();

    /// Sends the pool's events ([`PoolEvent`](crate::monitor::PoolEvent)) to
    /// `monitor`.
    pub fn monitor(mut self, monitor: Arc<dyn Monitor>) -> Self {
        self.monitor = monitor;
        self
    }

    /// Hooks run on each new connection and before each close (synchronous, with no lock
    /// held).
    pub fn customizer(
        mut self,
        customizer: impl CustomizeConnection<M::Connection, M::Error>,
    ) -> Self {
        self.customizer = Box::new(customizer);
        self
    }

    /// Validates the configuration and creates the pool. The maintenance task (if
    /// `min_connections`, `idle_timeout`, `max_lifetime` or `health_check_interval` need one)
    /// is spawned on the current runtime, or by the first get if there is none here.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first invalid field.
    pub fn build(self) -> Result<AsyncPool<M, R>, ConfigError> {
        self.config.validate()?;
        let engine = Engine::new(self.config, self.monitor, self.customizer);
        let shared = Arc::new(Shared {
            engine,
            manager: self.manager,
        });
        let stop = Arc::new(Stop::default());
        let background = Arc::new(Background::default());
        if !spawn_background(&shared, &stop, &background) {
            background.respawn.store(true, Ordering::Relaxed);
        }
        Ok(AsyncPool {
            handle: Arc::new(Handle {
                shared,
                stop,
                background,
            }),
        })
    }
}

/// A pool registered with a [`ResourceRegistry`](crate::resource::ResourceRegistry)
/// is shut down by its `cleanup_all`: closed at once, then drained until the deadline (on the
/// registry's shutdown thread, which may block).
impl<M: AsyncManageConnection, R: Runtime> crate::resource::ManagedComponent for AsyncPool<M, R> {
    fn name(&self) -> &str {
        "async connection pool"
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), crate::Error> {
        let start = Instant::now();
        self.close();
        if self.shared().engine.wait_drained(deadline) {
            Ok(())
        } else {
            Err(PoolError::<M::Error>::Timeout {
                waited: start.elapsed(),
                last_error: None,
            }
            .into())
        }
    }
}
