//! async-std adapter for [`patinox_memory`]: an async connection pool, async cleanup, and the
//! core's types, native on async-std.
//!
//! **async-std is discontinued upstream** (its authors point to `smol`). This adapter is kept
//! working for the services that still run on it. Nothing here is tied to async-std beyond a
//! timer and a spawner: the core's waiting (the pool's FIFO line, the waiter queue) is plain
//! `Future`s and `Waker`s that need no runtime at all, so moving to another executor only
//! means swapping those two.
//!
//! The API is the tokio adapter's, item for item, and so is the code behind it: the pool, the
//! async guard and the expiry task are the core's runtime-generic types
//! ([`AsyncPool`](patinox_memory::pool::AsyncPool) and so on), named here with [`AsyncStd`]
//! as their [`Runtime`](patinox_memory::runtime::Runtime).
//!
//! - [`cache`][]: async single-flight loads and expiry as a runtime task.
//! - [`pool`][]: [`Pool`](pool::Pool) with an async [`ManageConnection`](pool::ManageConnection).
//! - [`resource`][]: [`AsyncResourceGuard`](resource::AsyncResourceGuard),
//!   [`RuntimeOffload`](resource::RuntimeOffload) and an awaitable
//!   [`cleanup_all`](resource::cleanup_all).
//! - [`share`][]: `read`/`write` on shared data that wait without blocking the executor.
//!
//! ```
//! use patinox_memory_async_std::pool::{ManageConnection, Pool};
//!
//! struct Counter;
//! impl ManageConnection for Counter {
//!     type Connection = u64;
//!     type Error = std::io::Error;
//!     async fn connect(&self) -> Result<u64, std::io::Error> { Ok(0) }
//!     async fn is_valid(&self, _: &mut u64) -> Result<(), std::io::Error> { Ok(()) }
//! }
//!
//! #[async_std::main]
//! async fn main() -> Result<(), patinox_memory::Error> {
//!     let pool = Pool::builder(Counter).max_connections(2).build()?;
//!     *pool.get().await? += 1;
//!     assert_eq!(*pool.get().await?, 1);
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

/// Wraps a doc example's body so it runs on this crate's runtime, with the crate imported as
/// `adapter` (the examples read the same in both adapter crates).
macro_rules! doc_example {
    ($body:literal) => {
        concat!(
            "\n# Examples\n\n```\n",
            "# use patinox_memory_async_std as adapter;\n",
            "# async_std::task::block_on(async {\n",
            $body,
            "# Ok::<(), Box<dyn std::error::Error>>(())\n",
            "# }).unwrap();\n```\n"
        )
    };
}
pub(crate) use doc_example;

mod offload;
mod rt;

pub mod cache;
pub mod pool;
pub mod resource;
pub mod share;

/// The blocking core this adapter builds on.
pub use patinox_memory as core;
pub use rt::AsyncStd;
