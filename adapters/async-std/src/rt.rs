//! What this adapter takes from async-std: a timer and a spawner. The shared code (pool,
//! resource), compiled from the tokio adapter's sources, reaches the runtime only through
//! these functions.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// A boxed timer future (only created on slow paths: a get that has to wait, a retry pause).
pub(crate) type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A timer that fires at `deadline`.
pub(crate) fn sleep_until(deadline: Instant) -> Sleep {
    Box::pin(async_std::task::sleep(
        deadline.saturating_duration_since(Instant::now()),
    ))
}

/// A timer that fires at `deadline`, unboxed (the caller pins it).
pub(crate) fn timer(deadline: Instant) -> impl Future<Output = ()> + Send {
    async_std::task::sleep(deadline.saturating_duration_since(Instant::now()))
}

/// Spawns `fut` on async-std's global executor, which starts on first use and needs no
/// setup, so this always succeeds.
pub(crate) fn try_spawn<F>(fut: F) -> Result<(), F>
where
    F: Future<Output = ()> + Send + 'static,
{
    drop(async_std::task::spawn(fut));
    Ok(())
}

/// The runtime's name, for messages.
pub(crate) const NAME: &str = "async-std";

/// Where a pool's deadline keeper runs: async-std has one runtime, its global executor,
/// whose threads always drive its timers, so a keeper serves every waiter.
pub(crate) type KeeperHome = ();

/// The current runtime as a keeper's home: always async-std's global executor.
pub(crate) fn keeper_home() -> Option<KeeperHome> {
    Some(())
}

/// Whether a keeper at `home` serves a waiter running here: always.
pub(crate) fn keeper_serves_here(_home: &KeeperHome) -> bool {
    true
}

/// Whether a keeper at `home` serves waiters on every runtime: always.
pub(crate) fn keeper_serves_everywhere(_home: &KeeperHome) -> bool {
    true
}
