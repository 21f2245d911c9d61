//! [`AsyncStd`]: what the core's runtime-generic async code takes from async-std (a timer and
//! a spawner).

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use patinox_memory::runtime::Runtime;

/// async-std as a [`Runtime`] for the core's async types: the runtime this crate's
/// [`Pool`], [`AsyncResourceGuard`] and [`spawn_expiry`] are instantiated with.
///
/// async-std has one runtime, its global executor, which starts on first use from any thread
/// and whose own threads drive its timers: spawning always succeeds, and a pool's deadline
/// keeper serves every waiting get.
///
/// [`Pool`]: crate::pool::Pool
/// [`AsyncResourceGuard`]: crate::resource::AsyncResourceGuard
/// [`spawn_expiry`]: crate::cache::spawn_expiry
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    const NAME: &'static str = "async-std";
    /// Boxed: async-std's sleep future has no name. Timers are only made on slow paths (a get
    /// that has to wait without the pool's keeper, a retry pause, a background tick).
    type Timer = Pin<Box<dyn Future<Output = ()> + Send>>;
    type Home = ();

    fn timer(deadline: Instant) -> Self::Timer {
        Box::pin(async_std::task::sleep(
            deadline.saturating_duration_since(Instant::now()),
        ))
    }

    fn try_spawn<F>(task: F) -> Result<(), F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        drop(async_std::task::spawn(task));
        Ok(())
    }

    fn current() -> Option<()> {
        Some(())
    }

    fn drives_itself((): &()) -> bool {
        true
    }

    fn is_current((): &()) -> bool {
        true
    }
}
