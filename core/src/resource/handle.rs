//! [`TrackedResource`], the handle of a registered resource, and [`Refused`], a
//! registration refused at shutdown.

use std::any::type_name;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::registry::{Entry, FORCED, Inner, LIVE, RELEASED};
use super::run::{Cleanup, Finish, Offloader, finish, report};
use super::{RegistryError, ResourceId};
use crate::monitor::Monitor;
use crate::sync::{Mutex, Ordering, StdArc, Weak};
use crate::util::catch_panic;

/// A registration refused because shutdown has begun: the error, and the value back.
///
/// [`into_value`](Self::into_value) takes the value without running its cleanup. Dropping
/// the `Refused` (or converting it into [`crate::Error::Closed`] with `?`) runs the cleanup
/// at once, as if the resource had been registered and released, so nothing leaks.
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::{RegistryError, ResourceRegistry};
/// use std::time::Duration;
///
/// let registry = ResourceRegistry::new();
/// registry.cleanup_all(Duration::ZERO);
/// let refused = registry.try_register(String::from("late")).unwrap_err();
/// assert_eq!(refused.error(), RegistryError::Closed);
/// assert_eq!(refused.into_value(), "late");
/// ```
pub struct Refused<T> {
    /// A detached handle holding the value and the cleanup.
    pub(super) handle: TrackedResource<T>,
    pub(super) error: RegistryError,
}

impl<T> Refused<T> {
    /// Why it was refused.
    pub fn error(&self) -> RegistryError {
        self.error
    }

    /// The value that was not registered; its cleanup is dropped without running.
    pub fn into_value(self) -> T {
        TrackedResource::into_inner(self.handle)
    }

    /// Keeps the value as a detached handle, whose cleanup runs when it is dropped.
    pub(super) fn detach(self) -> TrackedResource<T> {
        self.handle
    }
}

impl<T> fmt::Debug for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refused")
            .field("error", &self.error)
            .field("type_name", &type_name::<T>())
            .finish()
    }
}

impl<T> fmt::Display for Refused<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for Refused<T> {}

impl<T> From<Refused<T>> for crate::Error {
    fn from(refused: Refused<T>) -> Self {
        refused.error.into()
    }
}

/// The handle of a registered resource: derefs to the value; dropping it runs the cleanup
/// exactly once (inline or in the background) and deregisters it.
///
/// It holds only a weak link to its registry. If shutdown forced it (see
/// [`is_forced`](Self::is_forced)), the value stays valid and dropping the handle only drops
/// the value.
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::ResourceRegistry;
///
/// let registry = ResourceRegistry::new();
/// let mut buf = registry.register(vec![0u8; 4]);
/// buf[0] = 7;
/// assert_eq!(registry.active()[0].id, buf.id());
/// drop(registry); // the handle outlives its registry safely
/// assert_eq!(buf[0], 7);
/// ```
#[must_use = "the resource is cleaned up as soon as the handle is dropped"]
pub struct TrackedResource<T> {
    /// `Some` until the handle is dropped or unwrapped.
    pub(super) value: Option<T>,
    /// Behind a mutex only so the handle is `Sync` when `T` is; reached through `get_mut`.
    pub(super) cleanup: Mutex<Option<Cleanup<T>>>,
    pub(super) entry: StdArc<Entry>,
    /// Empty (never upgrades) for a detached handle.
    pub(super) registry: Weak<Inner>,
    pub(super) monitor: Option<StdArc<dyn Monitor>>,
    pub(super) background: Option<Offloader<T>>,
}

impl<T> TrackedResource<T> {
    /// Its identity in the registry.
    pub fn id(&self) -> ResourceId {
        self.entry.id
    }

    /// Its label, if one was given.
    pub fn label(&self) -> Option<&str> {
        self.entry.label.as_deref()
    }

    /// Whether shutdown ran this resource's force hook; a holder may poll it to stop using
    /// the resource early. Its cleanup will not run.
    pub fn is_forced(&self) -> bool {
        self.entry.state.load(Ordering::Acquire) == FORCED
    }

    /// Takes the value back and deregisters it; the cleanup does not run.
    ///
    /// An associated function so it never shadows a method of `T`. The registry counts it
    /// as cleaned (it left the registry's care normally).
    pub fn into_inner(mut handle: Self) -> T {
        let value = handle.value.take();
        drop(handle.cleanup.get_mut().take());
        if handle
            .entry
            .state
            .compare_exchange(LIVE, RELEASED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            if let Some(monitor) = &handle.monitor {
                report(
                    monitor.as_ref(),
                    handle.entry.type_name,
                    false,
                    Duration::ZERO,
                    &Ok(()),
                );
            }
            if let Some(inner) = handle.registry.upgrade() {
                inner.deregister(&handle.entry, Ok(()));
            }
        }
        match value {
            Some(value) => value,
            None => unreachable!("the value is present until drop or into_inner"),
        }
    }
}

impl<T> Drop for TrackedResource<T> {
    fn drop(&mut self) {
        let Some(value) = self.value.take() else {
            return;
        };
        let cleanup = self.cleanup.get_mut().take();
        if self
            .entry
            .state
            .compare_exchange(LIVE, RELEASED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // Forced at shutdown: its force hook ran instead; only the value goes.
            drop(cleanup);
            let _ = catch_panic(move || drop(value));
            return;
        }
        match &self.background {
            None => finish(
                self.entry.type_name,
                self.monitor.as_ref(),
                Some((&self.entry, &self.registry)),
                value,
                cleanup,
            ),
            Some(offloader) => offloader.run(
                value,
                cleanup,
                Finish {
                    type_name: self.entry.type_name,
                    monitor: self.monitor.clone(),
                    tracked: Some((self.entry.clone(), self.registry.clone())),
                },
            ),
        }
    }
}

impl<T> Deref for TrackedResource<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.value {
            Some(v) => v,
            None => unreachable!("the value is present until drop or into_inner"),
        }
    }
}

impl<T> DerefMut for TrackedResource<T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.value {
            Some(v) => v,
            None => unreachable!("the value is present until drop or into_inner"),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for TrackedResource<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrackedResource")
            .field("id", &self.entry.id)
            .field("label", &self.entry.label)
            .field("value", &self.value)
            .field("forced", &self.is_forced())
            .finish_non_exhaustive()
    }
}
