//! [`Metrics`]: a ready-made [`Monitor`] that counts every event and keeps latency histograms.

use std::fmt;
use std::time::Duration;

use super::{
    CacheEvent, CloseReason, Event, Histogram, HistogramSnapshot, MmapEvent, Monitor, PoolEvent,
    RemovalCause, ResourceEvent,
};
use crate::sync::{AtomicU64, Ordering};

#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    #[inline]
    fn incr(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Counts events and records latencies; read it with [`Metrics::snapshot`].
///
/// Attach one `Arc<Metrics>` to as many components as you like; every counter is a relaxed
/// atomic, so recording never blocks.
///
/// # Examples
///
/// ```
/// use patinox_memory::monitor::{CloseReason, Event, Metrics, Monitor, PoolEvent};
/// use std::time::Duration;
///
/// let m = Metrics::new();
/// m.on_event(&Event::Pool(PoolEvent::Acquired { waited: Duration::from_millis(3) }));
/// m.on_event(&Event::Pool(PoolEvent::Closed { reason: CloseReason::Broken }));
/// let s = m.snapshot();
/// assert_eq!(s.pool.acquired, 1);
/// assert_eq!(s.pool.acquired_after_wait, 1);
/// assert_eq!(s.pool.closed(CloseReason::Broken), 1);
/// assert_eq!(s.pool_wait.max, Duration::from_millis(3));
/// ```
#[derive(Default)]
pub struct Metrics {
    pool_acquired: Counter,
    pool_acquired_after_wait: Counter,
    pool_timeouts: Counter,
    pool_created: Counter,
    pool_connect_errors: Counter,
    pool_closed: [Counter; CloseReason::ALL.len()],
    cache_hits: Counter,
    cache_misses: Counter,
    cache_inserts: Counter,
    cache_removals: [Counter; 4],
    cache_loads: Counter,
    cache_load_failures: Counter,
    resource_registered: Counter,
    resource_cleaned: Counter,
    resource_forced: Counter,
    resource_failed: Counter,
    mmap_mapped: Counter,
    mmap_remapped: Counter,
    mmap_flushes: Counter,
    mmap_unmapped: Counter,
    pool_wait: Histogram,
    pool_connect: Histogram,
    cache_load: Histogram,
    resource_cleanup: Histogram,
    mmap_flush: Histogram,
}

fn removal_index(cause: RemovalCause) -> usize {
    match cause {
        RemovalCause::Size => 0,
        RemovalCause::Expired => 1,
        RemovalCause::Replaced => 2,
        RemovalCause::Removed => 3,
    }
}

fn close_index(reason: CloseReason) -> usize {
    CloseReason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(0)
}

impl Metrics {
    /// All counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy of every counter and histogram summary.
    pub fn snapshot(&self) -> MetricsSnapshot {
        MetricsSnapshot {
            pool: PoolCounters {
                acquired: self.pool_acquired.get(),
                acquired_after_wait: self.pool_acquired_after_wait.get(),
                timeouts: self.pool_timeouts.get(),
                created: self.pool_created.get(),
                connect_errors: self.pool_connect_errors.get(),
                closed_by_reason: std::array::from_fn(|i| self.pool_closed[i].get()),
            },
            cache: CacheCounters {
                hits: self.cache_hits.get(),
                misses: self.cache_misses.get(),
                inserts: self.cache_inserts.get(),
                evictions: self.cache_removals[removal_index(RemovalCause::Size)].get(),
                expirations: self.cache_removals[removal_index(RemovalCause::Expired)].get(),
                replaced: self.cache_removals[removal_index(RemovalCause::Replaced)].get(),
                removed: self.cache_removals[removal_index(RemovalCause::Removed)].get(),
                loads: self.cache_loads.get(),
                load_failures: self.cache_load_failures.get(),
            },
            resource: ResourceCounters {
                registered: self.resource_registered.get(),
                cleaned: self.resource_cleaned.get(),
                forced: self.resource_forced.get(),
                failed: self.resource_failed.get(),
            },
            mmap: MmapCounters {
                mapped: self.mmap_mapped.get(),
                remapped: self.mmap_remapped.get(),
                flushes: self.mmap_flushes.get(),
                unmapped: self.mmap_unmapped.get(),
            },
            pool_wait: self.pool_wait.snapshot(),
            pool_connect: self.pool_connect.snapshot(),
            cache_load: self.cache_load.snapshot(),
            resource_cleanup: self.resource_cleanup.snapshot(),
            mmap_flush: self.mmap_flush.snapshot(),
        }
    }
}

impl Monitor for Metrics {
    fn on_event(&self, event: &Event<'_>) {
        match *event {
            Event::Pool(e) => match e {
                PoolEvent::Acquired { waited } => {
                    self.pool_acquired.incr();
                    if waited > Duration::ZERO {
                        self.pool_acquired_after_wait.incr();
                    }
                    self.pool_wait.record(waited);
                }
                PoolEvent::AcquireTimedOut { waited } => {
                    self.pool_timeouts.incr();
                    self.pool_wait.record(waited);
                }
                PoolEvent::Created { took } => {
                    self.pool_created.incr();
                    self.pool_connect.record(took);
                }
                PoolEvent::ConnectFailed { .. } => self.pool_connect_errors.incr(),
                PoolEvent::Closed { reason } => self.pool_closed[close_index(reason)].incr(),
            },
            Event::Cache(e) => match e {
                CacheEvent::Hit => self.cache_hits.incr(),
                CacheEvent::Miss => self.cache_misses.incr(),
                CacheEvent::Insert => self.cache_inserts.incr(),
                CacheEvent::Removal { cause } => self.cache_removals[removal_index(cause)].incr(),
                CacheEvent::Load { took, ok } => {
                    self.cache_loads.incr();
                    if !ok {
                        self.cache_load_failures.incr();
                    }
                    self.cache_load.record(took);
                }
            },
            Event::Resource(e) => match e {
                ResourceEvent::Registered { .. } => self.resource_registered.incr(),
                ResourceEvent::Cleaned { forced, took, .. } => {
                    self.resource_cleaned.incr();
                    if forced {
                        self.resource_forced.incr();
                    }
                    self.resource_cleanup.record(took);
                }
                ResourceEvent::CleanupFailed { .. } => self.resource_failed.incr(),
            },
            Event::Mmap(e) => match e {
                MmapEvent::Mapped { .. } => self.mmap_mapped.incr(),
                MmapEvent::Remapped { .. } => self.mmap_remapped.incr(),
                MmapEvent::Flushed { took, .. } => {
                    self.mmap_flushes.incr();
                    self.mmap_flush.record(took);
                }
                MmapEvent::Unmapped { .. } => self.mmap_unmapped.incr(),
            },
        }
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Metrics").field(&self.snapshot()).finish()
    }
}

/// Pool counters in a [`MetricsSnapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolCounters {
    /// Successful gets.
    pub acquired: u64,
    /// Successful gets that had to wait.
    pub acquired_after_wait: u64,
    /// Gets that timed out.
    pub timeouts: u64,
    /// Connections opened.
    pub created: u64,
    /// Failed connects.
    pub connect_errors: u64,
    /// Connections closed, indexed like [`CloseReason::ALL`]; read with [`PoolCounters::closed`].
    pub closed_by_reason: [u64; CloseReason::ALL.len()],
}

impl PoolCounters {
    /// Connections closed for `reason`.
    pub fn closed(&self, reason: CloseReason) -> u64 {
        self.closed_by_reason[close_index(reason)]
    }

    /// Connections closed for any reason.
    pub fn closed_total(&self) -> u64 {
        self.closed_by_reason.iter().sum()
    }
}

/// Cache counters in a [`MetricsSnapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheCounters {
    /// Lookups that found a live entry.
    pub hits: u64,
    /// Lookups that found nothing.
    pub misses: u64,
    /// Inserts.
    pub inserts: u64,
    /// Entries evicted for size or weight.
    pub evictions: u64,
    /// Entries that expired.
    pub expirations: u64,
    /// Entries overwritten.
    pub replaced: u64,
    /// Entries removed explicitly.
    pub removed: u64,
    /// Single-flight loads run.
    pub loads: u64,
    /// Loads that failed or panicked.
    pub load_failures: u64,
}

impl CacheCounters {
    /// `hits / (hits + misses)`, or 0 before any lookup.
    pub fn hit_rate(&self) -> f64 {
        let total = self.hits + self.misses;
        if total == 0 {
            0.0
        } else {
            self.hits as f64 / total as f64
        }
    }
}

/// Resource counters in a [`MetricsSnapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResourceCounters {
    /// Resources registered.
    pub registered: u64,
    /// Cleanups completed (graceful and forced).
    pub cleaned: u64,
    /// Of those, cleanups forced at shutdown.
    pub forced: u64,
    /// Cleanups that panicked.
    pub failed: u64,
}

impl ResourceCounters {
    /// Registered resources not yet cleaned up (nor failed).
    pub fn live(&self) -> u64 {
        self.registered.saturating_sub(self.cleaned + self.failed)
    }
}

/// Mapped-file counters in a [`MetricsSnapshot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MmapCounters {
    /// Files mapped.
    pub mapped: u64,
    /// Remaps.
    pub remapped: u64,
    /// Flushes.
    pub flushes: u64,
    /// Mappings released.
    pub unmapped: u64,
}

/// Everything [`Metrics`] has counted, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    /// Pool counters.
    pub pool: PoolCounters,
    /// Cache counters.
    pub cache: CacheCounters,
    /// Resource counters.
    pub resource: ResourceCounters,
    /// Mapped-file counters.
    pub mmap: MmapCounters,
    /// Time `get` waited (successful and timed out).
    pub pool_wait: HistogramSnapshot,
    /// Time `connect` took.
    pub pool_connect: HistogramSnapshot,
    /// Time cache loaders took.
    pub cache_load: HistogramSnapshot,
    /// Time cleanups took.
    pub resource_cleanup: HistogramSnapshot,
    /// Time flushes took.
    pub mmap_flush: HistogramSnapshot,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn snapshot_counts_every_event_kind() {
        let m = Metrics::new();
        let ms = Duration::from_millis;
        let events = [
            Event::Pool(PoolEvent::Acquired {
                waited: Duration::ZERO,
            }),
            Event::Pool(PoolEvent::Acquired { waited: ms(4) }),
            Event::Pool(PoolEvent::AcquireTimedOut { waited: ms(10) }),
            Event::Pool(PoolEvent::Created { took: ms(2) }),
            Event::Pool(PoolEvent::ConnectFailed { retryable: true }),
            Event::Pool(PoolEvent::Closed {
                reason: CloseReason::IdleTimeout,
            }),
            Event::Pool(PoolEvent::Closed {
                reason: CloseReason::IdleTimeout,
            }),
            Event::Pool(PoolEvent::Closed {
                reason: CloseReason::Panicked,
            }),
            Event::Cache(CacheEvent::Hit),
            Event::Cache(CacheEvent::Hit),
            Event::Cache(CacheEvent::Hit),
            Event::Cache(CacheEvent::Miss),
            Event::Cache(CacheEvent::Insert),
            Event::Cache(CacheEvent::Removal {
                cause: RemovalCause::Size,
            }),
            Event::Cache(CacheEvent::Removal {
                cause: RemovalCause::Expired,
            }),
            Event::Cache(CacheEvent::Load {
                took: ms(1),
                ok: false,
            }),
            Event::Resource(ResourceEvent::Registered { type_name: "File" }),
            Event::Resource(ResourceEvent::Registered { type_name: "File" }),
            Event::Resource(ResourceEvent::Cleaned {
                type_name: "File",
                forced: true,
                took: ms(1),
            }),
            Event::Resource(ResourceEvent::CleanupFailed {
                type_name: "File",
                message: "x",
            }),
            Event::Mmap(MmapEvent::Mapped {
                path: Path::new("a"),
                len: 4096,
            }),
            Event::Mmap(MmapEvent::Flushed {
                path: Path::new("a"),
                took: ms(3),
            }),
        ];
        for e in &events {
            m.on_event(e);
        }
        let s = m.snapshot();
        assert_eq!(s.pool.acquired, 2);
        assert_eq!(s.pool.acquired_after_wait, 1);
        assert_eq!(s.pool.timeouts, 1);
        assert_eq!(s.pool.created, 1);
        assert_eq!(s.pool.connect_errors, 1);
        assert_eq!(s.pool.closed(CloseReason::IdleTimeout), 2);
        assert_eq!(s.pool.closed(CloseReason::Panicked), 1);
        assert_eq!(s.pool.closed(CloseReason::Broken), 0);
        assert_eq!(s.pool.closed_total(), 3);
        assert_eq!(s.pool_wait.count, 3);
        assert_eq!(s.pool_wait.max, ms(10));
        assert_eq!(s.pool_connect.max, ms(2));
        assert_eq!((s.cache.hits, s.cache.misses, s.cache.inserts), (3, 1, 1));
        assert_eq!((s.cache.evictions, s.cache.expirations), (1, 1));
        assert_eq!((s.cache.loads, s.cache.load_failures), (1, 1));
        assert!((s.cache.hit_rate() - 0.75).abs() < 1e-12);
        assert_eq!(s.resource.registered, 2);
        assert_eq!(
            (s.resource.cleaned, s.resource.forced, s.resource.failed),
            (1, 1, 1)
        );
        assert_eq!(s.resource.live(), 0);
        assert_eq!((s.mmap.mapped, s.mmap.flushes), (1, 1));
        assert_eq!(s.mmap_flush.max, ms(3));
    }

    #[test]
    fn hit_rate_is_zero_before_any_lookup() {
        assert_eq!(Metrics::new().snapshot().cache.hit_rate(), 0.0);
    }
}
