//! loom models of the resource registry's exactly-once and wake-up paths, driving the real
//! `ResourceRegistry` (its locks and atomics are loom's under `--cfg loom`).
#![cfg(loom)]

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use patinox_memory::resource::ResourceRegistry;

fn bump(n: &Arc<AtomicUsize>) -> impl FnOnce() + Send + 'static {
    let n = n.clone();
    move || {
        n.fetch_add(1, Ordering::SeqCst);
    }
}

/// A holder drops its handle while `cleanup_all` forces it: exactly one of the cleanup and
/// the force hook runs, and the resource leaves the registry either way.
#[test]
fn drop_racing_forced_cleanup_runs_exactly_one_of_them() {
    loom::model(|| {
        let registry = ResourceRegistry::new();
        let cleaned = Arc::new(AtomicUsize::new(0));
        let forced = Arc::new(AtomicUsize::new(0));
        let c = bump(&cleaned);
        let handle = registry
            .resource(1u8)
            .cleanup(move |_| c())
            .on_force(bump(&forced))
            .register();
        let holder = thread::spawn(move || drop(handle));
        // A deadline already past: no wait, straight to forcing.
        let report = registry.cleanup_all(Duration::ZERO);
        holder.join().unwrap();
        let (c, f) = (
            cleaned.load(Ordering::SeqCst),
            forced.load(Ordering::SeqCst),
        );
        assert_eq!(c + f, 1, "cleaned {c} times, forced {f} times");
        assert_eq!(report.forced, f);
        assert_eq!(registry.active_count(), 0);
        let stats = registry.stats();
        assert_eq!(stats.cleaned + stats.forced, 1);
    });
}

/// `cleanup_all` waits on the condition variable while two holders drop their handles on
/// other threads: the last drop must wake it (a lost wake-up is a deadlock loom reports).
/// Drops that happen before shutdown began are ordinary cleanups, the rest are graceful.
#[test]
fn last_holder_drop_wakes_the_shutdown_wait() {
    loom::model(|| {
        let registry = ResourceRegistry::new();
        let cleaned = Arc::new(AtomicUsize::new(0));
        let holders: Vec<_> = (0..2u8)
            .map(|i| {
                let c = bump(&cleaned);
                let handle = registry.register_with_cleanup(i, move |_| c());
                thread::spawn(move || drop(handle))
            })
            .collect();
        // Under loom a future deadline is an untimed wait: only a notification ends it.
        let report = registry.cleanup_all(Duration::from_secs(3600));
        for h in holders {
            h.join().unwrap();
        }
        assert_eq!(cleaned.load(Ordering::SeqCst), 2);
        assert!(report.graceful <= 2);
        assert_eq!((report.forced, report.failed), (0, 0));
        assert!(report.still_held.is_empty());
        assert_eq!(registry.stats().cleaned, 2);
    });
}

/// A registration racing the start of shutdown is either tracked (and then cleaned or
/// reported) or refused, never lost.
#[test]
fn registration_racing_shutdown_is_tracked_or_refused() {
    loom::model(|| {
        let registry = ResourceRegistry::new();
        let cleaned = Arc::new(AtomicUsize::new(0));
        let r = registry.clone();
        let c = bump(&cleaned);
        let registrar = thread::spawn(move || r.try_register_with_cleanup(0u8, move |_| c()));
        let report = registry.cleanup_all(Duration::ZERO);
        let outcome = registrar.join().unwrap();
        match outcome {
            Ok(handle) => {
                // Tracked: it got in before shutdown closed the registry, so the report
                // (taken after closing) lists it as still held: it has no force hook.
                assert_eq!(report.still_held.len(), 1);
                assert_eq!(registry.active_count(), 1);
                drop(handle);
                assert_eq!(cleaned.load(Ordering::SeqCst), 1);
            }
            Err(refused) => {
                assert!(report.still_held.is_empty());
                assert_eq!(refused.into_value(), 0);
                assert_eq!(cleaned.load(Ordering::SeqCst), 0);
            }
        }
        assert_eq!(registry.active_count(), 0);
    });
}
