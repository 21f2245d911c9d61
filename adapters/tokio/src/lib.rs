//! tokio adapter for [`patinox_memory`].
//!
//! The adapter adds only what needs a runtime (timers, spawning, async connection managers)
//! on top of the blocking core; every data structure is the core's own. Its async pool,
//! async resource guard and async cache loads are not built yet (see the README's feature
//! table); today it re-exports the core so code can depend on this crate alone.
//!
//! ```
//! use patinox_memory_tokio::core::monitor::Metrics;
//! let metrics = Metrics::new();
//! assert_eq!(metrics.snapshot().pool.acquired, 0);
//! ```

#![forbid(unsafe_code)]

/// The blocking core this adapter builds on.
pub use patinox_memory as core;
