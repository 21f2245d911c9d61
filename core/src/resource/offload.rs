//! Cleanup offload: the [`Offload`] trait and the core's one-thread [`BackgroundOffload`].

use std::fmt;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::sync::{AtomicU64, Ordering, StdArc, thread};
use crate::util::catch_panic;

/// A unit of work handed to an [`Offload`].
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Runs work that must not run on the dropping thread (slow destructors, blocking cleanups).
///
/// The core's implementation is [`BackgroundOffload`] (one background thread); the async
/// adapters implement it on their runtime's blocking pool. Implementations must be cheap to
/// call and must not run the job inline while the caller may hold a lock.
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::{Job, Offload};
///
/// /// Runs every job on a fresh thread.
/// struct ThreadPerJob;
///
/// impl Offload for ThreadPerJob {
///     fn offload(&self, job: Job) -> Result<(), Job> {
///         std::thread::spawn(job);
///         Ok(())
///     }
/// }
/// let (tx, rx) = std::sync::mpsc::channel();
/// assert!(ThreadPerJob.offload(Box::new(move || tx.send(7).unwrap())).is_ok());
/// assert_eq!(rx.recv().unwrap(), 7);
/// ```
pub trait Offload: Send + Sync + 'static {
    /// Schedules `job` to run soon on another thread.
    ///
    /// # Errors
    ///
    /// Returns the job back when it cannot be scheduled (the runtime or thread is gone); the
    /// caller then runs it inline, so no cleanup is ever lost.
    fn offload(&self, job: Job) -> Result<(), Job>;
}

impl<O: Offload + ?Sized> Offload for StdArc<O> {
    fn offload(&self, job: Job) -> Result<(), Job> {
        (**self).offload(job)
    }
}

/// An [`Offload`] that runs every job at once on the calling thread.
///
/// Useful in tests and as an explicit "no background work" choice.
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::{InlineOffload, Offload};
///
/// let (tx, rx) = std::sync::mpsc::channel();
/// assert!(InlineOffload.offload(Box::new(move || tx.send(()).unwrap())).is_ok());
/// // Already ran, on this thread.
/// assert!(rx.try_recv().is_ok());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct InlineOffload;

impl Offload for InlineOffload {
    fn offload(&self, job: Job) -> Result<(), Job> {
        job();
        Ok(())
    }
}

/// The core's [`Offload`]: one background thread that runs jobs in submission order.
///
/// [`new`](Self::new) starts a private thread; [`shared`](Self::shared) hands out the
/// process-wide one. Clones share the thread. The thread owns only the receiving end of a
/// crossbeam channel; when the last clone (and every guard or handle holding one) is
/// dropped, the channel disconnects, the thread finishes the jobs already queued and exits.
/// A panicking job is caught and counted ([`BackgroundOffload::panicked_jobs`]); the thread
/// keeps running.
///
/// The worker uses a real OS thread and a crossbeam channel, neither of which loom models;
/// the loom models use immediate cleanup.
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::{BackgroundOffload, Offload};
/// use std::time::Duration;
///
/// let offload = BackgroundOffload::new().unwrap();
/// let exit = offload.exit_watch();
/// let (tx, rx) = std::sync::mpsc::channel();
/// let job = Box::new(move || tx.send(std::thread::current().id()).unwrap());
/// assert!(offload.offload(job).is_ok());
/// assert_ne!(rx.recv().unwrap(), std::thread::current().id());
/// drop(offload);
/// assert!(exit.wait(Duration::from_secs(5)));
/// ```
#[derive(Clone)]
pub struct BackgroundOffload {
    worker: StdArc<Worker>,
}

/// The sending side of one worker thread; the thread exits once this is dropped.
struct Worker {
    tx: Sender<Job>,
    counters: StdArc<WorkerCounters>,
    exited: Receiver<()>,
}

/// The process-wide worker behind [`BackgroundOffload::shared`]; weak, so it does not keep
/// the thread alive. Not under loom: a static cannot hold loom's primitives, and the worker
/// is outside the models anyway.
#[cfg(not(loom))]
static SHARED: crate::sync::Mutex<Option<crate::sync::Weak<Worker>>> =
    crate::sync::Mutex::new(None);

#[derive(Default)]
struct WorkerCounters {
    done: AtomicU64,
    panicked: AtomicU64,
}

impl BackgroundOffload {
    /// Starts the background cleanup thread (named `patinox-cleanup`).
    ///
    /// # Errors
    ///
    /// Fails only if the operating system refuses to start a thread.
    pub fn new() -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::unbounded::<Job>();
        // Never sent on: the worker drops it when it exits, which disconnects `exited`.
        let (exit_tx, exited) = crossbeam_channel::bounded::<()>(0);
        let counters = StdArc::new(WorkerCounters::default());
        let worker_counters = counters.clone();
        thread::Builder::new()
            .name("patinox-cleanup".into())
            .spawn(move || {
                let _exit_tx = exit_tx;
                // Ends when every sender is gone and the queue is empty.
                while let Ok(job) = rx.recv() {
                    if catch_panic(job).is_err() {
                        worker_counters.panicked.fetch_add(1, Ordering::Relaxed);
                    }
                    worker_counters.done.fetch_add(1, Ordering::Relaxed);
                }
            })?;
        Ok(Self {
            worker: StdArc::new(Worker {
                tx,
                counters,
                exited,
            }),
        })
    }

    /// A handle to the process-wide cleanup thread, started if no handle to it is alive.
    ///
    /// Every caller shares one thread (the registries' default offload is this one); it
    /// exits when the last handle from `shared` is dropped, and the next call starts a new
    /// one.
    ///
    /// # Errors
    ///
    /// Fails only if the operating system refuses to start a thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::resource::BackgroundOffload;
    ///
    /// let a = BackgroundOffload::shared().unwrap();
    /// let b = BackgroundOffload::shared().unwrap();
    /// assert!(a.same_thread(&b));
    /// ```
    #[cfg(not(loom))]
    pub fn shared() -> std::io::Result<Self> {
        // Starting a thread under this lock is deliberate: it happens once per thread
        // lifetime, and it is what makes concurrent callers share one thread.
        let mut shared = SHARED.lock();
        if let Some(worker) = shared.as_ref().and_then(crate::sync::Weak::upgrade) {
            return Ok(Self { worker });
        }
        let fresh = Self::new()?;
        *shared = Some(StdArc::downgrade(&fresh.worker));
        Ok(fresh)
    }

    /// Runs `job` on the process-wide cleanup thread ([`BackgroundOffload::shared`]), or on
    /// the calling thread if that thread cannot be started or no longer takes jobs: the last
    /// resort of every path that must not lose a cleanup.
    ///
    /// ```
    /// use patinox_memory::resource::BackgroundOffload;
    ///
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// BackgroundOffload::run_shared(Box::new(move || tx.send(3).unwrap()));
    /// assert_eq!(rx.recv().unwrap(), 3);
    /// ```
    #[cfg(not(loom))]
    pub fn run_shared(job: Job) {
        let job = match Self::shared() {
            Ok(offload) => match offload.offload(job) {
                Ok(()) => return,
                Err(job) => job,
            },
            Err(_) => job,
        };
        job();
    }

    /// Whether `self` and `other` feed the same worker thread.
    pub fn same_thread(&self, other: &Self) -> bool {
        StdArc::ptr_eq(&self.worker, &other.worker)
    }

    /// Jobs queued and not yet started.
    pub fn pending(&self) -> usize {
        self.worker.tx.len()
    }

    /// Jobs finished (including the ones that panicked).
    pub fn completed_jobs(&self) -> u64 {
        self.worker.counters.done.load(Ordering::Relaxed)
    }

    /// Jobs that panicked; the panic was caught and the thread went on.
    pub fn panicked_jobs(&self) -> u64 {
        self.worker.counters.panicked.load(Ordering::Relaxed)
    }

    /// A watch that tells when the worker thread has exited; it does not keep the thread
    /// alive.
    pub fn exit_watch(&self) -> WorkerExit {
        WorkerExit {
            exited: self.worker.exited.clone(),
        }
    }
}

impl Offload for BackgroundOffload {
    fn offload(&self, job: Job) -> Result<(), Job> {
        self.worker.tx.send(job).map_err(|e| e.into_inner())
    }
}

impl fmt::Debug for BackgroundOffload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundOffload")
            .field("pending", &self.pending())
            .field("completed_jobs", &self.completed_jobs())
            .field("panicked_jobs", &self.panicked_jobs())
            .finish()
    }
}

/// Observes the exit of a [`BackgroundOffload`] worker thread without keeping it alive.
#[derive(Debug, Clone)]
pub struct WorkerExit {
    exited: Receiver<()>,
}

impl WorkerExit {
    /// Whether the worker thread has exited.
    pub fn has_exited(&self) -> bool {
        matches!(self.exited.try_recv(), Err(TryRecvError::Disconnected))
    }

    /// Waits up to `timeout` for the worker thread to exit; returns whether it did.
    pub fn wait(&self, timeout: Duration) -> bool {
        matches!(
            self.exited.recv_timeout(timeout),
            Err(RecvTimeoutError::Disconnected)
        )
    }
}
