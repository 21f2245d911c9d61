//! [`PoolState`] and [`PoolStats`]: what a pool reports about itself.

use crate::monitor::{CloseReason, HistogramSnapshot};

/// A snapshot of a pool's connections and waiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolState {
    /// Open connections (idle plus in use).
    pub connections: usize,
    /// Open connections nobody holds.
    pub idle_connections: usize,
    /// Connections checked out (or being health-checked).
    pub in_use: usize,
    /// Gets waiting in line.
    pub waiting: usize,
    /// Connections being opened right now.
    pub creating: usize,
}

/// Counters since the pool was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Calls to get (`get`, `get_timeout`, `try_get` and async gets).
    pub gets: u64,
    /// Gets that had to wait in line.
    pub gets_waited: u64,
    /// Gets that gave up at their deadline.
    pub timeouts: u64,
    /// Connections opened.
    pub created: u64,
    /// Failed `connect` calls (errors and panics).
    pub connect_errors: u64,
    /// Connections closed, indexed like [`CloseReason::ALL`]; read with [`PoolStats::closed`].
    pub closed_by_reason: [u64; 6],
    /// How long the gets that waited in line waited.
    pub wait_time: HistogramSnapshot,
}

impl PoolStats {
    /// Connections closed for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closed_by_reason[reason_index(reason)]
    }

    /// Connections closed for any reason.
    pub fn closed_total(&self) -> u64 {
        self.closed_by_reason.iter().sum()
    }
}

pub(super) fn reason_index(reason: CloseReason) -> usize {
    CloseReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(CloseReason::ALL.len() - 1)
}
