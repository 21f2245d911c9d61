//! [`ManagedComponent`]: the extension point that lets one `cleanup_all` shut down a service.

use std::time::Instant;

use crate::sync::StdArc;

/// A long-lived component that [`ResourceRegistry::cleanup_all`] shuts down: a pool to drain,
/// a cache whose maintenance must stop, a mapped file to flush and unmap.
///
/// Register it with [`ResourceRegistry::register_component`]. At shutdown the registry calls
/// [`shutdown`](ManagedComponent::shutdown) on a thread of its own, in parallel with the other
/// components and with the wait for held resources, and records the outcome in the
/// [`CleanupReport`](super::CleanupReport). A component that has not returned by the deadline
/// is reported as timed out; its thread is left to finish on its own.
///
/// [`ResourceRegistry::cleanup_all`]: super::ResourceRegistry::cleanup_all
/// [`ResourceRegistry::register_component`]: super::ResourceRegistry::register_component
///
/// # Examples
///
/// ```
/// use patinox_memory::Error;
/// use patinox_memory::resource::{ManagedComponent, ResourceRegistry};
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::{Duration, Instant};
///
/// #[derive(Default)]
/// struct Ticker {
///     stopped: AtomicBool,
/// }
///
/// impl ManagedComponent for Ticker {
///     fn name(&self) -> &str {
///         "ticker"
///     }
///     fn shutdown(&self, _deadline: Instant) -> Result<(), Error> {
///         self.stopped.store(true, Ordering::SeqCst);
///         Ok(())
///     }
/// }
///
/// let registry = ResourceRegistry::new();
/// let ticker = Arc::new(Ticker::default());
/// registry.register_component(ticker.clone()).unwrap();
/// let report = registry.cleanup_all(Duration::from_secs(1));
/// assert!(ticker.stopped.load(Ordering::SeqCst));
/// assert_eq!(report.components[0].name, "ticker");
/// assert!(report.components[0].result.is_ok());
/// ```
pub trait ManagedComponent: Send + Sync + 'static {
    /// A short name for reports, such as `"postgres pool"`.
    fn name(&self) -> &str;

    /// Shuts the component down, finishing by `deadline` if at all possible.
    ///
    /// # Errors
    ///
    /// Whatever went wrong (a drain that timed out, a flush that failed); it is recorded in
    /// the report, not propagated.
    fn shutdown(&self, deadline: Instant) -> Result<(), crate::Error>;
}

impl<C: ManagedComponent + ?Sized> ManagedComponent for StdArc<C> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn shutdown(&self, deadline: Instant) -> Result<(), crate::Error> {
        (**self).shutdown(deadline)
    }
}
