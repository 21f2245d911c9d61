//! Caches under a Zipf(1.0) workload: `ShardedCache` (LRU and TinyLFU) against `lru` behind a
//! mutex, `moka` and `quick_cache`, with one and two threads.
//!
//! Every operation is "get, and insert on a miss" of a key drawn from Zipf(1.0) over 1 000 000
//! keys, on a cache of 100 000 entries warmed by one pass over the keys first. Keys are drawn
//! before timing (see [`zipf_keys`](crate::workload::zipf_keys)); each thread walks its own part of the key stream.

use std::num::NonZeroUsize;
use std::sync::{Barrier, Mutex};
use std::time::Instant;

use patinox_memory::cache::{EvictionPolicy, ShardedCache};

use crate::measure::{Effort, Row, median};
pub use crate::workload::zipf_keys;

/// Name accepted by `patinox-bench compare`.
pub const NAME: &str = "cache";

/// Distinct keys of the Zipf distribution.
pub const KEYS: usize = 1_000_000;
/// Cache capacity in entries.
pub const CAPACITY: usize = 100_000;

/// A cache as the benchmark uses it: shared between threads.
pub trait BenchCache: Sync {
    /// Gets `key`, inserting it on a miss; true on a hit.
    fn get_or_insert(&self, key: u64) -> bool;
}

impl BenchCache for ShardedCache<u64, u64> {
    #[inline]
    fn get_or_insert(&self, key: u64) -> bool {
        if self.get(&key).is_some() {
            true
        } else {
            self.insert(key, key);
            false
        }
    }
}

impl BenchCache for Mutex<lru::LruCache<u64, u64>> {
    #[inline]
    fn get_or_insert(&self, key: u64) -> bool {
        let mut c = self.lock().unwrap_or_else(|e| e.into_inner());
        if c.get(&key).is_some() {
            true
        } else {
            c.put(key, key);
            false
        }
    }
}

impl BenchCache for moka::sync::Cache<u64, u64> {
    #[inline]
    fn get_or_insert(&self, key: u64) -> bool {
        if self.get(&key).is_some() {
            true
        } else {
            self.insert(key, key);
            false
        }
    }
}

impl BenchCache for quick_cache::sync::Cache<u64, u64> {
    #[inline]
    fn get_or_insert(&self, key: u64) -> bool {
        if self.get(&key).is_some() {
            true
        } else {
            self.insert(key, key);
            false
        }
    }
}

/// Our cache with `policy` and default settings otherwise.
pub fn patinox(policy: EvictionPolicy) -> ShardedCache<u64, u64> {
    ShardedCache::builder()
        .max_size(CAPACITY)
        .eviction_policy(policy)
        .build()
        .unwrap_or_else(|e| unreachable!("valid bench config rejected: {e}"))
}

/// `lru` behind a mutex.
pub fn lru_mutex() -> Mutex<lru::LruCache<u64, u64>> {
    Mutex::new(lru::LruCache::new(
        NonZeroUsize::new(CAPACITY).unwrap_or(NonZeroUsize::MIN),
    ))
}

/// `moka::sync::Cache`.
pub fn moka() -> moka::sync::Cache<u64, u64> {
    moka::sync::Cache::new(CAPACITY as u64)
}

/// `quick_cache::sync::Cache`.
pub fn quick_cache() -> quick_cache::sync::Cache<u64, u64> {
    quick_cache::sync::Cache::new(CAPACITY)
}

/// Runs `keys` split over `threads` threads through `cache`; returns (elapsed ns, hits).
pub fn run_threads<C: BenchCache>(cache: &C, keys: &[u64], threads: usize) -> (f64, u64) {
    let threads = threads.max(1);
    let chunk = keys.len() / threads;
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let part = &keys[t * chunk..(t + 1) * chunk];
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    part.iter().filter(|&&k| cache.get_or_insert(k)).count() as u64
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let hits = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .sum::<u64>();
        (start.elapsed().as_nanos() as f64, hits)
    })
}

/// One cache under test: its name and a runner over its keys (`run_threads` on it).
type Contender<'a> = (&'static str, Box<dyn Fn(&[u64], usize) -> (f64, u64) + 'a>);

/// A cache, warmed by one pass over `warm`, as a [`Contender`].
fn contender<'a, C: BenchCache + 'a>(
    library: &'static str,
    cache: C,
    warm: &[u64],
) -> Contender<'a> {
    let _ = run_threads(&cache, warm, 1);
    (
        library,
        Box::new(move |keys, threads| run_threads(&cache, keys, threads)),
    )
}

/// Measures each cache with 1 and 2 threads. Within each operation the first row is ours
/// (TinyLFU), then ours with LRU, then the peers. The caches take turns round by round, so a
/// drift of the machine lands on all of them alike, in an order that rotates each round; each
/// row is the median of its rounds.
pub fn run(effort: Effort) -> Vec<Row> {
    let ops = effort.scale(1_000_000) as usize;
    let rounds = effort.rounds().max(1);
    let (warm_len, n) = match effort {
        Effort::Smoke => (10_000, 10_000),
        _ => (KEYS, KEYS),
    };
    let warm = zipf_keys(n, 1.0, warm_len, 1);
    let keys = zipf_keys(n, 1.0, ops.max(2), 2);
    let mut rows = Vec::new();
    for threads in [1, 2] {
        let contenders = [
            contender("patinox TinyLfu", patinox(EvictionPolicy::TinyLfu), &warm),
            contender("patinox Lru", patinox(EvictionPolicy::Lru), &warm),
            contender("lru + Mutex", lru_mutex(), &warm),
            contender("moka", moka(), &warm),
            contender("quick_cache", quick_cache(), &warm),
        ];
        let mut samples = vec![Vec::with_capacity(rounds); contenders.len()];
        let mut hit_ratios = vec![0.0; contenders.len()];
        let count = contenders.len();
        for round in 0..rounds {
            // Each round starts one cache later, so each cache follows every other in some
            // rounds: moka's large entries leave the CPU caches cold for whichever runs after it,
            // and the median should not charge that to one library.
            for i in (0..count).map(|k| (round + k) % count) {
                let (ns, hits) = (contenders[i].1)(&keys, threads);
                samples[i].push(ns / keys.len() as f64);
                hit_ratios[i] = hits as f64 / keys.len() as f64;
            }
        }
        for (((library, _), mut samples), hit_ratio) in
            contenders.into_iter().zip(samples).zip(hit_ratios)
        {
            rows.push(Row {
                component: NAME,
                operation: format!(
                    "zipf(1.0) get+insert on miss, {threads} thread{}",
                    if threads == 1 { "" } else { "s" }
                ),
                library,
                ns_per_op: median(&mut samples),
                note: format!("hit ratio {:.1} %", hit_ratio * 100.0),
            });
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_run_reports_ours_first_for_both_thread_counts() {
        let rows = run(Effort::Smoke);
        assert_eq!(rows.len(), 10);
        assert_eq!(rows[0].library, "patinox TinyLfu");
        assert_eq!(rows[5].library, "patinox TinyLfu");
        assert!(rows.iter().all(|r| r.ns_per_op > 0.0));
    }
}
