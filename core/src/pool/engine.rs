//! The runtime-agnostic pool engine: connection slots, the idle set and the fair waiter line.
//!
//! [`Engine`] does no I/O. It decides who gets what and keeps the counts; whoever drives it
//! (the blocking [`Pool`](super::Pool), or the runtime-generic [`AsyncPool`](super::AsyncPool)) opens, checks and uses the
//! connections with no lock held:
//!
//! 1. **Acquire** ([`Engine::poll_acquire_first`], then [`Engine::poll_acquire`] for tasks; the
//!    blocking loop for threads; all run one `step`): take the most recently returned idle connection, or a [`Permit`] to open a
//!    new one while fewer than `max_connections` exist, or join the FIFO line. Newcomers never
//!    take anything while someone is in line. A waiter in line is handed whichever comes
//!    first: a returned connection, or the permit of a slot that was freed.
//! 2. **Connect** (the driver, holding the [`Permit`]): call the manager's `connect`, then
//!    [`Engine::connected`] (or [`Engine::connect_error`] and drop the permit). Dropping a
//!    permit frees its slot for the oldest waiter, so a cancelled async connect leaks nothing.
//! 3. **Return** ([`Engine::put_back`], [`Engine::discard`], [`Engine::recycle`]): a healthy
//!    connection goes straight to the oldest waiter, else to the idle set; a bad one is closed
//!    and its slot passed on as a permit.
//! 4. **Maintain** ([`Engine::reap`], [`Engine::take_for_health_check`],
//!    [`Engine::refill_permits`]): what a background thread or task calls periodically.
//!
//! All state is under one mutex, and it is the only lock the engine takes: no lock order to
//! respect. Wake-ups, closing connections (the `on_release` hook and the connection's
//! destructor) and monitor events happen after it is released.

// Public for the loom models only (`pool::engine` is private outside `cfg(loom)`).
#![cfg_attr(not(loom), allow(unreachable_pub))]

use std::collections::VecDeque;
use std::fmt;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use super::config::PoolConfig;
use super::error::PoolError;
use super::manager::CustomizeConnection;
use super::stats::reason_index;
use super::stats::{PoolState, PoolStats};
use crate::monitor::{CloseReason, Event, Histogram, Monitor, PoolEvent};
use crate::sync::{AtomicU64, Condvar, Mutex, MutexGuard, Ordering, StdArc};
use crate::util::{catch_panic, random_u64};
use crate::wait::{Node, NodeList, Task, Wake, Wakeups, Woken};

/// The least of [`Engine::outlived`]'s window in which the real clock decides.
const EXACT_EXPIRY_FLOOR: Duration = Duration::from_millis(100);

/// An open connection with the times the pool tracks for it.
pub struct Live<C> {
    conn: C,
    created: Instant,
    expires: Option<Instant>,
    idle_since: Instant,
    checked: Instant,
}

impl<C> Live<C> {
    /// The connection.
    pub fn conn(&self) -> &C {
        &self.conn
    }

    /// The connection, mutably.
    pub fn conn_mut(&mut self) -> &mut C {
        &mut self.conn
    }

    /// When it was opened.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// Whether it has outlived `max_lifetime` (with its jitter) at `now`.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| now >= e)
    }

    /// Records a successful health check at `now`.
    pub fn mark_checked(&mut self, now: Instant) {
        self.checked = now;
    }
}

impl<C> fmt::Debug for Live<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Live")
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// What an acquisition yields.
#[derive(Debug)]
pub enum Acquired<C: 'static, E: 'static> {
    /// An idle connection, now checked out.
    Idle(Live<C>),
    /// Leave to open one new connection; its slot is already counted.
    Create(Permit<C, E>),
}

/// A reserved connection slot: its holder may open one connection.
///
/// Turn it into a connection with [`Engine::connected`]. Dropping it (a failed or cancelled
/// connect) frees the slot: the oldest waiter receives it as its own permit.
#[must_use = "dropping a permit gives its slot away"]
pub struct Permit<C: 'static, E: 'static> {
    engine: Option<StdArc<Engine<C, E>>>,
}

impl<C: 'static, E: 'static> fmt::Debug for Permit<C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Permit")
    }
}

impl<C: 'static, E: 'static> Drop for Permit<C, E> {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let mut after = After::new();
            {
                let mut st = engine.state.lock();
                st.creating -= 1;
                engine.release_slot(&mut st, &mut after);
            }
            engine.finish(after);
        }
    }
}

/// Where a hand-off to a waiting get is delivered: the waiter's own node, which the engine's
/// line (a [`NodeList`]) points to while it waits (see [`Engine::waiter`]).
pub struct GrantBox<C: 'static>(Node<Grant<C>>);

impl<C: 'static> GrantBox<C> {
    /// An empty one, for an async get (woken through its waker).
    pub fn for_task() -> Self {
        Self(Node::for_task())
    }

    /// An empty one for a get blocking the calling thread (unparked on delivery).
    fn for_current_thread() -> Self {
        Self(Node::for_current_thread())
    }
}

impl<C: 'static> fmt::Debug for GrantBox<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A keep-alive given back by the return that drained the pool (see
/// [`Engine::close_keeping`]), or nothing. Drop it once the pool is no longer used: it may be
/// the last count on the pool's owner.
#[must_use = "drop it after the last use of the pool"]
pub struct Released(Option<Box<dyn Send>>);

impl fmt::Debug for Released {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Released").field(&self.0.is_some()).finish()
    }
}

/// An async acquisition in progress: its place in line. Dropping it (a cancelled future)
/// leaves the line and passes on anything it had already been handed.
///
/// Made by the `unsafe` [`Engine::waiter`] and [`Engine::poll_acquire_first`], whose callers
/// promise to drop it rather than leak it: the line points to its mailbox while it waits.
pub struct Waiter<'e, C: 'static, E: 'static> {
    /// Borrowed, not shared: a waiter lives inside the get that polls it, which holds the
    /// pool, so joining the line writes no reference count (a line both workers of a
    /// runtime would otherwise take turns writing on every waiting get).
    engine: &'e Engine<C, E>,
    /// In the line (its node pushed, not yet served or withdrawn), as far as the waiter knows:
    /// it may have been served since, which its mailbox tells.
    in_line: bool,
    /// Where a hand-off to this waiter is delivered, so its next poll takes it without the
    /// engine's lock. Borrowed from the get (its future or the blocked thread's stack), so
    /// waiting allocates nothing.
    mailbox: &'e GrantBox<C>,
    counted: bool,
    since: Option<Instant>,
    /// The engine's [`DeadlineKeeper`] enforces this waiter's deadline (as of its last poll).
    kept: bool,
}

impl<C: 'static, E: 'static> fmt::Debug for Waiter<'_, C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waiter")
            .field("in_line", &self.in_line)
            .field("since", &self.since)
            .field("kept", &self.kept)
            .finish()
    }
}

impl<C: 'static, E: 'static> Waiter<'_, C, E> {
    /// When this waiter started to wait (`None` before its first `Pending`).
    pub fn since(&self) -> Option<Instant> {
        self.since
    }

    /// `true` while the engine's [`DeadlineKeeper`] will end this wait at its deadline with
    /// a timeout, as of the last poll. While `false`, the driver keeps the deadline with a
    /// timer of its own.
    pub fn is_kept(&self) -> bool {
        self.kept
    }
}

impl<C: 'static, E: 'static> Drop for Waiter<'_, C, E> {
    fn drop(&mut self) {
        if !self.in_line {
            return;
        }
        let mut after = After::new();
        {
            let mut st = self.engine.state.lock();
            match st.waiters.cancel(&self.mailbox.0, &mut self.in_line) {
                Ok(()) => {}
                // Handed something it will never collect: pass it on.
                Err(Woken::Value(grant)) => self.engine.pass_on(&mut st, grant, &mut after),
                Err(Woken::Closed | Woken::Notified) => {}
            }
        }
        self.engine.finish(after);
    }
}

/// What the deadline keeper's driver does after a [`DeadlineKeeper::sweep`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeeperStep {
    /// Sweep again at this time, or sooner if the waker fires.
    At(Instant),
    /// No kept waiter: sweep again when the waker fires.
    Idle,
    /// The pool is closed: the keeper's work is over; drop it.
    Done,
}

/// Ends async waits at their deadline, for the whole pool, so that waiters need no timer of
/// their own (see [`Engine::deadline_keeper`]). One per engine; dropping it hands the
/// deadlines back to the waiters.
pub struct DeadlineKeeper<C: 'static, E: 'static> {
    engine: StdArc<Engine<C, E>>,
}

impl<C: 'static, E: 'static> fmt::Debug for DeadlineKeeper<C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadlineKeeper").finish_non_exhaustive()
    }
}

impl<C: 'static, E: 'static> DeadlineKeeper<C, E> {
    /// Ends every kept wait whose deadline is at or before `now` (each wakes with
    /// [`PoolError::Timeout`]) and says when to sweep next; `waker` is woken when a waiter
    /// joins with a deadline earlier than that, and when the pool closes.
    pub fn sweep(&self, now: Instant, waker: &Waker) -> KeeperStep {
        let engine = &*self.engine;
        let (wakeups, step) = {
            let mut st = engine.state.lock();
            if st.closed {
                st.keeper.waker = None;
                return KeeperStep::Done;
            }
            let (wakeups, next) = st.waiters.expire(now, || Grant::Expired);
            st.keeper.armed = next;
            if !st.keeper.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                st.keeper.waker = Some(waker.clone());
            }
            (wakeups, next.map_or(KeeperStep::Idle, KeeperStep::At))
        };
        wakeups.wake_all();
        step
    }
}

impl<C: 'static, E: 'static> Drop for DeadlineKeeper<C, E> {
    fn drop(&mut self) {
        let wakeups = {
            let mut st = self.engine.state.lock();
            st.keeper = KeeperState::default();
            st.waiters.release_kept()
        };
        wakeups.wake_all();
    }
}

/// The outcome of an acquisition.
pub type AcquireResult<C, E> = Result<Acquired<C, E>, PoolError<E>>;

enum Grant<C> {
    Conn(Live<C>),
    Permit,
    Rejected(StdArc<str>),
    /// The deadline keeper ended the wait: a timeout. Never passed on.
    Expired,
}

/// The deadline keeper's part of the state.
#[derive(Debug, Default)]
struct KeeperState {
    /// A [`DeadlineKeeper`] exists; waiters joining now get their deadline kept.
    running: bool,
    /// The deadline the keeper will look at the line next (`None`: it waits to be woken).
    armed: Option<Instant>,
    waker: Option<Waker>,
}

struct State<C, E> {
    /// Idle connections, least recently returned first.
    idle: VecDeque<Live<C>>,
    /// Connections open or being opened, plus permits in flight to a waiter. Never above
    /// `max_connections`.
    slots: usize,
    /// Permits held by someone opening a connection.
    creating: usize,
    waiters: NodeList<Grant<C>>,
    keeper: KeeperState,
    closed: bool,
    last_error: Option<StdArc<E>>,
    gets: u64,
    gets_waited: u64,
    /// What keeps the pool's owner alive while connections are still out after its last
    /// handle was dropped ([`Engine::close_keeping`]); given up when the last slot is freed.
    keep_alive: Option<Box<dyn Send>>,
}

/// What to do once the lock is released.
struct After<C> {
    wake: Option<Wake>,
    wakeups: Wakeups,
    /// Connections to close; each one's slot is freed only after it is closed, so the
    /// number of live connections never exceeds `max_connections`, even for a moment.
    doomed: Vec<(Live<C>, CloseReason)>,
    /// Connections to close whose slot was already passed to a replacement's permit.
    replaced: Vec<(Live<C>, CloseReason)>,
    drained: bool,
    /// A get ended by the deadline keeper after waiting this long: count and report it.
    timed_out: Option<Duration>,
    /// The keep-alive given up by the drain (see `State::keep_alive`).
    keep_alive: Option<Box<dyn Send>>,
}

impl<C> After<C> {
    fn new() -> Self {
        Self {
            wake: None,
            wakeups: Wakeups::default(),
            doomed: Vec::new(),
            replaced: Vec::new(),
            drained: false,
            timed_out: None,
            keep_alive: None,
        }
    }

    fn has_work(&self) -> bool {
        self.wake.is_some()
            || !self.wakeups.is_empty()
            || !self.doomed.is_empty()
            || !self.replaced.is_empty()
            || self.drained
            || self.timed_out.is_some()
    }

    fn wake(&mut self, wake: Wake) {
        match self.wake.take() {
            None => self.wake = Some(wake),
            Some(first) => {
                self.wakeups.push(first);
                self.wakeups.push(wake);
            }
        }
    }
}

/// The pool's bookkeeping, shared by the blocking pool and the async adapters. See the
/// module docs for the protocol.
pub struct Engine<C: 'static, E: 'static> {
    state: Mutex<State<C, E>>,
    /// Notified (with `state`'s mutex) when a closed pool's last slot is freed.
    drained: Condvar,
    config: PoolConfig,
    monitor: StdArc<dyn Monitor>,
    customizer: Box<dyn CustomizeConnection<C, E>>,
    wait_time: Histogram,
    /// A coarse clock for the hot paths: nanoseconds since `epoch`, advanced by every
    /// [`Engine::reap`] (each maintenance tick) and every new connection. Idle times measured
    /// with it are accurate to one maintenance tick; lifetimes are exact at check-out and
    /// return, where [`Engine::outlived`] asks the real clock near a connection's end.
    epoch: Instant,
    coarse_nanos: AtomicU64,
    /// How far ahead of the coarse clock a connection's end of life must be for
    /// [`Engine::outlived`] to trust the coarse clock alone (see there).
    exact_expiry_within: Duration,
    created: AtomicU64,
    connect_errors: AtomicU64,
    timeouts: AtomicU64,
    closed: [AtomicU64; 6],
}

impl<C: 'static, E: 'static> fmt::Debug for Engine<C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl<C: 'static, E: 'static> Engine<C, E> {
    /// An engine for a validated `config`.
    pub fn new(
        config: PoolConfig,
        monitor: StdArc<dyn Monitor>,
        customizer: Box<dyn CustomizeConnection<C, E>>,
    ) -> StdArc<Self> {
        let exact_expiry_within = config
            .maintenance_tick()
            .map_or(Duration::MAX, |tick| (tick * 4).max(EXACT_EXPIRY_FLOOR));
        StdArc::new(Self {
            state: Mutex::new(State {
                idle: VecDeque::with_capacity(config.max_connections),
                slots: 0,
                creating: 0,
                waiters: NodeList::new(),
                keeper: KeeperState::default(),
                closed: false,
                last_error: None,
                gets: 0,
                gets_waited: 0,
                keep_alive: None,
            }),
            drained: Condvar::new(),
            config,
            monitor,
            customizer,
            wait_time: Histogram::new(),
            epoch: Instant::now(),
            coarse_nanos: AtomicU64::new(0),
            exact_expiry_within,
            created: AtomicU64::new(0),
            connect_errors: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            closed: Default::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// The pool's coarse clock: the latest time seen by maintenance or a connect. Cheap (one
    /// atomic load), for checks on every get and return.
    pub fn coarse_now(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.coarse_nanos.load(Ordering::Relaxed))
    }

    /// Whether `live` has outlived its lifetime, checked at check-out and return.
    ///
    /// The coarse clock only ever lags the real one: by up to a maintenance tick, more if
    /// that thread or task is held up (a busy or stolen CPU). So it answers alone only while
    /// the end of the connection's life is comfortably ahead of it (more than
    /// `exact_expiry_within`: four ticks, at least 100 ms); closer than that, the real clock
    /// decides. A connection is thus never handed out or kept past its lifetime because
    /// maintenance ran late, and only connections near their end cost a clock read.
    #[inline]
    fn outlived(&self, live: &Live<C>) -> bool {
        live.expires.is_some() && self.outlived_at(live, self.coarse_now())
    }

    /// [`Engine::outlived`] with the coarse clock already read (`coarse`).
    #[inline]
    fn outlived_at(&self, live: &Live<C>, coarse: Instant) -> bool {
        let Some(end) = live.expires else {
            return false;
        };
        coarse >= end
            || (end.saturating_duration_since(coarse) <= self.exact_expiry_within
                && Instant::now() >= end)
    }

    /// Advances the coarse clock to `now` (it never goes back).
    pub fn advance_clock(&self, now: Instant) {
        let nanos =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        self.coarse_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// The hooks run on new and closing connections.
    pub fn customizer(&self) -> &dyn CustomizeConnection<C, E> {
        &*self.customizer
    }

    /// Sends an event to the pool's monitor (call with no lock held).
    pub fn emit(&self, event: PoolEvent) {
        self.monitor.on_event(&Event::Pool(event));
    }

    /// A new place in line for [`Engine::poll_acquire`], which receives its hand-off in
    /// `mailbox` (pass a fresh one: `GrantBox::for_task()`).
    ///
    /// # Safety
    ///
    /// The waiter must be dropped, not leaked (`mem::forget`), before `mailbox`'s memory is
    /// reused: while it waits, the line points to `mailbox` and delivers there, and only the
    /// waiter's drop (or its taking a delivery) ends that.
    pub unsafe fn waiter<'e>(&'e self, mailbox: &'e GrantBox<C>) -> Waiter<'e, C, E> {
        Waiter {
            engine: self,
            in_line: false,
            mailbox,
            counted: false,
            since: None,
            kept: false,
        }
    }

    /// The pool's deadline keeper, if none runs yet: from now on, async waiters that join
    /// with a timeout ([`Engine::poll_acquire_first`]) have their deadline enforced by it, so
    /// they need no timer each. Its driver (a task on the runtime) calls
    /// [`DeadlineKeeper::sweep`] whenever its waker fires or the deadline it returned comes.
    /// When it is dropped (the driver ends, the runtime shuts down), the waiters it kept are
    /// woken to arm timers of their own.
    pub fn deadline_keeper(self: &StdArc<Self>) -> Option<DeadlineKeeper<C, E>> {
        let mut st = self.state.lock();
        if st.keeper.running || st.closed {
            return None;
        }
        st.keeper = KeeperState {
            running: true,
            ..KeeperState::default()
        };
        Some(DeadlineKeeper {
            engine: StdArc::clone(self),
        })
    }

    /// Takes an idle connection if one is free and nobody waits in line; never waits, never
    /// opens a connection. Counts as a get.
    pub fn try_acquire(&self) -> Option<Live<C>> {
        let mut after = After::new();
        let got = {
            let mut st = self.state.lock();
            if st.closed {
                return None;
            }
            st.gets += 1;
            self.take_for_newcomer(&mut st, &mut after)
        };
        self.finish(after);
        if got.is_some() {
            self.emit(PoolEvent::Acquired {
                waited: Duration::ZERO,
            });
        }
        got
    }

    /// The first poll of an async acquisition, which has no place in line yet: `Ok` with an
    /// idle connection, a permit or an error, as [`Engine::poll_acquire`] would give; `Err`
    /// with a [`Waiter`] already in line (with `waker`, its get counted and its wait started)
    /// when it has to wait. Continue with [`Engine::poll_acquire`] on that waiter.
    ///
    /// A waiter that joins while a [`DeadlineKeeper`] runs has its deadline, `timeout` from
    /// now, kept by it ([`Waiter::is_kept`]); a `timeout` too large to represent is none.
    ///
    /// The same step as [`Engine::poll_acquire`] on a new [`Engine::waiter`], but a get
    /// served at once from an idle connection, with nobody in line, touches no reference
    /// count and reads no clock.
    ///
    /// # Errors
    ///
    /// `Err` is not a failure: it is the waiter to poll next.
    ///
    /// # Safety
    ///
    /// As for [`Engine::waiter`]: a waiter returned in `Err` must be dropped, not leaked,
    /// before `mailbox`'s memory is reused.
    pub unsafe fn poll_acquire_first<'e>(
        self: &'e StdArc<Self>,
        waker: &Waker,
        timeout: Duration,
        mailbox: &'e GrantBox<C>,
    ) -> Result<AcquireResult<C, E>, Waiter<'e, C, E>>
    where
        E: std::error::Error + 'static,
    {
        let mut st = self.state.lock();
        // The common case, kept small: nobody in line and a fresh idle connection.
        if !st.closed
            && st.waiters.is_empty()
            && let Some(live) = st.idle.pop_back()
        {
            if !self.outlived(&live) {
                st.gets += 1;
                drop(st);
                self.acquired(None);
                return Ok(Ok(Acquired::Idle(live)));
            }
            // Expired: the full step below closes it.
            st.idle.push_back(live);
        }
        let mut after = After::new();
        // SAFETY: the caller's contract is this one's.
        let mut waiter = unsafe { self.waiter(mailbox) };
        let polled = self.step(
            &mut st,
            &mut waiter,
            Task::Waker(waker),
            Some(timeout),
            &mut after,
        );
        drop(st);
        self.finish(after);
        match polled {
            Poll::Ready(result) => {
                if result.is_ok() {
                    self.acquired(None);
                }
                Ok(result)
            }
            Poll::Pending => {
                // A kept waiter read the clock when it joined; the others read it now.
                if waiter.since.is_none() {
                    waiter.since = Some(Instant::now());
                }
                Err(waiter)
            }
        }
    }

    /// One poll of an async acquisition: `Ready` with an idle connection or a permit, or an
    /// error; `Pending` after (re-)registering `waker` in line. A waiter the engine's
    /// [`DeadlineKeeper`] keeps ([`Waiter::is_kept`]) is ended by it at its deadline with
    /// [`PoolError::Timeout`]; for any other, time limits are the caller's: on its deadline it
    /// drops the waiter and reports [`Engine::timed_out`].
    ///
    /// # Errors
    ///
    /// [`PoolError::Closed`] when the pool is (or gets) closed; [`PoolError::Rejected`] when
    /// a get ahead failed to connect with a permanent error; [`PoolError::Timeout`] when the
    /// deadline keeper ended the wait.
    pub fn poll_acquire(
        self: &StdArc<Self>,
        waiter: &mut Waiter<'_, C, E>,
        waker: &Waker,
    ) -> Poll<Result<Acquired<C, E>, PoolError<E>>>
    where
        E: std::error::Error + 'static,
    {
        // A hand-off is collected from the mailbox, without the engine's lock.
        if waiter.in_line
            && let Some(woken) = waiter.mailbox.0.try_take(&mut waiter.in_line)
        {
            waiter.kept = false;
            if let Some(result) = self.collect(woken, waiter.since) {
                return Poll::Ready(result);
            }
        }
        self.poll_acquire_locked(waiter, waker)
    }

    /// What a waiter that started waiting at `since` gets for what its mailbox held, with
    /// the get reported if it succeeded; `None` for a notification (the caller looks again
    /// under the lock). A connection is taken without the engine's lock unless it has
    /// outlived its lifetime.
    fn collect(
        self: &StdArc<Self>,
        woken: Woken<Grant<C>>,
        since: Option<Instant>,
    ) -> Option<AcquireResult<C, E>>
    where
        E: std::error::Error + 'static,
    {
        let result = match woken {
            Woken::Value(Grant::Conn(live)) if !self.outlived(&live) => Ok(Acquired::Idle(live)),
            Woken::Value(grant) => {
                let mut after = After::new();
                let result = self.take_grant(&mut self.state.lock(), grant, since, &mut after);
                self.finish(after);
                result
            }
            Woken::Closed => Err(PoolError::Closed),
            // The pool never notifies without a value.
            Woken::Notified => return None,
        };
        if result.is_ok() {
            self.acquired(since.map(|s| s.elapsed()));
        }
        Some(result)
    }

    /// [`Engine::poll_acquire`] with nothing in the mailbox: one step under the lock.
    fn poll_acquire_locked(
        self: &StdArc<Self>,
        waiter: &mut Waiter<'_, C, E>,
        waker: &Waker,
    ) -> Poll<Result<Acquired<C, E>, PoolError<E>>>
    where
        E: std::error::Error + 'static,
    {
        let mut after = After::new();
        let polled = {
            let mut st = self.state.lock();
            let polled = self.step(&mut st, waiter, Task::Waker(waker), None, &mut after);
            waiter.kept = st.waiters.is_kept(&waiter.mailbox.0);
            polled
        };
        if polled.is_pending() && waiter.since.is_none() {
            waiter.since = Some(Instant::now());
        }
        self.finish(after);
        if let Poll::Ready(Ok(_)) = polled {
            self.acquired(waiter.since.map(|s| s.elapsed()));
        }
        polled
    }

    /// Blocks the calling thread until it gets an idle connection or a permit, or `timeout`
    /// passes. Returns also when the wait started (`None` if it did not wait).
    ///
    /// A thread that has to wait joins the same FIFO line as tasks, with a node of its own
    /// ([`GrantBox`], on its stack): whoever serves it (a returned connection, a freed slot, close) stores the grant
    /// there under the state lock and unparks it after unlocking, so the woken thread takes
    /// its connection without locking the state again.
    pub(crate) fn acquire_blocking(
        self: &StdArc<Self>,
        timeout: Duration,
    ) -> (AcquireResult<C, E>, Option<Instant>)
    where
        E: std::error::Error + 'static,
    {
        let mut after = After::new();
        let mut st = self.state.lock();
        if st.closed {
            return (Err(PoolError::Closed), None);
        }
        st.gets += 1;
        // The common case, kept small: a free idle connection and nobody in line.
        if let Some(live) = self.take_for_newcomer(&mut st, &mut after) {
            drop(st);
            self.finish(after);
            self.acquired(None);
            return (Ok(Acquired::Idle(live)), None);
        }
        self.acquire_slow(st, after, timeout)
    }

    /// [`Engine::acquire_blocking`] past its fast path: open a connection, or wait in line.
    #[inline(never)]
    fn acquire_slow<'a>(
        self: &'a StdArc<Self>,
        mut st: MutexGuard<'a, State<C, E>>,
        mut after: After<C>,
        timeout: Duration,
    ) -> (AcquireResult<C, E>, Option<Instant>)
    where
        E: std::error::Error + 'static,
    {
        let mut since: Option<Instant> = None;
        // On this thread's stack: a wait allocates nothing. Reused if a notification sends
        // the loop round again (a delivery taken leaves it empty).
        let mailbox = GrantBox::for_current_thread();
        // SAFETY: `waiter` is a local declared after `mailbox`, never moved out or leaked, so
        // it is dropped first, leaving the line, on every path out, unwinding included.
        let mut waiter = unsafe { self.waiter(&mailbox) };
        let result = loop {
            if let Some(live) = self.take_for_newcomer(&mut st, &mut after) {
                break Ok(Acquired::Idle(live));
            }
            // A slot for a new connection, likewise only if nobody is in line.
            if st.waiters.is_empty() && st.slots < self.config.max_connections {
                st.slots += 1;
                st.creating += 1;
                break Ok(Acquired::Create(self.permit()));
            }
            // SAFETY: `mailbox` is in no line (a delivery taken leaves it), and outlives this
            // one: `waiter` leaves the line on drop, before `mailbox` goes (see above).
            if unsafe { st.waiters.push(&mailbox.0, None, None) }.is_err() {
                break Err(PoolError::Closed);
            }
            waiter.in_line = true;
            st.gets_waited += 1;
            drop(st);
            // Closing what the check doomed may free a slot, perhaps for this waiter.
            self.finish(std::mem::replace(&mut after, After::new()));
            let start = *since.get_or_insert_with(Instant::now);
            // A timeout too large to represent is no timeout.
            let deadline = start.checked_add(timeout);
            let woken = match mailbox.0.wait(&mut waiter.in_line, deadline) {
                Some(woken) => woken,
                None => {
                    let mut locked = self.state.lock();
                    match locked.waiters.cancel(&mailbox.0, &mut waiter.in_line) {
                        // Served at the deadline: the grant is ours.
                        Err(woken) => {
                            drop(locked);
                            woken
                        }
                        Ok(()) => {
                            let err = self.timeout_error(&locked, start.elapsed());
                            st = locked;
                            break Err(err);
                        }
                    }
                }
            };
            // The common hand-off takes no second trip through the state lock.
            match self.collect(woken, since) {
                Some(result) => return (result, since),
                // A notification: look again.
                None => st = self.state.lock(),
            }
        };
        drop(st);
        self.finish(after);
        match &result {
            Ok(_) => self.acquired(since.map(|s| s.elapsed())),
            Err(PoolError::Timeout { waited, .. }) => self.timed_out_event(*waited),
            Err(_) => {}
        }
        (result, since)
    }

    /// The async acquisition step, run under the lock: collect what this waiter was handed,
    /// else take what is free (if nobody is in line), else join the line, with its deadline
    /// `timeout` from now kept by the [`DeadlineKeeper`] if one runs and a `timeout` is given.
    fn step(
        self: &StdArc<Self>,
        st: &mut MutexGuard<'_, State<C, E>>,
        waiter: &mut Waiter<'_, C, E>,
        task: Task<'_>,
        timeout: Option<Duration>,
        after: &mut After<C>,
    ) -> Poll<Result<Acquired<C, E>, PoolError<E>>>
    where
        E: std::error::Error + 'static,
    {
        if waiter.in_line {
            match st
                .waiters
                .poll(&waiter.mailbox.0, &mut waiter.in_line, task)
            {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Woken::Value(grant)) => {
                    return Poll::Ready(self.take_grant(st, grant, waiter.since, after));
                }
                Poll::Ready(Woken::Closed) => return Poll::Ready(Err(PoolError::Closed)),
                // The pool never notifies without a value; look again.
                Poll::Ready(Woken::Notified) => {}
            }
        }
        if st.closed {
            return Poll::Ready(Err(PoolError::Closed));
        }
        if !waiter.counted {
            waiter.counted = true;
            st.gets += 1;
        }
        if let Some(live) = self.take_for_newcomer(st, after) {
            return Poll::Ready(Ok(Acquired::Idle(live)));
        }
        // A slot for a new connection, likewise only if nobody is in line.
        if st.waiters.is_empty() && st.slots < self.config.max_connections {
            st.slots += 1;
            st.creating += 1;
            return Poll::Ready(Ok(Acquired::Create(self.permit())));
        }
        // With a keeper, the clock is read here, under the lock: the deadline must be in the
        // entry before anyone can see it, and the same reading is the wait's start.
        let deadline = match timeout {
            Some(timeout) if st.keeper.running => {
                let now = Instant::now();
                waiter.since = Some(now);
                now.checked_add(timeout)
            }
            _ => None,
        };
        // SAFETY: the waiter's node is in no line (`in_line` is false, and a node leaves the
        // line only by a delivery, which the waiter took, or by `cancel`), and outlives this
        // one: the waiter borrows it, and whoever made the waiter promised to drop it (which
        // leaves the line) rather than leak it (`Engine::waiter`).
        match unsafe { st.waiters.push(&waiter.mailbox.0, Some(task), deadline) } {
            Ok(()) => {
                waiter.in_line = true;
                st.gets_waited += 1;
                if let Some(d) = deadline {
                    waiter.kept = true;
                    // The keeper looks next at its armed deadline; wake it if this one is
                    // earlier (with one pool-wide timeout, only when the line was empty).
                    if st.keeper.armed.is_none_or(|armed| d < armed) {
                        st.keeper.armed = Some(d);
                        if let Some(w) = st.keeper.waker.take() {
                            after.wake(Wake::Waker(w));
                        }
                    }
                }
                Poll::Pending
            }
            Err(_) => Poll::Ready(Err(PoolError::Closed)),
        }
    }

    fn permit(self: &StdArc<Self>) -> Permit<C, E> {
        Permit {
            engine: Some(StdArc::clone(self)),
        }
    }

    /// Pops the most recently returned idle connection that has not outlived its lifetime;
    /// expired ones are closed after the lock is released.
    /// An idle connection for a get that is not in line, unless someone is (no cutting in).
    #[inline]
    fn take_for_newcomer(&self, st: &mut State<C, E>, after: &mut After<C>) -> Option<Live<C>> {
        if st.waiters.is_empty() && !st.idle.is_empty() {
            self.take_idle(st, after)
        } else {
            None
        }
    }

    fn take_idle(&self, st: &mut State<C, E>, after: &mut After<C>) -> Option<Live<C>> {
        while let Some(live) = st.idle.pop_back() {
            if self.outlived(&live) {
                after.doomed.push((live, CloseReason::MaxLifetime));
                continue;
            }
            return Some(live);
        }
        None
    }

    /// What a waiter that started waiting at `since` gets for `grant`.
    fn take_grant(
        self: &StdArc<Self>,
        st: &mut State<C, E>,
        grant: Grant<C>,
        since: Option<Instant>,
        after: &mut After<C>,
    ) -> Result<Acquired<C, E>, PoolError<E>>
    where
        E: std::error::Error + 'static,
    {
        match grant {
            Grant::Conn(live) if self.outlived(&live) => {
                // Checked at check-out: close it and open a replacement in its slot.
                after.replaced.push((live, CloseReason::MaxLifetime));
                st.creating += 1;
                Ok(Acquired::Create(self.permit()))
            }
            Grant::Conn(live) => Ok(Acquired::Idle(live)),
            Grant::Permit => {
                st.creating += 1;
                Ok(Acquired::Create(self.permit()))
            }
            Grant::Rejected(message) => Err(PoolError::Rejected {
                message: message.to_string(),
            }),
            Grant::Expired => {
                let waited = since.map_or(Duration::ZERO, |s| s.elapsed());
                after.timed_out = Some(waited);
                Err(self.timeout_error(st, waited))
            }
        }
    }

    /// Passes on a grant its waiter will not collect: to the next waiter, else back.
    fn pass_on(&self, st: &mut State<C, E>, grant: Grant<C>, after: &mut After<C>) {
        match grant {
            Grant::Conn(live) => self.store(st, live, after),
            Grant::Permit => self.release_slot(st, after),
            // Each waiter's own outcome: nothing to pass on.
            Grant::Rejected(_) | Grant::Expired => {}
        }
    }

    /// A slot became free: the oldest waiter gets it as a permit, else it is gone.
    fn release_slot(&self, st: &mut State<C, E>, after: &mut After<C>) {
        if !st.closed
            && let Ok(wake) = st.waiters.handoff(Grant::Permit)
        {
            after.wake(wake);
            return;
        }
        st.slots -= 1;
        if st.closed && st.slots == 0 {
            after.drained = true;
            after.keep_alive = st.keep_alive.take();
        }
    }

    /// A healthy connection is free: to the oldest waiter, else to the idle set.
    fn store(&self, st: &mut State<C, E>, live: Live<C>, after: &mut After<C>) {
        if st.closed {
            after.doomed.push((live, CloseReason::PoolClosed));
            return;
        }
        match st.waiters.handoff(Grant::Conn(live)) {
            Ok(wake) => after.wake(wake),
            Err(Grant::Conn(live)) => st.idle.push_back(live),
            Err(_) => unreachable!("handoff returns the grant it was given"),
        }
    }

    /// Runs what was collected under the lock: wake-ups, closing connections, drain signal.
    ///
    /// For callers that keep the pool's owner alive (a handle, a pool task): a keep-alive the
    /// drain gives up is dropped here. A guard without a count of its own calls
    /// [`Engine::finish_releasing`] instead.
    #[inline]
    fn finish(&self, after: After<C>) {
        if after.has_work() {
            drop(self.finish_slow(after));
        }
    }

    /// [`Engine::finish`] that hands the keep-alive given up by the drain, if any, to the
    /// caller, to drop once it no longer uses the engine.
    #[inline]
    fn finish_releasing(&self, after: After<C>) -> Released {
        if after.has_work() {
            self.finish_slow(after)
        } else {
            Released(None)
        }
    }

    #[cold]
    fn finish_slow(&self, after: After<C>) -> Released {
        let After {
            wake,
            wakeups,
            doomed,
            replaced,
            drained,
            timed_out,
            keep_alive,
        } = after;
        if let Some(waited) = timed_out {
            self.timed_out_event(waited);
        }
        if let Some(w) = wake {
            w.wake();
        }
        wakeups.wake_all();
        if drained {
            self.drained.notify_all();
        }
        for (live, reason) in replaced {
            self.close_conn(live, reason);
        }
        if doomed.is_empty() {
            return Released(keep_alive);
        }
        let n = doomed.len();
        for (live, reason) in doomed {
            self.close_conn(live, reason);
        }
        let mut freed = After::new();
        {
            let mut st = self.state.lock();
            for _ in 0..n {
                self.release_slot(&mut st, &mut freed);
            }
        }
        // `freed` holds only wake-ups and the drain signal: no further recursion.
        let released = self.finish_releasing(freed);
        // At most one of the two is set: the drain happens once.
        Released(keep_alive.or(released.0))
    }

    /// Closes a connection with no lock held: the `on_release` hook, then its destructor.
    fn close_conn(&self, live: Live<C>, reason: CloseReason) {
        // A panicking hook or destructor is contained; the connection is gone either way.
        let _ = catch_panic(|| self.customizer.on_release(live.conn));
        self.closed[reason_index(reason)].fetch_add(1, Ordering::Relaxed);
        self.emit(PoolEvent::Closed { reason });
    }

    fn acquired(&self, waited: Option<Duration>) {
        if let Some(w) = waited {
            self.wait_time.record(w);
        }
        self.emit(PoolEvent::Acquired {
            waited: waited.unwrap_or(Duration::ZERO),
        });
    }

    fn timeout_error(&self, st: &State<C, E>, waited: Duration) -> PoolError<E>
    where
        E: std::error::Error + 'static,
    {
        PoolError::Timeout {
            waited,
            last_error: st.last_error.clone(),
        }
    }

    fn timed_out_event(&self, waited: Duration) {
        self.timeouts.fetch_add(1, Ordering::Relaxed);
        self.emit(PoolEvent::AcquireTimedOut { waited });
    }

    /// Counts a get that gave up after `waited` and builds its error, carrying the last
    /// connect error. For drivers that enforce their own deadline (async adapters, a connect
    /// retry loop).
    pub fn timed_out(&self, waited: Duration) -> PoolError<E>
    where
        E: std::error::Error + 'static,
    {
        let err = self.timeout_error(&self.state.lock(), waited);
        self.timed_out_event(waited);
        err
    }

    /// Records a new connection opened under `permit` in `took`.
    ///
    /// # Errors
    ///
    /// [`PoolError::Closed`] if the pool closed meanwhile; the connection is then closed.
    pub fn connected(
        &self,
        permit: Permit<C, E>,
        conn: C,
        took: Duration,
    ) -> Result<Live<C>, PoolError<E>>
    where
        E: std::error::Error + 'static,
    {
        let now = Instant::now();
        self.advance_clock(now);
        // A lifetime reaching past what an Instant can represent never expires.
        let expires = self.config.max_lifetime.and_then(|lifetime| {
            let spread = u64::try_from((lifetime / 16).as_nanos()).unwrap_or(u64::MAX);
            let jitter = Duration::from_nanos(random_u64() % spread.saturating_add(1));
            now.checked_add(lifetime.saturating_sub(jitter))
        });
        let live = Live {
            conn,
            created: now,
            expires,
            idle_since: now,
            checked: now,
        };
        self.created.fetch_add(1, Ordering::Relaxed);
        self.emit(PoolEvent::Created { took });
        // The permit's slot now belongs to the connection (or is freed below).
        let mut permit = permit;
        let armed = permit.engine.take().is_some();
        let mut after = After::new();
        let closed = {
            let mut st = self.state.lock();
            if armed {
                st.creating -= 1;
            }
            st.last_error = None;
            st.closed
        };
        if closed {
            after.doomed.push((live, CloseReason::PoolClosed));
            self.finish(after);
            return Err(PoolError::Closed);
        }
        Ok(live)
    }

    /// Records a failed `connect`. A retryable error becomes the pool's last error (reported
    /// by timeouts) and `None` is returned: the caller may retry until its deadline. A
    /// permanent error fails every get waiting in line at once and is given back for the
    /// caller to report; the caller then drops its permit.
    pub fn connect_error(&self, err: E, retryable: bool) -> Option<E>
    where
        E: std::fmt::Display,
    {
        self.connect_errors.fetch_add(1, Ordering::Relaxed);
        let mut after = After::new();
        let back = {
            let mut st = self.state.lock();
            if retryable {
                st.last_error = Some(StdArc::new(err));
                None
            } else {
                let message: StdArc<str> = StdArc::from(err.to_string());
                while let Ok(wake) = st.waiters.handoff(Grant::Rejected(StdArc::clone(&message))) {
                    after.wake(wake);
                }
                Some(err)
            }
        };
        self.finish(after);
        self.emit(PoolEvent::ConnectFailed { retryable });
        back
    }

    /// Records a `connect` (or `on_acquire` hook) that panicked.
    pub fn connect_panicked(&self) {
        self.connect_errors.fetch_add(1, Ordering::Relaxed);
        self.emit(PoolEvent::ConnectFailed { retryable: false });
    }

    /// Takes back a connection its holder let go of: discarded if the holder is panicking
    /// (`Panicked`), if `has_broken` says so or panics (`Broken`), or if it outlived its lifetime
    /// (`MaxLifetime`); otherwise [`put_back`](Self::put_back). Every pool guard's `Drop` calls
    /// this, so the blocking and async pools judge returns alike.
    pub fn check_in(&self, live: Live<C>, has_broken: impl FnOnce(&mut C) -> bool) {
        drop(self.check_in_releasing(live, has_broken));
    }

    /// [`Engine::check_in`] for a guard that holds no count on the pool's owner: if this
    /// return drains a pool whose last handle is gone, the keep-alive comes back (see
    /// [`Engine::close_keeping`]). Drop it after this call, and use nothing of the pool after
    /// that.
    pub fn check_in_releasing(
        &self,
        mut live: Live<C>,
        has_broken: impl FnOnce(&mut C) -> bool,
    ) -> Released {
        if std::thread::panicking() {
            return self.discard_releasing(live, CloseReason::Panicked);
        }
        // A panicking has_broken counts as broken.
        if crate::util::catch_panic(|| has_broken(live.conn_mut())).unwrap_or(true) {
            return self.discard_releasing(live, CloseReason::Broken);
        }
        // One reading of the coarse clock judges the lifetime and stamps the idle time.
        let now = self.coarse_now();
        if self.outlived_at(&live, now) {
            self.discard_releasing(live, CloseReason::MaxLifetime)
        } else {
            self.put_back_releasing(live, now)
        }
    }

    /// Takes back a healthy connection at `now`: it goes to the oldest waiter, else idle.
    pub fn put_back(&self, live: Live<C>, now: Instant) {
        drop(self.put_back_releasing(live, now));
    }

    fn put_back_releasing(&self, mut live: Live<C>, now: Instant) -> Released {
        live.idle_since = now;
        let mut st = self.state.lock();
        // The common case, kept small: nobody waits, so it goes idle (what `store` does), with
        // no after-unlock list built and dropped: going through `store` here made a warm async
        // get+drop run take 17 % more instructions under callgrind.
        if !st.closed && st.waiters.is_empty() {
            st.idle.push_back(live);
            return Released(None);
        }
        let mut after = After::new();
        self.store(&mut st, live, &mut after);
        drop(st);
        self.finish_releasing(after)
    }

    /// Closes a checked-out connection for `reason`; its slot goes to the oldest waiter as a
    /// permit.
    pub fn discard(&self, live: Live<C>, reason: CloseReason) {
        drop(self.discard_releasing(live, reason));
    }

    /// [`Engine::discard`] for a guard without a count on the pool's owner, as
    /// [`Engine::check_in_releasing`].
    pub fn discard_releasing(&self, live: Live<C>, reason: CloseReason) -> Released {
        let mut after = After::new();
        after.doomed.push((live, reason));
        self.finish_releasing(after)
    }

    /// Closes a checked-out connection for `reason` and keeps its slot as a permit, so the
    /// same get can open a replacement (for example after a failed `test_on_check_out`).
    ///
    /// # Errors
    ///
    /// [`PoolError::Closed`] if the pool was closed; the slot is freed.
    pub fn recycle(
        self: &StdArc<Self>,
        live: Live<C>,
        reason: CloseReason,
    ) -> Result<Permit<C, E>, PoolError<E>>
    where
        E: std::error::Error + 'static,
    {
        let mut after = After::new();
        let permit = {
            let mut st = self.state.lock();
            if st.closed {
                after.doomed.push((live, reason));
                None
            } else {
                after.replaced.push((live, reason));
                st.creating += 1;
                Some(self.permit())
            }
        };
        self.finish(after);
        permit.ok_or(PoolError::Closed)
    }

    /// Closes idle connections that outlived `max_lifetime`, and those idle longer than
    /// `idle_timeout` as long as at least `min_connections` stay open. Returns how many.
    pub fn reap(&self, now: Instant) -> usize {
        self.advance_clock(now);
        let mut after = After::new();
        {
            let mut st = self.state.lock();
            let idle_timeout = self.config.idle_timeout;
            let min = self.config.min_connections;
            // Slots stay counted until each connection is closed; count what remains here.
            let mut remaining = st.slots;
            let mut kept = VecDeque::with_capacity(st.idle.len());
            while let Some(live) = st.idle.pop_front() {
                let reason = if live.is_expired(now) {
                    Some(CloseReason::MaxLifetime)
                } else if idle_timeout
                    .is_some_and(|t| live.idle_since.checked_add(t).is_some_and(|end| now >= end))
                    && remaining > min
                {
                    Some(CloseReason::IdleTimeout)
                } else {
                    None
                };
                match reason {
                    Some(r) => {
                        remaining -= 1;
                        after.doomed.push((live, r));
                    }
                    None => kept.push_back(live),
                }
            }
            st.idle = kept;
        }
        let n = after.doomed.len();
        self.finish(after);
        n
    }

    /// Takes out the idle connections not checked for `health_check_interval`. The caller
    /// runs `is_valid` on each with no lock held, then calls [`Live::mark_checked`] and
    /// [`Engine::put_back`], or [`Engine::discard`] with [`CloseReason::Invalid`].
    pub fn take_for_health_check(&self, now: Instant) -> Vec<Live<C>> {
        let Some(interval) = self.config.health_check_interval else {
            return Vec::new();
        };
        let mut st = self.state.lock();
        let mut due = Vec::new();
        let mut kept = VecDeque::with_capacity(st.idle.len());
        while let Some(live) = st.idle.pop_front() {
            if live
                .checked
                .checked_add(interval)
                .is_some_and(|due| now >= due)
            {
                due.push(live);
            } else {
                kept.push_back(live);
            }
        }
        st.idle = kept;
        due
    }

    /// Permits to open the connections missing to reach `min_connections` (none when closed).
    pub fn refill_permits(self: &StdArc<Self>) -> Vec<Permit<C, E>> {
        let mut st = self.state.lock();
        if st.closed || !st.waiters.is_empty() {
            return Vec::new();
        }
        let missing = self.config.min_connections.saturating_sub(st.slots);
        st.slots += missing;
        st.creating += missing;
        drop(st);
        (0..missing).map(|_| self.permit()).collect()
    }

    /// Closes the pool: every waiter fails with [`PoolError::Closed`] at once, later gets
    /// fail too, idle connections are closed now and checked-out ones when they come back.
    /// Returns `false` if it was already closed.
    pub fn close(&self) -> bool {
        let mut after = After::new();
        let was_open = {
            let mut st = self.state.lock();
            let was_open = !st.closed;
            st.closed = true;
            after.wakeups = st.waiters.close();
            // The deadline keeper's work is over: it looks once more and ends.
            if let Some(w) = st.keeper.waker.take() {
                after.wakeups.push(Wake::Waker(w));
            }
            let idle = std::mem::take(&mut st.idle);
            after
                .doomed
                .extend(idle.into_iter().map(|l| (l, CloseReason::PoolClosed)));
            after.drained = st.slots == 0;
            was_open
        };
        self.finish(after);
        was_open
    }

    /// [`Engine::close`] for the owner's last handle: while connections are still out (or
    /// being opened), the engine keeps `keep_alive` (a count on the owner, which holds the
    /// engine) and gives it up to whoever frees the last slot, so guards that hold no count
    /// of their own can still reach the pool until they are back. Dropped at once when
    /// nothing is out. Returns `false` if the pool was already closed.
    pub fn close_keeping(&self, keep_alive: Box<dyn Send>) -> bool {
        let was_open = self.close();
        let unneeded = {
            let mut st = self.state.lock();
            if st.slots == 0 {
                Some(keep_alive)
            } else {
                debug_assert!(st.keep_alive.is_none(), "the last handle closes once");
                st.keep_alive = Some(keep_alive);
                None
            }
        };
        drop(unneeded);
        was_open
    }

    /// `true` once closed.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// After [`Engine::close`], waits until every connection is back and closed (and no
    /// connect is in progress), or `deadline` passes. Returns whether it drained.
    pub fn wait_drained(&self, deadline: Instant) -> bool {
        let mut st = self.state.lock();
        while st.slots > 0 {
            if self.drained.wait_until(&mut st, deadline).timed_out() {
                return st.slots == 0;
            }
        }
        true
    }

    /// Current connections and waiters.
    pub fn state(&self) -> PoolState {
        let st = self.state.lock();
        let open = st.slots.saturating_sub(st.creating);
        PoolState {
            connections: open,
            idle_connections: st.idle.len(),
            in_use: open.saturating_sub(st.idle.len()),
            waiting: st.waiters.len(),
            creating: st.creating,
        }
    }

    /// Counters since creation.
    pub fn stats(&self) -> PoolStats {
        let (gets, gets_waited) = {
            let st = self.state.lock();
            (st.gets, st.gets_waited)
        };
        let mut closed_by_reason = [0; 6];
        for (out, c) in closed_by_reason.iter_mut().zip(&self.closed) {
            *out = c.load(Ordering::Relaxed);
        }
        PoolStats {
            gets,
            gets_waited,
            timeouts: self.timeouts.load(Ordering::Relaxed),
            created: self.created.load(Ordering::Relaxed),
            connect_errors: self.connect_errors.load(Ordering::Relaxed),
            closed_by_reason,
            wait_time: self.wait_time.snapshot(),
        }
    }
}
