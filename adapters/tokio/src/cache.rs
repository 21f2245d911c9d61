//! Caches on the runtime: async single-flight loads, and expiry as a runtime task.
//!
//! The cache is the core's [`ShardedCache`]. Its async loads,
//! [`ShardedCache::get_or_insert_with_async`] and
//! [`ShardedCache::try_get_or_insert_with_async`], are plain futures that need no runtime:
//! concurrent loads of one key run one loader and the other callers wait (their `Waker`s in
//! the same FIFO queue as blocking callers); a cancelled loader hands its turn to the next
//! waiter. This module adds what needs the runtime: [`spawn_expiry`], a task that removes
//! expired entries every interval instead of the cache's own background thread.
#![doc = crate::doc_example!(r#"
use adapter::cache::spawn_expiry;
use patinox_memory::cache::ShardedCache;
use std::sync::Arc;
use std::time::Duration;

let cache: Arc<ShardedCache<String, u64>> = Arc::new(ShardedCache::new(1_000));
let v = cache.get_or_insert_with_async("answer".to_owned(), || async { 42 }).await;
assert_eq!(v, 42);
// Expired entries are removed by a task on the runtime, not by a thread of their own.
assert!(spawn_expiry(&cache, Duration::from_secs(1)));
"#)]

use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::time::Duration;

pub use patinox_memory::cache::{LoadError, ShardedCache};

use crate::Tokio;

/// Spawns a task on the current runtime that removes `cache`'s expired entries every `every`
/// ([`ShardedCache::run_pending_cleanup`]); the core's
/// [`spawn_expiry`](patinox_memory::cache::spawn_expiry) on this crate's runtime. The task
/// holds a weak link and ends at its first tick after the last `Arc` of the cache is dropped.
/// Build the cache without a `cleanup_interval` when using this, so no thread is started.
///
/// Returns `false` if there is no runtime to spawn on.
pub fn spawn_expiry<K, V, S>(cache: &Arc<ShardedCache<K, V, S>>, every: Duration) -> bool
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
    S: BuildHasher + Send + Sync + 'static,
{
    patinox_memory::cache::spawn_expiry::<Tokio, K, V, S>(cache, every)
}
