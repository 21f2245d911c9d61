//! Observability: the [`Monitor`] trait, the typed [`Event`]s every component emits, and
//! built-in [`Metrics`] (atomic counters and latency [`Histogram`]s) cheap enough for hot paths.
//!
//! A component holds an `Arc<dyn Monitor>` (by default [`NoopMonitor`]) and calls
//! [`Monitor::on_event`] with no lock held, after the state change the event describes.
//! Implementations must be cheap and must not call back into the component that emitted the
//! event.
//!
//! # Examples
//!
//! ```
//! use patinox_memory::monitor::{CacheEvent, Event, Metrics, Monitor};
//! use std::sync::Arc;
//!
//! let metrics = Arc::new(Metrics::new());
//! let monitor: Arc<dyn Monitor> = metrics.clone();
//! monitor.on_event(&Event::Cache(CacheEvent::Hit));
//! monitor.on_event(&Event::Cache(CacheEvent::Miss));
//! let snap = metrics.snapshot();
//! assert_eq!(snap.cache.hits, 1);
//! assert_eq!(snap.cache.misses, 1);
//! ```

mod events;
mod histogram;
mod metrics;
#[cfg(feature = "tracing")]
mod tracing_monitor;

pub use events::{
    CacheEvent, CloseReason, Event, MmapEvent, PoolEvent, RemovalCause, ResourceEvent,
};
pub use histogram::{Histogram, HistogramSnapshot};
pub use metrics::{
    CacheCounters, Metrics, MetricsSnapshot, MmapCounters, PoolCounters, ResourceCounters,
};
#[cfg(feature = "tracing")]
pub use tracing_monitor::TracingMonitor;

use crate::sync::StdArc;

/// Receives the events of the components it is attached to.
///
/// Called synchronously on the thread that caused the event, with no lock of the component
/// held. Keep it cheap (count, record, enqueue); do not block and do not call back into the
/// emitting component.
pub trait Monitor: Send + Sync + 'static {
    /// Called once per event.
    fn on_event(&self, event: &Event<'_>);
}

/// A monitor that ignores every event. The default for every component.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopMonitor;

impl Monitor for NoopMonitor {
    #[inline]
    fn on_event(&self, _event: &Event<'_>) {}
}

impl<M: Monitor + ?Sized> Monitor for StdArc<M> {
    #[inline]
    fn on_event(&self, event: &Event<'_>) {
        (**self).on_event(event);
    }
}

/// Sends each event to several monitors, in order.
///
/// # Examples
///
/// ```
/// use patinox_memory::monitor::{Event, Fanout, Metrics, Monitor, PoolEvent};
/// use std::sync::Arc;
///
/// let a = Arc::new(Metrics::new());
/// let b = Arc::new(Metrics::new());
/// let both = Fanout::new(vec![a.clone(), b.clone()]);
/// both.on_event(&Event::Pool(PoolEvent::AcquireTimedOut { waited: std::time::Duration::ZERO }));
/// assert_eq!(a.snapshot().pool.timeouts, 1);
/// assert_eq!(b.snapshot().pool.timeouts, 1);
/// ```
#[derive(Clone, Default)]
pub struct Fanout {
    monitors: Vec<StdArc<dyn Monitor>>,
}

impl Fanout {
    /// A monitor that forwards to each of `monitors`.
    pub fn new(monitors: Vec<StdArc<dyn Monitor>>) -> Self {
        Self { monitors }
    }
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fanout")
            .field("monitors", &self.monitors.len())
            .finish()
    }
}

impl Monitor for Fanout {
    fn on_event(&self, event: &Event<'_>) {
        for m in &self.monitors {
            m.on_event(event);
        }
    }
}
