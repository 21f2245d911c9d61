//! The optional background thread that removes expired entries.

use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

use super::sharded::Inner;
use crate::sync::{StdArc, Weak, thread};

/// Starts a thread that runs [`Inner::run_cleanup`] every `every`. It holds only a `Weak`, so
/// it never keeps the cache alive; dropping the cache unparks it and it exits.
pub(crate) fn spawn<K, V, S>(inner: &StdArc<Inner<K, V, S>>, every: Duration)
where
    K: Hash + Eq + Send + 'static,
    V: Send + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    let weak: Weak<Inner<K, V, S>> = StdArc::downgrade(inner);
    let spawned = thread::Builder::new()
        .name("patinox-cache-cleanup".into())
        .spawn(move || run(weak, every));
    // If the OS refuses a thread, expired entries are still removed when touched.
    if let Ok(handle) = spawned {
        inner.set_cleanup_thread(handle.thread().clone());
    }
}

fn run<K: Hash + Eq, V, S: BuildHasher>(weak: Weak<Inner<K, V, S>>, every: Duration) {
    let mut next = Instant::now() + every;
    loop {
        // park_timeout may wake early (unpark from Drop, or spuriously): re-check the deadline.
        let now = Instant::now();
        if now < next {
            thread::park_timeout(next - now);
        }
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if inner.maintenance_stopped() {
            inner.mark_cleanup_exited();
            return;
        }
        if Instant::now() >= next {
            inner.run_cleanup();
            next = Instant::now() + every;
        }
        drop(inner);
    }
}
