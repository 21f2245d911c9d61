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

/// Where a pool's deadline keeper runs, as far as a waiting get needs to know.
///
/// `None`: a multi-thread runtime. Its worker threads drive its timer whether or not anything
/// blocks on it, so the keeper serves waiters on every runtime, and a waiter looks no further
/// (no per-get look-up of the current runtime: that clones the runtime's handle, a reference
/// count both workers write). `Some(id)`: a current-thread runtime, driven only while
/// something blocks on it, so only its own tasks can rely on the keeper; a waiter on another
/// runtime keeps a timer of its own as well.
pub(crate) type KeeperHome = Option<tokio::runtime::Id>;

/// The current runtime as a keeper's home, or `None` outside any runtime.
pub(crate) fn keeper_home() -> Option<KeeperHome> {
    let handle = tokio::runtime::Handle::try_current().ok()?;
    Some(match handle.runtime_flavor() {
        tokio::runtime::RuntimeFlavor::MultiThread => None,
        // The current-thread runtime, and any flavour added later: only its own tasks.
        _ => Some(handle.id()),
    })
}

/// Whether a keeper at `home` serves a waiter running here.
pub(crate) fn keeper_serves_here(home: &KeeperHome) -> bool {
    home.is_none_or(|id| {
        tokio::runtime::Handle::try_current().is_ok_and(|current| current.id() == id)
    })
}

/// Whether a keeper at `home` serves waiters on every runtime.
pub(crate) fn keeper_serves_everywhere(home: &KeeperHome) -> bool {
    home.is_none()
}
