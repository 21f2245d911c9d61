//! What the registry tells about its resources: [`ResourceInfo`], [`RegistryStats`],
//! [`LeakReport`] and the shutdown [`CleanupReport`].

use std::fmt;
use std::time::Duration;

use super::{CleanupMode, ResourceId};

/// Where a registered resource is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceState {
    /// Held by its handle.
    Live,
    /// Its handle was dropped and its cleanup is running (inline or on an offload).
    Cleaning,
}

/// A snapshot of one registered resource, from [`ResourceRegistry::active`].
///
/// [`ResourceRegistry::active`]: super::ResourceRegistry::active
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceInfo {
    /// Its identity.
    pub id: ResourceId,
    /// `std::any::type_name` of the value.
    pub type_name: &'static str,
    /// The label given at registration, if any.
    pub label: Option<String>,
    /// Time since registration.
    pub age: Duration,
    /// The size in bytes given at registration, if any.
    pub size_bytes: Option<u64>,
    /// Where its cleanup runs.
    pub mode: CleanupMode,
    /// Whether it is held or being cleaned up.
    pub state: ResourceState,
    /// Whether it has a force hook, so shutdown can force it while it is still held.
    pub forcible: bool,
}

impl fmt::Display for ResourceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.id, self.type_name)?;
        if let Some(label) = &self.label {
            write!(f, " \"{label}\"")?;
        }
        if let Some(size) = self.size_bytes {
            write!(f, ", {size} bytes")?;
        }
        write!(f, ", age {:?}", self.age)?;
        if self.state == ResourceState::Cleaning {
            write!(f, ", cleaning")?;
        }
        Ok(())
    }
}

/// Counters of a registry since its creation, from [`ResourceRegistry::stats`].
///
/// [`ResourceRegistry::stats`]: super::ResourceRegistry::stats
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RegistryStats {
    /// Resources registered (and tracked).
    pub created: u64,
    /// Cleanups that completed when their holder let go (inline or in the background).
    pub cleaned: u64,
    /// Force hooks that completed at shutdown.
    pub forced: u64,
    /// Cleanups and force hooks that panicked (caught).
    pub failed: u64,
    /// Registrations made after shutdown began (refused by `try_register*`, returned
    /// detached by `register*`).
    pub refused: u64,
    /// Resources registered now.
    pub live: usize,
}

/// Resources older than a threshold, from [`ResourceRegistry::leaks`], oldest first.
///
/// [`ResourceRegistry::leaks`]: super::ResourceRegistry::leaks
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakReport {
    /// The age above which a resource is listed.
    pub threshold: Duration,
    /// The suspected leaks, oldest first.
    pub resources: Vec<ResourceInfo>,
}

impl LeakReport {
    /// Whether nothing is older than the threshold.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// Total of the known sizes of the listed resources.
    pub fn total_bytes(&self) -> u64 {
        self.resources.iter().filter_map(|r| r.size_bytes).sum()
    }
}

impl fmt::Display for LeakReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resource(s) older than {:?}",
            self.resources.len(),
            self.threshold
        )?;
        for r in &self.resources {
            write!(f, "\n  {r}")?;
        }
        Ok(())
    }
}

/// A cleanup or force hook that panicked during shutdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CleanupFailure {
    /// The resource.
    pub id: ResourceId,
    /// Its type name.
    pub type_name: &'static str,
    /// Its label, if any.
    pub label: Option<String>,
    /// Whether it was the force hook (rather than the holder's cleanup) that panicked.
    pub forced: bool,
    /// The panic message.
    pub message: String,
}

/// How one [`ManagedComponent`](super::ManagedComponent) shut down.
#[derive(Debug)]
pub struct ComponentOutcome {
    /// The component's name.
    pub name: String,
    /// `Ok`, the component's error, [`Error::Panicked`](crate::Error::Panicked) if it
    /// panicked, or [`Error::Timeout`](crate::Error::Timeout) if it had not finished by the
    /// deadline.
    pub result: Result<(), crate::Error>,
    /// How long it took (for a timeout: how long it was waited for).
    pub took: Duration,
}

/// What [`ResourceRegistry::cleanup_all`] did.
///
/// Every resource registered when shutdown began is in exactly one of `graceful`, `forced`,
/// `failed` or `still_held` (failed also counts holders' cleanups that panicked during the
/// wait).
///
/// [`ResourceRegistry::cleanup_all`]: super::ResourceRegistry::cleanup_all
#[derive(Debug, Default)]
pub struct CleanupReport {
    /// Cleanups that completed, during the wait, because their holders let go.
    pub graceful: usize,
    /// Resources forced at the deadline whose force hook completed.
    pub forced: usize,
    /// Cleanups and force hooks that panicked during shutdown.
    pub failed: usize,
    /// Details of the failures.
    pub failures: Vec<CleanupFailure>,
    /// Resources still registered when the call returned: held without a force hook, or
    /// with a cleanup still running. Their cleanups run when their holders finish.
    pub still_held: Vec<ResourceInfo>,
    /// One entry per registered component, in registration order.
    pub components: Vec<ComponentOutcome>,
    /// How long the call took.
    pub elapsed: Duration,
}

impl CleanupReport {
    /// Whether everything was cleaned up by its holder or its component in time: nothing
    /// forced, failed, timed out or left behind.
    pub fn is_clean(&self) -> bool {
        self.forced == 0
            && self.failed == 0
            && self.still_held.is_empty()
            && self.components.iter().all(|c| c.result.is_ok())
    }
}

impl fmt::Display for CleanupReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cleanup in {:?}: {} graceful, {} forced, {} failed, {} still held",
            self.elapsed,
            self.graceful,
            self.forced,
            self.failed,
            self.still_held.len()
        )?;
        for fail in &self.failures {
            let what = if fail.forced { "force hook" } else { "cleanup" };
            write!(
                f,
                "\n  {} {} {what} panicked: {}",
                fail.id, fail.type_name, fail.message
            )?;
        }
        for r in &self.still_held {
            write!(f, "\n  still held: {r}")?;
        }
        for c in &self.components {
            match &c.result {
                Ok(()) => write!(f, "\n  component {}: done in {:?}", c.name, c.took)?,
                Err(e) => write!(f, "\n  component {}: {e}", c.name)?,
            }
        }
        Ok(())
    }
}
