//! [`spawn_expiry`]: a cache's expiry as a task on an async runtime instead of a thread.

use std::hash::{BuildHasher, Hash};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::cache::ShardedCache;
use crate::runtime::Runtime;

/// Spawns a task on the runtime `R` that removes `cache`'s expired entries every `every`
/// ([`ShardedCache::run_pending_cleanup`]), instead of the cache's own background thread.
/// Build the cache without a `cleanup_interval` when using this, so no thread is started.
///
/// The task holds a weak link and ends at its first tick after the last `Arc` of the cache is
/// dropped. `every` is at least 1 ms. The adapters export this with their runtime filled in
/// (`patinox_memory_tokio::cache::spawn_expiry`).
///
/// Returns `false` if there is no runtime to spawn on (for tokio: called outside a runtime).
///
/// In the example, `adapter` stands for an adapter crate (`patinox_memory_tokio` or
/// `patinox_memory_async_std`).
#[doc = crate::async_example!(r#"
use adapter::cache::spawn_expiry;
use patinox_memory::cache::ShardedCache;
use std::sync::Arc;
use std::time::Duration;

let cache: Arc<ShardedCache<String, u64>> = Arc::new(ShardedCache::new(1_000));
assert!(spawn_expiry(&cache, Duration::from_millis(10)));
"#)]
pub fn spawn_expiry<R, K, V, S>(cache: &Arc<ShardedCache<K, V, S>>, every: Duration) -> bool
where
    R: Runtime,
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    let weak: Weak<ShardedCache<K, V, S>> = Arc::downgrade(cache);
    let every = every.max(Duration::from_millis(1));
    R::try_spawn(async move {
        loop {
            R::timer(Instant::now() + every).await;
            let Some(cache) = weak.upgrade() else {
                return;
            };
            cache.run_pending_cleanup();
        }
    })
    .is_ok()
}
