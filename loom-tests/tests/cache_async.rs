//! loom models of the cache's async single-flight loads (`get_or_insert_with_async`): a task
//! whose load is cancelled (its future dropped) mid-load, or while waiting, racing a blocking
//! caller of the same key. The future is polled by hand with a no-op waker; the blocking
//! caller is a loom thread.
#![cfg(loom)]

use std::future::Future;
use std::task::{Context, Poll, Waker};

use loom::thread;
use patinox_memory::cache::ShardedCache;

fn cache() -> ShardedCache<u32, u32> {
    ShardedCache::builder()
        .max_size(8)
        .shards(1)
        .build()
        .unwrap()
}

/// Invariant: cancelling an async load (dropping its future) never strands the key: the
/// blocked caller of the same key loads (or finds) the value, and it is cached.
#[test]
fn a_cancelled_async_loader_hands_the_load_to_a_blocked_caller() {
    loom::model(|| {
        let c = cache();
        let c2 = c.clone();
        let other = thread::spawn(move || c2.get_or_insert_with(1, || 6));
        {
            // Loads with a loader that never finishes, or waits for `other`'s load; either
            // way it is dropped after one poll.
            let mut load = Box::pin(c.get_or_insert_with_async(1, std::future::pending));
            let polled = load.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            assert!(matches!(polled, Poll::Pending | Poll::Ready(6)));
        }
        assert_eq!(other.join().unwrap(), 6);
        assert_eq!(c.get(&1), Some(6));
    });
}

/// Invariant: an async waiter and a blocking loader of the same key share one load: both get
/// the value and exactly one loader runs.
#[test]
fn an_async_waiter_gets_the_value_of_a_blocking_loader() {
    loom::model(|| {
        let c = cache();
        let c2 = c.clone();
        let other = thread::spawn(move || c2.get_or_insert_with(1, || 4));
        let mut load = Box::pin(c.get_or_insert_with_async(1, || async { 4 }));
        let got = loop {
            if let Poll::Ready(v) = load.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
                break v;
            }
            thread::yield_now();
        };
        assert_eq!(got, 4);
        assert_eq!(other.join().unwrap(), 4);
        assert_eq!(c.stats().loads, 1, "exactly one loader ran");
    });
}
