//! The typed events components send to a [`Monitor`](super::Monitor).

use std::path::Path;
use std::time::Duration;

/// One observable happening in a component.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// From a connection pool.
    Pool(PoolEvent),
    /// From a cache.
    Cache(CacheEvent),
    /// From a resource guard or registry.
    Resource(ResourceEvent<'a>),
    /// From a memory-mapped file.
    Mmap(MmapEvent<'a>),
}

/// Why a pooled connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// `has_broken` reported it broken when it was returned.
    Broken,
    /// `is_valid` failed (on check-out or in a background health check).
    Invalid,
    /// It stayed idle longer than `idle_timeout`.
    IdleTimeout,
    /// It lived longer than `max_lifetime`.
    MaxLifetime,
    /// The thread holding it panicked.
    Panicked,
    /// The pool was closed or dropped.
    PoolClosed,
}

impl CloseReason {
    /// Every reason, for iterating over per-reason counters.
    pub const ALL: [CloseReason; 6] = [
        CloseReason::Broken,
        CloseReason::Invalid,
        CloseReason::IdleTimeout,
        CloseReason::MaxLifetime,
        CloseReason::Panicked,
        CloseReason::PoolClosed,
    ];

    /// A short lowercase name (`"broken"`, `"idle_timeout"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::Broken => "broken",
            CloseReason::Invalid => "invalid",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::MaxLifetime => "max_lifetime",
            CloseReason::Panicked => "panicked",
            CloseReason::PoolClosed => "pool_closed",
        }
    }
}

/// Events of a connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolEvent {
    /// A `get` handed out a connection after waiting `waited` (zero when one was idle).
    Acquired {
        /// Time from the call to the hand-out.
        waited: Duration,
    },
    /// A `get` gave up at its deadline.
    AcquireTimedOut {
        /// How long it waited.
        waited: Duration,
    },
    /// A new connection was opened.
    Created {
        /// How long `connect` took.
        took: Duration,
    },
    /// `connect` failed.
    ConnectFailed {
        /// Whether the manager classified the failure as retryable.
        retryable: bool,
    },
    /// A connection was closed, and why.
    Closed {
        /// Why it was closed.
        reason: CloseReason,
    },
}

/// Why an entry left a cache. Also given to cache eviction listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemovalCause {
    /// Evicted to respect the size or weight bound.
    Size,
    /// Its time to live ran out.
    Expired,
    /// Overwritten by an insert of the same key.
    Replaced,
    /// Removed explicitly (`remove`, `retain`, `invalidate_all`).
    Removed,
}

/// Events of a cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheEvent {
    /// A lookup found a live entry.
    Hit,
    /// A lookup found nothing (or only an expired entry).
    Miss,
    /// An entry was inserted.
    Insert,
    /// An entry left the cache.
    Removal {
        /// Why it left.
        cause: RemovalCause,
    },
    /// A single-flight loader ran.
    Load {
        /// How long the loader took.
        took: Duration,
        /// Whether it produced a value (false: it failed or panicked).
        ok: bool,
    },
}

/// Events of resource guards and the resource registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceEvent<'a> {
    /// A resource was registered.
    Registered {
        /// Its type name.
        type_name: &'a str,
    },
    /// A cleanup ran to completion.
    Cleaned {
        /// The resource's type name.
        type_name: &'a str,
        /// Whether it was forced at shutdown rather than run when the holder let go.
        forced: bool,
        /// How long the cleanup took.
        took: Duration,
    },
    /// A cleanup panicked; the panic was caught.
    CleanupFailed {
        /// The resource's type name.
        type_name: &'a str,
        /// The panic message, if it was a string.
        message: &'a str,
    },
}

/// Events of memory-mapped files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MmapEvent<'a> {
    /// A file was mapped.
    Mapped {
        /// The file.
        path: &'a Path,
        /// Bytes mapped.
        len: u64,
    },
    /// A mapping was replaced by one of a new length (after growth or a refresh).
    Remapped {
        /// The file.
        path: &'a Path,
        /// Previous length.
        old_len: u64,
        /// New length.
        new_len: u64,
    },
    /// Dirty pages were written back.
    Flushed {
        /// The file.
        path: &'a Path,
        /// How long the flush took.
        took: Duration,
    },
    /// A mapping was released.
    Unmapped {
        /// The file.
        path: &'a Path,
    },
}
