//! [`AsyncPooledConnection`], the guard an async get returns, and `Held`, the guard for a
//! connection the pool itself holds across an await.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Instant;

use crate::monitor::CloseReason;
use crate::pool::engine::{Engine, Live};

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
    shared: Arc<Shared<M>>,
}

impl<M: AsyncManageConnection> AsyncPooledConnection<M> {
    pub(super) fn new(shared: Arc<Shared<M>>, live: Live<M::Connection>) -> Self {
        Self {
            live: Some(live),
            shared,
        }
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
        if let Some(live) = this.live.take() {
            this.shared.engine.discard(live, CloseReason::Broken);
        }
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
        let Some(live) = self.live.take() else {
            return;
        };
        let manager = &self.shared.manager;
        self.shared
            .engine
            .check_in(live, |conn| manager.has_broken(conn));
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
