//! [`ResourceGuard`]: a value with a cleanup that runs exactly once when the guard is dropped.

use std::fmt;
use std::ops::{Deref, DerefMut};

use super::CleanupMode;
use super::offload::Offload;
use super::run::{Cleanup, Finish, Offloader, run_cleanup};
use crate::monitor::Monitor;
use crate::sync::{Mutex, StdArc};

/// When a guard's cleanup runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    OnUnwind,
    OnSuccess,
}

/// Owns a value and a cleanup `FnOnce(T)` that runs exactly once, when the guard is dropped.
///
/// The cleanup is caught if it panics: the panic is reported to the guard's [`Monitor`] as
/// [`ResourceEvent::CleanupFailed`](crate::monitor::ResourceEvent::CleanupFailed) (and so
/// counted by [`Metrics`](crate::monitor::Metrics)) and goes no further. That holds during
/// unwinding too, where an escaping panic would abort the process. [`into_inner`] takes the
/// value back without running the cleanup.
///
/// [`on_unwind`] guards clean up only when the thread is panicking (roll back on failure),
/// [`on_success`] guards only when it is not (commit on success); the check is made at drop
/// time with [`std::thread::panicking`]. [`background`] hands the cleanup to an [`Offload`].
///
/// [`into_inner`]: ResourceGuard::into_inner
/// [`on_unwind`]: ResourceGuard::on_unwind
/// [`on_success`]: ResourceGuard::on_success
/// [`background`]: ResourceGuard::background
///
/// # Examples
///
/// ```
/// use patinox_memory::resource::ResourceGuard;
/// use std::sync::mpsc;
///
/// let (tx, rx) = mpsc::channel();
/// let mut guard = ResourceGuard::new(vec![1, 2], move |v: Vec<i32>| tx.send(v.len()).unwrap());
/// guard.push(3);
/// drop(guard);
/// assert_eq!(rx.recv().unwrap(), 3);
///
/// let kept = ResourceGuard::new(5, |_| unreachable!("not run"));
/// assert_eq!(ResourceGuard::into_inner(kept), 5);
/// ```
#[must_use = "the cleanup runs as soon as the guard is dropped"]
pub struct ResourceGuard<T> {
    /// `Some` until the guard is dropped or unwrapped.
    value: Option<T>,
    /// Behind a mutex only so the guard is `Sync` when `T` is; it is reached through
    /// `get_mut`, never locked.
    cleanup: Mutex<Option<Cleanup<T>>>,
    when: When,
    monitor: Option<StdArc<dyn Monitor>>,
    background: Option<Offloader<T>>,
}

impl<T> ResourceGuard<T> {
    /// A guard that runs `cleanup(value)` when dropped.
    pub fn new(value: T, cleanup: impl FnOnce(T) + Send + 'static) -> Self {
        Self::with_when(value, Box::new(cleanup), When::Always)
    }

    /// A guard whose cleanup runs only if the guard is dropped while the thread is panicking
    /// (a rollback). Dropped normally, it just drops the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::resource::ResourceGuard;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let rolled_back = Arc::new(AtomicBool::new(false));
    /// let r = rolled_back.clone();
    /// let result = std::panic::catch_unwind(move || {
    ///     let _undo = ResourceGuard::on_unwind((), move |()| r.store(true, Ordering::SeqCst));
    ///     panic!("step two failed");
    /// });
    /// assert!(result.is_err());
    /// assert!(rolled_back.load(Ordering::SeqCst));
    /// ```
    pub fn on_unwind(value: T, cleanup: impl FnOnce(T) + Send + 'static) -> Self {
        Self::with_when(value, Box::new(cleanup), When::OnUnwind)
    }

    /// A guard whose cleanup runs only if the guard is dropped while the thread is *not*
    /// panicking (a commit). Dropped during unwinding, it just drops the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::resource::ResourceGuard;
    /// use std::sync::mpsc;
    ///
    /// let (tx, rx) = mpsc::channel();
    /// drop(ResourceGuard::on_success("batch", move |b| tx.send(b).unwrap()));
    /// assert_eq!(rx.recv().unwrap(), "batch");
    /// ```
    pub fn on_success(value: T, cleanup: impl FnOnce(T) + Send + 'static) -> Self {
        Self::with_when(value, Box::new(cleanup), When::OnSuccess)
    }

    fn with_when(value: T, cleanup: Cleanup<T>, when: When) -> Self {
        Self {
            value: Some(value),
            cleanup: Mutex::new(Some(cleanup)),
            when,
            monitor: None,
            background: None,
        }
    }

    /// Reports the cleanup's outcome (`Cleaned` or `CleanupFailed`) to `monitor`.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::monitor::Metrics;
    /// use patinox_memory::resource::ResourceGuard;
    /// use std::sync::Arc;
    ///
    /// let metrics = Arc::new(Metrics::new());
    /// drop(ResourceGuard::new(1, |_| panic!("close failed")).with_monitor(metrics.clone()));
    /// assert_eq!(metrics.snapshot().resource.failed, 1);
    /// ```
    pub fn with_monitor(mut self, monitor: StdArc<dyn Monitor>) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Runs the cleanup on `offload` instead of the dropping thread.
    ///
    /// If the offload refuses the job (its thread or runtime is gone), the cleanup runs inline
    /// so it is never lost. The panic catching and monitor reporting happen where it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::resource::{BackgroundOffload, ResourceGuard};
    /// use std::sync::{mpsc, Arc};
    ///
    /// let offload = Arc::new(BackgroundOffload::new().unwrap());
    /// let (tx, rx) = mpsc::channel();
    /// let guard = ResourceGuard::new((), move |()| tx.send(std::thread::current().id()).unwrap())
    ///     .background(offload);
    /// drop(guard);
    /// assert_ne!(rx.recv().unwrap(), std::thread::current().id());
    /// ```
    pub fn background(mut self, offload: StdArc<dyn Offload>) -> Self
    where
        T: Send + 'static,
    {
        self.background = Some(Offloader::new(offload));
        self
    }

    /// Where the cleanup will run.
    pub fn mode(&self) -> CleanupMode {
        if self.background.is_some() {
            CleanupMode::Background
        } else {
            CleanupMode::Immediate
        }
    }

    /// Takes the value back; the cleanup is dropped without running.
    ///
    /// An associated function (`ResourceGuard::into_inner(g)`) so it never shadows a method
    /// of `T`.
    pub fn into_inner(mut guard: Self) -> T {
        drop(guard.cleanup.get_mut().take());
        match guard.value.take() {
            Some(value) => value,
            None => unreachable!("the value is present until drop or into_inner"),
        }
    }
}

impl<T> Deref for ResourceGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match &self.value {
            Some(v) => v,
            None => unreachable!("the value is present until drop or into_inner"),
        }
    }
}

impl<T> DerefMut for ResourceGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.value {
            Some(v) => v,
            None => unreachable!("the value is present until drop or into_inner"),
        }
    }
}

impl<T> Drop for ResourceGuard<T> {
    fn drop(&mut self) {
        let (Some(value), Some(cleanup)) = (self.value.take(), self.cleanup.get_mut().take())
        else {
            return;
        };
        // Not a synchronization primitive: only asks whether this thread is unwinding.
        let panicking = std::thread::panicking();
        let run = match self.when {
            When::Always => true,
            When::OnUnwind => panicking,
            When::OnSuccess => !panicking,
        };
        if !run {
            return;
        }
        let type_name = std::any::type_name::<T>();
        match &self.background {
            None => {
                let _ = run_cleanup(value, Some(cleanup), type_name, self.monitor.as_ref());
            }
            Some(offloader) => offloader.run(
                value,
                Some(cleanup),
                Finish {
                    type_name,
                    monitor: self.monitor.clone(),
                    tracked: None,
                },
            ),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for ResourceGuard<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceGuard")
            .field("value", &self.value)
            .field("when", &self.when)
            .field("mode", &self.mode())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Metrics;
    use crate::sync::{AtomicUsize, Ordering};

    fn counter() -> (StdArc<AtomicUsize>, impl FnOnce(u32) + Send + 'static) {
        let n = StdArc::new(AtomicUsize::new(0));
        let c = n.clone();
        (n, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        })
    }

    #[test]
    fn guard_cleanup_runs_once_on_drop() {
        let (n, f) = counter();
        let g = ResourceGuard::new(3, f);
        assert_eq!(*g, 3);
        assert_eq!(n.load(Ordering::SeqCst), 0);
        drop(g);
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn guard_into_inner_skips_cleanup() {
        let (n, f) = counter();
        let mut g = ResourceGuard::new(3, f);
        *g += 1;
        assert_eq!(ResourceGuard::into_inner(g), 4);
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn guard_panicking_cleanup_is_caught_and_reported() {
        let metrics = StdArc::new(Metrics::new());
        drop(ResourceGuard::new(1, |_| panic!("boom")).with_monitor(metrics.clone()));
        let s = metrics.snapshot().resource;
        assert_eq!((s.cleaned, s.failed), (0, 1));
    }

    #[test]
    fn guard_on_success_skipped_when_unwinding() {
        let (n, f) = counter();
        let r = crate::util::catch_panic(move || {
            let _g = ResourceGuard::on_success(1, f);
            panic!("fail");
        });
        assert!(r.is_err());
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }
}
