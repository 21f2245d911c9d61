//! tokio adapter for [`patinox_memory`]: an async connection pool, async cleanup, and the
//! core's types, native on tokio.
//!
//! The adapter adds only what needs a runtime on top of the runtime-free core: [`Tokio`], the
//! core's [`Runtime`](patinox_memory::runtime::Runtime) (a timer, a spawner), and the core's
//! runtime-generic types named with it. Every data structure is the core's own. The pool is
//! the core's pool engine driven from futures: waiting gets are `Waker`s in the core's FIFO
//! line, so they hold no OS thread, and blocking threads and tasks can share one pool's
//! fairness rules.
//!
//! - [`cache`][]: async single-flight loads and expiry as a runtime task.
//! - [`pool`][]: [`Pool`](pool::Pool) with an async [`ManageConnection`](pool::ManageConnection).
//! - [`resource`][]: [`AsyncResourceGuard`](resource::AsyncResourceGuard),
//!   [`RuntimeOffload`](resource::RuntimeOffload) and an awaitable
//!   [`cleanup_all`](resource::cleanup_all).
//! - [`share`][]: `read`/`write` on shared data that wait without blocking the executor.
//!
//! Both runtime flavours work: current-thread and multi-thread.
//!
//! ```
//! use patinox_memory_tokio::pool::{ManageConnection, Pool};
//!
//! struct Counter;
//! impl ManageConnection for Counter {
//!     type Connection = u64;
//!     type Error = std::io::Error;
//!     async fn connect(&self) -> Result<u64, std::io::Error> { Ok(0) }
//!     async fn is_valid(&self, _: &mut u64) -> Result<(), std::io::Error> { Ok(()) }
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
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
            "# use patinox_memory_tokio as adapter;\n",
            "# tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {\n",
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
pub use rt::Tokio;
