//! Running one cleanup: catch its panic, time it, report it; and handing it to an offload.

use std::time::{Duration, Instant};

use super::offload::{Job, Offload};
use super::registry::{Entry, Inner};
use crate::monitor::{Event, Monitor, ResourceEvent};
use crate::sync::{StdArc, Weak};
use crate::util::catch_panic;

/// A boxed user cleanup.
pub(crate) type Cleanup<T> = Box<dyn FnOnce(T) + Send + 'static>;

/// Runs `cleanup(value)` (or drops `value` when there is no cleanup), catching a panic, and
/// reports the outcome to `monitor` if there is one.
///
/// Must be called with no lock held: it runs user code and the monitor.
pub(crate) fn run_cleanup<T>(
    value: T,
    cleanup: Option<Cleanup<T>>,
    type_name: &str,
    monitor: Option<&StdArc<dyn Monitor>>,
) -> Result<(), String> {
    let start = monitor.map(|_| Instant::now());
    let outcome = catch_panic(move || match cleanup {
        Some(f) => f(value),
        None => drop(value),
    });
    if let Some(m) = monitor {
        let took = start.map_or(Duration::ZERO, |s| s.elapsed());
        report(m.as_ref(), type_name, false, took, &outcome);
    }
    outcome
}

/// Sends the event describing one finished cleanup or force hook.
pub(crate) fn report(
    monitor: &dyn Monitor,
    type_name: &str,
    forced: bool,
    took: Duration,
    outcome: &Result<(), String>,
) {
    let event = match outcome {
        Ok(()) => ResourceEvent::Cleaned {
            type_name,
            forced,
            took,
        },
        Err(message) => ResourceEvent::CleanupFailed { type_name, message },
    };
    monitor.on_event(&Event::Resource(event));
}

/// What to do after a cleanup ran: whom to report to, and which registry entry to remove.
pub(crate) struct Finish {
    pub(crate) type_name: &'static str,
    pub(crate) monitor: Option<StdArc<dyn Monitor>>,
    pub(crate) tracked: Option<(StdArc<Entry>, Weak<Inner>)>,
}

impl Finish {
    /// Runs the cleanup, reports it and deregisters the resource. No lock may be held.
    pub(crate) fn run<T>(&self, value: T, cleanup: Option<Cleanup<T>>) {
        let tracked = self.tracked.as_ref().map(|(e, r)| (&**e, r));
        finish(
            self.type_name,
            self.monitor.as_ref(),
            tracked,
            value,
            cleanup,
        );
    }
}

/// [`Finish::run`] on borrowed parts, for the inline path (no reference counting).
pub(crate) fn finish<T>(
    type_name: &str,
    monitor: Option<&StdArc<dyn Monitor>>,
    tracked: Option<(&Entry, &Weak<Inner>)>,
    value: T,
    cleanup: Option<Cleanup<T>>,
) {
    let outcome = run_cleanup(value, cleanup, type_name, monitor);
    if let Some((entry, registry)) = tracked
        && let Some(inner) = registry.upgrade()
    {
        inner.deregister(entry, outcome);
    }
}

/// Hands the end of a value's life to an [`Offload`].
///
/// The job that moves `T` to another thread needs `T: Send + 'static`, but `Drop` impls
/// cannot add bounds; so the job is built by a function pointer chosen where those bounds
/// are known.
pub(crate) struct Offloader<T> {
    offload: StdArc<dyn Offload>,
    make_job: fn(T, Option<Cleanup<T>>, Finish) -> Job,
}

fn make_job<T: Send + 'static>(value: T, cleanup: Option<Cleanup<T>>, finish: Finish) -> Job {
    Box::new(move || finish.run(value, cleanup))
}

impl<T> Offloader<T> {
    pub(crate) fn new(offload: StdArc<dyn Offload>) -> Self
    where
        T: Send + 'static,
    {
        Self {
            offload,
            make_job: make_job::<T>,
        }
    }

    /// Runs `finish.run(value, cleanup)` on the offload, or inline if the offload refuses.
    pub(crate) fn run(&self, value: T, cleanup: Option<Cleanup<T>>, finish: Finish) {
        let job = (self.make_job)(value, cleanup, finish);
        if let Err(job) = self.offload.offload(job) {
            job();
        }
    }
}

impl<T> std::fmt::Debug for Offloader<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Offloader").finish_non_exhaustive()
    }
}
