//! Async cleanup on tokio: [`AsyncResourceGuard`], whose cleanup future is spawned on the
//! runtime when it is dropped, an [`Offload`](patinox_memory::resource::Offload) onto
//! tokio's blocking pool ([`RuntimeOffload`]), and an awaitable registry shutdown
//! ([`cleanup_all`]).
//!
//! A guard dropped outside any runtime, or while its runtime shuts down, has its cleanup run
//! on the core's cleanup thread instead: nothing is lost and nothing panics (see
//! [`patinox_memory::resource::AsyncResourceGuard`]).
#![doc = crate::doc_example!(r#"
use adapter::resource::{AsyncResourceGuard, cleanup_all};
use patinox_memory::resource::ResourceRegistry;
use std::time::Duration;

let (tx, rx) = std::sync::mpsc::channel();
let socket = AsyncResourceGuard::new("socket", move |name| async move {
    tx.send(name).unwrap(); // an async close would go here
});
drop(socket); // the cleanup is spawned on the runtime
let closed = loop {
    match rx.try_recv() {
        Ok(name) => break name,
        Err(_) => tokio::task::yield_now().await, // let the runtime run the cleanup
    }
};
assert_eq!(closed, "socket");

// A registry's shutdown, awaited without blocking the executor.
let registry = ResourceRegistry::new();
assert!(cleanup_all(&registry, Duration::from_millis(100)).await.is_clean());
"#)]

pub use patinox_memory::resource::{AsyncCleanup, cleanup_all_async as cleanup_all};

use crate::Tokio;
pub use crate::offload::RuntimeOffload;

/// A value whose async cleanup is spawned on tokio when the guard is dropped: the core's
/// [`AsyncResourceGuard`](patinox_memory::resource::AsyncResourceGuard) with [`Tokio`].
pub type AsyncResourceGuard<T> = patinox_memory::resource::AsyncResourceGuard<T, Tokio>;
