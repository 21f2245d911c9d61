//! [`RuntimeOffload`]: the core's `Offload` on async-std's blocking pool.

use patinox_memory::resource::{Job, Offload};

/// Runs offloaded cleanups ([`Job`]s) on async-std's blocking thread pool
/// (`async_std::task::spawn_blocking`), which starts on first use; usable from any thread.
///
/// ```
/// use patinox_memory::resource::{Offload, ResourceRegistry};
/// use patinox_memory_async_std::resource::RuntimeOffload;
/// use std::sync::Arc;
///
/// let registry = ResourceRegistry::builder().offload(Arc::new(RuntimeOffload)).build();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let handle = registry.resource(5u32).cleanup(move |v| tx.send(v).unwrap()).background().register();
/// drop(handle);
/// assert_eq!(rx.recv().unwrap(), 5);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RuntimeOffload;

impl RuntimeOffload {
    /// The offload (async-std has one global runtime, so this always succeeds; it mirrors
    /// the tokio adapter's `RuntimeOffload::current`).
    pub fn current() -> Option<Self> {
        Some(Self)
    }
}

impl Offload for RuntimeOffload {
    fn offload(&self, job: Job) -> Result<(), Job> {
        drop(async_std::task::spawn_blocking(job));
        Ok(())
    }
}
