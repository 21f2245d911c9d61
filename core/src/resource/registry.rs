//! [`ResourceRegistry`]: tracks live resources, and the state it shares with their handles.
//! The handle ([`TrackedResource`]) is in `handle.rs`, shutdown (`cleanup_all`) in
//! `shutdown.rs`.
//!
//! # Synchronization
//!
//! One lock, `Inner::state`, guards the entry map, the components, the counters and the
//! closing flag; no other lock is ever taken while it is held, and no user code (cleanups,
//! force hooks, monitor calls, component shutdowns) or destructor of user data runs under it.
//!
//! Each entry's `state` atomic decides, exactly once, who finishes the resource:
//! `LIVE -> RELEASED` by the holder (dropping or unwrapping its handle; it then runs the
//! cleanup and removes the entry), or `LIVE -> FORCED` by `cleanup_all` (which does that
//! transition with the lock held, removes the entry in the same critical section and runs the
//! force hook after unlocking). Both are compare-exchanges on the same atomic, so exactly one
//! wins; the loser does nothing but drop what it holds.

use std::any::type_name;
use std::fmt;
use std::time::{Duration, Instant};

use hashbrown::HashMap;

use super::component::ManagedComponent;
use super::handle::{Refused, TrackedResource};
use super::offload::{BackgroundOffload, InlineOffload, Job, Offload};
use super::report::{CleanupFailure, LeakReport, RegistryStats, ResourceInfo, ResourceState};
use super::run::{Cleanup, Offloader};
use super::{CleanupMode, RegistryError, ResourceId};
use crate::monitor::{Event, Monitor, ResourceEvent};
use crate::sync::{AtomicU8, AtomicU64, Condvar, Mutex, Ordering, StdArc, Weak};

/// Held by its handle.
pub(super) const LIVE: u8 = 0;
/// Released by its holder, who runs (or has run) the cleanup.
pub(super) const RELEASED: u8 = 1;
/// Forced by `cleanup_all`, which ran (or runs) the force hook.
pub(super) const FORCED: u8 = 2;

/// What the handle and the registry share about one resource.
pub(crate) struct Entry {
    pub(super) id: ResourceId,
    pub(super) type_name: &'static str,
    pub(super) label: Option<String>,
    pub(super) size_bytes: Option<u64>,
    pub(super) mode: CleanupMode,
    pub(super) created: Instant,
    /// `LIVE`, `RELEASED` or `FORCED`; see the module docs.
    pub(super) state: AtomicU8,
}

impl Entry {
    pub(super) fn info(&self, now: Instant, forcible: bool) -> ResourceInfo {
        ResourceInfo {
            id: self.id,
            type_name: self.type_name,
            label: self.label.clone(),
            age: now.saturating_duration_since(self.created),
            size_bytes: self.size_bytes,
            mode: self.mode,
            state: if self.state.load(Ordering::Acquire) == LIVE {
                ResourceState::Live
            } else {
                ResourceState::Cleaning
            },
            forcible,
        }
    }
}

/// A registered resource as the registry keeps it: the shared entry and the force hook.
pub(super) struct Slot {
    pub(super) entry: StdArc<Entry>,
    pub(super) force: Option<Job>,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) created: u64,
    pub(super) cleaned: u64,
    pub(super) forced: u64,
    pub(super) failed: u64,
    pub(super) refused: u64,
}

pub(super) struct State {
    pub(super) closing: bool,
    pub(super) entries: HashMap<u64, Slot>,
    pub(super) components: Vec<StdArc<dyn ManagedComponent>>,
    /// The default offload for `Registration::background`, created on first use.
    pub(super) offload: Option<StdArc<dyn Offload>>,
    pub(super) counters: Counters,
    /// Holders' cleanups that panicked since shutdown began.
    pub(super) failures: Vec<CleanupFailure>,
}

pub(crate) struct Inner {
    pub(super) state: Mutex<State>,
    /// Notified when the entry map becomes empty while closing.
    pub(super) drained: Condvar,
    pub(super) next_id: AtomicU64,
    pub(super) monitor: Option<StdArc<dyn Monitor>>,
}

impl Inner {
    /// Removes a resource its holder finished, counting the outcome.
    pub(crate) fn deregister(&self, entry: &Entry, outcome: Result<(), String>) {
        let (removed, notify) = {
            let mut st = self.state.lock();
            let removed = st.entries.remove(&entry.id.0);
            match outcome {
                Ok(()) => st.counters.cleaned += 1,
                Err(message) => {
                    st.counters.failed += 1;
                    if st.closing {
                        st.failures.push(CleanupFailure {
                            id: entry.id,
                            type_name: entry.type_name,
                            label: entry.label.clone(),
                            forced: false,
                            message,
                        });
                    }
                }
            }
            (removed, st.closing && st.entries.is_empty())
        };
        // The slot may own a force hook (user code): dropped after unlocking.
        drop(removed);
        if notify {
            self.drained.notify_all();
        }
    }

    fn offload(&self) -> StdArc<dyn Offload> {
        if let Some(offload) = self.state.lock().offload.clone() {
            return offload;
        }
        // Get the shared cleanup thread with no registry lock held; if another thread won
        // the race, `fresh` is just dropped.
        #[cfg(not(loom))]
        let started = BackgroundOffload::shared();
        #[cfg(loom)]
        let started = BackgroundOffload::new();
        let fresh: StdArc<dyn Offload> = match started {
            Ok(background) => StdArc::new(background),
            Err(_) => StdArc::new(InlineOffload),
        };
        let mut st = self.state.lock();
        if st.closing {
            // Shut down: keep no thread alive for the registry; this one serves only the
            // (detached) handle that asked, and exits with it.
            return fresh;
        }
        st.offload.get_or_insert(fresh).clone()
    }
}

/// Tracks live resources, reports on them, and shuts everything down within a deadline.
///
/// Cloning is cheap and shares the registry. Handles hold only a weak link to it, so the
/// registry may be dropped before its handles (their cleanups still run when they are
/// dropped) and handles may be dropped at any time, from any thread.
///
/// Once [`cleanup_all`](Self::cleanup_all) has started, the registry is closed:
/// [`try_register`](Self::try_register) and friends refuse with [`RegistryError::Closed`],
/// while the infallible [`register`](Self::register) and
/// [`register_with_cleanup`](Self::register_with_cleanup) return a *detached* handle: it is not
/// listed or counted as live and shutdown does not see it, but it still runs its cleanup
/// exactly once when dropped (and reports to the monitor), so nothing is leaked.
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::ResourceRegistry;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let registry = ResourceRegistry::new();
/// let killed = Arc::new(AtomicBool::new(false));
/// let k = killed.clone();
/// let conn = registry
///     .resource(String::from("connection"))
///     .label("upstream")
///     .size_bytes(4096)
///     .on_force(move || k.store(true, Ordering::SeqCst))
///     .register();
/// assert_eq!(registry.counts_by_type(), vec![("alloc::string::String", 1)]);
///
/// // The holder never lets go: at the deadline its force hook runs.
/// let report = registry.cleanup_all(Duration::from_millis(20));
/// assert_eq!(report.forced, 1);
/// assert!(killed.load(Ordering::SeqCst));
/// assert!(conn.is_forced());
/// drop(conn); // does not run a cleanup any more
/// ```
#[derive(Clone)]
pub struct ResourceRegistry {
    pub(super) inner: StdArc<Inner>,
}

impl Default for ResourceRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl ResourceRegistry {
    /// An empty registry reporting to no monitor.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A registry that reports registrations and cleanups to `monitor`.
    pub fn with_monitor(monitor: StdArc<dyn Monitor>) -> Self {
        Self::builder().monitor(monitor).build()
    }

    /// A builder to set the monitor and the offload for background cleanups.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// Registers `value`; dropping the handle drops the value and deregisters it.
    ///
    /// After shutdown began, the handle is detached (see the type's docs).
    pub fn register<T>(&self, value: T) -> TrackedResource<T> {
        self.resource(value).register()
    }

    /// Registers `value` with a cleanup that runs exactly once, when the handle is dropped.
    ///
    /// After shutdown began, the handle is detached (see the type's docs).
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::resource::ResourceRegistry;
    /// use std::sync::mpsc;
    ///
    /// let registry = ResourceRegistry::new();
    /// let (tx, rx) = mpsc::channel();
    /// let handle = registry.register_with_cleanup(vec![1u8; 8], move |v| tx.send(v.len()).unwrap());
    /// assert_eq!(handle.len(), 8);
    /// drop(handle);
    /// assert_eq!(rx.recv().unwrap(), 8);
    /// assert_eq!(registry.active_count(), 0);
    /// ```
    pub fn register_with_cleanup<T>(
        &self,
        value: T,
        cleanup: impl FnOnce(T) + Send + 'static,
    ) -> TrackedResource<T> {
        self.resource(value).cleanup(cleanup).register()
    }

    /// Registers `value`, or refuses if shutdown has begun.
    ///
    /// # Errors
    ///
    /// [`Refused`] (carrying [`RegistryError::Closed`] and the value) once
    /// [`cleanup_all`](Self::cleanup_all) has started.
    pub fn try_register<T>(&self, value: T) -> Result<TrackedResource<T>, Refused<T>> {
        self.resource(value).try_register()
    }

    /// Registers `value` with a cleanup, or refuses if shutdown has begun.
    ///
    /// # Errors
    ///
    /// [`Refused`] (carrying [`RegistryError::Closed`], the value and its cleanup) once
    /// [`cleanup_all`](Self::cleanup_all) has started.
    pub fn try_register_with_cleanup<T>(
        &self,
        value: T,
        cleanup: impl FnOnce(T) + Send + 'static,
    ) -> Result<TrackedResource<T>, Refused<T>> {
        self.resource(value).cleanup(cleanup).try_register()
    }

    /// Starts a registration with options: label, size, force hook, background cleanup.
    pub fn resource<T>(&self, value: T) -> Registration<'_, T> {
        Registration {
            registry: self,
            value,
            cleanup: None,
            label: None,
            size_bytes: None,
            force: None,
            background: None,
        }
    }

    /// Adds a component that [`cleanup_all`](Self::cleanup_all) shuts down.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Closed`] once shutdown has begun.
    pub fn register_component<C: ManagedComponent>(
        &self,
        component: C,
    ) -> Result<(), RegistryError> {
        let component: StdArc<dyn ManagedComponent> = StdArc::new(component);
        let mut st = self.inner.state.lock();
        if st.closing {
            drop(st);
            return Err(RegistryError::Closed);
        }
        st.components.push(component);
        Ok(())
    }

    /// Whether [`cleanup_all`](Self::cleanup_all) has started.
    pub fn is_closed(&self) -> bool {
        self.inner.state.lock().closing
    }

    /// Number of registered resources (including ones whose cleanup is running).
    pub fn active_count(&self) -> usize {
        self.inner.state.lock().entries.len()
    }

    /// A snapshot of every registered resource, in registration order.
    pub fn active(&self) -> Vec<ResourceInfo> {
        let slots: Vec<(StdArc<Entry>, bool)> = {
            let st = self.inner.state.lock();
            st.entries
                .values()
                .map(|s| (s.entry.clone(), s.force.is_some()))
                .collect()
        };
        let now = Instant::now();
        let mut infos: Vec<ResourceInfo> = slots
            .iter()
            .map(|(entry, forcible)| entry.info(now, *forcible))
            .collect();
        infos.sort_by_key(|i| i.id);
        infos
    }

    /// How many resources of each type are registered, most numerous first.
    pub fn counts_by_type(&self) -> Vec<(&'static str, usize)> {
        let mut counts: HashMap<&'static str, usize> = HashMap::new();
        {
            let st = self.inner.state.lock();
            for slot in st.entries.values() {
                *counts.entry(slot.entry.type_name).or_default() += 1;
            }
        }
        let mut counts: Vec<_> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        counts
    }

    /// The resources registered longer than `older_than` ago, oldest first: likely leaks.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::resource::ResourceRegistry;
    /// use std::time::Duration;
    ///
    /// let registry = ResourceRegistry::new();
    /// let _old = registry.resource([0u8; 64]).label("forgotten buffer").size_bytes(64).register();
    /// std::thread::sleep(Duration::from_millis(20));
    /// let _new = registry.register(1u32);
    /// let leaks = registry.leaks(Duration::from_millis(10));
    /// assert_eq!(leaks.resources.len(), 1);
    /// assert_eq!(leaks.resources[0].label.as_deref(), Some("forgotten buffer"));
    /// assert_eq!(leaks.total_bytes(), 64);
    /// ```
    pub fn leaks(&self, older_than: Duration) -> LeakReport {
        let mut resources: Vec<ResourceInfo> = self
            .active()
            .into_iter()
            .filter(|r| r.age > older_than)
            .collect();
        resources.sort_by(|a, b| b.age.cmp(&a.age).then(a.id.cmp(&b.id)));
        LeakReport {
            threshold: older_than,
            resources,
        }
    }

    /// Counters since creation, and the live count.
    pub fn stats(&self) -> RegistryStats {
        let st = self.inner.state.lock();
        RegistryStats {
            created: st.counters.created,
            cleaned: st.counters.cleaned,
            forced: st.counters.forced,
            failed: st.counters.failed,
            refused: st.counters.refused,
            live: st.entries.len(),
        }
    }
}

impl fmt::Debug for ResourceRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stats = self.stats();
        f.debug_struct("ResourceRegistry")
            .field("live", &stats.live)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Builds a [`ResourceRegistry`].
///
/// # Examples
///
/// ```
/// use patinox_memory::monitor::Metrics;
/// use patinox_memory::resource::{InlineOffload, ResourceRegistry};
/// use std::sync::Arc;
///
/// let metrics = Arc::new(Metrics::new());
/// let registry = ResourceRegistry::builder()
///     .monitor(metrics.clone())
///     .offload(Arc::new(InlineOffload))
///     .build();
/// drop(registry.register(1u8));
/// assert_eq!(metrics.snapshot().resource.registered, 1);
/// assert_eq!(metrics.snapshot().resource.cleaned, 1);
/// ```
#[derive(Default)]
pub struct RegistryBuilder {
    monitor: Option<StdArc<dyn Monitor>>,
    offload: Option<StdArc<dyn Offload>>,
}

impl RegistryBuilder {
    /// Reports registrations and cleanups to `monitor`.
    pub fn monitor(mut self, monitor: StdArc<dyn Monitor>) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Runs background cleanups on `offload` instead of the process-wide
    /// [`BackgroundOffload::shared`] thread.
    pub fn offload(mut self, offload: StdArc<dyn Offload>) -> Self {
        self.offload = Some(offload);
        self
    }

    /// The registry.
    pub fn build(self) -> ResourceRegistry {
        ResourceRegistry {
            inner: StdArc::new(Inner {
                state: Mutex::new(State {
                    closing: false,
                    entries: HashMap::new(),
                    components: Vec::new(),
                    offload: self.offload,
                    counters: Counters::default(),
                    failures: Vec::new(),
                }),
                drained: Condvar::new(),
                next_id: AtomicU64::new(1),
                monitor: self.monitor,
            }),
        }
    }
}

impl fmt::Debug for RegistryBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryBuilder")
            .field("monitor", &self.monitor.is_some())
            .field("offload", &self.offload.is_some())
            .finish()
    }
}

/// A registration in progress, from [`ResourceRegistry::resource`]; finish it with
/// [`register`](Self::register) or [`try_register`](Self::try_register).
#[must_use = "nothing is registered until `register` or `try_register` is called"]
pub struct Registration<'a, T> {
    registry: &'a ResourceRegistry,
    value: T,
    cleanup: Option<Cleanup<T>>,
    label: Option<String>,
    size_bytes: Option<u64>,
    force: Option<Job>,
    background: Option<Offloader<T>>,
}

impl<T> Registration<'_, T> {
    /// The cleanup to run, exactly once, when the handle is dropped (default: just drop).
    pub fn cleanup(mut self, cleanup: impl FnOnce(T) + Send + 'static) -> Self {
        self.cleanup = Some(Box::new(cleanup));
        self
    }

    /// A label shown in [`ResourceInfo`], leak reports and shutdown reports.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// The resource's size in bytes, shown in [`ResourceInfo`].
    pub fn size_bytes(mut self, bytes: u64) -> Self {
        self.size_bytes = Some(bytes);
        self
    }

    /// A hook that [`cleanup_all`](ResourceRegistry::cleanup_all) runs if the resource is
    /// still held at the deadline. It must make the resource harmless without owning it
    /// (shut down a cloned socket, cancel a token); the holder's value stays valid. Once it
    /// ran, dropping the handle does not run the cleanup.
    pub fn on_force(mut self, hook: impl FnOnce() + Send + 'static) -> Self {
        self.force = Some(Box::new(hook));
        self
    }

    /// Runs the cleanup on the registry's offload (by default the process-wide
    /// [`BackgroundOffload::shared`] thread, taken on first use) instead of the dropping
    /// thread.
    pub fn background(mut self) -> Self
    where
        T: Send + 'static,
    {
        self.background = Some(Offloader::new(self.registry.inner.offload()));
        self
    }

    /// Registers; after shutdown began, returns a detached handle (see [`ResourceRegistry`]).
    pub fn register(self) -> TrackedResource<T> {
        match self.insert(true) {
            Ok(handle) => handle,
            // insert(true) never refuses; the value is handed back unchanged if it did.
            Err(refused) => refused.detach(),
        }
    }

    /// Registers, or refuses once shutdown has begun.
    ///
    /// # Errors
    ///
    /// [`Refused`] carrying [`RegistryError::Closed`] and the value.
    pub fn try_register(self) -> Result<TrackedResource<T>, Refused<T>> {
        self.insert(false)
    }

    fn insert(self, detach_if_closed: bool) -> Result<TrackedResource<T>, Refused<T>> {
        let inner = &self.registry.inner;
        let type_name = type_name::<T>();
        let mode = if self.background.is_some() {
            CleanupMode::Background
        } else {
            CleanupMode::Immediate
        };
        let entry = StdArc::new(Entry {
            id: ResourceId(inner.next_id.fetch_add(1, Ordering::Relaxed)),
            type_name,
            label: self.label,
            size_bytes: self.size_bytes,
            mode,
            created: Instant::now(),
            state: AtomicU8::new(LIVE),
        });
        let mut force = self.force;
        let tracked = {
            let mut st = inner.state.lock();
            if st.closing {
                st.counters.refused += 1;
                false
            } else {
                st.counters.created += 1;
                let slot = Slot {
                    entry: entry.clone(),
                    force: force.take(),
                };
                st.entries.insert(entry.id.0, slot);
                true
            }
        };
        // Not registered: the force hook will never run; drop it with no lock held.
        drop(force);
        let handle = TrackedResource {
            value: Some(self.value),
            cleanup: Mutex::new(self.cleanup),
            entry,
            registry: if tracked {
                StdArc::downgrade(inner)
            } else {
                Weak::new()
            },
            // A refused registration reports nothing: it was never registered.
            monitor: if tracked || detach_if_closed {
                inner.monitor.clone()
            } else {
                None
            },
            background: self.background,
        };
        if !tracked && !detach_if_closed {
            return Err(Refused {
                handle,
                error: RegistryError::Closed,
            });
        }
        if let Some(monitor) = &inner.monitor {
            monitor.on_event(&Event::Resource(ResourceEvent::Registered { type_name }));
        }
        Ok(handle)
    }
}

impl<T> fmt::Debug for Registration<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("type_name", &type_name::<T>())
            .field("label", &self.label)
            .field("size_bytes", &self.size_bytes)
            .field("force_hook", &self.force.is_some())
            .field("background", &self.background.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::AtomicUsize;

    fn counter() -> (StdArc<AtomicUsize>, impl FnOnce() + Send + 'static) {
        let n = StdArc::new(AtomicUsize::new(0));
        let c = n.clone();
        (n, move || {
            c.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[test]
    fn resource_drop_runs_cleanup_once_and_deregisters() {
        let registry = ResourceRegistry::new();
        let (n, bump) = counter();
        let h = registry.register_with_cleanup(vec![1u8, 2], move |_| bump());
        assert_eq!(h.len(), 2);
        assert_eq!(registry.active_count(), 1);
        drop(h);
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert_eq!(registry.active_count(), 0);
        assert_eq!(registry.stats().cleaned, 1);
    }

    #[test]
    fn resource_forced_handle_keeps_its_value_and_skips_cleanup() {
        let registry = ResourceRegistry::new();
        let (cleaned, bump) = counter();
        let (forced, force) = counter();
        let h = registry
            .resource(String::from("kept"))
            .cleanup(move |_| bump())
            .on_force(force)
            .register();
        let report = registry.cleanup_all(Duration::ZERO);
        assert_eq!(report.forced, 1);
        assert!(h.is_forced());
        assert_eq!(*h, "kept");
        drop(h);
        assert_eq!(cleaned.load(Ordering::SeqCst), 0);
        assert_eq!(forced.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn resource_detached_handle_after_close_cleans_once() {
        let registry = ResourceRegistry::new();
        registry.cleanup_all(Duration::ZERO);
        let (n, bump) = counter();
        let h = registry.register_with_cleanup(3u8, move |_| bump());
        assert_eq!(registry.active_count(), 0);
        drop(h);
        assert_eq!(n.load(Ordering::SeqCst), 1);
        assert_eq!(registry.stats().refused, 1);
    }
}
