//! [`TracingMonitor`]: forwards events to the `tracing` ecosystem (feature `tracing`).

use super::{CacheEvent, Event, Monitor, PoolEvent, ResourceEvent};

/// Emits each event as a `tracing` event under the target `patinox_memory`.
///
/// Failures (timeouts, connect errors, panicking cleanups) are logged at `WARN`, everything
/// else at `DEBUG` (cache hits and misses at `TRACE`).
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingMonitor;

impl Monitor for TracingMonitor {
    fn on_event(&self, event: &Event<'_>) {
        match event {
            Event::Pool(PoolEvent::AcquireTimedOut { waited }) => {
                tracing::warn!(target: "patinox_memory", ?waited, "pool get timed out");
            }
            Event::Pool(PoolEvent::ConnectFailed { retryable }) => {
                tracing::warn!(target: "patinox_memory", retryable, "pool connect failed");
            }
            Event::Resource(ResourceEvent::CleanupFailed { type_name, message }) => {
                tracing::warn!(target: "patinox_memory", type_name, message, "resource cleanup panicked");
            }
            Event::Cache(CacheEvent::Hit | CacheEvent::Miss) => {
                tracing::trace!(target: "patinox_memory", ?event);
            }
            other => tracing::debug!(target: "patinox_memory", event = ?other),
        }
    }
}
