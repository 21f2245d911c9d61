//! [`AsyncPooledConnection`], the guard an async get returns, and `Held`, the guard for a
//! connection the pool itself holds across an await.

use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::Instant;

use crate::monitor::CloseReason;
use crate::pool::engine::{Engine, Live, Released};

use super::Shared;
use super::manager::AsyncManageConnection;

/// A connection checked out of an [`AsyncPool`](super::AsyncPool); dropping it gives it back.
/// The adapters export it as `pool::PooledConnection`.
///
/// On drop the connection goes straight to the oldest waiting get (waking its task), or to
/// the idle set. It is closed instead when the thread holding it is panicking, when the
/// manager's `has_broken` says so, when it has outlived `max_lifetime`, or when the pool was
/// closed. Dropping it never blocks and never awaits.
#[must_use = "dropping the guard returns the connection at once"]
pub struct AsyncPooledConnection<M: AsyncManageConnection> {
    live: Option<Live<M::Connection>>,
    /// The pool, without a reference count: the `Arc`'s counter is a line that both workers
    /// of a runtime would write at every check-out and return. While `live` is out its slot
    /// is taken, and the pool stays alive: a handle keeps it, and after the last handle the
    /// engine's keep-alive does (`Engine::close_keeping`), which it gives back only to the
    /// return that frees the last slot. So the pool outlives the guard's use of it.
    shared: NonNull<Shared<M>>,
    /// Sends and shares like the `Arc` it stands for.
    _pool: PhantomData<Arc<Shared<M>>>,
}

// SAFETY: the guard owns a connection and points to the pool as an `Arc<Shared<M>>` would
// (see `shared`), so it may go to another thread when both of those may.
unsafe impl<M: AsyncManageConnection> Send for AsyncPooledConnection<M>
where
    Arc<Shared<M>>: Send,
    M::Connection: Send,
{
}

// SAFETY: `&AsyncPooledConnection` gives only `&M::Connection` and reads of the pool, as an
// `Arc<Shared<M>>` would.
unsafe impl<M: AsyncManageConnection> Sync for AsyncPooledConnection<M>
where
    Arc<Shared<M>>: Sync,
    M::Connection: Sync,
{
}

impl<M: AsyncManageConnection> AsyncPooledConnection<M> {
    /// A guard for `live`, just checked out of the pool `shared` (a handle's).
    pub(super) fn new(shared: &Arc<Shared<M>>, live: Live<M::Connection>) -> Self {
        Self {
            live: Some(live),
            shared: NonNull::from(&**shared),
            _pool: PhantomData,
        }
    }

    /// Gives the connection back through `give` (a check-in or a discard), then drops what
    /// the engine released, possibly the pool itself: nothing of the pool is used after.
    fn give_back(&mut self, give: impl FnOnce(&Shared<M>, Live<M::Connection>) -> Released) {
        let Some(live) = self.live.take() else {
            return;
        };
        // SAFETY: `live` was still out, so the pool is alive (see `shared`); the reference
        // is not used once `give` returns.
        let shared = unsafe { self.shared.as_ref() };
        let released = give(shared, live);
        drop(released);
    }

    fn live(&self) -> &Live<M::Connection> {
        match &self.live {
            Some(l) => l,
            None => unreachable!("the connection is only taken in drop"),
        }
    }

    /// When the connection was opened.
    pub fn created(&self) -> Instant {
        self.live().created()
    }

    /// Closes the connection instead of returning it (for example after an error that left
    /// it in an unknown state). Its slot goes to the oldest waiting get.
    pub fn discard(mut this: Self) {
        this.give_back(|shared, live| shared.engine.discard_releasing(live, CloseReason::Broken));
    }
}

impl<M: AsyncManageConnection> Deref for AsyncPooledConnection<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        self.live().conn()
    }
}

impl<M: AsyncManageConnection> DerefMut for AsyncPooledConnection<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        match &mut self.live {
            Some(l) => l.conn_mut(),
            None => unreachable!("the connection is only taken in drop"),
        }
    }
}

impl<M: AsyncManageConnection> fmt::Debug for AsyncPooledConnection<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncPooledConnection")
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl<M: AsyncManageConnection> Drop for AsyncPooledConnection<M> {
    fn drop(&mut self) {
        self.give_back(|shared, live| {
            shared
                .engine
                .check_in_releasing(live, |conn| shared.manager.has_broken(conn))
        });
    }
}

/// A checked-out connection the pool holds across an await (`is_valid` on check-out or in a
/// health check). If the future holding it is dropped, the connection is closed as invalid
/// (its state is unknown) and its slot passed on: a cancelled check leaks nothing.
pub(super) struct Held<C: 'static, E: 'static> {
    live: Option<Live<C>>,
    engine: Arc<Engine<C, E>>,
}

impl<C: 'static, E: 'static> Held<C, E> {
    pub(super) fn new(engine: &Arc<Engine<C, E>>, live: Live<C>) -> Self {
        Self {
            live: Some(live),
            engine: Arc::clone(engine),
        }
    }

    pub(super) fn conn_mut(&mut self) -> Option<&mut C> {
        self.live.as_mut().map(Live::conn_mut)
    }

    pub(super) fn take(mut self) -> Option<Live<C>> {
        self.live.take()
    }
}

impl<C: 'static, E: 'static> Drop for Held<C, E> {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            self.engine.discard(live, CloseReason::Invalid);
        }
    }
}
