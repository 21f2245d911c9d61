//! What this adapter takes from tokio: a timer and a spawner. The shared code (pool,
//! resource) reaches the runtime only through these functions, so the async-std adapter runs
//! the very same code with its own `rt.rs`.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// A boxed timer future (only created on slow paths: a get that has to wait, a retry pause).
pub(crate) type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A timer that fires at `deadline`. Must be polled inside the runtime.
pub(crate) fn sleep_until(deadline: Instant) -> Sleep {
    Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(
        deadline,
    )))
}

/// A timer that fires at `deadline`, unboxed (the caller pins it). Must be polled inside the
/// runtime.
pub(crate) fn timer(deadline: Instant) -> impl Future<Output = ()> + Send {
    tokio::time::sleep_until(tokio::time::Instant::from_std(deadline))
}

/// Spawns `fut` on the current tokio runtime; gives it back when there is none.
///
/// A runtime that is shutting down accepts the task but drops it without running it; callers
/// that must not lose work wrap it so that its destructor takes the fallback path.
pub(crate) fn try_spawn<F>(fut: F) -> Result<(), F>
where
    F: Future<Output = ()> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            drop(handle.spawn(fut));
            Ok(())
        }
        Err(_) => Err(fut),
    }
}

/// The runtime's name, for messages.
pub(crate) const NAME: &str = "tokio";

/// Which runtime a task runs on (the pool's deadline keeper is used only from its own).
pub(crate) type RuntimeId = tokio::runtime::Id;

/// The current runtime, if any.
pub(crate) fn runtime_id() -> Option<RuntimeId> {
    tokio::runtime::Handle::try_current().ok().map(|h| h.id())
}
