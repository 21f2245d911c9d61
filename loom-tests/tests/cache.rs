//! loom models of the cache's single-flight loads (`ShardedCache::get_or_insert_with` and
//! friends) on the core's waiter queue: the loader finishes, fails or panics while another
//! caller waits, or while a waiter gives up.
//!
//! Under loom a timed wait only times out if its deadline has already passed, so the "leaves"
//! model uses a zero timeout: the waiter either finds the value, becomes the loader, or leaves.
#![cfg(loom)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use loom::thread;
use patinox_memory::cache::{LoadError, ShardedCache};

fn cache() -> ShardedCache<u32, u32> {
    ShardedCache::builder()
        .max_size(8)
        .shards(1)
        .build()
        .unwrap()
}

/// Invariant: two callers loading the same key both get the value, and exactly one loader
/// runs (single flight).
#[test]
fn waiter_gets_the_value_of_a_loader_that_finishes() {
    loom::model(|| {
        let c = cache();
        let c2 = c.clone();
        let other = thread::spawn(move || c2.get_or_insert_with(1, || 5));
        let mine = c.get_or_insert_with(1, || 5);
        assert_eq!(mine, 5);
        assert_eq!(other.join().unwrap(), 5);
        assert_eq!(c.stats().loads, 1, "exactly one loader ran");
    });
}

/// Invariant: a failed loader hands the loader role on; the waiting caller loads and gets its
/// value, and the failure reaches only the caller whose loader failed.
#[test]
fn next_waiter_loads_after_a_loader_fails() {
    loom::model(|| {
        let c = cache();
        let c2 = c.clone();
        let failing = thread::spawn(move || c2.try_get_or_insert_with(1, || Err::<u32, _>("down")));
        let mine = c.try_get_or_insert_with(1, || Ok::<_, &str>(7));
        let theirs = failing.join().unwrap();
        assert_eq!(mine, Ok(7));
        // The failing caller either failed itself or arrived after the value was loaded.
        assert!(theirs == Err("down") || theirs == Ok(7), "{theirs:?}");
        assert_eq!(c.get(&1), Some(7));
    });
}

/// Invariant: a panicking loader hands the loader role on; the waiting caller loads, the
/// value is cached, and the panic reaches only the caller whose loader panicked.
#[test]
fn next_waiter_loads_after_a_loader_panics() {
    loom::model(|| {
        let c = cache();
        let c2 = c.clone();
        let panicking = thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                c2.get_or_insert_with(1, || -> u32 { panic!("loader bug") })
            }))
            .ok()
        });
        let mine = c.get_or_insert_with(1, || 8);
        let theirs = panicking.join().unwrap();
        assert_eq!(mine, 8);
        assert!(theirs.is_none() || theirs == Some(8));
        assert_eq!(c.get(&1), Some(8));
    });
}

/// Invariant: a waiter giving up (timeout) while the loader fails never leaves the key with
/// a dead flight: a later caller still loads or finds the value.
#[test]
fn a_waiter_that_leaves_never_strands_the_loader_role() {
    loom::model(|| {
        let c = cache();
        let c2 = c.clone();
        let failing = thread::spawn(move || c2.try_get_or_insert_with(1, || Err::<u32, _>(())));
        let leaver = c.try_get_or_insert_with_timeout(1, Duration::ZERO, || Ok::<_, ()>(9));
        assert!(
            matches!(leaver, Ok(9) | Err(LoadError::TimedOut { .. })),
            "{leaver:?}"
        );
        let _ = failing.join().unwrap();
        // Whatever happened, a later caller is not stuck behind a dead flight.
        let after = c.get_or_insert_with(1, || 3);
        assert!(after == 9 || after == 3);
    });
}
