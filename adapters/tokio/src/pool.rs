//! A fair async connection pool on tokio: the core's [`AsyncPool`] with [`Tokio`] as its
//! runtime.
//!
//! There is one pool implementation, the core's pool engine; [`AsyncPool`] drives it from
//! futures, and this module names it for tokio. A get that has to wait is a `Waker` in the
//! engine's FIFO line (no OS thread, no `spawn_blocking`), deadlines are kept on tokio's
//! timer, and background upkeep runs as a task on the runtime that ends when the pool is
//! dropped. Blocking threads on the core's [`patinox_memory::pool::Pool`] and tasks here
//! follow the same rules: direct hand-off to the oldest waiter, no cutting in line, the same
//! health checks, lifetimes, statistics and errors.
//!
//! # Cancel safety
//!
//! Every future of the pool may be dropped at any await point without leaking anything: a
//! get waiting in line leaves it (a connection or permit handed to it meanwhile goes to the
//! next waiter), a get that was opening a connection gives its slot back, and a get that was
//! checking a connection (`test_on_check_out`) closes it and frees its slot.
#![doc = crate::doc_example!(r#"
use adapter::pool::{ManageConnection, Pool};
use std::time::Duration;

struct Numbers;
impl ManageConnection for Numbers {
    type Connection = Vec<u32>;
    type Error = std::io::Error;
    async fn connect(&self) -> Result<Vec<u32>, std::io::Error> { Ok(Vec::new()) }
    async fn is_valid(&self, _: &mut Vec<u32>) -> Result<(), std::io::Error> { Ok(()) }
}

let pool = Pool::builder(Numbers)
    .max_connections(1)
    .connection_timeout(Duration::from_secs(1))
    .build()?;
let mut conn = pool.get().await?;
conn.push(1);
// The only connection is out: a second get times out on tokio's timer.
let err = pool.get_timeout(Duration::from_millis(10)).await.unwrap_err();
assert!(err.is_timeout());
drop(conn); // back in the pool
assert_eq!(*pool.get().await?, vec![1]);
"#)]

pub use patinox_memory::pool::{
    AsyncManageConnection as ManageConnection, AsyncPool, AsyncPoolBuilder,
    AsyncPooledConnection as PooledConnection, CustomizeConnection, NoopCustomizer, PoolConfig,
    PoolError, PoolState, PoolStats,
};

use crate::Tokio;

/// The async pool on tokio: [`AsyncPool`] with [`Tokio`] (see [`AsyncPool`] for its
/// methods).
pub type Pool<M> = AsyncPool<M, Tokio>;

/// Builds a [`Pool`]: [`AsyncPoolBuilder`] with [`Tokio`].
pub type PoolBuilder<M> = AsyncPoolBuilder<M, Tokio>;
