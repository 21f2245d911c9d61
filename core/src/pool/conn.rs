//! [`PooledConnection`], the guard a get returns.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

use super::Shared;
use super::engine::Live;
use super::manager::ManageConnection;
use crate::sync::StdArc;

/// A connection checked out of a [`Pool`](super::Pool); dropping it gives it back.
///
/// On drop the connection goes straight to the oldest waiting get, or to the idle set. It is
/// closed instead when the thread holding it is panicking, when the manager's `has_broken`
/// says so, when it has outlived `max_lifetime`, or when the pool was closed.
#[must_use = "dropping the guard returns the connection at once"]
pub struct PooledConnection<M: ManageConnection> {
    live: Option<Live<M::Connection>>,
    shared: StdArc<Shared<M>>,
}

impl<M: ManageConnection> PooledConnection<M> {
    pub(super) fn new(shared: StdArc<Shared<M>>, live: Live<M::Connection>) -> Self {
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
}

impl<M: ManageConnection> Deref for PooledConnection<M> {
    type Target = M::Connection;

    fn deref(&self) -> &M::Connection {
        self.live().conn()
    }
}

impl<M: ManageConnection> DerefMut for PooledConnection<M> {
    fn deref_mut(&mut self) -> &mut M::Connection {
        match &mut self.live {
            Some(l) => l.conn_mut(),
            None => unreachable!("the connection is only taken in drop"),
        }
    }
}

impl<M: ManageConnection> fmt::Debug for PooledConnection<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledConnection")
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl<M: ManageConnection> Drop for PooledConnection<M> {
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
