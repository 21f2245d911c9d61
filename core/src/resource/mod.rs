//! Resource management: cleanup guards, a registry of live resources, graceful shutdown and
//! cleanup offload.
//!
//! Three layers of cleanup, from the most common to the last resort:
//!
//! - **immediate**: a [`ResourceGuard`] or a [`TrackedResource`] runs its cleanup inline when
//!   it is dropped ([`CleanupMode::Immediate`], the default);
//! - **background**: the cleanup is handed to an [`Offload`] so a slow destructor (closing a
//!   socket, deleting a temporary file) does not stall the dropping thread
//!   ([`CleanupMode::Background`]; [`BackgroundOffload`] is the core's one-thread offload, the
//!   async adapters supply runtime-backed ones);
//! - **forced**: [`ResourceRegistry::cleanup_all`] stops new registrations, waits until the
//!   holders let go or the deadline passes, then runs the *force hooks* of the resources still
//!   held and shuts down the registered [`ManagedComponent`]s (pools, caches, mapped files).
//!
//! # What "forced" means
//!
//! A [`TrackedResource`] keeps its value inside the handle, and `Deref` hands out plain
//! references whose end the registry cannot observe. Taking the value away from a live handle
//! would therefore free data that may still be borrowed, so the registry never does that.
//! Instead a registration may carry a *force hook* ([`Registration::on_force`]): an
//! `FnOnce()` that makes the resource harmless without owning it (shut down a cloned socket,
//! cancel a token, drain a pool through a shared handle). At the deadline the registry runs
//! the force hook of every resource still held, exactly once; the handle keeps a valid value,
//! and dropping it later only drops the value (its cleanup is not run). A resource still held
//! at the deadline without a force hook (or whose holder is in the middle of its own cleanup)
//! is listed in [`CleanupReport::still_held`] and stays registered; its cleanup runs when the
//! holder drops it. Either way, for every resource exactly one of its cleanup or its force
//! hook runs, never both, never twice.
//!
//! # Examples
//!
//! ```
//! use patinox_memory::resource::{ResourceGuard, ResourceRegistry};
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//! use std::time::Duration;
//!
//! // A guard: the cleanup runs once, when the guard goes out of scope.
//! let closed = Arc::new(AtomicUsize::new(0));
//! {
//!     let c = closed.clone();
//!     let mut buf = ResourceGuard::new(vec![0u8; 16], move |_buf| {
//!         c.fetch_add(1, Ordering::SeqCst);
//!     });
//!     buf[0] = 1;
//! }
//! assert_eq!(closed.load(Ordering::SeqCst), 1);
//!
//! // A registry: live resources are listed, and shutdown reports what happened.
//! let registry = ResourceRegistry::new();
//! let file = registry.resource(String::from("scratch")).label("scratch file").register();
//! assert_eq!(registry.active_count(), 1);
//! assert_eq!(registry.active()[0].label.as_deref(), Some("scratch file"));
//! drop(file);
//! let report = registry.cleanup_all(Duration::from_millis(50));
//! assert!(report.is_clean());
//! assert_eq!(registry.active_count(), 0);
//! ```

#[cfg(not(loom))]
mod async_guard;
mod component;
mod guard;
mod handle;
mod offload;
mod registry;
mod report;
mod run;
mod shutdown;

use std::fmt;

#[cfg(not(loom))]
pub use async_guard::{AsyncCleanup, AsyncResourceGuard, cleanup_all_async};
pub use component::ManagedComponent;
pub use guard::ResourceGuard;
pub use handle::{Refused, TrackedResource};
pub use offload::{BackgroundOffload, InlineOffload, Job, Offload, WorkerExit};
pub use registry::{Registration, RegistryBuilder, ResourceRegistry};
pub use report::{
    CleanupFailure, CleanupReport, ComponentOutcome, LeakReport, RegistryStats, ResourceInfo,
    ResourceState,
};

/// A registered resource's identity, unique within its [`ResourceRegistry`].
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::ResourceRegistry;
///
/// let registry = ResourceRegistry::new();
/// let a = registry.register(1u8);
/// let b = registry.register(2u8);
/// assert_ne!(a.id(), b.id());
/// assert_eq!(a.id().to_string(), format!("#{}", a.id().get()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(u64);

impl ResourceId {
    /// The numeric value (registration order, starting at 1).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Where a cleanup runs when its guard or handle is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CleanupMode {
    /// Inline, on the dropping thread.
    #[default]
    Immediate,
    /// Handed to an [`Offload`], so the dropping thread does not wait for it.
    Background,
}

/// Why the registry refused a registration.
///
/// Converts into [`crate::Error::Closed`] with `what: "resource registry"`.
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::{RegistryError, ResourceRegistry};
/// use std::time::Duration;
///
/// let registry = ResourceRegistry::new();
/// registry.cleanup_all(Duration::ZERO);
/// let refused = registry.try_register(5u32).unwrap_err();
/// assert_eq!(refused.error(), RegistryError::Closed);
/// let err: patinox_memory::Error = refused.error().into();
/// assert_eq!(err.to_string(), "resource registry is closed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// [`ResourceRegistry::cleanup_all`] has started: no new resources or components.
    #[error("resource registry is closed")]
    Closed,
}

impl From<RegistryError> for crate::Error {
    fn from(err: RegistryError) -> Self {
        match err {
            RegistryError::Closed => crate::Error::Closed {
                what: "resource registry",
            },
        }
    }
}
