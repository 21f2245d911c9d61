//! [`RuntimeOffload`]: the core's `Offload` on tokio's blocking pool.

use std::fmt;

use patinox_memory::resource::{BackgroundOffload, Job, Offload};

/// Runs offloaded cleanups ([`Job`]s) on tokio's blocking thread pool.
///
/// It keeps a handle to the runtime it was created in, so it can be used from any thread.
/// When the runtime is gone or shutting down, a job it cannot run goes to the core's cleanup
/// thread ([`BackgroundOffload::shared`]) instead: no cleanup is lost.
///
/// ```
/// use patinox_memory::resource::{Offload, ResourceRegistry};
/// use patinox_memory_tokio::resource::RuntimeOffload;
/// use std::sync::Arc;
///
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).build().unwrap();
/// let offload = rt.block_on(async { RuntimeOffload::current() }).unwrap();
/// let registry = ResourceRegistry::builder().offload(Arc::new(offload)).build();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let handle = registry.resource(5u32).cleanup(move |v| tx.send(v).unwrap()).background().register();
/// drop(handle);
/// assert_eq!(rx.recv().unwrap(), 5);
/// ```
#[derive(Clone)]
pub struct RuntimeOffload {
    handle: tokio::runtime::Handle,
}

impl RuntimeOffload {
    /// An offload onto the runtime this is called in; `None` outside any runtime.
    pub fn current() -> Option<Self> {
        tokio::runtime::Handle::try_current()
            .ok()
            .map(|handle| Self { handle })
    }

    /// An offload onto the runtime behind `handle`.
    pub fn new(handle: tokio::runtime::Handle) -> Self {
        Self { handle }
    }
}

impl fmt::Debug for RuntimeOffload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeOffload")
            .field("runtime", &"tokio")
            .finish()
    }
}

/// A job on its way to the blocking pool; if the runtime drops it unrun, it runs on the
/// core's cleanup thread instead.
struct Once(Option<Job>);

impl Once {
    fn run(mut self) {
        if let Some(job) = self.0.take() {
            job();
        }
    }
}

impl Drop for Once {
    fn drop(&mut self) {
        if let Some(job) = self.0.take() {
            BackgroundOffload::run_shared(job);
        }
    }
}

impl Offload for RuntimeOffload {
    fn offload(&self, job: Job) -> Result<(), Job> {
        let once = Once(Some(job));
        drop(self.handle.spawn_blocking(move || once.run()));
        Ok(())
    }
}
