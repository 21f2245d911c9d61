//! Memory-management utilities for Rust services.
//!
//! `patinox-memory` is the blocking, runtime-agnostic core of the project. It works from plain
//! threads and from services with no async runtime; the `patinox-memory-tokio` and
//! `patinox-memory-async-std` crates make it native on those runtimes without a second
//! implementation.
//!
//! What is here:
//!
//! - [`error`]: the crate-wide [`Error`], whether a failure is retryable, and [`ConfigError`].
//! - [`cache`]: [`LruCache`](cache::LruCache) and the concurrent [`ShardedCache`](cache::ShardedCache).
//! - [`config`]: durations written as `"30s"`, and overrides from environment variables.
//! - [`pool`]: a fair, blocking connection pool ([`Pool`](pool::Pool)) with health checks,
//!   lifetimes, statistics and a runtime-agnostic engine the async adapters share.
//! - [`monitor`]: the [`Monitor`](monitor::Monitor) trait that every component reports to, and
//!   ready-made [`Metrics`](monitor::Metrics) (counters and latency histograms).
//! - [`resource`]: cleanup guards, a registry of live resources with graceful shutdown, and cleanup offload.
//! - [`mmap`]: memory-mapped files with bounds-checked access, advisory locks and remapping.
//! - [`share`]: immutable, copy-on-write, locked and swappable shared values, and [`ShardedMap`](share::ShardedMap).
//!
//! Every component reports to a monitor with no lock held:
//!
//! ```
//! use patinox_memory::monitor::{CacheEvent, Event, Metrics, Monitor};
//!
//! let metrics = Metrics::new();
//! metrics.on_event(&Event::Cache(CacheEvent::Hit));
//! assert_eq!(metrics.snapshot().cache.hits, 1);
//! ```
//!
//! Errors from any component convert into one [`Error`], which says whether trying again makes
//! sense:
//!
//! ```
//! use patinox_memory::{ConfigError, Error};
//!
//! fn check(max: usize) -> Result<(), Error> {
//!     if max == 0 {
//!         return Err(ConfigError::new("max_connections", "must be at least 1, got 0").into());
//!     }
//!     Ok(())
//! }
//! let err = check(0).unwrap_err();
//! assert!(!err.is_retryable());
//! ```

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// Wraps a doc example of a runtime-generic item: the body runs inside `block_on` with
/// `adapter` standing for an adapter crate (its names, on the example runtime
/// `runtime::example::Threads`), so it reads as it would with `patinox_memory_tokio`.
#[cfg(not(loom))]
macro_rules! async_example {
    ($body:literal) => {
        concat!(
            "\n# Examples\n\n```\n",
            "# use patinox_memory::runtime::example::adapter;\n",
            "# patinox_memory::runtime::block_on(async {\n",
            $body,
            "# Ok::<(), Box<dyn std::error::Error>>(())\n",
            "# }).unwrap();\n```\n"
        )
    };
}
#[cfg(not(loom))]
pub(crate) use async_example;

mod sync;
mod util;
#[cfg(loom)]
#[doc(hidden)]
pub mod wait;
#[cfg(not(loom))]
mod wait;

pub mod cache;
pub mod config;
pub mod error;
pub mod mmap;
pub mod monitor;
pub mod pool;
pub mod resource;
#[cfg(not(loom))]
pub mod runtime;
pub mod share;

pub use error::{BoxError, ConfigError, Error, ErrorClass};
