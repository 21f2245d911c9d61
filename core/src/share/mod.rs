//! Sharing data between threads: immutable, copy-on-write, locked, swappable, and a concurrent
//! map.
//!
//! | type | for | reads | writes |
//! |---|---|---|---|
//! | [`SharedData`] | values that never change (lookup tables) | plain reference | none |
//! | [`CowData`] | values each holder may change privately | plain reference | clone if shared |
//! | [`SharedMutableData`] | values everyone changes and sees | read lock | write lock |
//! | [`Snapshot`] | read-mostly values replaced as a whole (configuration) | lock-free of writers, uncontended | swap |
//! | [`ShardedMap`] / [`SharedMap`] | concurrent key-value data | one shard's read lock | one shard's write lock |
//!
//! # Examples
//!
//! ```
//! use patinox_memory::share::{Snapshot, ShardedMap};
//! use std::sync::Arc;
//!
//! let config = Arc::new(Snapshot::new(String::from("mode=fast")));
//! let sessions = Arc::new(ShardedMap::<u64, String>::new());
//!
//! sessions.insert(1, "alice".into());
//! let greeting = sessions.with(&1, |name| format!("hello {name}, {}", *config.load()));
//! assert_eq!(greeting.as_deref(), Some("hello alice, mode=fast"));
//! ```

mod cow;
mod lock;
mod map;
mod mutable;
mod shared;
mod snapshot;

pub use cow::CowData;
pub use map::{IterCloned, MAX_SHARDS, MIN_DEFAULT_SHARDS, ShardedMap, SharedMap};
#[cfg(not(loom))]
pub use map::{MapRef, MapRefMut};
pub use mutable::{ReadFuture, ReadGuard, SharedMutableData, WriteFuture, WriteGuard};
pub use shared::SharedData;
pub use snapshot::{Snapshot, SnapshotGuard};
