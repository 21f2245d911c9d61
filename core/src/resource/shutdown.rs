//! [`ResourceRegistry::cleanup_all`]: close, wait for holders and components, force, report.
//!
//! Lock order: only the registry's `state` lock is taken here, never together with another
//! lock, and no user code runs under it (see `registry.rs`).

use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::component::ManagedComponent;
use super::offload::Job;
use super::registry::{Entry, FORCED, Inner, LIVE, ResourceRegistry};
use super::report::{CleanupFailure, CleanupReport, ComponentOutcome, ResourceInfo};
use super::run::report;
use crate::sync::{Ordering, StdArc, thread};
use crate::util::catch_panic;

/// How far "no deadline" reaches when `now + timeout` overflows.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A component's shutdown result, sent from its thread: (index, result, took).
type Finished = (usize, Result<(), crate::Error>, Duration);

impl ResourceRegistry {
    /// Shuts down: closes the registry, waits up to `timeout` for holders to drop their
    /// resources and for components to shut down, then runs the force hooks of the resources
    /// still held, and reports.
    ///
    /// The wait sleeps on a condition variable (woken when the last resource goes), never
    /// spins. Components shut down in parallel, each on its own thread, and are given the
    /// same deadline; one still running at the deadline is reported as
    /// [`Error::Timeout`](crate::Error::Timeout) and left to finish. The call returns shortly
    /// after the deadline at the latest: only the force hooks (which should be quick) run
    /// after it. Calling it again waits and forces again (components are shut down once).
    ///
    /// See the [module docs](super) for what forcing does and does not do.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::resource::ResourceRegistry;
    /// use std::time::Duration;
    ///
    /// let registry = ResourceRegistry::new();
    /// let held = registry.resource(1u8).label("never released").register();
    /// let report = registry.cleanup_all(Duration::from_millis(10));
    /// // No force hook: it cannot be forced, so it is reported and stays registered.
    /// assert_eq!(report.still_held[0].label.as_deref(), Some("never released"));
    /// drop(held); // its cleanup runs now
    /// assert_eq!(registry.active_count(), 0);
    /// ```
    pub fn cleanup_all(&self, timeout: Duration) -> CleanupReport {
        let inner = &*self.inner;
        let start = Instant::now();
        let deadline = start
            .checked_add(timeout)
            .or_else(|| start.checked_add(FAR_FUTURE))
            .unwrap_or(start);

        let (cleaned_before, components, offload) = {
            let mut st = inner.state.lock();
            st.closing = true;
            st.failures.clear();
            (
                st.counters.cleaned,
                std::mem::take(&mut st.components),
                st.offload.take(),
            )
        };
        // The background thread exits once the handles still using it are gone.
        drop(offload);

        let (mut outcomes, finished) = start_components(components, deadline);
        inner.wait_drained(deadline);
        collect_components(&mut outcomes, &finished, deadline);
        let (forced, force_failures) = inner.force_held();

        let (graceful, mut failures, remaining) = {
            let mut st = inner.state.lock();
            st.counters.forced += forced as u64;
            st.counters.failed += force_failures.len() as u64;
            let remaining: Vec<(StdArc<Entry>, bool)> = st
                .entries
                .values()
                .map(|s| (s.entry.clone(), s.force.is_some()))
                .collect();
            (
                st.counters.cleaned.saturating_sub(cleaned_before),
                std::mem::take(&mut st.failures),
                remaining,
            )
        };
        failures.extend(force_failures);
        let now = Instant::now();
        let mut still_held: Vec<ResourceInfo> = remaining
            .iter()
            .map(|(entry, forcible)| entry.info(now, *forcible))
            .collect();
        still_held.sort_by_key(|i| i.id);

        let components = outcomes
            .into_iter()
            .map(|(name, outcome)| {
                outcome.unwrap_or_else(|| ComponentOutcome {
                    name,
                    result: Err(crate::Error::Timeout {
                        operation: "component shutdown",
                        waited: timeout,
                        last_error: None,
                    }),
                    took: timeout,
                })
            })
            .collect();

        CleanupReport {
            graceful: usize::try_from(graceful).unwrap_or(usize::MAX),
            forced,
            failed: failures.len(),
            failures,
            still_held,
            components,
            elapsed: start.elapsed(),
        }
    }
}

/// Starts each component's shutdown on a thread of its own. Returns one (name, outcome) per
/// component, in order (the outcome is already set if its thread could not start), and the
/// channel the threads report on.
fn start_components(
    components: Vec<StdArc<dyn ManagedComponent>>,
    deadline: Instant,
) -> (Vec<(String, Option<ComponentOutcome>)>, Receiver<Finished>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let outcomes = components
        .into_iter()
        .enumerate()
        .map(|(index, component)| {
            let name = component.name().to_owned();
            let tx = tx.clone();
            let spawned = thread::Builder::new()
                .name("patinox-shutdown".into())
                .spawn(move || {
                    let began = Instant::now();
                    let result =
                        catch_panic(|| component.shutdown(deadline)).unwrap_or_else(|message| {
                            Err(crate::Error::Panicked {
                                what: "component shutdown",
                                message,
                            })
                        });
                    // The receiver is gone if cleanup_all stopped waiting: nothing to do.
                    let _ = tx.send((index, result, began.elapsed()));
                });
            let outcome = spawned.err().map(|source| ComponentOutcome {
                name: name.clone(),
                result: Err(crate::Error::Io {
                    operation: "spawn component shutdown thread",
                    path: None,
                    source,
                }),
                took: Duration::ZERO,
            });
            (name, outcome)
        })
        .collect();
    (outcomes, rx)
}

/// Records the components that report by `deadline` (and any already reported after it).
fn collect_components(
    outcomes: &mut [(String, Option<ComponentOutcome>)],
    finished: &Receiver<Finished>,
    deadline: Instant,
) {
    let mut pending = outcomes.iter().filter(|(_, o)| o.is_none()).count();
    while pending > 0 {
        let received = match finished.try_recv() {
            Ok(r) => Ok(r),
            Err(_) => finished.recv_deadline(deadline),
        };
        let Ok((index, result, took)) = received else {
            break;
        };
        if let Some((name, slot @ None)) = outcomes.get_mut(index) {
            *slot = Some(ComponentOutcome {
                name: name.clone(),
                result,
                took,
            });
            pending -= 1;
        }
    }
}

impl Inner {
    /// Sleeps until no resource is registered or `deadline` passes.
    fn wait_drained(&self, deadline: Instant) {
        let mut st = self.state.lock();
        while !st.entries.is_empty() {
            if self.drained.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
    }

    /// Runs the force hook of every resource still held that has one, exactly once; returns
    /// how many completed and the ones that panicked.
    fn force_held(&self) -> (usize, Vec<CleanupFailure>) {
        let (to_force, notify) = {
            let mut st = self.state.lock();
            let mut to_force: Vec<(StdArc<Entry>, Job)> = Vec::new();
            st.entries.retain(|_, slot| {
                if slot.force.is_none() {
                    return true;
                }
                // The holder may be releasing it right now: whoever wins this
                // compare-exchange finishes the resource, the other does nothing.
                let won = slot
                    .entry
                    .state
                    .compare_exchange(LIVE, FORCED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok();
                match (won, slot.force.take()) {
                    (true, Some(hook)) => {
                        to_force.push((slot.entry.clone(), hook));
                        false
                    }
                    (_, hook) => {
                        slot.force = hook;
                        true
                    }
                }
            });
            let notify = !to_force.is_empty() && st.entries.is_empty();
            (to_force, notify)
        };
        if notify {
            // Another cleanup_all may be waiting for the registry to drain.
            self.drained.notify_all();
        }
        let mut forced = 0;
        let mut failures = Vec::new();
        for (entry, hook) in to_force {
            let began = Instant::now();
            let outcome = catch_panic(hook);
            if let Some(monitor) = &self.monitor {
                report(
                    monitor.as_ref(),
                    entry.type_name,
                    true,
                    began.elapsed(),
                    &outcome,
                );
            }
            match outcome {
                Ok(()) => forced += 1,
                Err(message) => failures.push(CleanupFailure {
                    id: entry.id,
                    type_name: entry.type_name,
                    label: entry.label.clone(),
                    forced: true,
                    message,
                }),
            }
        }
        (forced, failures)
    }
}
