//! [`Tokio`]: what the core's runtime-generic async code takes from tokio (a timer, a
//! spawner, and which runtime a task is on).

use std::future::Future;
use std::time::Instant;

use patinox_memory::runtime::Runtime;

/// tokio as a [`Runtime`] for the core's async types: the runtime this crate's [`Pool`],
/// [`AsyncResourceGuard`] and [`spawn_expiry`] are instantiated with.
///
/// Timers are tokio's (they must be polled inside a runtime with the time driver enabled);
/// tasks are spawned on the runtime the caller runs on. Both flavours work. A multi-thread
/// runtime drives its timers by itself, so a pool's deadline keeper spawned there serves
/// waiting gets on every runtime; a current-thread runtime runs only while something blocks
/// on it, so gets on other runtimes keep timers of their own.
///
/// [`Pool`]: crate::pool::Pool
/// [`AsyncResourceGuard`]: crate::resource::AsyncResourceGuard
/// [`spawn_expiry`]: crate::cache::spawn_expiry
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    const NAME: &'static str = "tokio";
    type Timer = tokio::time::Sleep;
    /// The runtime's id, and whether it is multi-thread.
    type Home = (tokio::runtime::Id, bool);

    fn timer(deadline: Instant) -> tokio::time::Sleep {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
    }

    /// Spawns `task` on the current tokio runtime; gives it back when there is none.
    ///
    /// A runtime that is shutting down accepts the task but drops it without running it.
    fn try_spawn<F>(task: F) -> Result<(), F>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                drop(handle.spawn(task));
                Ok(())
            }
            Err(_) => Err(task),
        }
    }

    fn current() -> Option<Self::Home> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let multi_thread = matches!(
            handle.runtime_flavor(),
            tokio::runtime::RuntimeFlavor::MultiThread
        );
        // The current-thread runtime, and any flavour added later, count as not driving
        // themselves.
        Some((handle.id(), multi_thread))
    }

    fn drives_itself(home: &Self::Home) -> bool {
        home.1
    }

    fn is_current(home: &Self::Home) -> bool {
        tokio::runtime::Handle::try_current().is_ok_and(|current| current.id() == home.0)
    }
}
