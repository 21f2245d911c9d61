//! Caches: [`LruCache`] (single-threaded) and [`ShardedCache`] (concurrent, with TTL, weights,
//! LRU or TinyLFU eviction, single-flight loading and statistics).
//!
//! - [`LruCache`] is a drop-in for the `lru` crate's cache: same method names and meaning,
//!   built on one slab linked by indices (no allocation per entry, no `unsafe`).
//! - [`ShardedCache`] is `Send + Sync`: keys are spread over power-of-two shards, each a
//!   single-threaded store behind its own lock. [`EvictionPolicy::TinyLfu`] keeps frequently
//!   used entries through scans; [`EvictionPolicy::Lru`] (the default) with one shard is an
//!   exact LRU.
//!
//! # Examples
//!
//! ```
//! use patinox_memory::cache::{EvictionPolicy, LruCache, ShardedCache};
//! use std::time::Duration;
//!
//! let mut lru = LruCache::new(2);
//! lru.put(1, "one");
//! lru.put(2, "two");
//! lru.put(3, "three"); // evicts 1
//! assert_eq!(lru.get(&1), None);
//!
//! let cache = ShardedCache::builder()
//!     .max_size(1_000)
//!     .eviction_policy(EvictionPolicy::TinyLfu)
//!     .default_ttl(Duration::from_secs(300))
//!     .build()?;
//! cache.insert("user:1", 7);
//! assert_eq!(cache.get(&"user:1"), Some(7));
//! # Ok::<(), patinox_memory::ConfigError>(())
//! ```

#[cfg(not(loom))]
mod async_expiry;
#[cfg(not(loom))]
mod cleanup;
mod clock;
mod config;
mod lru;
mod policy;
mod sharded;
mod single_flight;
mod sketch;
mod slab;
mod stats;

#[cfg(not(loom))]
pub use async_expiry::spawn_expiry;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{CacheConfig, EvictionPolicy, MAX_SHARDS};
pub use lru::{Iter, LruCache};
pub use sharded::{CacheBuilder, EvictionListener, ShardedCache, Weigher};
pub use single_flight::LoadError;
pub use stats::CacheStats;

/// The most entries any cache of this module holds (entries are addressed by `u32`).
pub const MAX_ENTRIES: usize = u32::MAX as usize - 1;
