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
    // An interval reaching past what an Instant can represent never comes due; the thread
    // then only wakes to notice that the cache is gone or its maintenance stopped.
    let due = || Instant::now().checked_add(every);
    let mut next = due();
    loop {
        // park_timeout may wake early (unpark from Drop, or spuriously): re-check the deadline.
        let now = Instant::now();
        match next {
            Some(next) if now < next => thread::park_timeout(next - now),
            Some(_) => {}
            None => thread::park(),
        }
        let Some(inner) = weak.upgrade() else {
            return;
        };
        if inner.maintenance_stopped() {
            inner.mark_cleanup_exited();
            return;
        }
        if next.is_some_and(|next| Instant::now() >= next) {
            inner.run_cleanup();
            next = due();
        }
        drop(inner);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::cache::ShardedCache;
    use std::time::{Duration, Instant};

    /// Regression (found by the `config_builders` fuzz target): an interval beyond what an
    /// `Instant` can represent used to overflow and kill the thread; now it never comes due,
    /// and the thread still stops when asked.
    #[test]
    fn interval_beyond_instant_range_never_comes_due_and_still_stops() {
        let cache: ShardedCache<u32, u32> = ShardedCache::builder()
            .max_size(10)
            .cleanup_interval(Duration::MAX)
            .build()
            .unwrap();
        cache.insert_with_ttl(1, 1, Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            cache.stop_maintenance(Instant::now() + Duration::from_secs(5)),
            "the cleanup thread is alive and exits when stopped"
        );
    }
}
