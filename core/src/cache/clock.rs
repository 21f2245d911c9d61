//! Time sources for expiry: the system clock, and a manual clock for tests.

use std::fmt;
use std::time::{Duration, Instant};

use crate::sync::{Mutex, StdArc};

/// Where a cache reads the current time, so tests can move time forward instead of sleeping.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant. Must never go backwards.
    fn now(&self) -> Instant;
}

/// The real monotonic clock ([`Instant::now`]). The default.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[inline]
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that only moves when told to. Clones share the same time.
///
/// # Examples
///
/// ```
/// use patinox_memory::cache::{ManualClock, ShardedCache};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let cache = ShardedCache::builder()
///     .max_size(10)
///     .default_ttl(Duration::from_secs(30))
///     .clock(clock.clone())
///     .build()?;
/// cache.insert("k", 1);
/// clock.advance(Duration::from_secs(29));
/// assert_eq!(cache.get(&"k"), Some(1));
/// clock.advance(Duration::from_secs(1));
/// assert_eq!(cache.get(&"k"), None); // expired
/// # Ok::<(), patinox_memory::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: StdArc<ManualInner>,
}

struct ManualInner {
    start: Instant,
    offset: Mutex<Duration>,
}

impl ManualClock {
    /// A clock standing at the moment it was created.
    pub fn new() -> Self {
        Self {
            inner: StdArc::new(ManualInner {
                start: Instant::now(),
                offset: Mutex::new(Duration::ZERO),
            }),
        }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut offset = self.inner.offset.lock();
        *offset = offset.saturating_add(by);
    }

    /// How far the clock was moved since it was created.
    pub fn elapsed(&self) -> Duration {
        *self.inner.offset.lock()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let offset = *self.inner.offset.lock();
        self.inner
            .start
            .checked_add(offset)
            .unwrap_or(self.inner.start)
    }
}
