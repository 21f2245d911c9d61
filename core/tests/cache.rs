//! Integration tests of the caches through the public API.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use patinox_memory::cache::{
    CacheConfig, EvictionPolicy, LoadError, LruCache, ManualClock, ShardedCache,
};
use patinox_memory::monitor::{Metrics, RemovalCause};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Put(u8, u16),
    Push(u8, u16),
    Get(u8),
    GetMut(u8),
    Peek(u8),
    Contains(u8),
    Pop(u8),
    PopLru,
    Resize(u8),
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..24u8, any::<u16>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0..24u8, any::<u16>()).prop_map(|(k, v)| Op::Push(k, v)),
        6 => (0..24u8).prop_map(Op::Get),
        1 => (0..24u8).prop_map(Op::GetMut),
        2 => (0..24u8).prop_map(Op::Peek),
        1 => (0..24u8).prop_map(Op::Contains),
        2 => (0..24u8).prop_map(Op::Pop),
        1 => Just(Op::PopLru),
        1 => (1..20u8).prop_map(Op::Resize),
        1 => Just(Op::Clear),
    ]
}

fn order(c: &LruCache<u8, u16>) -> Vec<(u8, u16)> {
    c.iter().map(|(k, v)| (*k, *v)).collect()
}

fn lru_order(c: &lru::LruCache<u8, u16>) -> Vec<(u8, u16)> {
    c.iter().map(|(k, v)| (*k, *v)).collect()
}

fn nz(n: usize) -> std::num::NonZeroUsize {
    std::num::NonZeroUsize::new(n).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every operation returns what the `lru` crate returns, and both hold the same entries in
    /// the same recency order afterwards.
    #[test]
    fn lru_cache_matches_the_lru_crate(cap in 1..16usize, ops in proptest::collection::vec(op(), 1..200)) {
        let mut ours = LruCache::new(cap);
        let mut theirs = lru::LruCache::new(nz(cap));
        for op in ops {
            match op {
                Op::Put(k, v) => prop_assert_eq!(ours.put(k, v), theirs.put(k, v)),
                Op::Push(k, v) => prop_assert_eq!(ours.push(k, v), theirs.push(k, v)),
                Op::Get(k) => prop_assert_eq!(ours.get(&k), theirs.get(&k)),
                Op::GetMut(k) => {
                    let a = ours.get_mut(&k).map(|v| { *v = v.wrapping_add(1); *v });
                    let b = theirs.get_mut(&k).map(|v| { *v = v.wrapping_add(1); *v });
                    prop_assert_eq!(a, b);
                }
                Op::Peek(k) => prop_assert_eq!(ours.peek(&k), theirs.peek(&k)),
                Op::Contains(k) => prop_assert_eq!(ours.contains(&k), theirs.contains(&k)),
                Op::Pop(k) => prop_assert_eq!(ours.pop(&k), theirs.pop(&k)),
                Op::PopLru => prop_assert_eq!(ours.pop_lru(), theirs.pop_lru()),
                Op::Resize(n) => {
                    ours.resize(n as usize);
                    theirs.resize(nz(n as usize));
                }
                Op::Clear => { ours.clear(); theirs.clear(); }
            }
            prop_assert_eq!(ours.len(), theirs.len());
            prop_assert_eq!(ours.cap(), theirs.cap().get());
            prop_assert_eq!(order(&ours), lru_order(&theirs));
        }
    }

    /// A one-shard LRU `ShardedCache` is an exact LRU: same hits and same contents as the `lru`
    /// crate under get-then-insert-on-miss with removals and replacements.
    #[test]
    fn one_shard_lru_sharded_cache_is_exact_lru(cap in 1..32usize, ops in proptest::collection::vec((0..3u8, 0..64u16), 1..400)) {
        let ours: ShardedCache<u16, u16> = ShardedCache::builder()
            .max_size(cap).shards(1).eviction_policy(EvictionPolicy::Lru).build().unwrap();
        let mut theirs = lru::LruCache::new(nz(cap));
        for (kind, k) in ops {
            match kind {
                0 => {
                    let a = ours.get(&k);
                    let b = theirs.get(&k).copied();
                    prop_assert_eq!(a, b);
                    if a.is_none() { ours.insert(k, k); theirs.put(k, k); }
                }
                1 => { ours.insert(k, k + 1); theirs.put(k, k + 1); }
                _ => prop_assert_eq!(ours.remove(&k), theirs.pop(&k)),
            }
            prop_assert_eq!(ours.len(), theirs.len());
        }
        for (k, v) in theirs.iter() {
            prop_assert_eq!(ours.peek(k), Some(*v));
        }
    }

    /// The TinyLFU policy never exceeds its bound and never returns a value that was not the
    /// latest one stored, whatever the operation sequence.
    #[test]
    fn tinylfu_respects_bounds_and_returns_latest_values(cap in 1..40usize, ops in proptest::collection::vec((0..4u8, 0..100u16), 1..500)) {
        let cache: ShardedCache<u16, u32> = ShardedCache::builder()
            .max_size(cap).shards(1).eviction_policy(EvictionPolicy::TinyLfu).build().unwrap();
        let mut latest = std::collections::HashMap::new();
        for (i, (kind, k)) in ops.into_iter().enumerate() {
            match kind {
                0 | 1 => { cache.insert(k, i as u32); latest.insert(k, i as u32); }
                2 => if let Some(v) = cache.get(&k) { prop_assert_eq!(Some(&v), latest.get(&k)); },
                _ => { cache.remove(&k); latest.remove(&k); }
            }
            prop_assert!(cache.len() <= cap);
        }
    }
}

#[test]
fn capacity_zero_caches_store_nothing() {
    let mut lru = LruCache::new(0);
    lru.put(1, 1);
    assert!(lru.is_empty());
    let cache = ShardedCache::new(0);
    cache.insert(1, 1);
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.len(), 0);
}

#[test]
fn entries_expire_after_default_and_per_entry_ttl() {
    let clock = ManualClock::new();
    let cache = ShardedCache::builder()
        .max_size(100)
        .default_ttl(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
        .unwrap();
    cache.insert("default", 1);
    cache.insert_with_ttl("short", 2, Duration::from_secs(2));
    cache.insert_with_ttl("long", 3, Duration::from_secs(60));
    clock.advance(Duration::from_secs(2));
    assert_eq!(cache.get(&"short"), None, "expired at exactly its ttl");
    assert!(!cache.contains_key(&"short"));
    assert_eq!(cache.get(&"default"), Some(1));
    clock.advance(Duration::from_secs(8));
    assert_eq!(cache.get(&"default"), None);
    assert_eq!(cache.peek(&"long"), Some(3));
    assert_eq!(
        cache.remove(&"default"),
        None,
        "expired entries are not returned by remove"
    );
    let stats = cache.stats();
    assert_eq!(stats.expirations, 2);
    assert_eq!(stats.hits, 1);
    assert_eq!(stats.misses, 2);
}

#[test]
fn expired_entries_are_removed_by_explicit_cleanup_and_reported() {
    let clock = ManualClock::new();
    let removed = Arc::new(Mutex::new(Vec::new()));
    let log = removed.clone();
    let cache = ShardedCache::builder()
        .max_size(1000)
        .shards(4)
        .clock(clock.clone())
        .eviction_listener(move |k: u32, _v: u32, cause| log.lock().unwrap().push((k, cause)))
        .build()
        .unwrap();
    for k in 0..100 {
        cache.insert_with_ttl(k, k, Duration::from_secs(1 + u64::from(k % 2)));
    }
    clock.advance(Duration::from_secs(1));
    cache.run_pending_cleanup();
    assert_eq!(cache.len(), 50);
    let log = removed.lock().unwrap();
    assert_eq!(log.len(), 50);
    assert!(
        log.iter()
            .all(|&(k, c)| k % 2 == 0 && c == RemovalCause::Expired)
    );
}

#[test]
fn background_cleanup_removes_expired_entries() {
    let cache = ShardedCache::builder()
        .max_size(100)
        .cleanup_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    cache.insert_with_ttl(1, 1, Duration::from_millis(1));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !cache.is_empty() && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        cache.len(),
        0,
        "the cleanup thread removed the expired entry"
    );
    assert_eq!(cache.stats().expirations, 1);
}

#[test]
fn stopped_maintenance_no_longer_removes_expired_entries() {
    let cache = ShardedCache::builder()
        .max_size(100)
        .cleanup_interval(Duration::from_millis(2))
        .build()
        .unwrap();
    assert!(cache.stop_maintenance(std::time::Instant::now() + Duration::from_secs(5)));
    cache.insert_with_ttl(1, 1, Duration::from_millis(1));
    thread::sleep(Duration::from_millis(40));
    // Twenty intervals later the entry is still stored: no thread removed it...
    assert_eq!(cache.len(), 1);
    // ...yet it is never returned, and touching it removes it.
    assert_eq!(cache.get(&1), None);
    assert_eq!(cache.len(), 0);
    assert!(
        cache.stop_maintenance(std::time::Instant::now()),
        "stopping twice is harmless"
    );
}

#[test]
fn cleanup_thread_does_not_keep_the_cache_alive() {
    let value = Arc::new(5u32);
    let cache: ShardedCache<u8, Arc<u32>> = ShardedCache::builder()
        .cleanup_interval(Duration::from_millis(1))
        .build()
        .unwrap();
    cache.insert(1, value.clone());
    assert_eq!(Arc::strong_count(&value), 2);
    drop(cache);
    // The thread may hold a strong reference for the length of one cleanup pass.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while Arc::strong_count(&value) > 1 && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(Arc::strong_count(&value), 1, "the cache was freed");
}

#[test]
fn listener_is_told_size_replaced_and_removed_causes() {
    let removed = Arc::new(Mutex::new(Vec::new()));
    let log = removed.clone();
    let cache = ShardedCache::builder()
        .max_size(2)
        .shards(1)
        .eviction_listener(move |k: u8, v: u8, cause| log.lock().unwrap().push((k, v, cause)))
        .build()
        .unwrap();
    cache.insert(1, 10);
    cache.insert(1, 11);
    cache.insert(2, 20);
    cache.insert(3, 30);
    assert_eq!(cache.remove(&2), Some(20));
    cache.insert(4, 40);
    cache.retain(|k, _| *k != 3);
    cache.invalidate_all();
    assert_eq!(
        *removed.lock().unwrap(),
        [
            (1, 10, RemovalCause::Replaced),
            (1, 11, RemovalCause::Size),
            (2, 20, RemovalCause::Removed),
            (3, 30, RemovalCause::Removed),
            (4, 40, RemovalCause::Removed),
        ]
    );
    assert!(cache.is_empty());
}

#[test]
fn panicking_listener_is_caught_and_counted() {
    let cache = ShardedCache::builder()
        .max_size(1)
        .eviction_listener(|_k: u8, _v: u8, _c| panic!("listener bug"))
        .build()
        .unwrap();
    cache.insert(1, 1);
    cache.insert(2, 2);
    assert_eq!(cache.get(&2), Some(2));
    assert_eq!(cache.stats().callback_panics, 1);
}

#[test]
fn weight_bound_holds_and_oversized_entries_are_not_stored() {
    let cache = ShardedCache::builder()
        .max_size(1000)
        .max_weight(100)
        .shards(1)
        .weigher(|_k: &u32, v: &Vec<u8>| v.len() as u32)
        .build()
        .unwrap();
    for k in 0..50 {
        cache.insert(k, vec![0; 7]);
        assert!(cache.weight() <= 100);
    }
    assert_eq!(cache.len(), 14);
    cache.insert(99, vec![0; 101]);
    assert_eq!(cache.get(&99), None);
    assert_eq!(cache.stats().weight, 98);
}

#[test]
fn set_max_size_shrinks_and_grows() {
    let cache = ShardedCache::builder()
        .max_size(100)
        .shards(4)
        .build()
        .unwrap();
    for k in 0..100 {
        cache.insert(k, k);
    }
    cache.set_max_size(10);
    assert!(cache.len() <= 10);
    assert_eq!(cache.max_size(), 10);
    cache.set_max_size(50);
    for k in 0..1000 {
        cache.insert(k, k);
    }
    assert!(cache.len() <= 50 && cache.len() >= 40);
}

#[test]
fn invalid_configs_are_config_errors() {
    let err = ShardedCache::<u8, u8>::with_config(CacheConfig {
        shards: 6,
        ..CacheConfig::default()
    })
    .unwrap_err();
    assert_eq!(err.field(), "shards");
    let err = ShardedCache::<u8, u8>::builder()
        .weigher(|_: &u8, _: &u8| 1)
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "max_weight");
}

#[test]
fn monitor_receives_hits_misses_and_inserts() {
    let metrics = Arc::new(Metrics::new());
    let cache = ShardedCache::builder()
        .max_size(1)
        .monitor(metrics.clone())
        .build()
        .unwrap();
    cache.insert(1, 1);
    cache.get(&1);
    cache.get(&2);
    cache.insert(2, 2);
    let snap = metrics.snapshot();
    assert_eq!((snap.cache.hits, snap.cache.misses), (1, 1));
    assert_eq!(snap.cache.inserts, 2);
}

/// Many threads hammer a small cache; the bound holds at every observation and the counters
/// add up: every lookup is a hit or a miss, one insert per miss, and every insert is still
/// there or was evicted or replaced.
#[test]
fn concurrent_use_keeps_bounds_and_statistics_add_up() {
    const THREADS: usize = 4;
    const OPS: usize = 20_000;
    for policy in [EvictionPolicy::Lru, EvictionPolicy::TinyLfu] {
        let cache: Arc<ShardedCache<u32, u32>> = Arc::new(
            ShardedCache::builder()
                .max_size(256)
                .shards(4)
                .eviction_policy(policy)
                .build()
                .unwrap(),
        );
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS as u32)
            .map(|t| {
                let cache = cache.clone();
                let barrier = barrier.clone();
                thread::spawn(move || {
                    barrier.wait();
                    let mut lookups = 0u64;
                    let mut x = t.wrapping_mul(2_654_435_761) | 1;
                    for _ in 0..OPS {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        let key = x % 2000;
                        lookups += 1;
                        if cache.get(&key).is_none() {
                            cache.insert(key, key);
                        }
                        assert!(cache.len() <= 256);
                    }
                    lookups
                })
            })
            .collect();
        let lookups: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let stats = cache.stats();
        assert_eq!(stats.hits + stats.misses, lookups);
        assert_eq!(stats.inserts, stats.misses, "one insert per miss");
        assert!(stats.entries <= 256);
        assert!(stats.inserts >= stats.evictions + stats.entries as u64);
        assert!(stats.hits > 0);
    }
}

#[test]
fn single_flight_runs_one_loader_and_everyone_gets_its_value() {
    let cache: Arc<ShardedCache<u32, u32>> = Arc::new(ShardedCache::new(100));
    let runs = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (cache, runs, barrier) = (cache.clone(), runs.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                cache.get_or_insert_with(7, || {
                    runs.fetch_add(1, Ordering::SeqCst);
                    thread::sleep(Duration::from_millis(50));
                    49
                })
            })
        })
        .collect();
    let values: HashSet<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, HashSet::from([49]));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(cache.stats().loads, 1);
}

#[test]
fn failing_loader_lets_the_next_waiter_load() {
    let cache: Arc<ShardedCache<u32, u32>> = Arc::new(ShardedCache::new(100));
    let started = Arc::new(Barrier::new(2));
    let first = {
        let (cache, started) = (cache.clone(), started.clone());
        thread::spawn(move || {
            cache.try_get_or_insert_with(1, || {
                started.wait();
                thread::sleep(Duration::from_millis(50));
                Err("backend down")
            })
        })
    };
    started.wait();
    let second = cache.try_get_or_insert_with(1, || Ok::<_, &str>(5));
    assert_eq!(first.join().unwrap(), Err("backend down"));
    assert_eq!(second, Ok(5));
    let stats = cache.stats();
    assert_eq!((stats.loads, stats.load_failures), (2, 1));
}

#[test]
fn panicking_loader_resumes_in_its_caller_and_the_next_waiter_loads() {
    let cache: Arc<ShardedCache<u32, u32>> = Arc::new(ShardedCache::new(100));
    let started = Arc::new(Barrier::new(2));
    let first = {
        let (cache, started) = (cache.clone(), started.clone());
        thread::spawn(move || {
            cache.get_or_insert_with(1, || {
                started.wait();
                thread::sleep(Duration::from_millis(50));
                panic!("loader bug")
            })
        })
    };
    started.wait();
    assert_eq!(cache.get_or_insert_with(1, || 8), 8);
    assert!(
        first.join().is_err(),
        "the panic reached the loader's caller"
    );
    assert_eq!(cache.get(&1), Some(8));
}

#[test]
fn waiter_gives_up_after_its_timeout() {
    let cache: Arc<ShardedCache<u32, u32>> = Arc::new(ShardedCache::new(100));
    let started = Arc::new(Barrier::new(2));
    let loader = {
        let (cache, started) = (cache.clone(), started.clone());
        thread::spawn(move || {
            cache.get_or_insert_with(1, || {
                started.wait();
                thread::sleep(Duration::from_millis(200));
                3
            })
        })
    };
    started.wait();
    let r = cache.try_get_or_insert_with_timeout(1, Duration::from_millis(10), || Ok::<_, ()>(9));
    assert!(matches!(r, Err(LoadError::TimedOut { .. })), "{r:?}");
    assert_eq!(loader.join().unwrap(), 3);
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ShardedCache<String, Arc<Vec<u8>>>>();
    assert_send_sync::<LruCache<String, u32>>();
    assert_send_sync::<CacheConfig>();
    assert_send_sync::<ManualClock>();
    assert_send_sync::<LoadError<std::io::Error>>();
}
