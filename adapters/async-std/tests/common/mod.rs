//! Helpers shared by the async-std adapter's test binaries.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use patinox_memory_async_std::pool::{ManageConnection, Pool};

/// An in-memory manager: connections are numbers.
#[derive(Default)]
pub(crate) struct Fake {
    /// Connections opened so far.
    pub(crate) connects: AtomicUsize,
    /// When set, `connect` never completes.
    pub(crate) hang_connect: AtomicBool,
}

impl ManageConnection for Fake {
    type Connection = usize;
    type Error = io::Error;

    async fn connect(&self) -> Result<usize, io::Error> {
        if self.hang_connect.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        Ok(self.connects.fetch_add(1, Ordering::SeqCst))
    }

    async fn is_valid(&self, _conn: &mut usize) -> Result<(), io::Error> {
        Ok(())
    }
}

/// A pool of at most `max` in-memory connections with a 5 s connection timeout.
pub(crate) fn pool(max: usize) -> Pool<Fake> {
    Pool::builder(Fake::default())
        .max_connections(max)
        .connection_timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

/// Live OS threads of this process.
#[allow(dead_code, reason = "used by the thread-count test binary only")]
pub(crate) fn os_threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Polls `fut` once with a waker that does nothing.
#[allow(dead_code, reason = "not every test binary polls by hand")]
pub(crate) fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    std::pin::Pin::new(fut).poll(&mut cx)
}

/// Waits (at most 2 s) until `cond` holds.
pub(crate) async fn until(mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "condition never held"
        );
        async_std::task::sleep(Duration::from_millis(1)).await;
    }
}
